package timedcmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestExit(t *testing.T) {
	noChildren(t)
	tests := []struct {
		name    string
		steps   []string
		code    int
		success bool
		stdout  string
		stderr  string
	}{
		{"quick", []string{"exit", "0"}, 0, true, "", ""},
		{"nonzero", []string{"ewrite", "boom", "exit", "3"}, 3, false, "", "boom\n"},
		{"max", []string{"exit", "255"}, 255, false, "", ""},
		{"output", []string{"write", "hello", "ewrite", "oops", "exit", "0"}, 0, true, "hello\n", "oops\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), script(tc.steps...))
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tc.code || res.Signal != 0 || res.Success() != tc.success {
				t.Errorf("exit %d signal %v success %v, want %d, 0, %v", res.ExitCode, res.Signal, res.Success(), tc.code, tc.success)
			}
			if res.Cause != nil || res.TimedOut || res.Cancelled {
				t.Errorf("cause %v timedOut %v cancelled %v for a command that ended on its own", res.Cause, res.TimedOut, res.Cancelled)
			}
			if string(res.StdoutTail) != tc.stdout || string(res.StderrTail) != tc.stderr {
				t.Errorf("tails %q / %q, want %q / %q", res.StdoutTail, res.StderrTail, tc.stdout, tc.stderr)
			}
			if res.Start.IsZero() || res.End.Before(res.Start) || res.Duration() <= 0 {
				t.Errorf("times %v .. %v", res.Start, res.End)
			}
			if res.MaxRSS <= 0 {
				t.Errorf("MaxRSS %d", res.MaxRSS)
			}
		})
	}
}

func TestDeathBySignal(t *testing.T) {
	noChildren(t)
	sigs := []syscall.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT,
		unix.SIGBUS, unix.SIGFPE, unix.SIGKILL, unix.SIGUSR1, unix.SIGSEGV, unix.SIGUSR2,
		unix.SIGPIPE, unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGXCPU, unix.SIGXFSZ,
		unix.SIGVTALRM, unix.SIGPROF, unix.SIGIO, unix.SIGPWR, unix.SIGSYS,
	}
	for _, sig := range sigs {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			spec := script("raise", fmt.Sprint(int(sig)))
			spec.Dir = t.TempDir() // should a core file be written anyway
			res, err := Run(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.Signal != sig || res.ExitCode != -1 || res.Success() {
				t.Errorf("signal %v exit %d, want %v, -1 (stderr %q)", res.Signal, res.ExitCode, sig, res.StderrTail)
			}
			if res.Cause != nil {
				t.Errorf("cause %v for a command that died on its own", res.Cause)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	noChildren(t)
	tests := []struct {
		name  string
		steps []string
		grace time.Duration
		sig   syscall.Signal
	}{
		{"term honoured", []string{"report", "sleep", "forever"}, waitLimit, unix.SIGTERM},
		{"term ignored escalates", []string{"ignore", "TERM", "report", "sleep", "forever"}, 200 * time.Millisecond, unix.SIGKILL},
		{"no grace", []string{"ignore", "TERM", "report", "sleep", "forever"}, -1, unix.SIGKILL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := newReporter(t)
			spec := script(tc.steps...)
			// The timeout runs from Start: it must leave the helper time to
			// start up and ignore SIGTERM even on a loaded machine.
			spec.Timeout = 500 * time.Millisecond
			spec.Grace = tc.grace
			rep.attach(&spec)
			c := start(t, nil, context.Background(), spec)
			rep.started()
			rep.read(t, 1)
			res := waitResult(t, c)
			if !res.TimedOut || res.Cancelled || !errors.Is(res.Cause, ErrTimeout) {
				t.Errorf("timedOut %v cancelled %v cause %v", res.TimedOut, res.Cancelled, res.Cause)
			}
			if res.Signal != tc.sig {
				t.Errorf("signal %v, want %v", res.Signal, tc.sig)
			}
			if len(res.Survivors) != 0 {
				t.Errorf("survivors %v", res.Survivors)
			}
		})
	}
}

func TestCancelCause(t *testing.T) {
	noChildren(t)
	errServerKill := errors.New("server asked to kill the job")
	errMonitor := errors.New("looping job")
	tests := []struct {
		name   string
		stop   func(c *Cmd, cancel context.CancelCauseFunc)
		parent func() (context.Context, context.CancelCauseFunc)
		want   error
		noWait bool // the stop may come before the helper could report
	}{
		{
			name: "context cancelled with cause",
			parent: func() (context.Context, context.CancelCauseFunc) {
				return context.WithCancelCause(context.Background())
			},
			stop: func(_ *Cmd, cancel context.CancelCauseFunc) { cancel(errServerKill) },
			want: errServerKill,
		},
		{
			name: "parent deadline with cause",
			parent: func() (context.Context, context.CancelCauseFunc) {
				ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errMonitor)
				return ctx, func(error) { cancel() }
			},
			stop:   func(*Cmd, context.CancelCauseFunc) {},
			want:   errMonitor,
			noWait: true,
		},
		{
			name: "Stop with cause",
			parent: func() (context.Context, context.CancelCauseFunc) {
				return context.WithCancelCause(context.Background())
			},
			stop: func(c *Cmd, _ context.CancelCauseFunc) { c.Stop(errMonitor) },
			want: errMonitor,
		},
		{
			name: "Stop without cause",
			parent: func() (context.Context, context.CancelCauseFunc) {
				return context.WithCancelCause(context.Background())
			},
			stop: func(c *Cmd, _ context.CancelCauseFunc) { c.Stop(nil) },
			want: ErrStopped,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.parent()
			defer cancel(nil)
			rep := newReporter(t)
			spec := script("report", "sleep", "forever")
			spec.Timeout = waitLimit // a timeout that must not be the cause
			rep.attach(&spec)
			c := start(t, nil, ctx, spec)
			rep.started()
			if !tc.noWait {
				rep.read(t, 1)
			}
			tc.stop(c, cancel)
			res := waitResult(t, c)
			if !res.Cancelled || res.TimedOut || !errors.Is(res.Cause, tc.want) {
				t.Errorf("cancelled %v timedOut %v cause %v, want cancelled with %v", res.Cancelled, res.TimedOut, res.Cause, tc.want)
			}
			if res.Signal != unix.SIGTERM {
				t.Errorf("signal %v, want SIGTERM", res.Signal)
			}
		})
	}
}

