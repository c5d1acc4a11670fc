package timedcmd

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// RunnerOptions configures a Runner.
type RunnerOptions struct {
	// Subreaper makes this process a child subreaper
	// (PR_SET_CHILD_SUBREAPER): descendants orphaned by their parents are
	// re-parented to it, so Stop finds and kills them, and the Runner's
	// reaper reaps them and adds their CPU time to their command.
	Subreaper bool
	// Logger receives debug messages and warnings about survivors; nil
	// discards them.
	Logger logrus.FieldLogger
}

// Runner starts commands. A nil *Runner is valid and behaves like the
// package-level Start and Run: no subreaper, no logging.
//
// While a subreaper Runner is open, orphans of every child of this process
// are re-parented here, including those of children started elsewhere; the
// reaper only ever reaps exited orphans for which no pidfd is open in the
// process (os/exec holds one for each child it has not waited for yet), so
// other users of os/exec keep their exit statuses.
type Runner struct {
	log       logrus.FieldLogger
	subreaper bool
	restore   bool // clear the subreaper flag on Close: this Runner set it
	pidfdOK   bool // pidfds work here, and os/exec holds one per child

	mu     sync.Mutex
	live   map[int]*Cmd // leader pid -> command, from start until its Result is final
	held   map[int]int  // pid -> number of handles commands hold on it
	closed bool

	sig  chan os.Signal
	kick chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
}

// NewRunner returns a Runner. With opts.Subreaper it makes this process a
// child subreaper and starts the reaper; it fails when the kernel refuses.
// Several Runners may coexist; Close the Runner when done with it.
func NewRunner(opts RunnerOptions) (*Runner, error) {
	log := opts.Logger
	if log == nil {
		discard := logrus.New()
		discard.SetOutput(io.Discard)
		log = discard
	}
	r := &Runner{
		log:     log,
		pidfdOK: pidfdWorks(),
		live:    make(map[int]*Cmd),
		held:    make(map[int]int),
	}
	if !opts.Subreaper {
		return r, nil
	}
	var was int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&was)), 0, 0, 0); err != nil {
		return nil, &os.SyscallError{Syscall: "prctl(PR_GET_CHILD_SUBREAPER)", Err: err}
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, &os.SyscallError{Syscall: "prctl(PR_SET_CHILD_SUBREAPER)", Err: err}
	}
	r.subreaper, r.restore = true, was == 0
	r.sig = make(chan os.Signal, 1)
	r.kick = make(chan struct{}, 1)
	r.quit = make(chan struct{})
	signal.Notify(r.sig, syscall.SIGCHLD)
	r.wg.Add(1)
	go r.reapLoop()
	r.kickReaper() // orphans may already be waiting
	if !r.pidfdOK {
		r.log.Warn("timedcmd: pidfds unavailable; only orphans of known process groups are reaped")
	}
	return r, nil
}

// Close stops the reaper after a last pass and, if this Runner made the
// process a subreaper, clears the flag. Commands still running are not
// affected; stop them first. Close is idempotent.
func (r *Runner) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	if !r.subreaper {
		return nil
	}
	signal.Stop(r.sig)
	close(r.quit)
	r.wg.Wait()
	if r.restore {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
			return &os.SyscallError{Syscall: "prctl(PR_SET_CHILD_SUBREAPER)", Err: err}
		}
	}
	return nil
}

// Start starts spec without a subreaper; see Runner.Start.
func Start(ctx context.Context, spec Spec) (*Cmd, error) { return (*Runner)(nil).Start(ctx, spec) }

// Run starts spec without a subreaper and waits for it; see Runner.Run.
func Run(ctx context.Context, spec Spec) (*Result, error) { return (*Runner)(nil).Run(ctx, spec) }

// Run is Start followed by Wait. A non-zero exit is not an error: it is in
// the Result.
func (r *Runner) Run(ctx context.Context, spec Spec) (*Result, error) {
	c, err := r.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return c.Wait()
}

func (r *Runner) logger() logrus.FieldLogger {
	if r == nil {
		return nil
	}
	return r.log
}

