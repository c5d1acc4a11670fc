package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/internal/helperproc"
)

// waitLimit bounds every wait in the tests; it is generous for a loaded
// two-core machine and is never a timing assertion.
const waitLimit = 60 * time.Second

func TestMain(m *testing.M) {
	helperproc.Dispatch(helperproc.Scenarios{
		"alloc":    allocScenario,
		"parent":   parentScenario,
		"sleepers": sleepersScenario,
	})
	// Orphans of the test trees (daemonised grandchildren, children of a
	// killed root) are re-parented to this process, which reaps them by
	// pid in the cleanups: nothing is left to an init that may not reap.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "monitor tests: cannot become a subreaper:", err)
	}
	os.Exit(m.Run())
}

// reportFile returns the helper's report descriptor.
func reportFile() *os.File {
	fd, err := strconv.Atoi(os.Getenv(helperproc.EnvReportFD))
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "report")
}

func report(f *os.File, pid int) {
	if f != nil {
		_, _ = unix.Write(int(f.Fd()), []byte(strconv.Itoa(pid)+"\n"))
	}
}

func sleepForever(keep ...any) int {
	for {
		time.Sleep(time.Hour)
		runtime.KeepAlive(keep)
	}
}

// allocScenario ("alloc MB") allocates MB MiB, touches every page, reports
// its pid and sleeps.
func allocScenario(args []string) int {
	mb, err := strconv.Atoi(args[0])
	if err != nil {
		return 2
	}
	buf := make([]byte, mb<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	report(reportFile(), os.Getpid())
	return sleepForever(buf)
}

// parentScenario ("parent K MB") starts K sleeping children and one child
// running "alloc MB", then reports its own pid and sleeps. Every child
// reports its pid.
func parentScenario(args []string) int {
	k, err1 := strconv.Atoi(args[0])
	_, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		return 2
	}
	rep := reportFile()
	start := func(inv helperproc.Invocation) error {
		inv = inv.WithReportFD(3)
		_, err := os.StartProcess(inv.Path, inv.Args, &os.ProcAttr{
			Env: inv.Env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr, rep},
		})
		return err
	}
	for range k {
		if err := start(helperproc.Script("report", "sleep", "forever")); err != nil {
			return 3
		}
	}
	if err := start(helperproc.Scenario("alloc", args[1])); err != nil {
		return 3
	}
	report(rep, os.Getpid())
	return sleepForever()
}

// sleepersScenario ("sleepers N") starts N-1 /bin/sleep children, reports
// their pids and its own, and sleeps: a tree of N processes that costs
// little memory.
func sleepersScenario(args []string) int {
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return 2
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return 3
	}
	rep := reportFile()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 3
	}
	for range n - 1 {
		p, err := os.StartProcess(sleep, []string{"sleep", "1000000"}, &os.ProcAttr{
			Files: []*os.File{null, null, null},
			Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			return 3
		}
		report(rep, p.Pid)
	}
	report(rep, os.Getpid())
	return sleepForever()
}

// tree is a helper process tree started by a test: the root (a session
// leader) and the pids reported by its members.
type tree struct {
	root int
	pids []int
}

// startTree starts inv as a session leader and waits for n reports. The
// cleanup kills the root's process group (only the tree's members are in
// it) and reaps the root and every reported member that was re-parented to
// the test process.
func startTree(tb testing.TB, inv helperproc.Invocation, n int) *tree {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	inv = inv.WithReportFD(3)
	cmd := &exec.Cmd{Path: inv.Path, Args: inv.Args, Env: inv.Env, Stderr: os.Stderr,
		ExtraFiles:  []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w.Close()
	tr := &tree{root: cmd.Process.Pid}
	tb.Cleanup(func() {
		_ = syscall.Kill(-tr.root, syscall.SIGKILL)
		_ = cmd.Wait()
		deadline := time.Now().Add(waitLimit)
		for _, pid := range tr.pids {
			for pid != tr.root && time.Now().Before(deadline) {
				got, err := unix.Wait4(pid, nil, unix.WNOHANG, nil)
				if got == pid || errors.Is(err, unix.ECHILD) || (err != nil && !errors.Is(err, unix.EINTR)) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		r.Close()
	})
	_ = r.SetReadDeadline(time.Now().Add(waitLimit))
	tr.pids, err = helperproc.ReadReports(bufio.NewReader(r), n)
	if err != nil {
		tb.Fatalf("helper tree: %v", err)
	}
	return tr
}
