package movers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// Operation names used in Error.Op.
const (
	OpGet = "get" // remote -> local (stage-in)
	OpPut = "put" // local -> remote (stage-out)
)

// Transfer describes one file to move.
//
// For Get, Source is the remote URL (or absolute local path) and Destination the local path
// in the job directory. For Put, Source is the local path and Destination the remote URL.
// Local paths are absolute; "file://" URLs are accepted wherever a local path is.
type Transfer struct {
	Source, Destination string
	// LFN is the logical file name; movers that name site files themselves (mv) use it,
	// falling back to the base name of the local path when it is empty.
	LFN string
	// Size is the expected number of bytes; 0 means unknown (not checked).
	Size int64
	// Checksum is the expected checksum; the zero value means unknown (not checked). Its
	// Type also selects the algorithm the mover computes (adler32 when empty).
	Checksum jobdef.Checksum
	// Activity is the queue activity the transfer belongs to (read_lan, write_lan, pl, ...).
	Activity string
	// Timeout bounds the whole transfer; 0 means no limit beyond ctx. Movers apply it
	// themselves (WithTimeout) so that a direct caller gets the same behaviour as the Stager.
	Timeout time.Duration
	// Attempt is the 1-based attempt number (informational, for logs and tools).
	Attempt int
	// Env is extra environment (credentials: X509_USER_PROXY, BEARER_TOKEN_FILE, ...) for
	// movers that run external tools. In-process movers ignore it.
	Env []string
}

// ChecksumType returns the algorithm a mover computes for t: the type of the expected
// checksum, or adler32 when none is given.
func (t Transfer) ChecksumType() jobdef.ChecksumType {
	if t.Checksum.Type != "" {
		return t.Checksum.Type
	}
	return jobdef.Adler32
}

// Result reports a successful transfer.
type Result struct {
	// Bytes is the number of bytes moved (or the size of the linked file).
	Bytes int64
	// Checksum was computed while the bytes streamed through the mover (never by a second
	// read of a copy). Zero when the mover could not compute one; the Stager then computes it.
	Checksum jobdef.Checksum
	Duration time.Duration
	// Mover is the Name of the mover that did the transfer.
	Mover string
	// URL is the remote URL actually used (the Source for Get, the Destination for Put).
	URL string
}

// Mover moves single files. Implementations must be safe for concurrent use, honour ctx
// and Transfer.Timeout promptly (also in the middle of a file), never leave a partial
// destination file behind on failure or cancellation, and return a *Error on failure.
type Mover interface {
	// Name is the stable copytool name used in queue data (acopytools), e.g. "copy".
	Name() string
	// Schemes lists the URL schemes handled ("file" covers absolute local paths too).
	// "*" means every scheme.
	Schemes() []string
	// Get copies Transfer.Source (remote) to Transfer.Destination (local path).
	Get(ctx context.Context, t Transfer) (Result, error)
	// Put copies Transfer.Source (local path) to Transfer.Destination (remote).
	Put(ctx context.Context, t Transfer) (Result, error)
}

// RemoteChecksummer is implemented by movers that can ask the storage for a checksum.
type RemoteChecksummer interface {
	RemoteChecksum(ctx context.Context, url string, t jobdef.ChecksumType) (jobdef.Checksum, error)
}

// Remover is implemented by movers that can delete a remote file (used by the Stager to
// clean up after a failed upload). Removing a file that does not exist is not an error.
type Remover interface {
	Remove(ctx context.Context, url string) error
}

// Checker is implemented by movers that depend on something outside the process (a
// binary, a credential). Check is run once at start-up by the caller.
type Checker interface {
	Check(ctx context.Context) error
}

// Capabilities tells the Stager what a mover needs. The zero value describes an ordinary
// mover that transfers from/to the resolved remote URL into the job directory.
type Capabilities struct {
	// SiteLocal means the mover exchanges files with a directory prepared by the site (the
	// ARC/true-pilot "mv" model) and does not need a remote URL: the Stager calls it with an
	// empty remote URL when queue or storage data cannot provide one.
	SiteLocal bool
	// SkipSpaceCheck means inputs take no space in the job directory (links), so the Stager
	// does not check the input sizes against maxwdir and the free space for this mover.
	SkipSpaceCheck bool
}

