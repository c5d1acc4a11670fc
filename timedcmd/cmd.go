package timedcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Cmd is a started command. Its methods are safe for concurrent use.
type Cmd struct {
	r     *Runner
	log   logrus.FieldLogger // nil: no logging
	spec  Spec
	ec    *exec.Cmd
	out   *outputs
	cg    *cgroup
	stdin *os.File // our end of the stdin pipe, if any

	pid    int
	leader *handle // the leader (without a pidfd where pidfds are unavailable); nil if unknown
	begin  time.Time
	end    time.Time // written before exited is closed

	timeoutCause error // identity of this command's timeout cause

	exited   chan struct{} // the leader has exited (it may await reaping)
	stopReq  chan struct{} // closed by the first stop request
	settled  chan struct{} // the tree is gone and the leader reaped
	done     chan struct{} // the Result is ready
	stopOnce sync.Once

	// reapMu orders Signal against the reaping of the leader: while the
	// leader is unreaped, its pid and process group cannot be recycled.
	reapMu sync.RWMutex
	reaped bool

	mu        sync.Mutex
	stopCause error          // from the first stop request
	timedOut  bool           // the first stop request was the timeout
	known     map[int]uint64 // pid -> start time of processes seen in the tree
	orphanRU  usage          // CPU of orphans reaped for this command

	res *Result
	err error
}

// usage accumulates resource usage of reaped processes.
type usage struct {
	user, sys time.Duration
	maxRSS    int64 // kilobytes, as in rusage
}

func (u *usage) add(ru unix.Rusage) {
	user, sys := rusageTimes(&ru)
	u.user += user
	u.sys += sys
	u.maxRSS = max(u.maxRSS, ru.Maxrss)
}

// Start starts spec. The command is stopped (see Cmd.Stop) when ctx ends,
// with context.Cause(ctx) as the cause, or when spec.Timeout passes, with a
// cause wrapping ErrTimeout. The error, if any, is a *StartError.
//
// The command runs in its own process group (or session), with exactly
// spec.Env as its environment. Its output goes where spec says; see Spec.
func (r *Runner) Start(ctx context.Context, spec Spec) (*Cmd, error) {
	spec = spec.withDefaults()
	if ctx.Err() != nil {
		return nil, &StartError{Path: spec.Path, Err: context.Cause(ctx)}
	}
	path, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return nil, &StartError{Path: spec.Path, Err: err}
	}
	c := &Cmd{
		r:       r,
		log:     r.logger(),
		spec:    spec,
		exited:  make(chan struct{}),
		stopReq: make(chan struct{}),
		settled: make(chan struct{}),
		done:    make(chan struct{}),
		known:   make(map[int]uint64),
	}
	if c.out, err = newOutputs(&c.spec); err != nil {
		return nil, &StartError{Path: spec.Path, Err: err}
	}
	if err := c.start(path); err != nil {
		c.out.closeAll()
		return nil, &StartError{Path: spec.Path, Err: err}
	}
	if spec.Timeout > 0 {
		c.timeoutCause = fmt.Errorf("%w after %v", ErrTimeout, spec.Timeout)
	}
	go c.supervise(ctx)
	return c, nil
}

