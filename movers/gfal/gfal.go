package gfal

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/toolrun"
	"github.com/gopilot/gopilot/timedcmd"
)

// Defaults of Options.
const (
	DefaultPythonBin        = "/usr/bin/python3"
	DefaultConnectionWindow = toolrun.DefaultConnectionWindow
	DefaultConnectionRetry  = toolrun.DefaultConnectionRetry
	DefaultGrace            = toolrun.DefaultGrace
	// toolMargin is added to the -t timeout given to gfal-copy so that the mover's own
	// deadline (and its cause) ends the transfer first.
	toolMargin     = 5 * time.Second
	cleanupTimeout = 60 * time.Second
)

// Options configures a Gfal mover. The zero value is usable.
type Options struct {
	// Copy, Sum and Rm are the tools; empty means "gfal-copy", "gfal-sum" and "gfal-rm",
	// looked up in the PATH of the tools' environment.
	Copy, Sum, Rm string
	// Env is the tools' base environment; nil means this process's environment as it is
	// when New is called. Transfer.Env is added for each transfer (it wins).
	Env []string
	// PythonBin becomes GFAL_PYTHONBIN unless the environment sets it; empty means
	// DefaultPythonBin when that file exists.
	PythonBin string
	// ConnectionWindow and ConnectionRetry become XRD_CONNECTIONWINDOW and
	// XRD_CONNECTIONRETRY (for the xrootd plugin) unless the environment sets them; zero
	// means the defaults above.
	ConnectionWindow time.Duration
	ConnectionRetry  int
	// ExtraArgs are added to every gfal-copy command line before the URLs (e.g. "-D",
	// "S3:ALTERNATE=true").
	ExtraArgs []string
	// Grace is the time a tool gets between SIGTERM and SIGKILL when stopped; zero means
	// DefaultGrace.
	Grace time.Duration
	// Runner starts the tools; nil uses timedcmd's package-level functions.
	Runner *timedcmd.Runner
	// Log receives a debug entry per tool run and warnings; nil discards.
	Log logrus.FieldLogger
}

// Gfal is the "gfal" mover. It is safe for concurrent use.
type Gfal struct {
	cp, sum, rm string
	extra       []string
	tools       *toolrun.Tools

	mu         sync.Mutex
	noChecksum map[string]bool // scheme://host:port that cannot compute checksums
}

// New returns a Gfal mover configured by opts.
func New(opts Options) *Gfal {
	g := &Gfal{cp: opts.Copy, sum: opts.Sum, rm: opts.Rm, extra: append([]string(nil), opts.ExtraArgs...),
		noChecksum: map[string]bool{}}
	if g.cp == "" {
		g.cp = "gfal-copy"
	}
	if g.sum == "" {
		g.sum = "gfal-sum"
	}
	if g.rm == "" {
		g.rm = "gfal-rm"
	}
	defaults := toolrun.XrdDefaults(opts.ConnectionWindow, opts.ConnectionRetry)
	py := opts.PythonBin
	if py == "" {
		if fi, err := os.Stat(DefaultPythonBin); err == nil && !fi.IsDir() {
			py = DefaultPythonBin
		}
	}
	if py != "" {
		defaults = append(defaults, "GFAL_PYTHONBIN="+py)
	}
	g.tools = toolrun.New(toolrun.Options{Name: "gfal", Env: opts.Env, Defaults: defaults, Grace: opts.Grace,
		Runner: opts.Runner, Log: opts.Log, Rules: rules(),
		Summary: func(out string) string { return toolrun.Clip(toolrun.LastLines(out, 3), 400) }})
	return g
}

// Name returns "gfal".
func (g *Gfal) Name() string { return "gfal" }

// Schemes returns the URL schemes gfal2 plugins commonly handle.
func (g *Gfal) Schemes() []string {
	return []string{"root", "xroot", "roots", "davs", "dav", "https", "http", "srm", "gsiftp", "s3", "s3s"}
}

// Check runs "gfal-copy --version": it fails when the tool is missing or its Python cannot
// import the gfal2 bindings.
func (g *Gfal) Check(ctx context.Context) error { return g.tools.Check(ctx, g.cp) }

