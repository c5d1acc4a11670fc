// Package timedcmd starts external commands, times them out, stops their whole
// process tree and reports what happened. It knows nothing about PanDA: the
// caller turns a Result into error codes.
package timedcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrTimeout is the cause recorded when Spec.Timeout passes.
var ErrTimeout = errors.New("timedcmd: timeout")

// Spec describes one command.
type Spec struct {
	Path           string
	Args           []string
	Env            []string
	Dir            string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	StdoutFile     string
	StderrFile     string
	MaxOutputBytes int64
	TailBytes      int
	Timeout        time.Duration
	Grace          time.Duration
	StopSignal     syscall.Signal
	NewSession     bool
	Credential     *syscall.Credential
	ExtraFiles     []*os.File
	WaitDelay      time.Duration
	Cgroup         string
}

// Result reports how a command ended.
type Result struct {
	ExitCode        int
	Signal          syscall.Signal
	TimedOut        bool
	Cancelled       bool
	Cause           error
	Start, End      time.Time
	UserCPU, SysCPU time.Duration
	MaxRSS          int64
	StdoutTail      []byte
	StderrTail      []byte
	Truncated       bool
	Survivors       []int
}

// Success reports whether the command exited with status 0 on its own.
func (r *Result) Success() bool { return r.ExitCode == 0 && r.Signal == 0 && r.Cause == nil }

// Duration is End minus Start.
func (r *Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// StartError reports that a command could not be started.
type StartError struct {
	Path string
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("timedcmd: start %s: %v", e.Path, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// RunnerOptions configures a Runner.
type RunnerOptions struct {
	Subreaper bool
}

// Runner starts commands; a nil *Runner is valid.
type Runner struct{ opts RunnerOptions }

// NewRunner returns a Runner.
func NewRunner(opts RunnerOptions) (*Runner, error) { return &Runner{opts: opts}, nil }

// Close releases the Runner.
func (r *Runner) Close() error { return nil }

// Cmd is a started command.
type Cmd struct {
	spec     Spec
	cmd      *exec.Cmd
	pgid     int
	done     chan struct{}
	res      *Result
	err      error
	stopOnce sync.Once
	mu       sync.Mutex
	cause    error
	timedOut bool
}

// Start starts spec without subreaper.
func Start(ctx context.Context, spec Spec) (*Cmd, error) { return (*Runner)(nil).Start(ctx, spec) }

// Run starts spec and waits for it.
func Run(ctx context.Context, spec Spec) (*Result, error) { return (*Runner)(nil).Run(ctx, spec) }

// Run starts spec and waits for it.
func (r *Runner) Run(ctx context.Context, spec Spec) (*Result, error) {
	c, err := r.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return c.Wait()
}

// Start starts spec.
func (r *Runner) Start(ctx context.Context, spec Spec) (*Cmd, error) {
	if spec.Grace == 0 {
		spec.Grace = 10 * time.Second
	}
	if spec.StopSignal == 0 {
		spec.StopSignal = syscall.SIGTERM
	}
	c := &Cmd{spec: spec, done: make(chan struct{})}
	ec := &exec.Cmd{Path: spec.Path, Args: spec.Args, Env: spec.Env, Dir: spec.Dir, Stdin: spec.Stdin,
		Stdout: spec.Stdout, Stderr: spec.Stderr, ExtraFiles: spec.ExtraFiles}
	if ec.Env == nil {
		ec.Env = []string{}
	}
	ec.SysProcAttr = &syscall.SysProcAttr{Setpgid: !spec.NewSession, Setsid: spec.NewSession, Credential: spec.Credential}
	ec.WaitDelay = spec.WaitDelay
	if ec.WaitDelay == 0 {
		ec.WaitDelay = spec.Grace + time.Second
	}
	c.cmd = ec
	start := time.Now()
	if err := ec.Start(); err != nil {
		return nil, &StartError{Path: spec.Path, Err: err}
	}
	c.pgid = ec.Process.Pid
	go func() {
		err := ec.Wait()
		res := &Result{Start: start, End: time.Now(), ExitCode: -1}
		if ps := ec.ProcessState; ps != nil {
			ws := ps.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				res.Signal = ws.Signal()
			} else {
				res.ExitCode = ws.ExitStatus()
			}
			res.UserCPU, res.SysCPU = ps.UserTime(), ps.SystemTime()
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				res.MaxRSS = ru.Maxrss * 1024
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = nil
			}
		}
		c.mu.Lock()
		res.Cause, res.TimedOut = c.cause, c.timedOut
		res.Cancelled = c.cause != nil && !c.timedOut
		c.mu.Unlock()
		c.res, c.err = res, err
		close(c.done)
	}()
	go func() {
		var tc <-chan time.Time
		if spec.Timeout > 0 {
			t := time.NewTimer(spec.Timeout)
			defer t.Stop()
			tc = t.C
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			c.Stop(context.Cause(ctx))
		case <-tc:
			c.mu.Lock()
			c.timedOut = true
			c.mu.Unlock()
			c.Stop(ErrTimeout)
		}
	}()
	return c, nil
}

// Pid returns the leader's pid.
func (c *Cmd) Pid() int { return c.cmd.Process.Pid }

// Pgid returns the process group id.
func (c *Cmd) Pgid() int { return c.pgid }

// Done is closed when the leader has exited and Result is ready.
func (c *Cmd) Done() <-chan struct{} { return c.done }

// Wait waits for the Result.
func (c *Cmd) Wait() (*Result, error) {
	<-c.done
	return c.res, c.err
}

// Signal sends sig to the process group.
func (c *Cmd) Signal(sig syscall.Signal) error { return syscall.Kill(-c.pgid, sig) }

// Stop stops the tree with cause.
func (c *Cmd) Stop(cause error) {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		if c.cause == nil {
			c.cause = cause
		}
		c.mu.Unlock()
		_ = syscall.Kill(-c.pgid, c.spec.StopSignal)
		select {
		case <-c.done:
		case <-time.After(c.spec.Grace):
		}
		_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
	})
	<-c.done
}
