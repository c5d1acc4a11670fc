package gridtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/timedcmd"
)

// The S3 server: Versity S3 Gateway with its posix backend. Debian has no S3 server, so it
// is built from the Go module proxy once and kept in the cache directory (see
// VersitygwBinary); scripts/grid/s3.sh builds the same file.
const (
	VersitygwVersion = "v1.8.0"
	versitygwModule  = "github.com/versity/versitygw/cmd/versitygw"
	// EnvVersitygw names an environment variable that, when set, is the versitygw binary to
	// use (nothing is built).
	EnvVersitygw = "GOPILOT_VERSITYGW"
	// EnvCache names the environment variable of the cache directory (see CacheDir).
	EnvCache = "GOPILOT_CACHE"
	// buildTimeout bounds a cold build (about two to three minutes on two cores).
	buildTimeout = 20 * time.Minute
	// Default keys of a test S3 server.
	DefaultS3AccessKey = "testaccess"
	DefaultS3SecretKey = "testsecret123"
)

// CacheDir returns the directory for things the tests build once and keep across runs:
// $GOPILOT_CACHE, else $XDG_CACHE_HOME/gopilot, else $HOME/.cache/gopilot (os.UserCacheDir).
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCache); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "gopilot"), nil
}

// BuildError reports that versitygw is not available and could not be built (no Go
// toolchain, no network, ...).
type BuildError struct {
	Err    error
	Output string
}

func (e *BuildError) Error() string {
	msg := fmt.Sprintf("gridtest: building versitygw %s failed: %v", VersitygwVersion, e.Err)
	if e.Output != "" {
		msg += "\n" + e.Output
	}
	return msg
}

func (e *BuildError) Unwrap() error { return e.Err }

// VersitygwBinary returns the path of the versitygw binary: $GOPILOT_VERSITYGW when set,
// else <CacheDir>/bin/versitygw-<VersitygwVersion>, which is built with `go install` when
// missing. Concurrent callers (test packages run in parallel) wait for one build through a
// lock file; a cold build downloads ~340 MB of modules and takes a few minutes, later ones
// reuse Go's caches. Failures are a *BuildError.
func VersitygwBinary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvVersitygw); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", &BuildError{Err: fmt.Errorf("%s=%s: %w", EnvVersitygw, p, err)}
		}
		return p, nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", &BuildError{Err: err}
	}
	binDir := filepath.Join(cache, "bin")
	bin := filepath.Join(binDir, "versitygw-"+VersitygwVersion)
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", &BuildError{Err: err}
	}
	lock, err := os.OpenFile(filepath.Join(binDir, ".versitygw.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", &BuildError{Err: err}
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return "", &BuildError{Err: err}
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if isExecutable(bin) { // built by whoever held the lock
		return bin, nil
	}
	tmp, err := os.MkdirTemp(binDir, ".build-")
	if err != nil {
		return "", &BuildError{Err: err}
	}
	defer os.RemoveAll(tmp)
	goTool, err := goBinary()
	if err != nil {
		return "", &BuildError{Err: err}
	}
	res, err := timedcmd.Run(ctx, timedcmd.Spec{
		Path: goTool, Args: []string{goTool, "install", versitygwModule + "@" + VersitygwVersion},
		Env:     append(os.Environ(), "GOBIN="+tmp, "GOWORK=off"),
		Timeout: buildTimeout, TailBytes: 8 << 10,
	})
	if err != nil {
		return "", &BuildError{Err: err}
	}
	if !res.Success() {
		cause := fmt.Errorf("go install exit %d", res.ExitCode)
		if res.Cause != nil {
			cause = res.Cause
		}
		return "", &BuildError{Err: cause, Output: strings.TrimSpace(string(res.StdoutTail) + "\n" + string(res.StderrTail))}
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", &BuildError{Err: err}
	}
	return bin, nil
}

// flock takes an exclusive lock on f, giving up when ctx ends.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// goBinary finds the go command: on PATH, else in $GOROOT/bin, else /usr/local/go/bin.
func goBinary() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{filepath.Join(os.Getenv("GOROOT"), "bin", "go"), "/usr/local/go/bin/go"} {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH (needed to build versitygw)")
}

// S3Options configures LaunchS3.
type S3Options struct {
	// Dir is an existing directory owned by the caller in which the server keeps its log and
	// data (Dir/data: each top-level directory is a bucket).
	Dir string
	// AccessKey and SecretKey are the root account's keys; empty means DefaultS3AccessKey
	// and DefaultS3SecretKey.
	AccessKey, SecretKey string
	// Binary is the versitygw program; empty means VersitygwBinary (built when missing).
	Binary string
}

// S3 is a running S3 server (Versity S3 Gateway, posix backend) on 127.0.0.1, plain HTTP,
// path-style addressing, region us-east-1.
type S3 struct {
	// Endpoint is "127.0.0.1:PORT"; URL is "http://" + Endpoint.
	Endpoint, URL        string
	AccessKey, SecretKey string
	// Dir is the server's directory; DataDir (Dir/data) holds one directory per bucket.
	Dir, DataDir string

	srv *server
}

// LaunchS3 starts an S3 server as described by opts. The caller must Stop it.
func LaunchS3(ctx context.Context, opts S3Options) (*S3, error) {
	if opts.Dir == "" {
		return nil, errors.New("gridtest: S3Options.Dir is empty")
	}
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = VersitygwBinary(ctx); err != nil {
			return nil, err
		}
	}
	s := &S3{Dir: opts.Dir, DataDir: filepath.Join(opts.Dir, "data"), AccessKey: opts.AccessKey, SecretKey: opts.SecretKey}
	if s.AccessKey == "" {
		s.AccessKey = DefaultS3AccessKey
	}
	if s.SecretKey == "" {
		s.SecretKey = DefaultS3SecretKey
	}
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return nil, err
	}
	return launch(func() (*S3, error) { return s.start(bin) })
}

