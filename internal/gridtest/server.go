package gridtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gopilot/gopilot/timedcmd"
)

const (
	// ReadyTimeout bounds the wait for a started server to answer.
	ReadyTimeout = 30 * time.Second
	// launchAttempts is how often a start is tried with fresh ports when the server exits
	// early (another process took a port between the pick and the bind).
	launchAttempts = 4
	stopGrace      = 5 * time.Second
	pollInterval   = 20 * time.Millisecond
)

// errStopped is the cause given to a server's Stop.
var errStopped = errors.New("gridtest: server stopped")

// owner is the account a server drops to when started as root.
type owner struct {
	name     string
	uid, gid int
	asRoot   bool // the server is started as root and switches to this account
}

// serverOwner returns the account for a server that drops from root to name; when this
// process is not root the server runs as the current user.
func serverOwner(name string) (owner, error) {
	if os.Geteuid() != 0 {
		return owner{name: "", uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return owner{}, fmt.Errorf("server account %q: %w (is the server package installed?)", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return owner{}, fmt.Errorf("server account %q has non-numeric ids %s:%s", name, u.Uid, u.Gid)
	}
	return owner{name: name, uid: uid, gid: gid, asRoot: true}, nil
}

// mkdirs creates dirs (0755) and hands them to o.
func (o owner) mkdirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
		if o.asRoot {
			if err := os.Chown(d, o.uid, o.gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile writes data to root/rel, creating the missing directories of rel, and gives
// what it created to o.
func (o owner) writeFile(root, rel string, data []byte) error {
	p, err := inside(root, rel)
	if err != nil {
		return err
	}
	var made []string
	for d := filepath.Dir(p); d != root; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		made = append(made, d)
	}
	for i := len(made) - 1; i >= 0; i-- {
		if err := o.mkdirs(made[i]); err != nil {
			return err
		}
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	if o.asRoot {
		return os.Chown(p, o.uid, o.gid)
	}
	return nil
}

// inside returns root/rel and refuses a rel that leaves root.
func inside(root, rel string) (string, error) {
	rel = strings.TrimLeft(rel, "/")
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("gridtest: path %q leaves the data directory", rel)
	}
	return filepath.Join(root, rel), nil
}

// reachable makes dir and its parent traversable by other users (t.TempDir and
// os.MkdirTemp create 0700 directories, which a server that dropped root cannot enter).
func reachable(dir string) error {
	for _, d := range []string{filepath.Dir(dir), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// freePort returns a TCP port that was free on every interface a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// server is a started server process.
type server struct {
	name string
	cmd  *timedcmd.Cmd
	logs []string // files worth showing when something goes wrong
}

// start runs argv as a server (own process group, this process's environment, output to
// outFile) and waits until probe succeeds, the process exits or ReadyTimeout passes.
func start(name string, argv []string, outFile string, logs []string, probe func(context.Context) error) (*server, error) {
	cmd, err := timedcmd.Start(context.Background(), timedcmd.Spec{
		Path:       argv[0],
		Args:       argv,
		Env:        os.Environ(),
		StdoutFile: outFile,
		StderrFile: outFile,
		TailBytes:  -1,
		Grace:      stopGrace,
	})
	if err != nil {
		return nil, err
	}
	s := &server{name: name, cmd: cmd, logs: append([]string{outFile}, logs...)}
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	var perr error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		perr = probe(pctx)
		pcancel()
		if perr == nil {
			return s, nil
		}
		select {
		case <-cmd.Done():
			res, _ := cmd.Wait()
			return nil, &exitError{name: name, code: res.ExitCode, sig: res.Signal.String(), probe: perr, logs: s.logTail()}
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("gridtest: %s not ready after %s: %v\n%s", name, ReadyTimeout, perr, s.logTail())
		case <-time.After(pollInterval):
		}
	}
}

// exitError reports a server that exited before it was ready.
type exitError struct {
	name  string
	code  int
	sig   string
	probe error
	logs  string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("gridtest: %s exited before it was ready (exit %d, signal %s; last probe: %v)\n%s",
		e.name, e.code, e.sig, e.probe, e.logs)
}

// stop signals the server's process group, waits for it and reports processes that could
// not be killed.
func (s *server) stop() error {
	s.cmd.Stop(errStopped)
	res, err := s.cmd.Wait()
	if err != nil {
		return err
	}
	if len(res.Survivors) > 0 {
		return fmt.Errorf("gridtest: %s: processes %v survived the stop", s.name, res.Survivors)
	}
	return nil
}

// logTail returns the end of the server's log files, for error messages.
func (s *server) logTail() string {
	var b strings.Builder
	for _, l := range s.logs {
		matches, _ := filepath.Glob(l)
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil || len(data) == 0 {
				continue
			}
			if len(data) > 3000 {
				data = data[len(data)-3000:]
			}
			fmt.Fprintf(&b, "--- %s:\n%s\n", m, data)
		}
	}
	return b.String()
}

// launch retries start with fresh ports while the server exits early.
func launch[T any](attempt func() (T, error)) (T, error) {
	var last error
	for range launchAttempts {
		v, err := attempt()
		if err == nil {
			return v, nil
		}
		last = err
		var ee *exitError
		if !errors.As(err, &ee) {
			break
		}
	}
	var zero T
	return zero, last
}

// tb is the part of testing.TB the Start functions use.
func startFailed(t interface {
	Helper()
	Fatalf(string, ...any)
	Skipf(string, ...any)
}, err error) {
	t.Helper()
	var me *MissingError
	if errors.As(err, &me) && !Required() {
		t.Skipf("gridtest: %v; skipping (set %s=1 to make this a failure)", err, EnvRequire)
	}
	t.Fatalf("%v", err)
}
