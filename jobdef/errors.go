package jobdef

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ErrorCode is a Pilot 3 error code as reported to the PanDA server in pilotErrorCode.
// The zero value means "no error".
type ErrorCode int

// codeInfo is one row of the error-code table.
type codeInfo struct {
	code  ErrorCode
	name  string
	msg   string
	shell int
}

// lookup returns the table row of c and whether c is a known code.
func (c ErrorCode) lookup() (codeInfo, bool) {
	i := sort.Search(len(codeTable), func(i int) bool { return codeTable[i].code >= c })
	if i < len(codeTable) && codeTable[i].code == c {
		return codeTable[i], true
	}
	return codeInfo{}, false
}

// Name returns the Pilot 3 name of the code (e.g. "STAGEINFAILED"). Code 0 is "OK"; an unknown
// code is "UNKNOWN(<n>)".
func (c ErrorCode) Name() string {
	if c == 0 {
		return "OK"
	}
	if r, ok := c.lookup(); ok {
		return r.name
	}
	return "UNKNOWN(" + strconv.Itoa(int(c)) + ")"
}

// Message returns the standard diagnostic of the code. Code 0 is "no error"; an unknown code
// is "unknown error code <n>".
func (c ErrorCode) Message() string {
	if c == 0 {
		return "no error"
	}
	if r, ok := c.lookup(); ok {
		return r.msg
	}
	return "unknown error code " + strconv.Itoa(int(c))
}

// ShellExit returns the pilot process exit status used when c is the pilot-level error: 0 for
// code 0, the table's Shell column where it has one, and 1 otherwise (also for unknown codes).
func (c ErrorCode) ShellExit() int {
	if c == 0 {
		return 0
	}
	if r, ok := c.lookup(); ok && r.shell != 0 {
		return r.shell
	}
	return 1
}

// String returns "<code> <NAME>", e.g. "1099 STAGEINFAILED".
func (c ErrorCode) String() string {
	return strconv.Itoa(int(c)) + " " + c.Name()
}

// Known reports whether c is a row of the error-code table.
func (c ErrorCode) Known() bool {
	_, ok := c.lookup()
	return ok
}

// Codes returns every known error code in ascending order. The slice is a fresh copy.
func Codes() []ErrorCode {
	out := make([]ErrorCode, len(codeTable))
	for i, r := range codeTable {
		out[i] = r.code
	}
	return out
}

// MaxDiagLen is the maximum length in bytes of PilotError.Diag as built by NewError and Errorf.
const MaxDiagLen = 256

// PilotError is the single error type of the pilot: a code from the table, the diagnostic sent
// to the server as pilotErrorDiag, and an optional cause.
type PilotError struct {
	Code ErrorCode
	Diag string
	Err  error
}

// Error returns "<Diag> (<code> <NAME>)" followed by ": <cause>" when the cause carries text
// not already in Diag. A cause that is a *PilotError whose specific diagnostic Diag already
// holds is skipped in favour of its own cause.
func (e *PilotError) Error() string {
	if e == nil {
		return "<nil>"
	}
	s := e.Diag
	if s == "" {
		s = e.Code.Message()
	}
	s += " (" + e.Code.String() + ")"
	// A wrapped PilotError whose diagnostic is already part of this one
	// contributes only its own cause.
	cause := e.Err
	for {
		inner, ok := cause.(*PilotError)
		if !ok || inner == nil || !strings.Contains(e.Diag, nestedDiag(inner)) {
			break
		}
		cause = inner.Err
	}
	if cause != nil {
		if cs := cause.Error(); cs != "" && !strings.Contains(e.Diag, cs) {
			s += ": " + cs
		}
	}
	return s
}