func TestStopIdempotentConcurrent(t *testing.T) {
	noChildren(t)
	rep := newReporter(t)
	spec := script("ignore", "TERM", "report", "sleep", "forever")
	spec.Grace = 100 * time.Millisecond
	rep.attach(&spec)
	c := start(t, nil, context.Background(), spec)
	rep.started()
	rep.read(t, 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Stop(fmt.Errorf("stop %d", i))
		}()
	}
	wg.Wait()
	res := waitResult(t, c)
	if res.Signal != unix.SIGKILL || !res.Cancelled || res.Cause == nil {
		t.Errorf("signal %v cancelled %v cause %v", res.Signal, res.Cancelled, res.Cause)
	}
	c.Stop(errors.New("late")) // after the end: returns at once, changes nothing
	if res2, _ := c.Wait(); res2 != res || !strings.HasPrefix(res2.Cause.Error(), "stop ") {
		t.Errorf("result changed after a late Stop: %v", res2.Cause)
	}
	if err := c.Signal(unix.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after the end: %v, want os.ErrProcessDone", err)
	}
}

func TestStopAfterNaturalExitKeepsNoCause(t *testing.T) {
	noChildren(t)
	c := start(t, nil, context.Background(), script("exit", "4"))
	<-c.Done()
	c.Stop(errors.New("too late"))
	res := waitResult(t, c)
	if res.ExitCode != 4 || res.Cause != nil || res.Cancelled {
		t.Errorf("exit %d cause %v cancelled %v", res.ExitCode, res.Cause, res.Cancelled)
	}
}

func TestSignalReachesGroup(t *testing.T) {
	noChildren(t)
	rep := newReporter(t)
	spec := script("spawn", "[", "report", "sleep", "forever", "]", "report", "sleep", "forever")
	rep.attach(&spec)
	c := start(t, nil, context.Background(), spec)
	rep.started()
	rep.read(t, 2)
	// A Go program dies of SIGHUP (it ignores SIGUSR1).
	if err := c.Signal(unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, c)
	if res.Signal != unix.SIGHUP || res.Cause != nil {
		t.Errorf("signal %v cause %v", res.Signal, res.Cause)
	}
	if a := rep.alive(); len(a) != 0 {
		t.Errorf("still alive: %v", a)
	}
}

// TestEscapedDescendants: a double-forked daemon and a setsid child leave
// the process group; Stop must kill them too.
func TestEscapedDescendants(t *testing.T) {
	noChildren(t)
	daemonSteps := []string{
		"spawn", "[", "setsid", "report", "sleep", "forever", "]", // setsid child
		"spawn", "[", "setsid", "spawn", "[", "report", "sleep", "forever", "]", "exit", "0", "]", // double fork
		"report", "sleep", "forever",
	}
	tests := []struct {
		name       string
		subreaper  bool
		newSession bool
		grace      time.Duration
	}{
		{"subreaper group", true, false, time.Second},
		{"subreaper session", true, true, time.Second},
		{"subreaper no grace", true, false, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *Runner
			if tc.subreaper {
				r = newSubreaper(t)
			}
			rep := newReporter(t)
			spec := script(daemonSteps...)
			spec.NewSession = tc.newSession
			spec.Grace = tc.grace
			rep.attach(&spec)
			c := start(t, r, context.Background(), spec)
			rep.started()
			pids := rep.read(t, 3)
			t.Cleanup(rep.killAlive)
			c.Stop(errors.New("test"))
			if a := rep.alive(); len(a) != 0 {
				t.Errorf("alive after Stop: %v (tree %v)", a, pids)
			}
			res := waitResult(t, c)
			if len(res.Survivors) != 0 {
				t.Errorf("survivors %v", res.Survivors)
			}
		})
	}
}

// TestPlainModeFindsSetsidChild: without a subreaper, a setsid child is
// still found through its parent, the leader.
func TestPlainModeFindsSetsidChild(t *testing.T) {
	noChildren(t)
	rep := newReporter(t)
	spec := script("spawn", "[", "setsid", "report", "sleep", "forever", "]", "report", "sleep", "forever")
	spec.Grace = time.Second
	rep.attach(&spec)
	c := start(t, nil, context.Background(), spec)
	rep.started()
	rep.read(t, 2)
	t.Cleanup(rep.killAlive)
	c.Stop(nil)
	if a := rep.alive(); len(a) != 0 {
		t.Errorf("alive after Stop: %v", a)
	}
}

func TestLeftoversKilledAfterExit(t *testing.T) {
	noChildren(t)
	tests := []struct {
		name      string
		subreaper bool
		steps     []string
	}{
		{"grandchild holds stdout", false, []string{"spawn", "[", "report", "sleep", "forever", "]", "report", "cat", "exit", "0"}},
		{"grandchild ignores TERM", false, []string{"spawn", "[", "ignore", "TERM", "report", "sleep", "forever", "]", "report", "cat", "exit", "0"}},
		{"escaped daemon", true, []string{"spawn", "[", "setsid", "spawn", "[", "report", "sleep", "forever", "]", "exit", "0", "]", "report", "cat", "exit", "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *Runner
			if tc.subreaper {
				r = newSubreaper(t)
			}
			rep := newReporter(t)
			var out bytes.Buffer
			spec := script(tc.steps...)
			spec.Stdout = &out
			spec.WaitDelay = waitLimit // must not be what ends Wait
			gate := newGate(t, &spec)
			rep.attach(&spec)
			c := start(t, r, context.Background(), spec)
			rep.started()
			rep.read(t, 2)
			gate.Close() // the leader exits once its tree is complete
			t.Cleanup(rep.killAlive)
			res := waitResult(t, c)
			if res.ExitCode != 0 || res.Cause != nil || res.WaitDelayExpired {
				t.Errorf("exit %d cause %v waitDelayExpired %v", res.ExitCode, res.Cause, res.WaitDelayExpired)
			}
			if a := rep.alive(); len(a) != 0 {
				t.Errorf("alive after Wait: %v", a)
			}
		})
	}
}

// TestWaitDelay: a process outside the tree (escaped to init, no subreaper)
// keeps stdout open; Wait must still return after WaitDelay.
func TestWaitDelay(t *testing.T) {
	noChildren(t)
	rep := newReporter(t)
	var out safeBuffer
	spec := script("spawn", "[", "setsid", "spawn", "[", "report", "sleep", "forever", "]", "exit", "0", "]", "report", "cat", "write", "bye", "exit", "0")
	spec.Stdout = &out
	spec.WaitDelay = 200 * time.Millisecond
	gate := newGate(t, &spec)
	rep.attach(&spec)
	c := start(t, nil, context.Background(), spec)
	rep.started()
	rep.read(t, 2)
	gate.Close()
	t.Cleanup(rep.killAlive)
	res := waitResult(t, c)
	if !res.WaitDelayExpired || res.ExitCode != 0 {
		t.Errorf("waitDelayExpired %v exit %d", res.WaitDelayExpired, res.ExitCode)
	}
	if !strings.Contains(out.String(), "bye") {
		t.Errorf("output %q lacks the leader's last line", out.String())
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestManyLines(t *testing.T) {
	noChildren(t)
	const n = 10000
	dir := t.TempDir()
	var buf bytes.Buffer
	var want strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	tests := []struct {
		name string
		spec func() Spec
		read func() string
	}{
		{"file direct", func() Spec {
			s := script("print", fmt.Sprint(n))
			s.StdoutFile = filepath.Join(dir, "direct.out")
			return s
		}, func() string { return readFile(t, filepath.Join(dir, "direct.out")) }},
		{"file through pipe", func() Spec {
			s := script("print", fmt.Sprint(n))
			s.StdoutFile = filepath.Join(dir, "pipe.out")
			s.MaxOutputBytes = 1 << 30
			return s
		}, func() string { return readFile(t, filepath.Join(dir, "pipe.out")) }},
		{"writer", func() Spec {
			buf.Reset()
			s := script("print", fmt.Sprint(n))
			s.Stdout = &buf
			return s
		}, func() string { return buf.String() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), tc.spec())
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.read(); got != want.String() {
				t.Errorf("got %d bytes, want %d", len(got), want.Len())
			}
			if res.Truncated || res.ExitCode != 0 {
				t.Errorf("truncated %v exit %d", res.Truncated, res.ExitCode)
			}
			if !bytes.HasSuffix(res.StdoutTail, []byte(fmt.Sprintf("line %d\n", n))) || len(res.StdoutTail) != DefaultTailBytes {
				t.Errorf("tail of %d bytes ends %q", len(res.StdoutTail), res.StdoutTail[max(0, len(res.StdoutTail)-20):])
			}
		})
	}
}

func TestOutputCap(t *testing.T) {
	noChildren(t)
	dir := t.TempDir()
	spec := script("print", "10000", "eprint", "10000", "write", "still alive", "exit", "0")
	spec.StdoutFile = filepath.Join(dir, "out")
	spec.StderrFile = filepath.Join(dir, "err")
	spec.MaxOutputBytes = 1000
	spec.TailBytes = 64
	res, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.Signal != 0 {
		t.Fatalf("exit %d signal %v: the cap must never hurt the child", res.ExitCode, res.Signal)
	}
	if !res.Truncated {
		t.Error("Truncated not set")
	}
	for _, f := range []string{"out", "err"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() != 1000 {
			t.Errorf("%s: %v, size %d, want 1000", f, err, fi.Size())
		}
	}
	if !strings.HasSuffix(string(res.StdoutTail), "line 10000\nstill alive\n") || len(res.StdoutTail) != 64 {
		t.Errorf("stdout tail %q", res.StdoutTail)
	}
	if !strings.HasSuffix(string(res.StderrTail), "line 10000\n") {
		t.Errorf("stderr tail %q", res.StderrTail)
	}
}

