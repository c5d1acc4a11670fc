package gfal_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/gfal"
	"github.com/gopilot/gopilot/movers/internal/remotetest"
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

// remote is a server reached through root:// or http:// URLs.
type remote struct {
	remotetest.Remote
	scheme string // root or http
}

func rootRemote(x *gridtest.Xrootd) remote {
	return remote{Remote: remotetest.New(x, x.RootURL+"/", ""), scheme: "root"}
}

func httpRemote(srv remotetest.Server, httpURL string) remote {
	return remote{Remote: remotetest.New(srv, httpURL, ""), scheme: "http"}
}

func TestConformanceXrootd(t *testing.T) {
	g := needGfal(t)
	moverstest.Run(t, rootRemote(gridtest.StartXrootd(t)).Env(g))
}

// TestConformanceNginx: nginx cannot compute checksums; uploads fall back to local
// verification.
func TestConformanceNginx(t *testing.T) {
	g := needGfal(t)
	n := gridtest.StartNginxDAV(t)
	moverstest.Run(t, httpRemote(n, n.URL).Env(g))
}

func TestConformanceXrdHttp(t *testing.T) {
	g := needGfal(t)
	x := gridtest.StartXrootd(t)
	moverstest.Run(t, httpRemote(x, x.HTTPURL).Env(g))
}

func TestRemoteChecksumAndRemove(t *testing.T) {
	g := needGfal(t)
	x := gridtest.StartXrootd(t)
	n := gridtest.StartNginxDAV(t)
	data := moverstest.Data(77777)
	xr := rootRemote(x)
	url := xr.NewRemote(t, "sum.dat", data)
	if sum, err := g.RemoteChecksum(t.Context(), url, jobdef.Adler32); err != nil || sum != moverstest.Adler32(data) {
		t.Errorf("RemoteChecksum = %v, %v; want %v", sum, err, moverstest.Adler32(data))
	}
	nurl := httpRemote(n, n.URL).NewRemote(t, "sum.dat", data)
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
	if _, err := xr.ReadRemote(t, url); !errors.Is(err, fs.ErrNotExist) {
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
