package xrootd

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/timedcmd"
)

// Defaults of Options.
const (
	DefaultConnectionWindow = 10 * time.Second
	DefaultConnectionRetry  = 1
	DefaultGrace            = 3 * time.Second
	// cleanupTimeout bounds the removal of a remote file after a failed upload.
	cleanupTimeout = 30 * time.Second
	tailBytes      = 16 << 10
)

// Options configures an Xrdcp mover. The zero value is usable.
type Options struct {
	// Xrdcp and Xrdfs are the client programs; empty means "xrdcp" and "xrdfs", looked up
	// in the PATH of the tools' environment.
	Xrdcp, Xrdfs string
	// Env is the tools' base environment; nil means this process's environment as it is
	// when New is called. Transfer.Env is added for each transfer (it wins).
	Env []string
	// ConnectionWindow and ConnectionRetry become XRD_CONNECTIONWINDOW (whole seconds, at
	// least 1) and XRD_CONNECTIONRETRY unless the environment already sets them. Zero
	// means DefaultConnectionWindow and DefaultConnectionRetry.
	ConnectionWindow time.Duration
	ConnectionRetry  int
	// Grace is the time a tool gets between SIGTERM and SIGKILL when a transfer is
	// stopped; zero means DefaultGrace.
	Grace time.Duration
	// Runner starts the tools; nil uses timedcmd's package-level functions.
	Runner *timedcmd.Runner
	// Log receives a debug entry per tool run and warnings about failed clean-ups; nil
	// discards.
	Log logrus.FieldLogger
}

// Xrdcp is the "xrdcp" mover. It is safe for concurrent use.
type Xrdcp struct {
	xrdcp, xrdfs string
	env          []string
	grace        time.Duration
	runner       *timedcmd.Runner
	log          logrus.FieldLogger
}

// New returns an Xrdcp mover configured by opts.
func New(opts Options) *Xrdcp {
	m := &Xrdcp{xrdcp: opts.Xrdcp, xrdfs: opts.Xrdfs, grace: opts.Grace, runner: opts.Runner, log: opts.Log}
	if m.xrdcp == "" {
		m.xrdcp = "xrdcp"
	}
	if m.xrdfs == "" {
		m.xrdfs = "xrdfs"
	}
	if m.grace <= 0 {
		m.grace = DefaultGrace
	}
	if m.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		m.log = l
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	window := opts.ConnectionWindow
	if window <= 0 {
		window = DefaultConnectionWindow
	}
	retry := opts.ConnectionRetry
	if retry <= 0 {
		retry = DefaultConnectionRetry
	}
	m.env = mergeEnv(env, []string{
		"XRD_CONNECTIONWINDOW=" + strconv.Itoa(max(1, int(window/time.Second))),
		"XRD_CONNECTIONRETRY=" + strconv.Itoa(retry),
	}, false)
	return m
}

// Name returns "xrdcp".
func (m *Xrdcp) Name() string { return "xrdcp" }

// Schemes returns root, xroot and roots.
func (m *Xrdcp) Schemes() []string { return []string{"root", "xroot", "roots"} }

// Check runs "xrdcp --version" and "xrdfs --version" to make sure the clients can run.
func (m *Xrdcp) Check(ctx context.Context) error {
	for _, prog := range []string{m.xrdcp, m.xrdfs} {
		res, err := m.run(ctx, prog, []string{prog, "--version"}, nil, nil, 30*time.Second)
		if err != nil {
			return fmt.Errorf("xrdcp mover: %w", err)
		}
		if !res.Success() {
			return fmt.Errorf("xrdcp mover: %s --version failed: %s", prog, outputOf(res))
		}
	}
	return nil
}

// Get downloads t.Source (root://...) to the local path t.Destination through a temporary
// file in the destination's directory (created when missing) that is renamed into place
// after the size and checksum are verified. With an adler32 expectation xrdcp verifies
// the checksum itself (mismatch: 1171); without one it prints the adler32 of what it wrote,
// which is returned. An md5 is computed by the mover from xrdcp's standard output. A
// missing source is 1331, a timeout 1151; see Classify for the rest.
func (m *Xrdcp) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpGet, t.Source
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	if err := m.checkURL(remote); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	dst, err := movers.LocalPath(t.Destination)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: fmt.Errorf("destination: %w", err)}
	}
	tmp, err := createTemp(dst)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	typ := t.ChecksumType()
	var res movers.Result
	if typ == jobdef.Adler32 {
		tmp.Close()
		res, err = m.getToFile(ctx, t, tmpName)
	} else {
		res, err = m.getStream(ctx, t, tmp, typ)
	}
	if err != nil {
		return movers.Result{}, err
	}
	fi, err := os.Stat(tmpName)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if res.Bytes != fi.Size() {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("xrdcp reported %d bytes but wrote %d", res.Bytes, fi.Size())}
	}
	if t.Size > 0 && res.Bytes != t.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, transferred %d", t.Size, res.Bytes)}
	}
	if err := movers.Verify(op, remote, t, res); err != nil {
		return movers.Result{}, err
	}
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if err := os.Rename(tmpName, dst); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	ok = true
	res.Duration, res.Mover, res.URL = time.Since(start), m.Name(), remote
	return res, nil
}