// Capable is implemented by movers whose Capabilities differ from the zero value.
type Capable interface {
	Capabilities() Capabilities
}

// CapabilitiesOf returns m's Capabilities, the zero value when m does not implement Capable.
func CapabilitiesOf(m Mover) Capabilities {
	if c, ok := m.(Capable); ok {
		return c.Capabilities()
	}
	return Capabilities{}
}

// ErrTransferTimeout is the cause recorded when a transfer exceeds its timeout.
var ErrTransferTimeout = errors.New("transfer timed out")

// Error is the error movers return. Code is the PanDA code the failure maps to.
type Error struct {
	Op        string // OpGet or OpPut
	URL       string // the remote URL (or local path) the failure is about
	Code      jobdef.ErrorCode
	Retryable bool // a new attempt with the same mover may succeed
	Err       error
}

func (e *Error) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.URL == "" {
		return fmt.Sprintf("%s: %s", e.Op, msg)
	}
	return fmt.Sprintf("%s %s: %s", e.Op, e.URL, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// AsPilotError converts e to a *jobdef.PilotError carrying e.Code, with e's message as the
// specific diagnostic and e as the cause.
func (e *Error) AsPilotError() *jobdef.PilotError {
	return jobdef.NewError(e.Code, e.Error(), e)
}

// codes returns the PanDA codes for op (OpGet or OpPut).
func codes(op string) opCodes {
	if op == OpPut {
		return opCodes{generic: jobdef.StageOutFailed, timeout: jobdef.StageOutTimeout,
			adler: jobdef.PutADMismatch, md5: jobdef.PutMD5Mismatch, missing: jobdef.MissingOutputFile}
	}
	return opCodes{generic: jobdef.StageInFailed, timeout: jobdef.StageInTimeout,
		adler: jobdef.GetADMismatch, md5: jobdef.GetMD5Mismatch, missing: jobdef.MissingInputFile}
}

type opCodes struct{ generic, timeout, adler, md5, missing jobdef.ErrorCode }

// GenericCode is the code of an unspecified failure: 1099 STAGEINFAILED for OpGet,
// 1137 STAGEOUTFAILED for OpPut.
func GenericCode(op string) jobdef.ErrorCode { return codes(op).generic }

// TimeoutCode is 1151 STAGEINTIMEOUT for OpGet, 1152 STAGEOUTTIMEOUT for OpPut.
func TimeoutCode(op string) jobdef.ErrorCode { return codes(op).timeout }

// MissingCode is the code for a missing source: 1331 MISSINGINPUTFILE for OpGet,
// 1165 MISSINGOUTPUTFILE for OpPut (the local output does not exist).
func MissingCode(op string) jobdef.ErrorCode { return codes(op).missing }

// MismatchCode is the code for a checksum mismatch of type t: adler32 1171/1172,
// md5 1145/1141 (get/put). Other types map to the adler32 codes.
func MismatchCode(op string, t jobdef.ChecksumType) jobdef.ErrorCode {
	if t == jobdef.MD5 {
		return codes(op).md5
	}
	return codes(op).adler
}

// ContextError turns the end of ctx into an *Error: a timeout (cause ErrTransferTimeout or
// context.DeadlineExceeded) gets TimeoutCode(op); any other cancellation keeps the code of
// a *jobdef.PilotError cause (e.g. a kill signal) or else gets GenericCode(op). It returns
// nil while ctx is not done. Neither is retryable.
func ContextError(ctx context.Context, op, url string) *Error {
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	code := GenericCode(op)
	var pe *jobdef.PilotError
	switch {
	case errors.Is(cause, ErrTransferTimeout) || errors.Is(cause, context.DeadlineExceeded):
		code = TimeoutCode(op)
	case errors.As(cause, &pe):
		code = pe.Code
	}
	return &Error{Op: op, URL: url, Code: code, Err: cause}
}

// WithTransferTimeout returns ctx bounded by d (when d > 0) whose cause on expiry wraps
// ErrTransferTimeout.
func WithTransferTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w after %s", ErrTransferTimeout, d))
}