// Get downloads t.Source to the local path t.Destination with gfal-copy into a temporary
// file next to it, computes the checksum of the result and renames it into place after the
// size and the expected checksum are verified (mismatch 1171/1145). A missing source is
// 1331, a timeout 1151; see Classify.
func (g *Gfal) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpGet, t.Source
	dst, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	if err := g.checkURL(remote); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	tmp, err := toolrun.CreateTemp(dst, "gfal")
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	tmpName := tmp.Name()
	tmp.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmpName)
		}
	}()
	args := g.copyArgs(ctx, "", toolrun.AbsRootURL(remote), movers.FileURL(tmpName))
	res, err := g.tools.Run(ctx, timedcmd.Spec{Args: args}, t.Env)
	if err := g.tools.Failure(ctx, op, remote, "gfal-copy", res, err); err != nil {
		return movers.Result{}, err
	}
	sum, err := movers.ChecksumOf(ctx, tmpName, typ)
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.ChecksumCalcFailure, Retryable: true, Err: err}
	}
	fi, err := os.Stat(tmpName)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	result := movers.Result{Bytes: fi.Size(), Checksum: sum}
	if t.Size > 0 && result.Bytes != t.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, transferred %d", t.Size, result.Bytes)}
	}
	if err := movers.Verify(op, remote, t, result); err != nil {
		return movers.Result{}, err
	}
	if err := toolrun.Finish(ctx, op, remote, tmpName, dst); err != nil {
		return movers.Result{}, err
	}
	ok = true
	result.Duration, result.Mover, result.URL = time.Since(start), g.Name(), remote
	return result, nil
}

// Put uploads the local file t.Source to t.Destination with gfal-copy (see the package
// documentation). A missing source is 1165, a checksum mismatch 1172/1141, a timeout 1152.
// A source that is not a regular file (a pipe) is first copied to a temporary file next to
// it.
func (g *Gfal) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpPut, t.Destination
	src, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	if err := g.checkURL(remote); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	// The local checksum: of the file, or of a pipe while it is copied to a regular file.
	var local jobdef.Checksum
	if fi.Mode().IsRegular() {
		in.Close()
		local, err = movers.ChecksumOf(ctx, src, typ)
	} else {
		var spooled string
		spooled, local, err = spool(ctx, in, src, typ)
		in.Close()
		if err == nil {
			defer os.Remove(spooled)
			src = spooled
			fi, err = os.Stat(spooled)
		}
	}
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.ChecksumCalcFailure, Retryable: true, Err: err}
	}
	result := movers.Result{Bytes: fi.Size(), Checksum: local}
	if err := movers.Verify(op, remote, t, result); err != nil {
		return movers.Result{}, err // nothing was sent
	}
	verify := ""
	if typ == jobdef.Adler32 && !g.skipsChecksum(remote) {
		verify = "ADLER32:" + local.Value
	}
	res, err := g.tools.Run(ctx, timedcmd.Spec{Args: g.copyArgs(ctx, verify, movers.FileURL(src), toolrun.AbsRootURL(remote))}, t.Env)
	ferr := g.tools.Failure(ctx, op, remote, "gfal-copy", res, err)
	if ferr != nil && verify != "" && ctx.Err() == nil && res != nil && checksumUnsupported(toolrun.Output(res)) {
		g.tools.Log().WithField("endpoint", endpoint(remote)).Info("storage cannot compute checksums: uploading without gfal's checksum verification")
		g.markNoChecksum(remote)
		res, err = g.tools.Run(ctx, timedcmd.Spec{Args: g.copyArgs(ctx, "", movers.FileURL(src), toolrun.AbsRootURL(remote))}, t.Env)
		ferr = g.tools.Failure(ctx, op, remote, "gfal-copy", res, err)
	}
	if ferr != nil {
		g.cleanup(ctx, remote, t.Env)
		return movers.Result{}, ferr
	}
	result.Duration, result.Mover, result.URL = time.Since(start), g.Name(), remote
	return result, nil
}

// spool copies a pipe to a temporary file next to src and returns its path and checksum;
// the copy stops when ctx ends.
func spool(ctx context.Context, in *os.File, src string, typ jobdef.ChecksumType) (string, jobdef.Checksum, error) {
	tmp, err := toolrun.CreateTemp(src, "spool")
	if err != nil {
		return "", jobdef.Checksum{}, err
	}
	stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Now()) })
	_, sum, err := movers.CopyChecksum(ctx, tmp, in, typ)
	stop()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", jobdef.Checksum{}, err
	}
	return tmp.Name(), sum, nil
}

