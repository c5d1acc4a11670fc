package pilot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/gopilot/gopilot/jobdef"
)

// HandledSignals lists the signals the pilot handles: each stops job
// fetching, kills the payload tree and fails the job with the signal's code.
func HandledSignals() []os.Signal {
	return []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGXCPU, syscall.SIGBUS, syscall.SIGSEGV}
}

// SignalError is the cancellation cause recorded when the pilot receives a
// signal.
type SignalError struct {
	Signal syscall.Signal
}

func (e *SignalError) Error() string {
	return fmt.Sprintf("pilot received signal %s", signalName(e.Signal))
}

// PilotError returns the job-level PanDA error for the signal (SIGTERM 1201, ...).
func (e *SignalError) PilotError() *jobdef.PilotError {
	return jobdef.NewError(jobdef.SignalCode(e.Signal), "Job killed by signal: "+signalName(e.Signal), e)
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGUSR1: "SIGUSR1", syscall.SIGXCPU: "SIGXCPU", syscall.SIGBUS: "SIGBUS",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGKILL: "SIGKILL", syscall.SIGHUP: "SIGHUP",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return s.String()
}

// causeError turns a cancellation cause into the PanDA error that describes
// it: signals, server kills and time limits carry their own codes; anything
// else becomes fallback.
func causeError(ctx context.Context, fallback jobdef.ErrorCode) *jobdef.PilotError {
	cause := context.Cause(ctx)
	if cause == nil {
		return nil
	}
	var se *SignalError
	if errors.As(cause, &se) {
		return se.PilotError()
	}
	var pe *jobdef.PilotError
	if errors.As(cause, &pe) {
		return pe
	}
	return jobdef.NewError(fallback, cause.Error(), cause)
}