// start builds the exec.Cmd and starts it, in the cgroup when one can be
// made, and registers the leader with the Runner before any exit of it can
// be seen.
func (c *Cmd) start(path string) error {
	spec := &c.spec
	var stdin io.Reader
	var stdinRead *os.File
	switch in := spec.Stdin.(type) {
	case nil:
	case *os.File:
		stdin = in
	default:
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		stdinRead, c.stdin = r, w
		stdin = r
	}
	if spec.Cgroup != "" {
		cg, err := newCgroup(spec.Cgroup)
		if err != nil {
			c.debug("timedcmd: no cgroup for this command", logrus.Fields{"cgroup": spec.Cgroup, "error": err.Error()})
		} else {
			c.cg = cg
		}
	}
	build := func() *exec.Cmd {
		// exec.Command (rather than a literal) lets GODEBUG=execwait=2
		// track the command for leaks; path holds a slash, so no lookup
		// happens.
		ec := exec.Command(path)
		ec.Args = spec.Args
		ec.Env = spec.Env
		ec.Dir = spec.Dir
		ec.ExtraFiles = spec.ExtraFiles
		if stdin != nil {
			ec.Stdin = stdin
		}
		if f := c.out.stdout.child; f != nil {
			ec.Stdout = f
		}
		if f := c.out.stderr.child; f != nil {
			ec.Stderr = f
		}
		ec.SysProcAttr = &syscall.SysProcAttr{
			Setpgid:    !spec.NewSession,
			Setsid:     spec.NewSession,
			Credential: spec.Credential,
		}
		if c.cg != nil {
			ec.SysProcAttr.UseCgroupFD = true
			ec.SysProcAttr.CgroupFD = c.cg.fd
		}
		return ec
	}

	err := c.startRegistered(build())
	if err != nil && c.cg != nil {
		// clone3 into a cgroup can fail where plain fork works (an old
		// kernel, a cgroup that refuses processes): run without it.
		c.debug("timedcmd: starting in the cgroup failed, starting without", logrus.Fields{"error": err.Error()})
		_ = c.cg.remove()
		c.cg = nil
		err = c.startRegistered(build())
	}
	if stdinRead != nil {
		stdinRead.Close()
	}
	if err != nil {
		if c.stdin != nil {
			c.stdin.Close()
		}
		if c.cg != nil {
			_ = c.cg.remove()
		}
		return err
	}
	if c.cg != nil {
		c.cg.closeFD()
	}
	c.out.afterStart()
	if c.stdin != nil {
		go c.feedStdin(spec.Stdin)
	}

	// The leader cannot be reaped before this Cmd reaps it, so its pid
	// is its own and needs no start-time check.
	if fd, err := unix.PidfdOpen(c.pid, 0); err == nil {
		c.leader = &handle{pid: c.pid, fd: fd, pgid: c.pid}
	} else {
		var sr statReader
		if st, err := sr.read(c.pid); err == nil {
			c.leader = &handle{pid: c.pid, start: st.start, fd: -1, pgid: c.pid}
		}
	}
	c.watchLeader()
	return nil
}

// startRegistered starts the process with the Runner's lock held, so that
// the reaper sees the leader registered as soon as it can see it at all.
func (c *Cmd) startRegistered(ec *exec.Cmd) error {
	if c.r != nil {
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
	}
	c.begin = time.Now()
	if err := ec.Start(); err != nil {
		return err
	}
	c.ec = ec
	c.pid = ec.Process.Pid
	if c.r != nil {
		c.r.live[c.pid] = c
	}
	return nil
}

func (c *Cmd) feedStdin(r io.Reader) {
	_, _ = io.Copy(c.stdin, r)
	c.stdin.Close()
}

// watchLeader closes c.exited when the leader exits, without reaping it.
// The pidfd is registered with the runtime's poller, so no thread blocks
// while the command runs.
func (c *Cmd) watchLeader() {
	notify := func() {
		c.end = time.Now()
		close(c.exited)
	}
	fd, err := unix.PidfdOpen(c.pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		// No pidfds: block a thread in waitid, which leaves the child
		// waitable for exec.Cmd.Wait.
		go func() {
			var info unix.Siginfo
			for unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
			}
			notify()
		}()
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	go func() {
		defer f.Close()
		exitedNow := func(fd uintptr) bool {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, _ := unix.Poll(pfd, 0)
			return n > 0
		}
		seen := false
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Read(func(fd uintptr) bool {
				seen = exitedNow(fd)
				return seen
			})
		}
		if !seen {
			// The poller refused the descriptor: block in poll instead.
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if n, err := unix.Poll(pfd, -1); n > 0 || (err != nil && err != unix.EINTR) {
					break
				}
			}
		}
		notify()
	}()
}

// Pid returns the pid of the leader.
func (c *Cmd) Pid() int { return c.pid }

// Pgid returns the process group of the leader (its pid). With
// Spec.NewSession it is also the session id.
func (c *Cmd) Pgid() int { return c.pid }

// Done returns a channel that is closed once the leader has exited, the
// rest of its tree is gone and the Result is ready.
func (c *Cmd) Done() <-chan struct{} { return c.done }

// Wait waits for the command and returns its Result. A non-zero exit, a
// death by signal or a stop are not errors; the error reports an internal
// failure only (the Result is then still filled as far as known).
func (c *Cmd) Wait() (*Result, error) {
	<-c.done
	return c.res, c.err
}

// Signal sends sig to the command's process group. It returns
// os.ErrProcessDone once the leader has been reaped.
func (c *Cmd) Signal(sig syscall.Signal) error {
	c.reapMu.RLock()
	defer c.reapMu.RUnlock()
	if c.reaped {
		return os.ErrProcessDone
	}
	return unix.Kill(-c.pid, sig)
}

