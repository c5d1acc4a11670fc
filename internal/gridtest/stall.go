package gridtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// StallProxy is a TCP proxy on 127.0.0.1 in front of a server that forwards the first bytes
// in one direction and then stops forwarding them, keeping every connection open: to the
// client, a transfer through it starts and then hangs. A download proxy (NewStallProxy)
// limits what the server sends, summed over all connections, and always forwards
// requests; an upload proxy (NewUploadStallProxy) limits what each connection's client
// sends and always forwards answers (so a request on a new connection, such as the
// clean-up after an interrupted upload, goes through).
type StallProxy struct {
	// Addr is the proxy's "127.0.0.1:PORT".
	Addr string

	l       net.Listener
	target  string
	after   int64
	up      bool
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
	return newStallProxy(target, after, false)
}

// NewUploadStallProxy starts a proxy to target that forwards at most after bytes from each
// client connection to the server.
func NewUploadStallProxy(target string, after int64) (*StallProxy, error) {
	return newStallProxy(target, after, true)
}

func newStallProxy(target string, after int64, up bool) (*StallProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &StallProxy{Addr: l.Addr().String(), l: l, target: target, after: after, up: up, started: make(chan struct{})}
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

// StartUploadStallProxy is NewUploadStallProxy for a test (see StartStallProxy).
func StartUploadStallProxy(t testing.TB, target string, after int64) *StallProxy {
	t.Helper()
	p, err := NewUploadStallProxy(target, after)
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
	from, to := server, client // the limited direction
	if p.up {
		from, to = client, server
	}
	p.wg.Add(1)
	go func() { // the other direction: forwarded as it comes
		defer p.wg.Done()
		io.Copy(from, to)
	}()
	var connSent int64
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			n = p.allow(n, &connSent)
			if n == 0 {
				// stall: hold both connections open until Close
				io.Copy(io.Discard, from)
				return
			}
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			to.Close()
			return
		}
	}
}

// allow returns how many of n further bytes may be forwarded and accounts for them, in the
// proxy's total (download) or in the connection's count connSent (upload).
func (p *StallProxy) allow(n int, connSent *int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent := &p.sent
	if p.up {
		sent = connSent
	}
	n = int(min(int64(n), p.after-*sent))
	if n <= 0 {
		return 0
	}
	mark := max(p.after-stallSlack, 1)
	before := *sent
	*sent += int64(n)
	if before < mark && *sent >= mark {
		select {
		case <-p.started:
		default:
			close(p.started)
		}
	}
	return n
}
