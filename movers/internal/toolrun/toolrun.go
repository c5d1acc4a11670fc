// Package toolrun is what the movers that drive external transfer tools (xrdcp/xrdfs,
// gfal-copy/gfal-sum/gfal-rm) share: running a tool through timedcmd with the mover's
// environment, turning a failed run into a *movers.Error through a table of output
// patterns, and the small helpers around it (environment merging, output tails, URL
// redaction, temporary files next to a destination, best-effort clean-up).
package toolrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/timedcmd"
)

// Defaults shared by the tool movers.
const (
	DefaultConnectionWindow = 10 * time.Second
	DefaultConnectionRetry  = 1
	DefaultGrace            = 3 * time.Second
	// TailBytes is how much of each output stream a run keeps for messages and parsing.
	TailBytes = 16 << 10
)

// Options configures a Tools.
type Options struct {
	// Name is the mover's name ("xrdcp", "gfal"), used in log entries.
	Name string
	// Env is the tools' base environment; nil means this process's environment when New is
	// called. Defaults is added to it without overriding what it sets.
	Env, Defaults []string
	// Grace is the time between SIGTERM and SIGKILL when a tool is stopped; zero means
	// DefaultGrace.
	Grace time.Duration
	// Runner starts the tools; nil uses timedcmd's package-level functions.
	Runner *timedcmd.Runner
	// Log receives a debug entry per run and clean-up warnings; nil discards.
	Log logrus.FieldLogger
	// Rules translate a failed run's output to a PanDA code (see Classify).
	Rules []Rule
	// Summary shortens a failed run's output for the error message; nil keeps the last 400
	// bytes.
	Summary func(output string) string
}

// Tools runs one mover's external tools. It is safe for concurrent use.
type Tools struct {
	name    string
	env     []string
	grace   time.Duration
	runner  *timedcmd.Runner
	log     logrus.FieldLogger
	rules   []Rule
	summary func(string) string
}

// New returns a Tools configured by opts.
func New(opts Options) *Tools {
	t := &Tools{name: opts.Name, grace: opts.Grace, runner: opts.Runner, log: opts.Log, rules: opts.Rules, summary: opts.Summary}
	if t.grace <= 0 {
		t.grace = DefaultGrace
	}
	if t.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		t.log = l
	}
	if t.summary == nil {
		t.summary = func(s string) string { return Clip(s, 400) }
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	t.env = MergeEnv(env, opts.Defaults, false)
	return t
}

// Log returns the logger the Tools writes to (never nil).
func (t *Tools) Log() logrus.FieldLogger { return t.log }

// Env returns the tools' base environment (a copy).
func (t *Tools) Env() []string { return append([]string(nil), t.env...) }

// XrdDefaults returns XRD_CONNECTIONWINDOW (whole seconds, at least 1) and
// XRD_CONNECTIONRETRY for the XRootD client library; zero values mean the defaults above.
func XrdDefaults(window time.Duration, retry int) []string {
	if window <= 0 {
		window = DefaultConnectionWindow
	}
	if retry <= 0 {
		retry = DefaultConnectionRetry
	}
	return []string{
		"XRD_CONNECTIONWINDOW=" + strconv.Itoa(max(1, int(window/time.Second))),
		"XRD_CONNECTIONRETRY=" + strconv.Itoa(retry),
	}
}

// Run runs spec.Args (spec.Path defaults to Args[0]) with the base environment plus extra
// (which wins), the tools' grace and output tails. A non-zero exit is not an error: it is
// in the Result; an error means the tool could not run (a *timedcmd.StartError) or
// timedcmd failed.
func (t *Tools) Run(ctx context.Context, spec timedcmd.Spec, extra []string) (*timedcmd.Result, error) {
	if spec.Path == "" && len(spec.Args) > 0 {
		spec.Path = spec.Args[0]
	}
	spec.Env = MergeEnv(t.env, extra, true)
	spec.TailBytes = TailBytes
	spec.Grace = t.grace
	res, err := t.runner.Run(ctx, spec)
	if res != nil {
		t.log.WithFields(logrus.Fields{"mover": t.name, "argv": RedactArgs(spec.Args), "exit": res.ExitCode,
			"seconds": res.Duration().Seconds()}).Debug("transfer tool finished")
	}
	return res, err
}

// Check runs "<prog> --version" for each prog and fails when one cannot run or exits
// non-zero.
func (t *Tools) Check(ctx context.Context, progs ...string) error {
	for _, prog := range progs {
		res, err := t.Run(ctx, timedcmd.Spec{Args: []string{prog, "--version"}, Timeout: time.Minute}, nil)
		if err != nil {
			return fmt.Errorf("%s mover: %w", t.name, err)
		}
		if !res.Success() {
			return fmt.Errorf("%s mover: %s --version failed (exit %d): %s", t.name, prog, res.ExitCode, Clip(Output(res), 300))
		}
	}
	return nil
}

// Failure turns the outcome of a transfer tool run into the mover's error, nil when it
// succeeded: the end of ctx as movers.ContextError; a tool that could not be started, or
// that exited 126 or 127 (a wrapper script's shell could not run a program), a
// non-retryable generic code; another runner error a retryable one; a failed run the code
// and retry flag of Classify on its output, with the summarised output as the message.
// tool names the program in the message.
func (t *Tools) Failure(ctx context.Context, op, remote, tool string, res *timedcmd.Result, err error) error {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	if err != nil {
		var se *timedcmd.StartError
		if errors.As(err, &se) {
			return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: fmt.Errorf("cannot run %s: %w", tool, err)}
		}
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if res.Success() {
		return nil
	}
	out := Output(res)
	if res.ExitCode == 126 || res.ExitCode == 127 { // the shell of a wrapper script could not run a program
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op),
			Err: fmt.Errorf("cannot run %s (exit %d): %s", tool, res.ExitCode, t.summary(out))}
	}
	code, retry := Classify(t.rules, op, out)
	msg := fmt.Sprintf("%s exit %d: %s", tool, res.ExitCode, t.summary(out))
	if res.Signal != 0 {
		msg = fmt.Sprintf("%s killed by %s: %s", tool, res.Signal, t.summary(out))
	}
	return &movers.Error{Op: op, URL: remote, Code: code, Retryable: retry, Err: errors.New(msg)}
}

