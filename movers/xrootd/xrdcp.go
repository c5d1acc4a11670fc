package xrootd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/toolrun"
	"github.com/gopilot/gopilot/timedcmd"
)

// Defaults of Options.
const (
	DefaultConnectionWindow = toolrun.DefaultConnectionWindow
	DefaultConnectionRetry  = toolrun.DefaultConnectionRetry
	DefaultGrace            = toolrun.DefaultGrace
	// cleanupTimeout bounds the removal of a remote file after a failed upload.
	cleanupTimeout = 30 * time.Second
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
	// ToolChecksum makes xrdcp read and write local files itself (Get: computing the
	// adler32 of what it writes, --cksum, in its writing thread; Put: reading a regular file
	// and comparing its adler32 with the server's, with an md5 computed by the mover by a
	// separate read) instead of streaming them through a pipe and the mover, which computes
	// the checksum while copying.
	ToolChecksum bool
	// Runner starts the tools; nil uses timedcmd's package-level functions.
	Runner *timedcmd.Runner
	// Log receives a debug entry per tool run and warnings about failed clean-ups; nil
	// discards.
	Log logrus.FieldLogger
}

// Xrdcp is the "xrdcp" mover. It is safe for concurrent use.
type Xrdcp struct {
	xrdcp, xrdfs string
	toolChecksum bool
	tools        *toolrun.Tools
}

// New returns an Xrdcp mover configured by opts.
func New(opts Options) *Xrdcp {
	m := &Xrdcp{xrdcp: opts.Xrdcp, xrdfs: opts.Xrdfs, toolChecksum: opts.ToolChecksum}
	if m.xrdcp == "" {
		m.xrdcp = "xrdcp"
	}
	if m.xrdfs == "" {
		m.xrdfs = "xrdfs"
	}
	m.tools = toolrun.New(toolrun.Options{Name: "xrdcp", Env: opts.Env,
		Defaults: toolrun.XrdDefaults(opts.ConnectionWindow, opts.ConnectionRetry),
		Grace:    opts.Grace, Runner: opts.Runner, Log: opts.Log, Rules: rules()})
	return m
}

// Name returns "xrdcp".
func (m *Xrdcp) Name() string { return "xrdcp" }

// Schemes returns root, xroot and roots.
func (m *Xrdcp) Schemes() []string { return []string{"root", "xroot", "roots"} }

// Check runs "xrdcp --version" and "xrdfs --version" to make sure the clients can run.
func (m *Xrdcp) Check(ctx context.Context) error { return m.tools.Check(ctx, m.xrdcp, m.xrdfs) }

// Get downloads t.Source (root://...) to the local path t.Destination through a temporary
// file in the destination's directory (created when missing) that is renamed into place
// after the size and checksum are verified. xrdcp writes to a pipe; the mover writes the
// file and computes the checksum (adler32 or md5) on the way. With Options.ToolChecksum,
// xrdcp writes the file and computes adler32 itself (--cksum), verifying an expectation
// (mismatch: 1171) or printing the value. A missing source is 1331, a timeout 1151; see
// Classify for the rest.
func (m *Xrdcp) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpGet, t.Source
	dst, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	if _, err := ToolURL(remote); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	tmp, err := toolrun.CreateTemp(dst, "xrdcp")
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
	var res movers.Result
	if typ == jobdef.Adler32 && m.toolChecksum {
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
	if err := toolrun.Finish(ctx, op, remote, tmpName, dst); err != nil {
		return movers.Result{}, err
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
	src, _ := ToolURL(remote) // checked by Get
	args = append(args, src, tmp)
	res, err := m.tools.Run(ctx, timedcmd.Spec{Args: args}, t.Env)
	if err := m.tools.Failure(ctx, op, remote, "xrdcp", res, err); err != nil {
		return movers.Result{}, err
	}
	out := toolrun.Output(res)
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
			Err: fmt.Errorf("xrdcp printed no adler32: %q", toolrun.Clip(out, 300))}
	}
	return movers.Result{Bytes: p.Size, Checksum: p.Checksum}, nil
}

