package gfal_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/gfal"
	"github.com/gopilot/gopilot/movers/moverstest"
)

const gfalPackages = "gfal2-util-scripts python3-gfal2-util gfal2-plugin-file gfal2-plugin-xrootd gfal2-plugin-http"

// needGfal skips (or fails, see gridtest.Required) unless the gfal tools run.
func needGfal(t *testing.T) *gfal.Gfal {
	t.Helper()
	gridtest.NeedPrograms(t, gfalPackages, "gfal-copy", "gfal-sum", "gfal-rm")
	g := gfal.New(gfal.Options{})
	if err := g.Check(t.Context()); err != nil {
		if gridtest.Required() {
			t.Fatalf("gfal tools do not run: %v", err)
		}
		t.Skipf("gfal tools do not run: %v", err)
	}
	return g
}

type server interface {
	WriteFile(rel string, data []byte) error
	Path(rel string) string
}

// remote is the conformance suite's view of a server reached with base URLs
// ("root://127.0.0.1:PORT/" or "http://127.0.0.1:PORT").
type remote struct {
	srv    server
	base   string // URL prefix of the exported root, ending before the path
	scheme string // root or http
	addr   string
}

func rootRemote(x *gridtest.Xrootd) remote {
	return remote{srv: x, base: x.RootURL + "/", scheme: "root", addr: strings.TrimPrefix(x.RootURL, "root://")}
}

func httpRemote(srv server, httpURL string) remote {
	return remote{srv: srv, base: httpURL, scheme: "http", addr: strings.TrimPrefix(httpURL, "http://")}
}

func (r remote) newRemote(t *testing.T, name string, data []byte) string {
	if err := r.srv.WriteFile("in/"+name, data); err != nil {
		t.Fatal(err)
	}
	return r.base + "/in/" + name
}

func (r remote) remoteURL(t *testing.T, name string) string {
	return r.base + "/out/sc/" + strings.TrimSuffix(name, ".dat") + "/" + name
}

func (r remote) local(t *testing.T, url string) string {
	rest, ok := strings.CutPrefix(url, r.base+"/")
	if !ok {
		t.Fatalf("URL %s is not on %s", url, r.base)
	}
	return r.srv.Path(rest)
}

func (r remote) readRemote(t *testing.T, url string) ([]byte, error) {
	return os.ReadFile(r.local(t, url))
}

func (r remote) stray(t *testing.T, url string) []string {
	p := r.local(t, url)
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

func (r remote) slow(t *testing.T, name string) (string, <-chan struct{}) {
	if err := r.srv.WriteFile("slow/"+name, moverstest.Data(4*movers.ChunkSize)); err != nil {
		t.Fatal(err)
	}
	p := gridtest.StartStallProxy(t, r.addr, movers.ChunkSize)
	sep := "/"
	if r.scheme == "root" {
		sep = "//"
	}
	return r.scheme + "://" + p.Addr + sep + "slow/" + name, p.Started()
}

func (r remote) env(m movers.Mover) moverstest.Env {
	return moverstest.Env{Mover: m, NewRemote: r.newRemote, RemoteURL: r.remoteURL, ReadRemote: r.readRemote,
		Stray: r.stray, SlowRemote: r.slow, SlowLocal: true}
}

func TestConformanceXrootd(t *testing.T) {
	g := needGfal(t)
	moverstest.Run(t, rootRemote(gridtest.StartXrootd(t)).env(g))
}

// TestConformanceNginx: nginx cannot compute checksums; uploads fall back to local
// verification.
func TestConformanceNginx(t *testing.T) {
	g := needGfal(t)
	n := gridtest.StartNginxDAV(t)
	moverstest.Run(t, httpRemote(n, n.URL).env(g))
}

func TestConformanceXrdHttp(t *testing.T) {
	g := needGfal(t)
	x := gridtest.StartXrootd(t)
	moverstest.Run(t, httpRemote(x, x.HTTPURL).env(g))
}

func TestRemoteChecksumAndRemove(t *testing.T) {
	g := needGfal(t)
	x := gridtest.StartXrootd(t)
	n := gridtest.StartNginxDAV(t)
	data := moverstest.Data(77777)
	xr := rootRemote(x)
	url := xr.newRemote(t, "sum.dat", data)
	if sum, err := g.RemoteChecksum(t.Context(), url, jobdef.Adler32); err != nil || sum != moverstest.Adler32(data) {
		t.Errorf("RemoteChecksum = %v, %v; want %v", sum, err, moverstest.Adler32(data))
	}
	nurl := httpRemote(n, n.URL).newRemote(t, "sum.dat", data)
	if _, err := g.RemoteChecksum(t.Context(), nurl, jobdef.Adler32); jobdef.CodeOf(err) != jobdef.ChksumNotSup {
		t.Errorf("nginx RemoteChecksum: %v, want code 1242", err)
	}
	for _, u := range []string{url, nurl} {
		for range 2 {
			if err := g.Remove(t.Context(), u); err != nil {
				t.Errorf("Remove(%s): %v", u, err)
			}
		}
	}
	if _, err := xr.readRemote(t, url); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

func TestMissingTool(t *testing.T) {
	g := gfal.New(gfal.Options{Copy: "/nonexistent/gfal-copy"})
	if err := g.Check(t.Context()); err == nil {
		t.Error("Check with a missing gfal-copy succeeded")
	}
	dir := t.TempDir()
	_, err := g.Get(t.Context(), movers.Transfer{Source: "root://127.0.0.1:1//f", Destination: filepath.Join(dir, "f")})
	var me *movers.Error
	if !errors.As(err, &me) || me.Code != jobdef.StageInFailed || me.Retryable {
		t.Fatalf("Get with a missing gfal-copy = %v, want a non-retryable 1099", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}