// getToFile runs xrdcp into the file tmp with adler32 verification or printing.
func (m *Xrdcp) getToFile(ctx context.Context, t movers.Transfer, tmp string) (movers.Result, error) {
	op, remote := movers.OpGet, t.Source
	args := []string{m.xrdcp, "-np", "-f"}
	want, hasWant := expectedAdler(t)
	if hasWant {
		args = append(args, "--cksum", "adler32:"+want)
	} else {
		args = append(args, "--cksum", "adler32:print")
	}
	args = append(args, remote, tmp)
	res, err := m.run(ctx, m.xrdcp, args, t.Env, nil, 0)
	if err := m.failure(ctx, op, remote, res, err); err != nil {
		return movers.Result{}, err
	}
	out := outputOf(res)
	if hasWant {
		fi, err := os.Stat(tmp)
		if err != nil {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
		}
		return movers.Result{Bytes: fi.Size(), Checksum: jobdef.Checksum{Type: jobdef.Adler32, Value: want}}, nil
	}
	p, ok := ParsePrinted(out)
	if !ok || p.Checksum.Type != jobdef.Adler32 {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.ChecksumCalcFailure, Retryable: true,
			Err: fmt.Errorf("xrdcp printed no adler32: %q", clip(out, 300))}
	}
	return movers.Result{Bytes: p.Size, Checksum: p.Checksum}, nil
}

// getStream runs xrdcp with the destination "-" and writes its standard output to tmp,
// computing a checksum of type typ on the way.
func (m *Xrdcp) getStream(ctx context.Context, t movers.Transfer, tmp *os.File, typ jobdef.ChecksumType) (movers.Result, error) {
	op, remote := movers.OpGet, t.Source
	h := movers.NewHasher(typ)
	if h == nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.UnknownChecksumType,
			Err: fmt.Errorf("unknown checksum type %q", typ)}
	}
	w := &hashWriter{f: tmp, h: h}
	res, err := m.run(ctx, m.xrdcp, []string{m.xrdcp, "-np", "-f", remote, "-"}, t.Env, w, 0)
	if res != nil {
		res.StdoutTail = nil // the file's bytes, not messages
	}
	if err := m.failure(ctx, op, remote, res, err); err != nil {
		return movers.Result{}, err
	}
	n, werr := w.result()
	if werr == nil {
		werr = tmp.Close()
	}
	if werr != nil {
		code := movers.GenericCode(op)
		if errors.Is(werr, fs.ErrNotExist) {
			code = jobdef.NoSuchFile
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: code, Retryable: true, Err: fmt.Errorf("writing %s: %w", tmp.Name(), werr)}
	}
	return movers.Result{Bytes: n, Checksum: movers.SumOf(typ, h)}, nil
}

// hashWriter writes to a file and a hash; the first write error is kept and later writes
// are dropped (the tool must not see the error, the mover reports it).
type hashWriter struct {
	mu  sync.Mutex
	f   *os.File
	h   hash.Hash
	n   int64
	err error
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return len(p), nil
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	w.err = err
	return len(p), nil
}

func (w *hashWriter) result() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.err
}

