package timedcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Defaults applied by Start to zero fields of a Spec.
const (
	DefaultGrace     = 10 * time.Second
	DefaultTailBytes = 4096
	// waitDelayExtra is added to the grace period for the default
	// WaitDelay: the tree is killed by then, so only a process outside it
	// can still hold an output pipe.
	waitDelayExtra = time.Second
	// killWait bounds how long Stop waits for SIGKILLed processes to
	// disappear before it reports them as survivors.
	killWait = 5 * time.Second
)

// ErrTimeout is wrapped by the cause of a stop due to Spec.Timeout.
var ErrTimeout = errors.New("timedcmd: timeout")

// ErrStopped is the cause recorded when Stop is called with a nil cause.
var ErrStopped = errors.New("timedcmd: stopped")

// Spec describes one command. The zero value of every field except Path is
// usable.
type Spec struct {
	// Path is the program to run. A name without a slash is looked up in
	// the PATH of Env (or, when Env has no PATH, of this process).
	Path string
	// Args is the full argument vector, including argv[0]. Empty means
	// {Path}. No shell is involved unless Path is one.
	Args []string
	// Env is the child's complete environment; nil means an empty one.
	// Nothing of this process's environment is added.
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// Stdin is the child's standard input; nil means /dev/null. An
	// *os.File is handed over as it is; any other reader is copied through
	// a pipe by a goroutine that ends when the reader does or the command
	// has ended.
	Stdin io.Reader
	// Stdout and Stderr receive the child's output; nil discards it. An
	// *os.File is written by the child directly, unless StdoutFile or
	// StderrFile is also set or a tail must be captured through a pipe.
	// A writer that fails is skipped from then on; the child never sees
	// the error.
	Stdout, Stderr io.Writer
	// StdoutFile and StderrFile, when set, name files that are created
	// (mode 0644, truncated) and receive the output as well. They may name
	// the same file.
	StdoutFile, StderrFile string
	// MaxOutputBytes caps what is written to each of StdoutFile and
	// StderrFile (shared when they are the same file); output beyond it
	// is dropped silently and Result.Truncated is set. 0 means no cap.
	MaxOutputBytes int64
	// TailBytes is the size of the tails of stdout and stderr kept in the
	// Result; 0 means DefaultTailBytes, a negative value keeps none.
	TailBytes int
	// Timeout stops the command after this long; 0 means no timeout.
	Timeout time.Duration
	// Grace is the time between the stop signal and SIGKILL; 0 means
	// DefaultGrace, a negative value means SIGKILL at once.
	Grace time.Duration
	// StopSignal is sent first when stopping; 0 means SIGTERM.
	StopSignal syscall.Signal
	// NewSession starts the command in a new session (setsid) instead of
	// a new process group; use it for payloads.
	NewSession bool
	// Credential, when set, is the identity the child runs as (uid, gid
	// and exactly the supplementary groups given).
	Credential *syscall.Credential
	// ExtraFiles are passed as descriptors 3, 4, ... of the child.
	ExtraFiles []*os.File
	// WaitDelay bounds how long Wait waits for the output pipes to close
	// once the tree is gone (a process outside it may hold them); after it
	// the pipes are closed. 0 means Grace + 1s.
	WaitDelay time.Duration
	// Cgroup optionally names a cgroup v2 directory. When it is writable,
	// each command runs in its own child cgroup created there, which is
	// killed with cgroup.kill on stop and removed at the end.
	Cgroup string
}

// withDefaults returns a copy of s with the defaults filled in.
func (s Spec) withDefaults() Spec {
	if len(s.Args) == 0 {
		s.Args = []string{s.Path}
	}
	if s.Env == nil {
		s.Env = []string{}
	}
	if s.TailBytes == 0 {
		s.TailBytes = DefaultTailBytes
	}
	switch {
	case s.Grace == 0:
		s.Grace = DefaultGrace
	case s.Grace < 0:
		s.Grace = 0
	}
	if s.StopSignal == 0 {
		s.StopSignal = syscall.SIGTERM
	}
	if s.WaitDelay <= 0 {
		s.WaitDelay = s.Grace + waitDelayExtra
	}
	return s
}

// Result reports how a command ended.
type Result struct {
	// ExitCode is the leader's exit status, or -1 when a signal killed it.
	ExitCode int
	// Signal is the signal that killed the leader, 0 if none.
	Signal syscall.Signal
	// TimedOut is set when Spec.Timeout stopped the command.
	TimedOut bool
	// Cancelled is set when the command was stopped for any other reason:
	// the context ended or Stop was called.
	Cancelled bool
	// Cause says why the command was stopped: it wraps ErrTimeout for a
	// timeout, or is context.Cause of the context, or the error given to
	// Stop. It is nil when the command ended on its own.
	Cause error
	// Start is when the command was started; End when its leader exited.
	Start, End time.Time
	// UserCPU and SysCPU are the CPU time of the whole tree: the leader,
	// every descendant its tree waited for, and the orphans reaped by
	// timedcmd itself.
	UserCPU, SysCPU time.Duration
	// MaxRSS is the largest resident set size of any process of the tree,
	// in bytes.
	MaxRSS int64
	// StdoutTail and StderrTail are the last bytes of the output. When
	// both streams share a destination, StdoutTail holds the combined tail
	// and StderrTail is empty.
	StdoutTail, StderrTail []byte
	// Truncated is set when MaxOutputBytes dropped output.
	Truncated bool
	// WaitDelayExpired is set when a process outside the tree still held
	// an output pipe after WaitDelay and the pipe was closed.
	WaitDelayExpired bool
	// Cgroup is the cgroup the command ran in, empty if none.
	Cgroup string
	// Survivors lists processes of the tree still alive when timedcmd gave
	// up killing them; normally empty.
	Survivors []int
}

// Success reports whether the command ended on its own with status 0.
func (r *Result) Success() bool {
	return r.ExitCode == 0 && r.Signal == 0 && r.Cause == nil
}

// Duration is the wall time from Start to End.
func (r *Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// StartError reports that a command could not be started. Err is the
// cause: errors.Is(err, fs.ErrNotExist), fs.ErrPermission and
// exec.ErrNotFound work through it.
type StartError struct {
	Path string
	Err  error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("timedcmd: cannot start %s: %v", e.Path, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }
