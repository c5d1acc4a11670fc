package timedcmd

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/helperproc"
)

// waitLimit bounds every wait in the tests; it is generous for a loaded
// two-core machine and is never a timing assertion.
const waitLimit = 60 * time.Second

func TestMain(m *testing.M) {
	helperproc.Dispatch(nil)
	// Panic on an exec.Cmd that was started and never waited for (the
	// undocumented switch the os/exec tests use; the runtime picks up the
	// change of GODEBUG at once).
	// Benchmarks keep the check but not the stack capture, which would
	// dominate the cost of starting /bin/true.
	level := "2"
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.bench=") {
			level = "1"
		}
	}
	godebug := os.Getenv("GODEBUG")
	if godebug != "" {
		godebug += ","
	}
	os.Setenv("GODEBUG", godebug+"execwait="+level)
	code := m.Run()
	runtime.GC()
	runtime.GC()
	os.Exit(code)
}

// script returns a Spec running the helper script steps.
func script(steps ...string) Spec {
	inv := helperproc.Script(steps...)
	return Spec{Path: inv.Path, Args: inv.Args, Env: inv.Env}
}

// reporter collects the "report" lines of a helper tree through a pipe
// passed as descriptor 3.
type reporter struct {
	r      *os.File
	w      *os.File
	br     *bufio.Reader
	starts map[int]uint64
}

func newReporter(t *testing.T) *reporter {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return &reporter{r: r, w: w, br: bufio.NewReader(r), starts: make(map[int]uint64)}
}

// attach makes spec's helpers report to rep.
func (rep *reporter) attach(spec *Spec) {
	spec.ExtraFiles = append(spec.ExtraFiles, rep.w)
	found := false
	for i, kv := range spec.Env {
		if strings.HasPrefix(kv, helperproc.EnvReportFD+"=") {
			spec.Env[i], found = helperproc.EnvReportFD+"=3", true
		}
	}
	if !found {
		spec.Env = append(spec.Env, helperproc.EnvReportFD+"=3")
	}
}

// started drops the parent's write end once the child holds it.
func (rep *reporter) started() { rep.w.Close() }

// read waits for n reports and records the reporters' start times.
func (rep *reporter) read(t *testing.T, n int) []int {
	t.Helper()
	type result struct {
		pids []int
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		pids, err := helperproc.ReadReports(rep.br, n)
		ch <- result{pids, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("reading %d reports: %v (got %v)", n, res.err, res.pids)
		}
		var sr statReader
		for _, pid := range res.pids {
			if st, err := sr.read(pid); err == nil {
				rep.starts[pid] = st.start
			}
		}
		return res.pids
	case <-time.After(waitLimit):
		rep.r.Close()
		t.Fatalf("no %d reports within %v", n, waitLimit)
		return nil
	}
}

// alive returns the reported processes that are still running.
func (rep *reporter) alive() []int {
	var out []int
	var sr statReader
	for pid, start := range rep.starts {
		if st, err := sr.read(pid); err == nil && st.start == start && !st.dead() {
			out = append(out, pid)
		}
	}
	return out
}

// killAlive kills reported processes left alive by a test that expected
// them to escape, so that nothing outlives the test.
func (rep *reporter) killAlive() {
	var sr statReader
	for pid, start := range rep.starts {
		if h, err := openHandle(pid, start, &sr); err == nil {
			h.signal(9)
			waitExit([]*handle{h}, time.Now().Add(waitLimit))
			h.close()
		}
	}
}

// waitResult waits for c with a deadline.
func waitResult(t *testing.T, c *Cmd) *Result {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitLimit):
		c.Stop(nil)
		t.Fatalf("command %d did not end within %v", c.Pid(), waitLimit)
	}
	res, err := c.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}

// noChildren fails the test if this process still has a live child: every
// test must leave nothing behind.
func noChildren(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		kids, ok := selfChildren()
		if !ok {
			return
		}
		var sr statReader
		for _, pid := range kids {
			if st, err := sr.read(pid); err == nil && !st.dead() {
				t.Errorf("child %d still running after the test", pid)
			}
		}
	})
}

func newSubreaper(t *testing.T) *Runner {
	t.Helper()
	r, err := NewRunner(RunnerOptions{Subreaper: true})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func start(t *testing.T, r *Runner, ctx context.Context, spec Spec) *Cmd {
	t.Helper()
	c, err := r.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}