// Classify returns the code of the first rule whose patterns all occur in the failed run's
// output (matched case-insensitively), else the generic code (retryable).
func (t *Tools) Classify(op, output string) (jobdef.ErrorCode, bool) {
	return Classify(t.rules, op, output)
}

// Cleanup runs remove (deleting a failed upload) with its own deadline, detached from the
// end of ctx, and logs a failure.
func (t *Tools) Cleanup(ctx context.Context, timeout time.Duration, remote string, remove func(context.Context) error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := remove(cctx); err != nil {
		t.log.WithError(err).WithField("url", Redact(remote)).Warn("could not remove a failed upload")
	}
}

// Rule maps output patterns of a failed tool run to a PanDA code.
type Rule struct {
	// All are lower-case substrings that must every one occur in the output.
	All       []string
	Code      func(op string) jobdef.ErrorCode
	Retryable bool
}

// Classify returns the code and retry flag of the first of rules whose patterns all occur
// in output (case-insensitively), else movers.GenericCode(op), retryable.
func Classify(rules []Rule, op, output string) (jobdef.ErrorCode, bool) {
	low := strings.ToLower(output)
next:
	for _, r := range rules {
		for _, p := range r.All {
			if !strings.Contains(low, p) {
				continue next
			}
		}
		return r.Code(op), r.Retryable
	}
	return movers.GenericCode(op), true
}

// Fixed is a rule code that does not depend on the operation.
func Fixed(c jobdef.ErrorCode) func(string) jobdef.ErrorCode {
	return func(string) jobdef.ErrorCode { return c }
}

// ByOp is a rule code that is get for movers.OpGet and put for movers.OpPut.
func ByOp(get, put jobdef.ErrorCode) func(string) jobdef.ErrorCode {
	return func(op string) jobdef.ErrorCode {
		if op == movers.OpPut {
			return put
		}
		return get
	}
}

// AdlerMismatch is the rule code of an adler32 mismatch: 1171 (get), 1172 (put).
func AdlerMismatch(op string) jobdef.ErrorCode { return movers.MismatchCode(op, jobdef.Adler32) }

// Auth is the rule code of refused credentials: 1338 (get), 1383 (put).
func Auth(op string) jobdef.ErrorCode {
	return ByOp(jobdef.StageInAuthenticationFailure, jobdef.StageOutAuthenticationFailure)(op)
}

// Output returns a run's output tails, stderr last, trimmed ("" for a nil result).
func Output(res *timedcmd.Result) string {
	if res == nil {
		return ""
	}
	return strings.TrimSpace(string(res.StdoutTail) + "\n" + string(res.StderrTail))
}

// Clip returns at most the last n bytes of s, trimmed, prefixed with "..." when cut.
func Clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// LastLines returns the last n non-empty lines of s, trimmed and joined by " | ".
func LastLines(s string, n int) string {
	var out []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, " | ")
}

// MergeEnv returns base with the variables of add (later entries of base win over earlier
// ones); when override is false a variable already in base keeps its value.
func MergeEnv(base, add []string, override bool) []string {
	out := make([]string, 0, len(base)+len(add))
	idx := make(map[string]int, len(base)+len(add))
	put := func(kv string, replace bool) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			if replace {
				out[i] = kv
			}
			return
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range base {
		put(kv, true)
	}
	for _, kv := range add {
		put(kv, override)
	}
	return out
}

// Redact drops the query (it may carry tokens), the fragment and user information from a
// URL, for logs and messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// RedactArgs joins an argument vector for a log, replacing the query of every URL argument
// by "?<redacted>".
func RedactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if q := strings.IndexByte(a, '?'); q >= 0 && strings.Contains(a, "://") {
			a = a[:q] + "?<redacted>"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// CreateTemp creates the directory of path if needed and an empty temporary file next to
// it named ".<base>.<kind>-<random>" (base cut to 200 bytes).
func CreateTemp(path, kind string) (*os.File, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("%q has no file name", path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if len(base) > 200 {
		base = base[:200]
	}
	return os.CreateTemp(dir, "."+base+"."+kind+"-*")
}

// Finish makes the verified temporary file tmp the destination dst: mode 0644 and a rename,
// unless ctx ended. Errors are retryable *movers.Error with the generic code of op.
func Finish(ctx context.Context, op, remote, tmp, dst string) error {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	return nil
}

// AbsRootURL returns raw with the path of a root, xroot or roots URL made absolute
// ("root://host:port//path?cgi"): storage data joins endpoint and path with a single slash,
// which XRootD reads as relative to the server's default directory (refused by many
// servers), while every storage path is meant from the root. Other URLs, and URLs that do
// not parse or have no host or path, are returned unchanged.
func AbsRootURL(raw string) string {
	switch movers.Scheme(raw) {
	case "root", "xroot", "roots":
	default:
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || strings.Trim(u.Path, "/") == "" {
		return raw
	}
	s := u.Scheme + "://" + u.Host + "//" + strings.TrimLeft(u.Path, "/")
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}