// Put uploads the local file t.Source to t.Destination (root://...), creating missing
// directories. The upload uses persist-on-successful-close; after any failure the mover
// removes the remote file. With an adler32 expectation xrdcp verifies the stored file
// against it (mismatch: 1172); otherwise the server's adler32 of the stored file, as
// printed by xrdcp, is returned. An md5 is computed locally before the upload (mismatch:
// 1141, nothing is uploaded). A source that is not a regular file (a pipe) is streamed
// through xrdcp's standard input. A missing source is 1165, a timeout 1152.
func (m *Xrdcp) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpPut, t.Destination
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	if err := m.checkURL(remote); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	src, err := movers.LocalPath(t.Source)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: fmt.Errorf("source: %w", err)}
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	defer in.Close()
	regular := fi.Mode().IsRegular()
	typ := t.ChecksumType()
	var local jobdef.Checksum // md5 (or another non-adler32 type) computed here
	if typ != jobdef.Adler32 && regular {
		if local, err = movers.ChecksumOf(ctx, src, typ); err != nil {
			if e := movers.ContextError(ctx, op, remote); e != nil {
				return movers.Result{}, e
			}
			var pe *jobdef.PilotError
			if errors.As(err, &pe) {
				return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: pe.Code, Err: err}
			}
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.ChecksumCalcFailure, Err: err}
		}
		if err := movers.Verify(op, remote, t, movers.Result{Checksum: local}); err != nil {
			return movers.Result{}, err
		}
	}
	args := []string{m.xrdcp, "-np", "-f", "--posc"}
	want, hasWant := expectedAdler(t)
	if hasWant {
		args = append(args, "--rm-bad-cksum", "--cksum", "adler32:"+want)
	} else {
		args = append(args, "--cksum", "adler32:print")
	}
	var stdin io.Reader
	if regular {
		args = append(args, src, remote)
	} else {
		args = append(args, "-", remote)
		stdin = in
	}
	res, runErr := m.runIn(ctx, args, t.Env, stdin)
	if err := m.failure(ctx, op, remote, res, runErr); err != nil {
		m.cleanup(ctx, remote, t.Env)
		return movers.Result{}, err
	}
	out := outputOf(res)
	var result movers.Result
	if p, ok := ParsePrinted(out); ok {
		result = movers.Result{Bytes: p.Size, Checksum: p.Checksum}
	} else if hasWant {
		result.Checksum = jobdef.Checksum{Type: jobdef.Adler32, Value: want}
	}
	if result.Bytes == 0 && regular {
		result.Bytes = fi.Size()
	}
	if !local.IsZero() {
		result.Checksum = local
	}
	if regular && result.Bytes != fi.Size() {
		m.cleanup(ctx, remote, t.Env)
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("xrdcp stored %d bytes of %d", result.Bytes, fi.Size())}
	}
	if err := movers.Verify(op, remote, t, result); err != nil {
		m.cleanup(ctx, remote, t.Env)
		return movers.Result{}, err
	}
	result.Duration, result.Mover, result.URL = time.Since(start), m.Name(), remote
	return result, nil
}

// runIn runs xrdcp with stdin.
func (m *Xrdcp) runIn(ctx context.Context, args, extra []string, stdin io.Reader) (*timedcmd.Result, error) {
	return m.runSpec(ctx, timedcmd.Spec{Path: args[0], Args: args, Env: mergeEnv(m.env, extra, true), Stdin: stdin})
}

// cleanup removes a remote file after a failed upload (best effort, own deadline).
func (m *Xrdcp) cleanup(ctx context.Context, remote string, extra []string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := m.remove(cctx, remote, extra); err != nil {
		m.log.WithError(err).WithField("url", remote).Warn("could not remove a failed upload")
	}
}

// Remove deletes the remote file url with "xrdfs <host> rm <path>". A file that does not
// exist is not an error.
func (m *Xrdcp) Remove(ctx context.Context, url string) error { return m.remove(ctx, url, nil) }

func (m *Xrdcp) remove(ctx context.Context, rawURL string, extra []string) error {
	host, path, err := splitURL(rawURL)
	if err != nil {
		return err
	}
	res, err := m.run(ctx, m.xrdfs, []string{m.xrdfs, host, "rm", path}, extra, nil, 0)
	if err != nil {
		return err
	}
	if res.Success() {
		return nil
	}
	out := outputOf(res)
	if strings.Contains(strings.ToLower(out), "no such file or directory") {
		return nil
	}
	if res.Cause != nil {
		return fmt.Errorf("xrdfs rm %s: %w", rawURL, res.Cause)
	}
	return fmt.Errorf("xrdfs rm %s: exit %d: %s", rawURL, res.ExitCode, clip(out, 300))
}

// RemoteChecksum asks the server for the adler32 of url ("xrdfs <host> query checksum
// <path>"). Other types are not supported (a *jobdef.PilotError with code 1242).
func (m *Xrdcp) RemoteChecksum(ctx context.Context, url string, t jobdef.ChecksumType) (jobdef.Checksum, error) {
	if t == "" {
		t = jobdef.Adler32
	}
	if t != jobdef.Adler32 {
		return jobdef.Checksum{}, jobdef.NewError(jobdef.ChksumNotSup, fmt.Sprintf("xrdcp mover: %s checksums are not queried from the server", t), nil)
	}
	host, path, err := splitURL(url)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	res, err := m.run(ctx, m.xrdfs, []string{m.xrdfs, host, "query", "checksum", path}, nil, nil, 0)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	out := outputOf(res)
	if !res.Success() {
		code, _ := Classify(movers.OpGet, out)
		if res.Cause != nil {
			return jobdef.Checksum{}, jobdef.NewError(code, fmt.Sprintf("xrdfs query checksum %s: %v", url, res.Cause), res.Cause)
		}
		return jobdef.Checksum{}, jobdef.NewError(code, fmt.Sprintf("xrdfs query checksum %s: %s", url, clip(out, 300)), nil)
	}
	sum, err := ParseQueryChecksum(string(res.StdoutTail))
	if err != nil {
		return jobdef.Checksum{}, err
	}
	if sum.Type != t {
		return jobdef.Checksum{}, jobdef.NewError(jobdef.ChksumNotSup, fmt.Sprintf("server answered a %s checksum for %s", sum.Type, url), nil)
	}
	return sum, nil
}