func (s *S3) start(bin string) (*S3, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	argv := []string{bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", addr, "--quiet", "posix", s.DataDir}
	probe := func(ctx context.Context) error { return s3Probe(ctx, "http://"+addr+"/") }
	srv, err := start("versitygw", argv, filepath.Join(s.Dir, "versitygw.log"), nil, probe)
	if err != nil {
		return nil, err
	}
	s.srv, s.Endpoint, s.URL = srv, addr, "http://"+addr
	return s, nil
}

// s3Probe wants the 403 an S3 server gives an unauthenticated request.
func s3Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusForbidden {
		return fmt.Errorf("%s answered %s, want 403", url, resp.Status)
	}
	return nil
}

// Stop stops the server (SIGTERM, SIGKILL after a grace period) and waits for it.
func (s *S3) Stop() error { return s.srv.stop() }

// MakeBucket creates the bucket name (a directory of the posix backend).
func (s *S3) MakeBucket(name string) error {
	p, err := inside(s.DataDir, name)
	if err != nil || strings.Contains(strings.Trim(name, "/"), "/") {
		return fmt.Errorf("gridtest: bad bucket name %q", name)
	}
	return os.MkdirAll(p, 0o755)
}

// S3URL returns "s3://127.0.0.1:PORT/<bucket>/<key>".
func (s *S3) S3URL(bucket, key string) string {
	return "s3://" + s.Endpoint + "/" + bucket + "/" + strings.TrimLeft(key, "/")
}

// WriteFile stores data as the object rel ("<bucket>/<key>") directly in the data
// directory, creating the bucket and directories.
func (s *S3) WriteFile(rel string, data []byte) error {
	p, err := inside(s.DataDir, rel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// Path returns the local path of rel ("<bucket>/<key>") in the data directory.
func (s *S3) Path(rel string) string {
	p, err := inside(s.DataDir, rel)
	if err != nil {
		return filepath.Join(s.DataDir, "invalid-path")
	}
	return p
}

// Logs returns the end of the server's log (for test failure messages).
func (s *S3) Logs() string { return s.srv.logTail() }

// StartS3 starts an S3 server in a fresh t.TempDir() and stops it in t.Cleanup; the first
// call on a machine builds versitygw (see VersitygwBinary). It skips t when versitygw cannot
// be built, or fails it when grid servers are required (see Required).
func StartS3(t testing.TB) *S3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout+ReadyTimeout)
	defer cancel()
	s, err := LaunchS3(ctx, S3Options{Dir: t.TempDir()})
	if err != nil {
		var be *BuildError
		if errors.As(err, &be) && !Required() {
			t.Skipf("%v; skipping (set %s=1 to make this a failure)", err, EnvRequire)
		}
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping versitygw: %v", err)
		}
	})
	return s
}
