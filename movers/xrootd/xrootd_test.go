package xrootd_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/remotetest"
	"github.com/gopilot/gopilot/movers/moverstest"
	"github.com/gopilot/gopilot/movers/xrootd"
)

type remote struct {
	remotetest.Remote
	x *gridtest.Xrootd
}

func startServer(t *testing.T) remote {
	t.Helper()
	gridtest.NeedPrograms(t, gridtest.XrootdPackages, "xrdcp", "xrdfs")
	x := gridtest.StartXrootd(t)
	return remote{Remote: remotetest.New(x, x.RootURL+"/", ""), x: x}
}

func TestConformance(t *testing.T) {
	r := startServer(t)
	moverstest.Run(t, r.Env(xrootd.New(xrootd.Options{})))
}

func TestConformanceToolChecksum(t *testing.T) {
	r := startServer(t)
	moverstest.Run(t, r.Env(xrootd.New(xrootd.Options{ToolChecksum: true})))
}

func TestCheck(t *testing.T) {
	gridtest.NeedPrograms(t, gridtest.XrootdPackages, "xrdcp", "xrdfs")
	if err := xrootd.New(xrootd.Options{}).Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := xrootd.New(xrootd.Options{Xrdcp: "/nonexistent/xrdcp"}).Check(t.Context()); err == nil {
		t.Error("Check with a missing xrdcp succeeded")
	}
}

func TestMissingTool(t *testing.T) {
	m := xrootd.New(xrootd.Options{Xrdcp: "/nonexistent/xrdcp"})
	dir := t.TempDir()
	_, err := m.Get(t.Context(), movers.Transfer{Source: "root://127.0.0.1:1//f", Destination: filepath.Join(dir, "f")})
	var me *movers.Error
	if !errors.As(err, &me) || me.Code != jobdef.StageInFailed || me.Retryable {
		t.Fatalf("Get with a missing xrdcp = %v, want a non-retryable 1099", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

func TestRemoteChecksumAndRemove(t *testing.T) {
	r := startServer(t)
	m := xrootd.New(xrootd.Options{})
	data := moverstest.Data(123457)
	url := r.NewRemote(t, "sum.dat", data)
	sum, err := m.RemoteChecksum(t.Context(), url, jobdef.Adler32)
	if err != nil || sum != moverstest.Adler32(data) {
		t.Errorf("RemoteChecksum = %v, %v; want %v", sum, err, moverstest.Adler32(data))
	}
	if _, err := m.RemoteChecksum(t.Context(), url, jobdef.MD5); jobdef.CodeOf(err) != jobdef.ChksumNotSup {
		t.Errorf("md5 RemoteChecksum: %v, want code 1242", err)
	}
	if _, err := m.RemoteChecksum(t.Context(), r.x.RootURL+"//in/nothere", jobdef.Adler32); err == nil {
		t.Error("RemoteChecksum of a missing file succeeded")
	}
	for range 2 { // the second time the file is gone: not an error
		if err := m.Remove(t.Context(), url); err != nil {
			t.Errorf("Remove: %v", err)
		}
	}
	if _, err := r.ReadRemote(t, url); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

// TestDeadServer: nothing listens on the port; the lowered connection window makes the
// transfer fail (retryably, not as a timeout) long before the suite's MaxWait.
func TestDeadServer(t *testing.T) {
	gridtest.NeedPrograms(t, gridtest.XrootdPackages, "xrdcp", "xrdfs")
	addr := remotetest.DeadAddr(t)
	m := xrootd.New(xrootd.Options{ConnectionWindow: 1})
	ctx, cancel := context.WithTimeout(t.Context(), moverstest.MaxWait)
	defer cancel()
	dir := t.TempDir()
	_, err := m.Get(ctx, movers.Transfer{Source: "root://" + addr + "//f", Destination: filepath.Join(dir, "f")})
	var me *movers.Error
	if !errors.As(err, &me) || !me.Retryable || me.Code == jobdef.StageInTimeout {
		t.Fatalf("Get from a dead server = %v, want a retryable error that is not a timeout", err)
	}
	src := filepath.Join(dir, "up")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, movers.Transfer{Source: src, Destination: "root://" + addr + "//up"}); !errors.As(err, &me) || me.Code == jobdef.StageOutTimeout {
		t.Fatalf("Put to a dead server = %v, want an error that is not a timeout", err)
	}
}

func TestBadURLs(t *testing.T) {
	m := xrootd.New(xrootd.Options{})
	dir := t.TempDir()
	for _, u := range []string{"https://host/f", "root://", "root:///nohost", "/local/path"} {
		_, err := m.Get(t.Context(), movers.Transfer{Source: u, Destination: filepath.Join(dir, path.Base(u)+"x")})
		var me *movers.Error
		if !errors.As(err, &me) || me.Code != jobdef.StageInFailed || me.Retryable {
			t.Errorf("Get(%q) = %v, want a non-retryable 1099", u, err)
		}
	}
}