// run runs one tool. stdout, when set, receives the standard output (else it is kept in
// the result's tail); timeout 0 means none beyond ctx.
func (m *Xrdcp) run(ctx context.Context, prog string, args, extra []string, stdout io.Writer, timeout time.Duration) (*timedcmd.Result, error) {
	spec := timedcmd.Spec{Path: prog, Args: args, Env: mergeEnv(m.env, extra, true), Stdout: stdout, Timeout: timeout}
	return m.runSpec(ctx, spec)
}

func (m *Xrdcp) runSpec(ctx context.Context, spec timedcmd.Spec) (*timedcmd.Result, error) {
	spec.TailBytes = tailBytes
	spec.Grace = m.grace
	res, err := m.runner.Run(ctx, spec)
	if res != nil {
		m.log.WithFields(logrus.Fields{"argv": redactArgs(spec.Args), "exit": res.ExitCode,
			"seconds": res.Duration().Seconds()}).Debug("xrootd tool finished")
	}
	return res, err
}

// redactArgs joins argv for a log, dropping URL queries (they may carry tokens).
func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if q := strings.IndexByte(a, '?'); q >= 0 && strings.Contains(a, "://") {
			a = a[:q] + "?<redacted>"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// failure turns a tool run into the mover's error, nil when it succeeded.
func (m *Xrdcp) failure(ctx context.Context, op, remote string, res *timedcmd.Result, err error) error {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	if err != nil {
		var se *timedcmd.StartError
		if errors.As(err, &se) {
			return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: fmt.Errorf("cannot run xrdcp: %w", err)}
		}
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if res.Success() {
		return nil
	}
	out := outputOf(res)
	code, retry := Classify(op, out)
	msg := fmt.Sprintf("xrdcp exit %d: %s", res.ExitCode, clip(out, 400))
	if res.Signal != 0 {
		msg = fmt.Sprintf("xrdcp killed by %s: %s", res.Signal, clip(out, 400))
	}
	return &movers.Error{Op: op, URL: remote, Code: code, Retryable: retry, Err: errors.New(msg)}
}

// checkURL accepts root, xroot and roots URLs with a host.
func (m *Xrdcp) checkURL(raw string) error {
	_, _, err := splitURL(raw)
	return err
}

// splitURL splits "root://host:port//path?cgi" into "root://host:port" and "/path?cgi".
func splitURL(raw string) (host, path string, err error) {
	switch movers.Scheme(raw) {
	case "root", "xroot", "roots":
	default:
		return "", "", fmt.Errorf("%q is not a root:// URL", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Host == "" || u.Path == "" || u.Opaque != "" {
		return "", "", fmt.Errorf("URL %q has no host or path", raw)
	}
	p := "/" + strings.TrimLeft(u.Path, "/")
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return u.Scheme + "://" + u.Host, p, nil
}

// expectedAdler returns the expected adler32 of t, normalised to 8 hex digits.
func expectedAdler(t movers.Transfer) (string, bool) {
	if t.ChecksumType() != jobdef.Adler32 || t.Checksum.Value == "" {
		return "", false
	}
	v := strings.TrimLeft(strings.ToLower(t.Checksum.Value), "0")
	if !isHex(v) && v != "" {
		return "", false
	}
	return normalize(jobdef.Adler32, v)
}

// outputOf returns the tool's output tails, stderr last.
func outputOf(res *timedcmd.Result) string {
	if res == nil {
		return ""
	}
	return strings.TrimSpace(string(res.StdoutTail) + "\n" + string(res.StderrTail))
}

// createTemp creates the directory of dst if needed and an empty temporary file next to it.
func createTemp(dst string) (*os.File, error) {
	dir, base := filepath.Split(dst)
	if base == "" {
		return nil, fmt.Errorf("destination %q has no file name", dst)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if len(base) > 200 {
		base = base[:200]
	}
	return os.CreateTemp(dir, "."+base+".xrdcp-*")
}

// mergeEnv returns base with the variables of add; when override is false a variable
// already in base keeps its value.
func mergeEnv(base, add []string, override bool) []string {
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