// copyArgs builds the gfal-copy command line; verify is "" or "ADLER32:<value>".
func (g *Gfal) copyArgs(ctx context.Context, verify, src, dst string) []string {
	args := []string{g.cp, "--verbose", "-f", "-p"}
	if dl, ok := ctx.Deadline(); ok {
		secs := int64(math.Ceil((time.Until(dl) + toolMargin).Seconds()))
		args = append(args, "-t", strconv.FormatInt(max(secs, 1), 10))
	}
	if verify != "" {
		args = append(args, "-K", verify)
	}
	args = append(args, g.extra...)
	return append(args, src, dst)
}

func (g *Gfal) skipsChecksum(raw string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.noChecksum[endpoint(raw)]
}

func (g *Gfal) markNoChecksum(raw string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.noChecksum[endpoint(raw)] = true
}

// endpoint returns "scheme://host" of a URL (the unit of checksum support).
func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// cleanup removes a failed upload (best effort, own deadline).
func (g *Gfal) cleanup(ctx context.Context, remote string, extra []string) {
	g.tools.Cleanup(ctx, cleanupTimeout, remote, func(ctx context.Context) error { return g.remove(ctx, remote, extra) })
}

// Remove deletes the remote file url with gfal-rm. A file that does not exist is not an
// error.
func (g *Gfal) Remove(ctx context.Context, rawURL string) error { return g.remove(ctx, rawURL, nil) }

func (g *Gfal) remove(ctx context.Context, rawURL string, extra []string) error {
	if err := g.checkURL(rawURL); err != nil {
		return err
	}
	res, err := g.tools.Run(ctx, timedcmd.Spec{Args: []string{g.rm, toolrun.AbsRootURL(rawURL)}}, extra)
	if err != nil {
		return err
	}
	if res.Success() {
		return nil
	}
	out := toolrun.Output(res)
	low := strings.ToLower(out)
	if strings.Contains(out, "MISSING") || strings.Contains(low, "no such file or directory") {
		return nil
	}
	if res.Cause != nil {
		return fmt.Errorf("gfal-rm %s: %w", toolrun.Redact(rawURL), res.Cause)
	}
	return fmt.Errorf("gfal-rm %s: exit %d: %s", toolrun.Redact(rawURL), res.ExitCode, toolrun.Clip(out, 300))
}

// RemoteChecksum asks the storage for the checksum of url with "gfal-sum URL TYPE". A
// storage that cannot compute it gives a *jobdef.PilotError with code 1242.
func (g *Gfal) RemoteChecksum(ctx context.Context, rawURL string, t jobdef.ChecksumType) (jobdef.Checksum, error) {
	if t == "" {
		t = jobdef.Adler32
	}
	if err := g.checkURL(rawURL); err != nil {
		return jobdef.Checksum{}, err
	}
	res, err := g.tools.Run(ctx, timedcmd.Spec{Args: []string{g.sum, toolrun.AbsRootURL(rawURL), strings.ToUpper(string(t))}}, nil)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	out := toolrun.Output(res)
	if !res.Success() {
		code, _ := Classify(movers.OpGet, out)
		if res.Cause != nil {
			return jobdef.Checksum{}, jobdef.NewError(code, fmt.Sprintf("gfal-sum %s: %v", toolrun.Redact(rawURL), res.Cause), res.Cause)
		}
		return jobdef.Checksum{}, jobdef.NewError(code, fmt.Sprintf("gfal-sum %s: %s", toolrun.Redact(rawURL), toolrun.Clip(out, 300)), nil)
	}
	sum, ok := ParseSum(string(res.StdoutTail), t)
	if !ok {
		return jobdef.Checksum{}, fmt.Errorf("no checksum in gfal-sum output %q", toolrun.Clip(out, 200))
	}
	return sum, nil
}

// checkURL accepts URLs of the schemes in Schemes with a host (file URLs are the local
// side only).
func (g *Gfal) checkURL(raw string) error {
	sch := movers.Scheme(raw)
	ok := false
	for _, s := range g.Schemes() {
		ok = ok || s == sch
	}
	if !ok {
		return fmt.Errorf("%q is not a URL the gfal mover handles", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", toolrun.Redact(raw), err)
	}
	if u.Host == "" || u.Opaque != "" || strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("URL %q has no host or file path", toolrun.Redact(raw))
	}
	return nil
}