func TestSharedOutputFile(t *testing.T) {
	noChildren(t)
	path := filepath.Join(t.TempDir(), "log")
	spec := script("write", "one", "ewrite", "two", "write", "three", "exit", "0")
	spec.StdoutFile, spec.StderrFile = path, path
	res, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "one\ntwo\nthree\n" {
		t.Errorf("file %q", got)
	}
	if string(res.StdoutTail) != "one\ntwo\nthree\n" || len(res.StderrTail) != 0 {
		t.Errorf("tails %q / %q", res.StdoutTail, res.StderrTail)
	}
}

// failingWriter fails every write; the child must not notice.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFailingWriterDoesNotHurtChild(t *testing.T) {
	noChildren(t)
	spec := script("print", "5000", "exit", "0")
	spec.Stdout = failingWriter{}
	res, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.Signal != 0 || !bytes.HasSuffix(res.StdoutTail, []byte("line 5000\n")) {
		t.Errorf("exit %d signal %v tail %q", res.ExitCode, res.Signal, res.StdoutTail)
	}
}

func TestStdinAndEnv(t *testing.T) {
	noChildren(t)
	spec := script("cat", "exit", "0")
	spec.Stdin = strings.NewReader("from stdin\n")
	res, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.StdoutTail) != "from stdin\n" {
		t.Errorf("stdout %q", res.StdoutTail)
	}
	res, err = Run(context.Background(), Spec{Path: "env", Env: []string{"PATH=/usr/bin:/bin", "ONLY=this"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.StdoutTail); got != "PATH=/usr/bin:/bin\nONLY=this\n" {
		t.Errorf("environment %q, want exactly the one given", got)
	}
}

func TestStartErrors(t *testing.T) {
	noChildren(t)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "data")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("gone"))
	tests := []struct {
		name string
		ctx  context.Context
		spec Spec
		is   error
	}{
		{"missing path", context.Background(), Spec{Path: filepath.Join(dir, "nope")}, fs.ErrNotExist},
		{"missing name", context.Background(), Spec{Path: "no-such-tool-anywhere", Env: []string{"PATH=" + dir}}, exec.ErrNotFound},
		{"not executable", context.Background(), Spec{Path: notExec}, fs.ErrPermission},
		{"bad dir", context.Background(), Spec{Path: "/bin/true", Dir: filepath.Join(dir, "nodir")}, fs.ErrNotExist},
		{"bad output file", context.Background(), Spec{Path: "/bin/true", StdoutFile: filepath.Join(dir, "nodir", "out")}, fs.ErrNotExist},
		{"context done", cancelled, Spec{Path: "/bin/true"}, context.Cause(cancelled)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(tc.ctx, tc.spec)
			if err == nil {
				waitResult(t, c)
				t.Fatal("started")
			}
			var se *StartError
			if !errors.As(err, &se) || !errors.Is(err, tc.is) {
				t.Errorf("error %v (%T), want a *StartError wrapping %v", err, err, tc.is)
			}
		})
	}
}

func TestForkBomb(t *testing.T) {
	noChildren(t)
	tests := []struct {
		name      string
		n         int
		pre       []string
		subreaper bool
	}{
		{"200 in the group", 200, []string{"report"}, false},
		{"60 each in its own session", 60, []string{"setsid", "report"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *Runner
			if tc.subreaper {
				r = newSubreaper(t)
			}
			rep := newReporter(t)
			steps := append([]string{"tree", fmt.Sprint(tc.n), "["}, tc.pre...)
			spec := script(append(steps, "]")...)
			spec.Grace = -1
			rep.attach(&spec)
			c := start(t, r, context.Background(), spec)
			rep.started()
			rep.read(t, tc.n)
			t.Cleanup(rep.killAlive)
			c.Stop(errors.New("bomb"))
			if a := rep.alive(); len(a) != 0 {
				t.Errorf("%d of %d alive after one Stop", len(a), tc.n)
			}
			if res := waitResult(t, c); len(res.Survivors) != 0 {
				t.Errorf("survivors %v", res.Survivors)
			}
		})
	}
}