// getStream runs xrdcp with the destination "-" writing into a pipe that the mover reads
// into tmp, computing a checksum of type typ on the way (movers.CopyChecksum: the hash runs
// beside the copy). A failed write closes the pipe, which ends xrdcp.
func (m *Xrdcp) getStream(ctx context.Context, t movers.Transfer, tmp *os.File, typ jobdef.ChecksumType) (movers.Result, error) {
	op, remote := movers.OpGet, t.Source
	pr, pw, err := os.Pipe()
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	// A larger pipe means fewer wake-ups on both sides; the default (64 KiB) still works.
	unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, pipeSize)
	type copied struct {
		n   int64
		sum jobdef.Checksum
		err error
	}
	done := make(chan copied, 1)
	go func() {
		n, sum, err := movers.CopyChecksum(ctx, tmp, pr, typ)
		pr.Close() // on a failure xrdcp's next write fails and it ends
		done <- copied{n, sum, err}
	}()
	src, _ := ToolURL(remote) // checked by Get
	res, err := m.tools.Run(ctx, timedcmd.Spec{Args: []string{m.xrdcp, "-np", "-f", src, "-"}, Stdout: pw}, t.Env)
	pw.Close() // xrdcp has ended: the reader sees the end of the data
	c := <-done
	if err := m.tools.Failure(ctx, op, remote, "xrdcp", res, err); err != nil {
		if c.err != nil && !errors.Is(c.err, context.Canceled) && ctx.Err() == nil {
			return movers.Result{}, writeError(op, remote, tmp.Name(), c.err)
		}
		return movers.Result{}, err
	}
	if c.err == nil {
		c.err = tmp.Close()
	}
	if c.err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		return movers.Result{}, writeError(op, remote, tmp.Name(), c.err)
	}
	return movers.Result{Bytes: c.n, Checksum: c.sum}, nil
}

// pipeSize is the pipe buffer asked for xrdcp's standard output (the default maximum of
// /proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// writeError is the error of a failed write into the local temporary file.
func writeError(op, remote, name string, err error) error {
	code, retry := movers.GenericCode(op), true
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		code, retry = jobdef.NoLocalSpace, false
	case errors.Is(err, fs.ErrNotExist):
		code = jobdef.NoSuchFile
	}
	return &movers.Error{Op: op, URL: remote, Code: code, Retryable: retry, Err: fmt.Errorf("writing %s: %w", name, err)}
}

// Put uploads the local file t.Source to t.Destination (root://...), creating missing
// directories, with persist-on-successful-close; after any failure the mover removes the
// remote file. The mover reads the file once, computing its checksum, and streams it into
// xrdcp's standard input; xrdcp reports the server's adler32 of the stored file
// ("--cksum adler32:print"), or compares it with an expected adler32 itself
// ("--cksum adler32:<expected>"), and the mover compares it with the checksum of what it
// sent: an end-to-end check (mismatch: 1172; 1141 for md5 against an expectation). With
// Options.ToolChecksum xrdcp reads a regular file itself and the mover computes an md5
// by a separate read. A missing source is 1165, a timeout 1152.
func (m *Xrdcp) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpPut, t.Destination
	src, _, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	dstURL, err := ToolURL(remote)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	defer in.Close()
	var result movers.Result
	if m.toolChecksum && fi.Mode().IsRegular() {
		result, err = m.putFile(ctx, t, src, fi, dstURL)
	} else {
		result, err = m.putStream(ctx, t, in, fi, dstURL)
	}
	if err == nil {
		err = movers.Verify(op, remote, t, result)
	}
	if err != nil {
		m.cleanup(ctx, remote, t.Env)
		return movers.Result{}, err
	}
	result.Duration, result.Mover, result.URL = time.Since(start), m.Name(), remote
	return result, nil
}