// Stop stops the command with cause (ErrStopped when nil): it sends the
// stop signal to the process group and to every other process of the tree,
// waits up to the grace period for the tree to exit, then kills the group
// (and the cgroup) with SIGKILL and sweeps until no process of the tree is
// left. It returns when the tree is gone; processes that could not be
// killed are listed in Result.Survivors. Stop is idempotent and safe from
// any goroutine; if the command already ended on its own, it only waits
// for that to be dealt with and the cause is not recorded.
func (c *Cmd) Stop(cause error) {
	if cause == nil {
		cause = ErrStopped
	}
	c.requestStop(cause, false)
	<-c.settled
}

func (c *Cmd) requestStop(cause error, timedOut bool) {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.stopCause, c.timedOut = cause, timedOut
		c.mu.Unlock()
		close(c.stopReq)
	})
}

// supervise waits for the leader to exit or for a stop, deals with the
// tree, and produces the Result.
func (c *Cmd) supervise(ctx context.Context) {
	tctx := ctx
	if c.spec.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeoutCause(ctx, c.spec.Timeout, c.timeoutCause)
		defer cancel()
	}
	stopped := false
	select {
	case <-c.exited:
	default:
		select {
		case <-c.exited:
		case <-tctx.Done():
			cause := context.Cause(tctx)
			c.requestStop(cause, cause == c.timeoutCause)
			stopped = true
		case <-c.stopReq:
			stopped = true
		}
	}
	var ps *os.ProcessState
	var survivors []int
	var waitErr error
	if stopped {
		survivors = c.terminate()
		ps, waitErr = c.reapLeader(survivors)
	} else {
		ps, waitErr = c.reapLeader(nil)
		survivors = c.cleanupAfterExit()
	}
	close(c.settled)
	c.finish(ps, waitErr, stopped, survivors)
}

// reapLeader reaps the leader through exec.Cmd.Wait. When the leader
// survived the kill it is left to a background Wait and nil is returned.
func (c *Cmd) reapLeader(survivors []int) (*os.ProcessState, error) {
	for _, pid := range survivors {
		if pid == c.pid {
			go func() { _ = c.ec.Wait() }()
			return nil, fmt.Errorf("timedcmd: leader %d survived SIGKILL", c.pid)
		}
	}
	c.reapMu.Lock()
	defer c.reapMu.Unlock()
	err := c.ec.Wait()
	c.reaped = true
	if c.leader != nil {
		c.leader.close()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil
	}
	if c.ec.ProcessState == nil {
		return nil, fmt.Errorf("timedcmd: waiting for %d: %w", c.pid, err)
	}
	return c.ec.ProcessState, err
}

// cleanupAfterExit kills at once whatever is left of the tree after the
// leader exited on its own. It first checks cheaply whether anything can be
// left, so that a command without leftovers costs no /proc scan.
func (c *Cmd) cleanupAfterExit() []int {
	if !c.mayHaveLeftovers() {
		return nil
	}
	t := c.newTracker()
	defer t.close()
	return t.kill(time.Now().Add(killWait))
}

// mayHaveLeftovers reports whether the tree may still have processes once
// the leader has been reaped.
func (c *Cmd) mayHaveLeftovers() bool {
	if c.spec.NewSession {
		return true // session members may be in other process groups
	}
	if err := unix.Kill(-c.pid, 0); err != unix.ESRCH {
		return true // the group still has members
	}
	if c.cg != nil {
		if pids, err := c.cg.procs(); err != nil || len(pids) > 0 {
			return true
		}
	}
	c.mu.Lock()
	nknown := len(c.known)
	c.mu.Unlock()
	if nknown > 0 {
		return true
	}
	if !c.r.isSubreaper() {
		return false
	}
	return c.r.hasUnclaimedChildren()
}

// terminate runs the stop sequence and returns the survivors.
func (c *Cmd) terminate() []int {
	t := c.newTracker()
	defer t.close()
	sig := c.spec.StopSignal
	if c.spec.Grace > 0 && sig != unix.SIGKILL {
		deadline := time.Now().Add(c.spec.Grace)
		// Find the tree before anything dies and breaks the parent links.
		t.refresh(0)
		c.signalGroup(sig)
		t.signalOutsideGroup(sig)
		for waitExit(t.all(), deadline) {
			// Every process seen so far has exited; look for late forks.
			if t.refresh(sig) == 0 {
				break
			}
		}
	}
	return t.kill(time.Now().Add(killWait))
}

