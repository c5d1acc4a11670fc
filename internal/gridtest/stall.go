package gridtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// StallProxy is a TCP proxy on 127.0.0.1 in front of a server that forwards the first bytes
// of the server's answers and then stops forwarding them, keeping every connection open:
// to the client, a transfer through it starts and then hangs. Requests (client to server)
// are always forwarded.
type StallProxy struct {
	// Addr is the proxy's "127.0.0.1:PORT".
	Addr string

	l       net.Listener
	target  string
	after   int64
	started chan struct{}

	mu     sync.Mutex
	sent   int64 // server-to-client bytes forwarded so far, over all connections
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// stallSlack is how far before the limit Started is closed: the client has then certainly
// received most of what was forwarded (at most a socket buffer is in flight).
const stallSlack = 64 << 10

// NewStallProxy starts a proxy to target ("host:port") that forwards at most after bytes
// from the server to clients, summed over all connections.
func NewStallProxy(target string, after int64) (*StallProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &StallProxy{Addr: l.Addr().String(), l: l, target: target, after: after, started: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// StartStallProxy is NewStallProxy for a test: it fails t on error and closes the proxy in
// t.Cleanup.
func StartStallProxy(t testing.TB, target string, after int64) *StallProxy {
	t.Helper()
	p, err := NewStallProxy(target, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Started is closed once all but 64 KiB of the allowed bytes were forwarded (at the first
// byte when the limit is smaller).
func (p *StallProxy) Started() <-chan struct{} { return p.started }

// Close stops the proxy and closes every connection it holds.
func (p *StallProxy) Close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	p.l.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
}

func (p *StallProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *StallProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *StallProxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(server) {
		client.Close()
		return
	}
	p.wg.Add(1)
	go func() { // requests: forwarded as they come
		defer p.wg.Done()
		io.Copy(server, client)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			n = p.allow(n)
			if n == 0 {
				// stall: hold both connections open until Close
				io.Copy(io.Discard, server)
				return
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			client.Close()
			return
		}
	}
}

// allow returns how many of n further bytes may be forwarded and accounts for them.
func (p *StallProxy) allow(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = int(min(int64(n), p.after-p.sent))
	if n <= 0 {
		return 0
	}
	mark := max(p.after-stallSlack, 1)
	before := p.sent
	p.sent += int64(n)
	if before < mark && p.sent >= mark {
		close(p.started)
	}
	return n
}