// cksumArgs returns xrdcp's checksum options for an upload: verification against an
// expected adler32 (the stored file is removed on a mismatch), else printing the server's.
func cksumArgs(t movers.Transfer) ([]string, string, bool) {
	if want, ok := expectedAdler(t); ok {
		return []string{"--rm-bad-cksum", "--cksum", "adler32:" + want}, want, true
	}
	return []string{"--cksum", "adler32:print"}, "", false
}

// putStream copies in into a pipe that is xrdcp's standard input, computing the checksum
// on the way, and compares it with the server's adler32 of the stored file.
func (m *Xrdcp) putStream(ctx context.Context, t movers.Transfer, in *os.File, fi fs.FileInfo, dstURL string) (movers.Result, error) {
	op, remote := movers.OpPut, t.Destination
	typ := t.ChecksumType()
	pr, pw, err := os.Pipe()
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, pipeSize)
	type copied struct {
		n   int64
		sum jobdef.Checksum
		err error
	}
	done := make(chan copied, 1)
	go func() {
		// A pipe or FIFO source blocks in Read; a deadline unblocks it when ctx ends.
		stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Now()) })
		n, sum, err := movers.CopyChecksum(ctx, pw, in, typ)
		stop()
		pw.Close() // end of the data for xrdcp
		done <- copied{n, sum, err}
	}()
	ck, want, hasWant := cksumArgs(t)
	args := append(append([]string{m.xrdcp, "-np", "-f", "--posc"}, ck...), "-", dstURL)
	res, runErr := m.tools.Run(ctx, timedcmd.Spec{Args: args, Stdin: pr}, t.Env)
	pr.Close() // a copy still writing (xrdcp failed) gets EPIPE and ends
	c := <-done
	if err := m.tools.Failure(ctx, op, remote, "xrdcp", res, runErr); err != nil {
		if c.err != nil && !errors.Is(c.err, syscall.EPIPE) && ctx.Err() == nil {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
				Err: fmt.Errorf("reading %s: %w", t.Source, c.err)}
		}
		return movers.Result{}, err
	}
	if c.err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("reading %s: %w", t.Source, c.err)}
	}
	if fi.Mode().IsRegular() && c.n != fi.Size() {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("sent %d bytes of %d (the file changed?)", c.n, fi.Size())}
	}
	out := toolrun.Output(res)
	p, printed := ParsePrinted(out)
	switch {
	case printed && p.Size != c.n:
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("xrdcp stored %d bytes, %d were sent", p.Size, c.n)}
	case printed && typ == jobdef.Adler32 && p.Checksum.Type == jobdef.Adler32:
		if eq, _ := movers.SameChecksum(p.Checksum, c.sum); !eq {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.MismatchCode(op, typ), Retryable: true,
				Err: fmt.Errorf("%w: the server's adler32 of the stored file is %s, %s was sent", movers.ErrChecksumMismatch, p.Checksum.Value, c.sum.Value)}
		}
	case !printed && hasWant && typ == jobdef.Adler32:
		// xrdcp verified the stored file against want (it fails otherwise)
		if eq, _ := movers.SameChecksum(jobdef.Checksum{Type: jobdef.Adler32, Value: want}, c.sum); !eq {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.MismatchCode(op, typ), Retryable: true,
				Err: fmt.Errorf("%w: expected %s, %s was sent", movers.ErrChecksumMismatch, want, c.sum.Value)}
		}
	}
	return movers.Result{Bytes: c.n, Checksum: c.sum}, nil
}