// signalGroup signals the process group; exact while the leader is
// unreaped, since the group id cannot be recycled before.
func (c *Cmd) signalGroup(sig unix.Signal) {
	_ = unix.Kill(-c.pid, sig)
}

// finish drains the output and builds the Result.
func (c *Cmd) finish(ps *os.ProcessState, waitErr error, stopped bool, survivors []int) {
	res := &Result{ExitCode: -1, Start: c.begin, Survivors: survivors}
	if ps != nil {
		// The leader is reaped, so its pidfd reads as exited and the
		// watcher has closed exited or is about to.
		<-c.exited
		res.End = c.end
	} else {
		res.End = time.Now()
	}
	var u usage
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			switch {
			case ws.Exited():
				res.ExitCode = ws.ExitStatus()
			case ws.Signaled():
				res.Signal = ws.Signal()
			}
		}
		u.user, u.sys = ps.UserTime(), ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.maxRSS = ru.Maxrss
		}
	}
	res.WaitDelayExpired = c.out.drain(c.spec.WaitDelay)
	if c.stdin != nil {
		c.stdin.Close()
	}
	res.StdoutTail, res.StderrTail = c.out.tails(c.spec.TailBytes)
	res.Truncated = c.out.truncated()
	c.out.closeAll()

	c.mu.Lock()
	if stopped {
		res.Cause, res.TimedOut = c.stopCause, c.timedOut
		res.Cancelled = !c.timedOut
	}
	u.user += c.orphanRU.user
	u.sys += c.orphanRU.sys
	u.maxRSS = max(u.maxRSS, c.orphanRU.maxRSS)
	c.mu.Unlock()
	res.UserCPU, res.SysCPU, res.MaxRSS = u.user, u.sys, u.maxRSS*1024

	if c.cg != nil {
		res.Cgroup = c.cg.dir
		if err := c.cg.remove(); err != nil {
			c.warn("timedcmd: cannot remove cgroup", logrus.Fields{"cgroup": c.cg.dir, "error": err.Error()})
		}
	}
	if len(survivors) > 0 {
		c.warn("timedcmd: processes survived SIGKILL", logrus.Fields{"pid": c.pid, "survivors": survivors})
	}
	c.r.unregister(c)
	c.res, c.err = res, waitErr
	close(c.done)
}

// claims reports whether st belongs to this command's tree as far as can
// be told without its ancestry: same process group, same session (when it
// has its own), or seen in the tree before. Callers may hold r.mu.
func (c *Cmd) claims(st procStat) bool {
	if st.pgid == c.pid || (c.spec.NewSession && st.sid == c.pid) {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start, ok := c.known[st.pid]
	return ok && start == st.start
}

func (c *Cmd) addUsage(ru unix.Rusage) {
	c.mu.Lock()
	c.orphanRU.add(ru)
	c.mu.Unlock()
}

func (c *Cmd) debug(msg string, f logrus.Fields) {
	if c.log != nil {
		c.log.WithFields(f).Debug(msg)
	}
}

func (c *Cmd) warn(msg string, f logrus.Fields) {
	if c.log != nil {
		c.log.WithFields(f).Warn(msg)
	}
}

// hasUnclaimedChildren reports whether this process has a child that is
// neither a running command's leader, nor held by a command, nor waited
// for by someone else holding a pidfd: an orphan re-parented here.
func (r *Runner) hasUnclaimedChildren() bool {
	kids, ok := selfChildren()
	if !ok {
		return true
	}
	var rest []int
	r.mu.Lock()
	for _, pid := range kids {
		if r.live[pid] == nil && r.held[pid] == 0 {
			rest = append(rest, pid)
		}
	}
	r.mu.Unlock()
	if len(rest) == 0 {
		return false
	}
	if !r.pidfdOK {
		return true
	}
	fds, err := pidfdTargets()
	if err != nil {
		return true
	}
	for _, pid := range rest {
		if fds[pid] == 0 {
			return true
		}
	}
	return false
}

// lookPath resolves a command name without a slash in the PATH of env (or
// of this process when env has none).
func lookPath(name string, env []string) (string, error) {
	if name == "" {
		return "", exec.ErrNotFound
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar, found = v, true
		}
	}
	if !found {
		pathVar = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never resolve to the current directory
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