// Unwrap returns the cause.
func (e *PilotError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// NewError returns a PilotError with the given code and cause. An empty diag yields the
// standard message of the code; otherwise Diag is "<standard message>: <diag>" (or diag
// unchanged when it already starts with the standard message), cut to MaxDiagLen bytes on a
// UTF-8 boundary.
func NewError(code ErrorCode, diag string, cause error) *PilotError {
	return &PilotError{Code: code, Diag: FormatDiag(code, diag), Err: cause}
}

// Errorf is NewError with a diag formatted by fmt.Errorf: a %w verb makes the wrapped error the
// cause (several %w wrap all of them), and the formatted text is the specific diag.
func Errorf(code ErrorCode, format string, args ...any) *PilotError {
	werr := fmt.Errorf(format, args...)
	var cause error
	switch u := werr.(type) {
	case interface{ Unwrap() error }:
		cause = u.Unwrap()
	case interface{ Unwrap() []error }:
		if errs := u.Unwrap(); len(errs) == 1 {
			cause = errs[0]
		} else if len(errs) > 1 {
			cause = errors.Join(errs...)
		}
	}
	return NewError(code, werr.Error(), cause)
}

// FormatDiag builds a diagnostic the way NewError does: the standard message of code, then
// ": " and the specific text when there is one, cut to MaxDiagLen bytes on a UTF-8 boundary.
func FormatDiag(code ErrorCode, diag string) string {
	std := code.Message()
	var s string
	switch {
	case diag == "":
		s = std
	case len(diag) >= len(std) && diag[:len(std)] == std:
		s = diag
	default:
		s = std + ": " + diag
	}
	return truncUTF8(s, MaxDiagLen)
}

// CodeOf returns the code of the first PilotError in err's chain: 0 for nil, GeneralError when
// err carries no PilotError.
func CodeOf(err error) ErrorCode {
	if err == nil {
		return 0
	}
	var pe *PilotError
	if errors.As(err, &pe) && pe != nil {
		return pe.Code
	}
	return GeneralError
}

// DiagOf returns the diagnostic of the first PilotError in err's chain, or err.Error() cut to
// MaxDiagLen bytes when there is none, or "" for nil.
func DiagOf(err error) string {
	if err == nil {
		return ""
	}
	var pe *PilotError
	if errors.As(err, &pe) && pe != nil {
		if pe.Diag != "" {
			return pe.Diag
		}
		return pe.Code.Message()
	}
	return truncUTF8(err.Error(), MaxDiagLen)
}

// SignalCode maps the signal that ended a job to its job-level error code: SIGTERM 1201,
// SIGQUIT 1202, SIGSEGV 1203, SIGXCPU 1204, SIGBUS 1206, SIGUSR1 1207, anything else
// (including SIGINT) KillSignal 1200.
func SignalCode(sig syscall.Signal) ErrorCode {
	switch sig {
	case syscall.SIGTERM:
		return SigTerm
	case syscall.SIGQUIT:
		return SigQuit
	case syscall.SIGSEGV:
		return SigSegv
	case syscall.SIGXCPU:
		return SigXCPU
	case syscall.SIGBUS:
		return SigBus
	case syscall.SIGUSR1:
		return SigUsr1
	}
	return KillSignal
}

// PilotSignalCode maps a signal received by the pilot to the pilot exit error code: SIGINT
// 1208, otherwise the same as SignalCode.
func PilotSignalCode(sig syscall.Signal) ErrorCode {
	if sig == syscall.SIGINT {
		return SigInt
	}
	return SignalCode(sig)
}

// TransformErrorCode maps a transformation exit code to the pilot error code
// (resolve_transform_error without the stderr patterns): 0 -> 0, 2 -> 1378 LSetupTimedOut,
// 3 -> 1368 RemoteFileOpenTimedOut, 251 or -1 -> 1315 UnknownTrfFailure, 1367 stays
// CommandTimedOut, any other non-zero -> 1305 PayloadExecutionFailure.
func TransformErrorCode(exitCode int) ErrorCode {
	switch exitCode {
	case 0:
		return 0
	case 2:
		return LSetupTimedOut
	case 3:
		return RemoteFileOpenTimedOut
	case 251, -1:
		return UnknownTrfFailure
	case int(CommandTimedOut):
		return CommandTimedOut
	}
	return PayloadExecutionFailure
}

// truncUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}