// putFile lets xrdcp read the regular file src itself (Options.ToolChecksum); a checksum
// other than adler32 is computed by reading the file first (a mismatch with the
// expectation fails before anything is sent).
func (m *Xrdcp) putFile(ctx context.Context, t movers.Transfer, src string, fi fs.FileInfo, dstURL string) (movers.Result, error) {
	op, remote := movers.OpPut, t.Destination
	typ := t.ChecksumType()
	var local jobdef.Checksum
	if typ != jobdef.Adler32 {
		var err error
		if local, err = movers.ChecksumOf(ctx, src, typ); err != nil {
			if e := movers.ContextError(ctx, op, remote); e != nil {
				return movers.Result{}, e
			}
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.ChecksumCalcFailure, Err: err}
		}
		if err := movers.Verify(op, remote, t, movers.Result{Checksum: local}); err != nil {
			return movers.Result{}, err
		}
	}
	ck, want, hasWant := cksumArgs(t)
	args := append(append([]string{m.xrdcp, "-np", "-f", "--posc"}, ck...), src, dstURL)
	res, runErr := m.tools.Run(ctx, timedcmd.Spec{Args: args}, t.Env)
	if err := m.tools.Failure(ctx, op, remote, "xrdcp", res, runErr); err != nil {
		return movers.Result{}, err
	}
	result := movers.Result{Bytes: fi.Size()}
	if p, ok := ParsePrinted(toolrun.Output(res)); ok {
		result = movers.Result{Bytes: p.Size, Checksum: p.Checksum}
	} else if hasWant {
		result.Checksum = jobdef.Checksum{Type: jobdef.Adler32, Value: want}
	}
	if !local.IsZero() {
		result.Checksum = local
	}
	if result.Bytes != fi.Size() {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("xrdcp stored %d bytes of %d", result.Bytes, fi.Size())}
	}
	return result, nil
}

// cleanup removes a remote file after a failed upload (best effort, own deadline).
func (m *Xrdcp) cleanup(ctx context.Context, remote string, extra []string) {
	m.tools.Cleanup(ctx, cleanupTimeout, remote, func(ctx context.Context) error { return m.remove(ctx, remote, extra) })
}

// Remove deletes the remote file url with "xrdfs <host> rm <path>". A file that does not
// exist is not an error.
func (m *Xrdcp) Remove(ctx context.Context, url string) error { return m.remove(ctx, url, nil) }

func (m *Xrdcp) remove(ctx context.Context, rawURL string, extra []string) error {
	host, path, err := splitURL(rawURL)
	if err != nil {
		return err
	}
	res, err := m.tools.Run(ctx, timedcmd.Spec{Args: []string{m.xrdfs, host, "rm", path}}, extra)
	if err != nil {
		return err
	}
	if res.Success() {
		return nil
	}
	out := toolrun.Output(res)
	if strings.Contains(strings.ToLower(out), "no such file or directory") {
		return nil
	}
	if res.Cause != nil {
		return fmt.Errorf("xrdfs rm %s: %w", toolrun.Redact(rawURL), res.Cause)
	}
	return fmt.Errorf("xrdfs rm %s: exit %d: %s", toolrun.Redact(rawURL), res.ExitCode, toolrun.Clip(out, 300))
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
	res, err := m.tools.Run(ctx, timedcmd.Spec{Args: []string{m.xrdfs, host, "query", "checksum", path}}, nil)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	out := toolrun.Output(res)
	if !res.Success() {
		code, _ := Classify(movers.OpGet, out)
		if res.Cause != nil {
			return jobdef.Checksum{}, jobdef.NewError(code, fmt.Sprintf("xrdfs query checksum %s: %v", url, res.Cause), res.Cause)
		}
		return jobdef.Checksum{}, jobdef.NewError(code, fmt.Sprintf("xrdfs query checksum %s: %s", url, toolrun.Clip(out, 300)), nil)
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

// ToolURL checks a root, xroot or roots URL and returns the form given to xrdcp, with the
// path made absolute (see toolrun.AbsRootURL).
func ToolURL(raw string) (string, error) {
	if _, _, err := splitURL(raw); err != nil {
		return "", err
	}
	return toolrun.AbsRootURL(raw), nil
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
