package davs_test

import (
	"net"
	"testing"
)

// deadAddr returns a loopback address on which nothing listens (a port just released).
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