func (r *Runner) isSubreaper() bool { return r != nil && r.subreaper }

func (r *Runner) unregister(c *Cmd) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.live[c.pid] == c {
		delete(r.live, c.pid)
	}
	r.mu.Unlock()
	r.kickReaper()
}

func (r *Runner) hold(pid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.held[pid]++
	r.mu.Unlock()
}

func (r *Runner) release(pid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.held[pid]--; r.held[pid] <= 0 {
		delete(r.held, pid)
	}
	r.mu.Unlock()
}

// isLiveLeader reports whether pid is the leader of a running command.
func (r *Runner) isLiveLeader(pid int) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[pid] != nil
}

// ownerOf returns the running command an orphan belongs to: the one whose
// process group or session it is in, or that saw it in its tree before, or
// the only running command.
func (r *Runner) ownerOf(st procStat) *Cmd {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.live {
		if c.claims(st) {
			return c
		}
	}
	if len(r.live) == 1 {
		for _, c := range r.live {
			return c
		}
	}
	return nil
}

// otherClaims reports whether a running command other than c claims st.
func (r *Runner) otherClaims(c *Cmd, st procStat) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.live {
		if o != c && o.claims(st) {
			return true
		}
	}
	return false
}

func (r *Runner) kickReaper() {
	if r == nil || !r.subreaper {
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Runner) reapLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.quit:
			r.reapOnce()
			return
		case <-r.sig:
		case <-r.kick:
		}
		r.reapOnce()
	}
}

// reapOnce reaps every exited orphan: an exited child of this process that
// is not a command's leader, that no command holds, and for which no pidfd
// is open in the process.
func (r *Runner) reapOnce() {
	kids, ok := selfChildren()
	if !ok {
		t, err := scanProcs()
		if err != nil {
			return
		}
		kids = t.children[os.Getpid()]
	}
	var sr statReader
	var cands []procStat
	for _, pid := range kids {
		st, err := sr.read(pid)
		if err != nil || !st.dead() {
			continue
		}
		r.mu.Lock()
		skip := r.live[pid] != nil || r.held[pid] > 0
		r.mu.Unlock()
		if !skip {
			cands = append(cands, st)
		}
	}
	if len(cands) == 0 {
		return
	}
	var fds map[int]int
	if r.pidfdOK {
		var err error
		if fds, err = pidfdTargets(); err != nil {
			return
		}
	}
	for _, st := range cands {
		owner := r.ownerOf(st)
		if r.pidfdOK && fds[st.pid] > 0 {
			continue // someone else will wait for it
		}
		if !r.pidfdOK && owner == nil {
			continue // without pidfds, only reap what is surely ours
		}
		ru, ok := reapPid(st, &sr, r.pidfdOK)
		if !ok {
			continue
		}
		if owner != nil {
			owner.addUsage(ru)
		}
		r.log.WithFields(logrus.Fields{"pid": st.pid, "attributed": owner != nil}).Debug("timedcmd: reaped orphan")
	}
}

// reapPid reaps the exited child st. With pidfds the pid is pinned first,
// so a recycled pid is never reaped by mistake.
func reapPid(st procStat, sr *statReader, pidfd bool) (unix.Rusage, bool) {
	if pidfd {
		h, err := openHandle(st.pid, st.start, sr)
		if err != nil {
			return unix.Rusage{}, false
		}
		defer h.close()
		return h.reap()
	}
	var ru unix.Rusage
	var ws unix.WaitStatus
	pid, err := unix.Wait4(st.pid, &ws, unix.WNOHANG, &ru)
	return ru, err == nil && pid == st.pid
}

// pidfdWorks reports whether pidfd_open and waitid(P_PIDFD) work, the
// conditions under which os/exec uses pidfds too.
func pidfdWorks() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var info unix.Siginfo
	err = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
	return errors.Is(err, unix.ECHILD)
}

// rusageTimes converts the CPU times of ru.
func rusageTimes(ru *unix.Rusage) (user, sys time.Duration) {
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
