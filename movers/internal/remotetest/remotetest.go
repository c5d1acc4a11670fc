// Package remotetest is the conformance suite's view of a storage server started by
// internal/gridtest, shared by the tests of the grid movers: files are created by writing
// into the server's data directory, URLs are formed from a base URL, and a stalling proxy
// in front of the server makes transfers hang part-way.
package remotetest

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/moverstest"
)

// Server is what the tests need of a server started by gridtest.
type Server interface {
	// WriteFile stores data as rel (slash-separated, below the data directory).
	WriteFile(rel string, data []byte) error
	// Path returns the local path of rel in the data directory.
	Path(rel string) string
}

// Remote maps URLs below Base to files below Prefix in a server's data directory:
// Base + "/in/x" is the file Prefix + "in/x".
type Remote struct {
	Server Server
	// Base is the URL of the exported root without a trailing slash of the path part, e.g.
	// "root://127.0.0.1:PORT/" (so that Base + "/f" is "root://...//f"),
	// "http://127.0.0.1:PORT" or "s3://127.0.0.1:PORT/bucket".
	Base string
	// Prefix is the data-directory path Base stands for ("" or "bucket/").
	Prefix string
	// Addr is the host:port in Base that a stalling proxy replaces.
	Addr string
}

// New returns a Remote for base, whose host:port is taken from the URL.
func New(srv Server, base, prefix string) Remote {
	addr := base
	if i := strings.Index(addr, "://"); i >= 0 {
		addr = addr[i+3:]
	}
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr = addr[:i]
	}
	return Remote{Server: srv, Base: base, Prefix: prefix, Addr: addr}
}

// NewRemote stores data as "in/<name>" and returns its URL.
func (r Remote) NewRemote(t *testing.T, name string, data []byte) string {
	if err := r.Server.WriteFile(r.Prefix+"in/"+name, data); err != nil {
		t.Fatal(err)
	}
	return r.Base + "/in/" + name
}

// RemoteURL returns the URL of a new file two directory levels down (so a Put must create
// directories where the storage has them).
func (r Remote) RemoteURL(t *testing.T, name string) string {
	return r.Base + "/out/sc/" + strings.TrimSuffix(name, ".dat") + "/" + name
}

// Local returns the data-directory path of a URL below Base (on the server or through a
// proxy made by Via).
func (r Remote) Local(t *testing.T, url string) string {
	rest, ok := strings.CutPrefix(url, r.Base+"/")
	if !ok {
		t.Fatalf("URL %s is not below %s", url, r.Base)
	}
	return r.Server.Path(r.Prefix + rest)
}

// ReadRemote reads the file behind url from the data directory.
func (r Remote) ReadRemote(t *testing.T, url string) ([]byte, error) {
	return os.ReadFile(r.Local(t, url))
}

// Stray lists the entries next to url's file whose names contain its name (temporary files
// of an interrupted upload).
func (r Remote) Stray(t *testing.T, url string) []string {
	p := r.Local(t, url)
	ents, err := os.ReadDir(filepath.Dir(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != filepath.Base(p) && strings.Contains(e.Name(), filepath.Base(p)) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Via returns url with the server's address replaced by addr (a proxy's).
func (r Remote) Via(url, addr string) string { return strings.Replace(url, r.Addr, addr, 1) }

// Slow stores a file of four movers.ChunkSize "slow/<name>" and returns its URL through a
// proxy that stalls after one ChunkSize, and the proxy's Started channel.
func (r Remote) Slow(t *testing.T, name string) (string, <-chan struct{}) {
	if err := r.Server.WriteFile(r.Prefix+"slow/"+name, moverstest.Data(4*movers.ChunkSize)); err != nil {
		t.Fatal(err)
	}
	p := gridtest.StartStallProxy(t, r.Addr, movers.ChunkSize)
	return r.Via(r.Base, p.Addr) + "/slow/" + name, p.Started()
}

// Env returns the conformance suite's Env for m on this remote, with a stalling remote and
// FIFO sources.
func (r Remote) Env(m movers.Mover) moverstest.Env {
	return moverstest.Env{Mover: m, NewRemote: r.NewRemote, RemoteURL: r.RemoteURL, ReadRemote: r.ReadRemote,
		Stray: r.Stray, SlowRemote: r.Slow, SlowLocal: true}
}

// DeadAddr returns a loopback address on which nothing listens (a port just released).
func DeadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