func TestCPUOfWholeTree(t *testing.T) {
	noChildren(t)
	const burn = 150 * time.Millisecond
	t.Run("waited grandchild", func(t *testing.T) {
		res, err := Run(context.Background(), script("run", "[", "cpu", burn.String(), "]", "exit", "0"))
		if err != nil {
			t.Fatal(err)
		}
		if cpu := res.UserCPU + res.SysCPU; cpu < burn {
			t.Errorf("tree CPU %v, want at least the grandchild's %v", cpu, burn)
		}
	})
	t.Run("re-parented orphan", func(t *testing.T) {
		r := newSubreaper(t)
		rep := newReporter(t)
		spec := script("spawn", "[", "setsid", "spawn", "[", "cpu", burn.String(), "report", "exit", "0", "]", "exit", "0", "]", "sleep", "forever")
		rep.attach(&spec)
		c := start(t, r, context.Background(), spec)
		rep.started()
		rep.read(t, 1)
		c.Stop(nil)
		res := waitResult(t, c)
		if cpu := res.UserCPU + res.SysCPU; cpu < burn {
			t.Errorf("tree CPU %v, want at least the orphan's %v", cpu, burn)
		}
	})
}

// TestSubreaperLeavesOtherChildrenAlone: while a subreaper Runner reaps
// orphans, children started by os/exec and by the package-level Run keep
// their exit statuses.
func TestSubreaperLeavesOtherChildrenAlone(t *testing.T) {
	noChildren(t)
	r := newSubreaper(t)
	ctx := context.Background()
	// Orphans keep arriving while the others run.
	orphans := start(t, r, ctx, Spec{Path: "/bin/sh", Args: []string{"sh", "-c", "for i in $(seq 40); do (sleep 0.01 &) ; sleep 0.005; done"}})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := exec.Command("/bin/sh", "-c", fmt.Sprintf("exit %d", i+1)).Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != i+1 {
				errs <- fmt.Errorf("os/exec: %v, want exit %d", err, i+1)
			}
		}()
		go func() {
			defer wg.Done()
			res, err := Run(ctx, Spec{Path: "/bin/sh", Args: []string{"sh", "-c", fmt.Sprintf("exit %d", i+1)}})
			if err != nil || res.ExitCode != i+1 {
				errs <- fmt.Errorf("Run: %v, exit %v, want %d", err, res, i+1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if res := waitResult(t, orphans); res.ExitCode != 0 {
		t.Errorf("orphan maker: exit %d", res.ExitCode)
	}
}

func TestIdentitySwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching identity needs root")
	}
	noChildren(t)
	const nobody = 65534
	tests := []struct {
		name   string
		cred   *syscall.Credential
		groups string
	}{
		{"nobody with groups", &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{nobody, 5678, 1234}}, "1234 5678 65534"},
		{"nobody without groups", &syscall.Credential{Uid: nobody, Gid: 4321}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), Spec{
				Path: "/bin/cat", Args: []string{"cat", "/proc/self/status"}, Dir: "/",
				Credential: tc.cred, TailBytes: 1 << 16,
			})
			if err != nil {
				t.Fatal(err)
			}
			status := map[string]string{}
			for _, line := range strings.Split(string(res.StdoutTail), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok {
					status[k] = strings.Join(strings.Fields(v), " ")
				}
			}
			uid, gid := fmt.Sprint(tc.cred.Uid), fmt.Sprint(tc.cred.Gid)
			if want := strings.Join([]string{uid, uid, uid, uid}, " "); status["Uid"] != want {
				t.Errorf("Uid %q, want %q", status["Uid"], want)
			}
			if want := strings.Join([]string{gid, gid, gid, gid}, " "); status["Gid"] != want {
				t.Errorf("Gid %q, want %q", status["Gid"], want)
			}
			// The kernel keeps the supplementary groups sorted.
			if status["Groups"] != tc.groups {
				t.Errorf("Groups %q, want exactly %q", status["Groups"], tc.groups)
			}
		})
	}
}

