// Package bench holds the measurements behind timedcmd's benchmarks and
// the benchmark table: each function runs one trial with timedcmd or with
// bare os/exec, so that both are measured the same way, in the same
// process, interleaved.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopilot/gopilot/internal/helperproc"
	"github.com/gopilot/gopilot/timedcmd"
	"golang.org/x/sys/unix"
)

// Kind selects the implementation measured by a trial.
type Kind int

const (
	// Timedcmd uses the package-level timedcmd.Run (or the given Runner).
	Timedcmd Kind = iota
	// OSExec uses bare os/exec the way a careful caller would.
	OSExec
)

func (k Kind) String() string {
	if k == OSExec {
		return "os/exec"
	}
	return "timedcmd"
}

// Sample is a set of durations.
type Sample []time.Duration

// Quantile returns the q-quantile (0 <= q <= 1), nearest rank.
func (s Sample) Quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(q*float64(len(c))+0.5) - 1
	return c[min(max(i, 0), len(c)-1)]
}

// True runs /bin/true once and returns the wall time of start to reaped.
// timedcmd runs with its defaults (stdout and stderr tails captured through
// pipes); os/exec runs with output discarded, its cheapest form.
func True(ctx context.Context, k Kind, r *timedcmd.Runner) (time.Duration, error) {
	t0 := time.Now()
	switch k {
	case OSExec:
		if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
			return 0, err
		}
	default:
		res, err := r.Run(ctx, timedcmd.Spec{Path: "/bin/true"})
		if err != nil {
			return 0, err
		}
		if !res.Success() {
			return 0, fmt.Errorf("/bin/true: exit %d signal %v", res.ExitCode, res.Signal)
		}
	}
	return time.Since(t0), nil
}

// ExitLatency runs a helper that writes the wall clock to stdout as its
// last act and exits, and returns the time from that stamp to the return
// of Wait. Both kinds capture stdout through a pipe.
func ExitLatency(ctx context.Context, k Kind, r *timedcmd.Runner) (time.Duration, error) {
	inv := helperproc.Script("stamp")
	var out []byte
	var end time.Time
	switch k {
	case OSExec:
		c := exec.CommandContext(ctx, inv.Path)
		c.Args, c.Env = inv.Args, inv.Env
		var err error
		out, err = c.Output()
		end = time.Now()
		if err != nil {
			return 0, err
		}
	default:
		res, err := r.Run(ctx, timedcmd.Spec{Path: inv.Path, Args: inv.Args, Env: inv.Env})
		end = time.Now()
		if err != nil {
			return 0, err
		}
		out = res.StdoutTail
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("helper stamp %q: %w", out, err)
	}
	return end.Sub(time.Unix(0, ns)), nil
}

// TreeSize is the number of processes in the tree of KillTree.
const TreeSize = 50

// treeScript starts TreeSize processes: the shell, 45 sleeps in its
// session, two sleeps in sessions of their own (children of the shell) and
// two double-forked sleeps in sessions of their own (orphans). It prints
// every pid, then "ready".
func treeScript(ignoreTERM bool) string {
	var b strings.Builder
	if ignoreTERM {
		b.WriteString("trap '' TERM\n")
	}
	b.WriteString("i=0; while [ $i -lt 45 ]; do sleep 1000 & echo $!; i=$((i+1)); done\n")
	b.WriteString("setsid sleep 1000 & echo $!\nsetsid sleep 1000 & echo $!\n")
	b.WriteString("( setsid sleep 1000 & echo $! )\n( setsid sleep 1000 & echo $! )\n")
	b.WriteString("echo ready\nwait\n")
	return b.String()
}

// KillResult is the outcome of one KillTree trial.
type KillResult struct {
	Latency time.Duration // from the cancellation to the return of Wait
	Left    int           // processes of the tree still alive at that moment
}

// KillTree starts a TreeSize-process tree in a new session, cancels it
// once it is complete and measures until Wait returns. With ignoreTERM
// every process ignores SIGTERM, so the kill waits out grace. timedcmd
// stops through r (use a subreaper Runner); os/exec signals the session's
// process group from Cmd.Cancel, SIGTERM then SIGKILL after grace, as
// careful callers do. Processes left alive are counted, then killed.
func KillTree(k Kind, r *timedcmd.Runner, ignoreTERM bool, grace time.Duration) (KillResult, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return KillResult{}, err
	}
	defer pr.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	argv := []string{"sh", "-c", treeScript(ignoreTERM)}
	env := []string{"PATH=/usr/bin:/bin"}

	var wait func() error
	switch k {
	case OSExec:
		c := exec.CommandContext(ctx, "/bin/sh")
		c.Args, c.Env, c.Stdout = argv, env, pw
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		c.Cancel = func() error {
			if grace <= 0 {
				return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
			pid := c.Process.Pid
			time.AfterFunc(grace, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
			return syscall.Kill(-pid, syscall.SIGTERM)
		}
		if err := c.Start(); err != nil {
			pw.Close()
			return KillResult{}, err
		}
		wait = func() error {
			err := c.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	default:
		g := grace
		if g <= 0 {
			g = -1
		}
		c, err := r.Start(ctx, timedcmd.Spec{Path: "/bin/sh", Args: argv, Env: env, Stdout: pw, NewSession: true, Grace: g})
		if err != nil {
			pw.Close()
			return KillResult{}, err
		}
		wait = func() error {
			res, err := c.Wait()
			if err == nil && len(res.Survivors) > 0 {
				err = fmt.Errorf("survivors %v", res.Survivors)
			}
			return err
		}
	}
	pw.Close()
	procs, err := readTree(pr)
	if err != nil {
		cancel(err)
		_ = wait()
		killAll(procs)
		return KillResult{}, err
	}
	t0 := time.Now()
	cancel(errors.New("deadline"))
	werr := wait()
	lat := time.Since(t0)
	left := killAll(procs)
	return KillResult{Latency: lat, Left: left}, werr
}

// proc identifies a process by pid and start time.
type proc struct {
	pid   int
	start uint64
}

// readTree reads the pids printed by the tree script up to "ready" and
// records their start times (the leader's included).
func readTree(f *os.File) ([]proc, error) {
	br := bufio.NewReader(f)
	var procs []proc
	done := make(chan error, 1)
	go func() {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				done <- fmt.Errorf("tree output ended after %d pids: %w", len(procs), err)
				return
			}
			line = strings.TrimSpace(line)
			if line == "ready" {
				done <- nil
				return
			}
			pid, err := strconv.Atoi(line)
			if err != nil {
				done <- fmt.Errorf("bad pid line %q", line)
				return
			}
			if st, ok := startTime(pid); ok {
				procs = append(procs, proc{pid, st})
			}
		}
	}()
	select {
	case err := <-done:
		return procs, err
	case <-time.After(time.Minute):
		f.Close()
		<-done
		return procs, errors.New("tree not ready within a minute")
	}
}

// startTime reads field 22 of /proc/<pid>/stat.
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

// killAll counts the processes of procs still alive, kills them through
// pidfds (they are descendants of this process) and reaps those that were
// re-parented here.
func killAll(procs []proc) (left int) {
	for _, p := range procs {
		fd, err := unix.PidfdOpen(p.pid, 0)
		if err != nil {
			continue
		}
		if st, ok := startTime(p.pid); ok && st == p.start {
			left++
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			_, _ = unix.Poll(pfd, 10000)
			var info unix.Siginfo
			_ = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
		}
		unix.Close(fd)
	}
	return left
}
