package gridtest

import (
	"testing"
)

func TestStartXrootd(t *testing.T) {
	x := StartXrootd(t)
	t.Log(x.RootURL, x.HTTPURL, x.DataDir)
	if err := x.WriteFile("a/b/c.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
}

func TestStartNginx(t *testing.T) {
	n := StartNginxDAV(t)
	t.Log(n.URL, n.DataDir)
	if err := n.WriteFile("a/b/c.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
}