func TestIdentitySwitchStop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching identity needs root")
	}
	noChildren(t)
	// The test binary is not readable by nobody: a shell script instead.
	ready, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ready.Close()
	c := start(t, nil, context.Background(), Spec{
		Path: "/bin/sh", Args: []string{"sh", "-c", "trap '' TERM; sleep 1000 & echo ready; sleep 1000"}, Dir: "/",
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, Grace: 100 * time.Millisecond, Stdout: w,
	})
	w.Close()
	if line, err := bufio.NewReader(ready).ReadString('\n'); line != "ready\n" {
		t.Fatalf("no readiness line: %q %v", line, err)
	}
	c.Stop(nil)
	if res := waitResult(t, c); res.Signal != unix.SIGKILL || len(res.Survivors) != 0 {
		t.Errorf("signal %v survivors %v", res.Signal, res.Survivors)
	}
}

func TestCgroup(t *testing.T) {
	noChildren(t)
	parent, err := CurrentCgroup()
	if err != nil {
		t.Skipf("cgroup test skipped: %v", err)
	}
	probe := filepath.Join(parent, fmt.Sprintf("gopilot-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Skipf("cgroup test skipped: %s is not writable here: %v", parent, err)
	}
	os.Remove(probe)
	t.Logf("running in a child cgroup of %s", parent)

	rep := newReporter(t)
	// Without a subreaper, only the cgroup can find the double-forked daemon.
	spec := script("spawn", "[", "setsid", "spawn", "[", "report", "sleep", "forever", "]", "exit", "0", "]",
		"report", "sleep", "forever")
	spec.Cgroup = parent
	spec.Grace = time.Second
	rep.attach(&spec)
	c := start(t, nil, context.Background(), spec)
	rep.started()
	rep.read(t, 2)
	t.Cleanup(rep.killAlive)
	c.Stop(nil)
	res := waitResult(t, c)
	if res.Cgroup == "" || filepath.Dir(res.Cgroup) != filepath.Clean(parent) {
		t.Fatalf("Result.Cgroup %q", res.Cgroup)
	}
	if a := rep.alive(); len(a) != 0 {
		t.Errorf("alive after Stop: %v", a)
	}
	if _, err := os.Stat(res.Cgroup); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cgroup %s not removed: %v", res.Cgroup, err)
	}
}

func TestCgroupNotWritableFallsBack(t *testing.T) {
	noChildren(t)
	spec := script("exit", "0")
	spec.Cgroup = t.TempDir() // not a cgroup v2 directory
	res, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cgroup != "" || res.ExitCode != 0 {
		t.Errorf("cgroup %q exit %d", res.Cgroup, res.ExitCode)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newGate makes spec's stdin a pipe; a helper running "cat" goes on once
// the returned write end is closed.
func newGate(t *testing.T, spec *Spec) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	spec.Stdin = r
	return w
}

// TestReaperReapsOrphans: an orphan that exits on its own while its command
// runs is reaped by the Runner, not left a zombie.
func TestReaperReapsOrphans(t *testing.T) {
	noChildren(t)
	r := newSubreaper(t)
	rep := newReporter(t)
	spec := script("spawn", "[", "setsid", "spawn", "[", "report", "exit", "0", "]", "exit", "0", "]", "report", "cat", "exit", "0")
	gate := newGate(t, &spec)
	rep.attach(&spec)
	c := start(t, r, context.Background(), spec)
	rep.started()
	pids := rep.read(t, 2)
	orphan := pids[0]
	if orphan == c.Pid() {
		orphan = pids[1]
	}
	deadline := time.Now().Add(waitLimit)
	for {
		// The orphan's /proc entry disappears once it is reaped.
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", orphan)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d not reaped within %v", orphan, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	gate.Close()
	if res := waitResult(t, c); res.ExitCode != 0 {
		t.Errorf("exit %d", res.ExitCode)
	}
}
