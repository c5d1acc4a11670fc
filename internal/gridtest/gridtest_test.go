package gridtest

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		ci, req string
		want    bool
	}{
		{"", "", false}, {"true", "", true}, {"false", "", false}, {"0", "", false},
		{"1", "", true}, {"", "1", true}, {"", "0", false},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv(EnvRequire, c.req)
		if got := Required(); got != c.want {
			t.Errorf("CI=%q %s=%q: Required() = %v, want %v", c.ci, EnvRequire, c.req, got, c.want)
		}
	}
}

func TestLookPrograms(t *testing.T) {
	err := LookPrograms("some-package", "sh", "gridtest-no-such-program")
	var me *MissingError
	if !errors.As(err, &me) || len(me.Programs) != 1 || me.Package != "some-package" {
		t.Fatalf("LookPrograms = %v", err)
	}
	if LookPrograms("x", "sh") != nil {
		t.Error("sh reported missing")
	}
}

func TestStartXrootd(t *testing.T) {
	x := StartXrootd(t)
	if err := x.WriteFile("a/b/c.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(x.HTTPURL + "/a/b/c.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello" {
		t.Errorf("XrdHttp served %q (%s)", b, resp.Status)
	}
	if err := x.WriteFile("../escape", nil); err == nil {
		t.Error("WriteFile outside the data directory succeeded")
	}
}

func TestStartNginx(t *testing.T) {
	n := StartNginxDAV(t)
	if err := n.WriteFile("a/b/c.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.URL + "/a/b/c.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello" {
		t.Errorf("nginx served %q (%s)", b, resp.Status)
	}
}

// TestStallProxy: a download through the proxy receives the allowed bytes and then no more.
func TestStallProxy(t *testing.T) {
	n := StartNginxDAV(t)
	if err := n.WriteFile("big", make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	p := StartStallProxy(t, n.URL[len("http://"):], 1<<20)
	resp, err := http.Get("http://" + p.Addr + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-p.Started()
	got := make(chan int64, 1)
	go func() {
		k, _ := io.Copy(io.Discard, resp.Body)
		got <- k
	}()
	// Closing the proxy ends the stalled body; the client cannot have more than allowed.
	p.Close()
	select {
	case k := <-got:
		if k >= 4<<20 {
			t.Errorf("the whole file (%d bytes) came through", k)
		}
	case <-time.After(time.Minute):
		t.Fatal("body read did not end after the proxy closed")
	}
}

func TestLaunchErrors(t *testing.T) {
	if _, err := LaunchXrootd(XrootdOptions{}); err == nil {
		t.Error("LaunchXrootd without Dir succeeded")
	}
	if _, err := LaunchNginxDAV(NginxOptions{Dir: "/nonexistent/gridtest"}); err == nil {
		t.Error("LaunchNginxDAV in a missing directory succeeded")
	}
}

func TestPKI(t *testing.T) {
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.CAFile, p.ServerCert, p.ServerKey, p.ClientCert, p.ClientKey} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if c, err := p.ClientTLS(true); err != nil || len(c.Certificates) != 1 {
		t.Errorf("ClientTLS: %v", err)
	}
}

// TestStartS3: the server answers, refuses an unsigned request for a file put into its
// data directory, and the build script names the same version.
func TestStartS3(t *testing.T) {
	s := StartS3(t)
	if err := s.MakeBucket("b"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("b/k/x.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "/b/k/x.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 4 {
		t.Errorf("unsigned GET answered %s, want a refusal", resp.Status)
	}
	if got := s.S3URL("b", "/k/x.txt"); got != "s3://"+s.Endpoint+"/b/k/x.txt" {
		t.Errorf("S3URL = %s", got)
	}
	if err := s.MakeBucket("a/b"); err == nil {
		t.Error("MakeBucket of a nested name succeeded")
	}
	script, err := os.ReadFile("../../scripts/grid/s3.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nVERSION="+VersitygwVersion+"\n") {
		t.Errorf("scripts/grid/s3.sh does not build versitygw %s", VersitygwVersion)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv(EnvCache, "/some/cache")
	if d, err := CacheDir(); err != nil || d != "/some/cache" {
		t.Errorf("CacheDir with %s = %q %v", EnvCache, d, err)
	}
	t.Setenv(EnvCache, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := CacheDir(); err != nil || d != "/xdg/gopilot" {
		t.Errorf("CacheDir with XDG_CACHE_HOME = %q %v", d, err)
	}
}
