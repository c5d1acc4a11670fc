package davs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/neterr"
)

// Defaults of Options.
const (
	DefaultRetries               = 2
	DefaultRetryWaitMin          = 250 * time.Millisecond
	DefaultRetryWaitMax          = 2 * time.Second
	DefaultDialTimeout           = 30 * time.Second
	DefaultResponseHeaderTimeout = 5 * time.Minute
	// cleanupTimeout bounds the deletion of a failed upload.
	cleanupTimeout = 30 * time.Second
	// maxErrorBody is how much of an error answer's body goes into the message.
	maxErrorBody = 512
)

// Options configures a Mover. The zero value is usable (https with the system's CAs, no
// client credentials).
type Options struct {
	// TLSConfig is used for https: the client certificate (X.509 proxy) and the trusted CAs.
	// nil means Go's defaults. It is cloned.
	TLSConfig *tls.Config
	// Header is added to every request, e.g. "Authorization: Bearer <token>". Its values are
	// never logged. It is cloned.
	Header http.Header
	// PlainHTTP maps davs:// URLs to http:// instead of https:// (storage without TLS).
	PlainHTTP bool
	// NoWantDigest stops the mover from asking for the server's checksum (Want-Digest) on
	// GET and after a PUT; sizes are still checked.
	NoWantDigest bool
	// Retries is the number of extra attempts for a request without body after a
	// connection error or a 5xx answer; 0 means DefaultRetries, negative means none.
	Retries int
	// RetryWaitMin and RetryWaitMax bound the back-off between them (defaults above).
	RetryWaitMin, RetryWaitMax time.Duration
	// DialTimeout bounds connection set-up; ResponseHeaderTimeout the wait for an answer
	// (a server computing a checksum before it answers takes a while). Zero means the
	// defaults above.
	DialTimeout, ResponseHeaderTimeout time.Duration
	// Sync makes Get fsync the file before renaming it into place.
	Sync bool
	// Log receives a debug entry per request and warnings; nil discards.
	Log logrus.FieldLogger
}

// Mover is the "davs" mover. It is safe for concurrent use.
type Mover struct {
	plain, noDigest, sync bool
	header                http.Header
	client                *retryablehttp.Client // requests without body
	hc                    *http.Client          // uploads (no retries)
	log                   logrus.FieldLogger
}

// New returns a Mover configured by opts.
func New(opts Options) *Mover {
	m := &Mover{plain: opts.PlainHTTP, noDigest: opts.NoWantDigest, sync: opts.Sync, header: opts.Header.Clone(), log: opts.Log}
	if m.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		m.log = l
	}
	dial := opts.DialTimeout
	if dial <= 0 {
		dial = DefaultDialTimeout
	}
	rht := opts.ResponseHeaderTimeout
	if rht <= 0 {
		rht = DefaultResponseHeaderTimeout
	}
	var tlsConf *tls.Config
	if opts.TLSConfig != nil {
		tlsConf = opts.TLSConfig.Clone()
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: rht,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // the bytes of the file, never a re-encoding
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
	m.hc = &http.Client{Transport: tr, CheckRedirect: m.redirect}
	retries := opts.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	wmin, wmax := opts.RetryWaitMin, opts.RetryWaitMax
	if wmin <= 0 {
		wmin = DefaultRetryWaitMin
	}
	if wmax < wmin {
		wmax = max(DefaultRetryWaitMax, wmin)
	}
	m.client = &retryablehttp.Client{
		HTTPClient:   m.hc,
		RetryWaitMin: wmin,
		RetryWaitMax: wmax,
		RetryMax:     retries,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return m
}

// redirect follows up to 10 redirects and sends the configured headers again (Go drops
// Authorization on a redirect to another host; storage doors redirect to data servers).
// A redirect from https to plain http is refused.
func (m *Mover) redirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect from https to %s", req.URL.Redacted())
	}
	for k, vs := range m.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	return nil
}

// CloseIdleConnections closes the idle connections kept for reuse.
func (m *Mover) CloseIdleConnections() { m.hc.CloseIdleConnections() }

// Name returns "davs".
func (m *Mover) Name() string { return "davs" }

// Schemes returns davs, dav, https and http.
func (m *Mover) Schemes() []string { return []string{"davs", "dav", "https", "http"} }

// HTTPURL returns the http(s) URL a mover URL is fetched from: davs:// becomes https://
// (http:// with PlainHTTP), dav:// becomes http://, https:// and http:// stay.
func (m *Mover) HTTPURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "davs":
		u.Scheme = "https"
		if m.plain {
			u.Scheme = "http"
		}
	case "dav", "http":
		u.Scheme = "http"
	case "https":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%q is not a davs, dav, https or http URL", raw)
	}
	if u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("URL %q has no host", raw)
	}
	if u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return "", fmt.Errorf("URL %q names no file", raw)
	}
	return u.String(), nil
}

// request sends a request without body through the retrying client.
func (m *Mover) request(ctx context.Context, method, u string, hdr http.Header) (*http.Response, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	m.setHeaders(req.Header, hdr)
	start := time.Now()
	resp, err := m.client.Do(req)
	l := m.log.WithFields(logrus.Fields{"method": method, "url": redact(u), "seconds": time.Since(start).Seconds()})
	if err != nil {
		l.WithError(err).Debug("http request failed")
	} else {
		l.WithField("status", resp.StatusCode).Debug("http request")
	}
	return resp, err
}

func (m *Mover) setHeaders(dst, extra http.Header) {
	for k, vs := range m.header {
		dst[k] = append([]string(nil), vs...)
	}
	for k, vs := range extra {
		dst[k] = append([]string(nil), vs...)
	}
	if dst.Get("User-Agent") == "" {
		dst.Set("User-Agent", "gopilot-davs")
	}
}

func (m *Mover) wantDigest(t jobdef.ChecksumType) http.Header {
	if m.noDigest {
		return nil
	}
	return http.Header{"Want-Digest": {string(t)}}
}

// Get downloads t.Source to the local path t.Destination (see the package documentation).
// A missing source (404, 410) is 1331, refused credentials (401, 403, a rejected client
// certificate) 1338, a checksum mismatch with the expectation or with the server's Digest
// 1171/1145, a timeout 1151.
func (m *Mover) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpGet, t.Source
	dst, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	u, err := m.HTTPURL(remote)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	tmp, err := createTemp(dst)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	server, err := m.head(ctx, op, remote, u, typ)
	if err != nil {
		return movers.Result{}, err
	}
	if t.Size > 0 && server.size >= 0 && server.size != t.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, the server has %d", t.Size, server.size)}
	}
	resp, err := m.request(ctx, http.MethodGet, u, nil)
	if err != nil {
		return movers.Result{}, requestError(ctx, op, remote, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return movers.Result{}, statusError(op, remote, resp)
	}
	if t.Size > 0 && resp.ContentLength >= 0 && resp.ContentLength != t.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, the server has %d", t.Size, resp.ContentLength)}
	}
	n, sum, err := movers.CopyChecksum(ctx, tmp, resp.Body, typ)
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		code := movers.GenericCode(op)
		if errors.Is(err, syscall.ENOSPC) {
			code = jobdef.NoLocalSpace
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: code, Retryable: code != jobdef.NoLocalSpace,
			Err: fmt.Errorf("download interrupted: %w", err)}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("download truncated: %d of %d bytes", n, resp.ContentLength)}
	}
	res := movers.Result{Bytes: n, Checksum: sum}
	if t.Size > 0 && n != t.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, transferred %d", t.Size, n)}
	}
	digest := server.digest
	if d, found := ParseDigest(resp.Header.Values("Digest"), typ); found {
		digest = d
	}
	if !digest.IsZero() {
		if eq, _ := movers.SameChecksum(digest, sum); !eq {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.MismatchCode(op, typ), Retryable: true,
				Err: fmt.Errorf("%w: the server's digest is %s, the data received has %s", movers.ErrChecksumMismatch, digest, sum)}
		}
	}
	if err := movers.Verify(op, remote, t, res); err != nil {
		return movers.Result{}, err
	}
	if err := m.finish(ctx, op, remote, tmp, dst); err != nil {
		return movers.Result{}, err
	}
	ok = true
	res.Duration, res.Mover, res.URL = time.Since(start), m.Name(), remote
	return res, nil
}

// remoteInfo is what a HEAD told about a remote file.
type remoteInfo struct {
	size   int64 // -1: unknown
	digest jobdef.Checksum
}

// head asks for the size and digest of u before a download (HEAD with Want-Digest; asking
// on the GET itself makes some servers fail a missing file with 500 instead of 404). A
// missing file or refused credentials end the transfer; a server that does not answer
// HEAD usefully is then simply read with GET.
func (m *Mover) head(ctx context.Context, op, remote, u string, typ jobdef.ChecksumType) (remoteInfo, error) {
	info := remoteInfo{size: -1}
	if m.noDigest {
		return info, nil
	}
	resp, err := m.request(ctx, http.MethodHead, u, m.wantDigest(typ))
	if err != nil {
		return info, requestError(ctx, op, remote, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		info.size = resp.ContentLength
		info.digest, _ = ParseDigest(resp.Header.Values("Digest"), typ)
	case http.StatusNotFound, http.StatusGone, http.StatusUnauthorized, http.StatusForbidden:
		return info, statusError(op, remote, resp)
	}
	return info, nil
}

// finish syncs (optionally), closes and renames tmp to dst, unless ctx ended.
func (m *Mover) finish(ctx context.Context, op, remote string, tmp *os.File, dst string) error {
	fail := func(err error) error {
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if m.sync {
		if err := tmp.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fail(err)
	}
	return nil
}

// Put uploads the local file t.Source to t.Destination (see the package documentation).
// A missing source is 1165, refused credentials 1383, a full storage (413, 507) 1333, a
// checksum mismatch with the expectation or with the server's digest of the stored file
// 1172/1141, a timeout 1152. A source that is not a regular file (a pipe) is first copied
// to a temporary file next to it (some servers mishandle chunked uploads), so that the
// upload has a known length.
func (m *Mover) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpPut, t.Destination
	src, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	u, err := m.HTTPURL(remote)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	regular := fi.Mode().IsRegular()
	if !regular {
		spooled, err := spool(ctx, op, remote, in, src, typ)
		in.Close()
		if err != nil {
			return movers.Result{}, err
		}
		defer os.Remove(spooled)
		if in, err = os.Open(spooled); err != nil {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
		}
		if fi, err = in.Stat(); err != nil {
			in.Close()
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
		}
		src, regular = spooled, true
	}
	res, err := m.upload(ctx, u, src, in, fi, typ)
	if err != nil {
		m.cleanup(ctx, u)
		return movers.Result{}, withURL(err, op, remote)
	}
	if regular && res.Bytes != fi.Size() {
		m.cleanup(ctx, u)
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("sent %d bytes of %d (the file changed?)", res.Bytes, fi.Size())}
	}
	if err := movers.Verify(op, remote, t, res); err != nil {
		m.cleanup(ctx, u)
		return movers.Result{}, err
	}
	if err := m.checkStored(ctx, op, remote, u, res); err != nil {
		m.cleanup(ctx, u)
		return movers.Result{}, err
	}
	res.Duration, res.Mover, res.URL = time.Since(start), m.Name(), remote
	return res, nil
}

// upload sends the PUT (in is consumed and closed). When the server answers as if the
// parent collection were missing (409 Conflict as RFC 4918 says; 404 or 500 from some
// servers), the missing parents are created with MKCOL and, if any was, the file is sent
// once more.
func (m *Mover) upload(ctx context.Context, u, src string, in *os.File, fi fs.FileInfo, typ jobdef.ChecksumType) (movers.Result, error) {
	op := movers.OpPut
	res, status, err := m.put(ctx, u, src, in, fi, typ)
	if err == nil && (status == http.StatusConflict || status == http.StatusNotFound || status == http.StatusInternalServerError) {
		created, err := m.mkcolParents(ctx, u)
		if err != nil {
			return movers.Result{}, err
		}
		if created {
			f, err := os.Open(src)
			if err != nil {
				return movers.Result{}, &movers.Error{Op: op, Code: movers.MissingCode(op), Err: err}
			}
			if res, status, err = m.put(ctx, u, src, f, fi, typ); err != nil {
				return movers.Result{}, err
			}
		}
	}
	if err != nil {
		return movers.Result{}, err
	}
	if status != 0 {
		return movers.Result{}, &movers.Error{Op: op, Code: statusCode(op, status), Retryable: retryableStatus(status),
			Err: fmt.Errorf("PUT answered %d %s", status, http.StatusText(status))}
	}
	return res, nil
}

// spool copies a source that is not a regular file to a temporary file next to it and
// returns its path; the copy stops when ctx ends (a pipe's read is interrupted).
func spool(ctx context.Context, op, remote string, in *os.File, src string, typ jobdef.ChecksumType) (string, error) {
	dir, base := filepath.Split(src)
	if len(base) > 200 {
		base = base[:200]
	}
	tmp, err := os.CreateTemp(dir, "."+base+".spool-*")
	if err != nil {
		return "", &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Now()) })
	_, _, err = movers.CopyChecksum(ctx, tmp, in, typ)
	stop()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return "", e
		}
		return "", &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: fmt.Errorf("reading %s: %w", src, err)}
	}
	return tmp.Name(), nil
}

// bodyRun is one pass of the local file into a request body: the file read through a
// movers.ChecksumReader (checksum computed while the transport pulls the bytes).
type bodyRun struct {
	f  *os.File
	cr *movers.ChecksumReader
}

func newBodyRun(f *os.File, typ jobdef.ChecksumType) (*bodyRun, error) {
	cr, err := movers.NewChecksumReader(f, typ)
	if err != nil {
		return nil, err
	}
	return &bodyRun{f: f, cr: cr}, nil
}

// Read, and a Close that leaves the end of the pass to put: the transport may close the
// body before or after Do returns.
func (b *bodyRun) Read(p []byte) (int, error) { return b.cr.Read(p) }
func (b *bodyRun) Close() error               { return nil }

// finish ends the pass (a transport still writing gets an error) and returns the number of
// bytes handed out and their checksum.
func (b *bodyRun) finish() (movers.Result, bool) {
	sum, n, ok := b.cr.Sum()
	b.cr.Close()
	b.f.Close()
	return movers.Result{Bytes: n, Checksum: sum}, ok
}

// put sends one PUT of the regular file in (consumed and closed). It returns status 0 on
// success (200, 201, 204), the status of any other answer, or an error when no answer came.
// The body is read by the transport in its own pace; the checksum is computed on the way.
func (m *Mover) put(ctx context.Context, u, src string, in *os.File, fi fs.FileInfo, typ jobdef.ChecksumType) (movers.Result, int, error) {
	op := movers.OpPut
	first, err := newBodyRun(in, typ)
	if err != nil {
		in.Close()
		return movers.Result{}, 0, &movers.Error{Op: op, Code: jobdef.UnknownChecksumType, Err: err}
	}
	var mu sync.Mutex
	runs := []*bodyRun{first}
	finishAll := func() (last movers.Result, complete bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range runs {
			last, complete = b.finish()
		}
		return last, complete
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, first)
	if err != nil {
		finishAll()
		return movers.Result{}, 0, &movers.Error{Op: op, Code: movers.GenericCode(op), Err: err}
	}
	req.ContentLength = fi.Size()
	if fi.Size() == 0 {
		req.Body = http.NoBody
	}
	req.GetBody = func() (io.ReadCloser, error) { // a redirect, or a retry on a fresh connection
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		b, err := newBodyRun(f, typ)
		if err != nil {
			f.Close()
			return nil, err
		}
		mu.Lock()
		runs = append(runs, b)
		mu.Unlock()
		return b, nil
	}
	m.setHeaders(req.Header, nil)
	begin := time.Now()
	resp, err := m.hc.Do(req)
	last, complete := finishAll()
	l := m.log.WithFields(logrus.Fields{"method": "PUT", "url": redact(u), "seconds": time.Since(begin).Seconds()})
	if err != nil {
		l.WithError(err).Debug("http request failed")
		return movers.Result{}, 0, requestError(ctx, op, "", err)
	}
	defer resp.Body.Close()
	l.WithField("status", resp.StatusCode).Debug("http request")
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent:
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return movers.Result{}, resp.StatusCode, nil
	}
	if fi.Size() == 0 {
		return movers.Result{Checksum: movers.SumOf(typ, movers.NewHasher(typ))}, 0, nil
	}
	if !complete || last.Bytes != fi.Size() {
		return movers.Result{}, 0, &movers.Error{Op: op, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("the server accepted the upload after %d of the %d bytes of %s were sent", last.Bytes, fi.Size(), src)}
	}
	return last, 0, nil
}

// checkStored compares the size and, where the server computes one, the checksum of the
// stored file with what was sent. A server that cannot answer HEAD is logged, not failed.
func (m *Mover) checkStored(ctx context.Context, op, remote, u string, res movers.Result) error {
	resp, err := m.request(ctx, http.MethodHead, u, m.wantDigest(res.Checksum.Type))
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return e
		}
		m.log.WithError(err).WithField("url", redact(u)).Warn("cannot check the uploaded file")
		return nil
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: errors.New("the uploaded file is not found on the server")}
	case resp.StatusCode != http.StatusOK:
		m.log.WithField("status", resp.StatusCode).WithField("url", redact(u)).Warn("cannot check the uploaded file")
		return nil
	}
	if resp.ContentLength >= 0 && resp.ContentLength != res.Bytes {
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("the server stored %d bytes, %d were sent", resp.ContentLength, res.Bytes)}
	}
	if server, found := ParseDigest(resp.Header.Values("Digest"), res.Checksum.Type); found {
		if eq, _ := movers.SameChecksum(server, res.Checksum); !eq {
			return &movers.Error{Op: op, URL: remote, Code: movers.MismatchCode(op, res.Checksum.Type), Retryable: true,
				Err: fmt.Errorf("%w: the server's digest of the stored file is %s, %s was sent", movers.ErrChecksumMismatch, server, res.Checksum)}
		}
	}
	return nil
}

// mkcolParents creates the missing parent collections of the file URL u, deepest first:
// a MKCOL that answers 409 Conflict has a missing parent itself. created reports whether a
// collection was made (201); an existing one answers 405.
func (m *Mover) mkcolParents(ctx context.Context, u string) (created bool, err error) {
	pu, err := url.Parse(u)
	if err != nil {
		return false, err
	}
	return m.mkcol(ctx, pu, path.Dir(pu.Path), 0)
}

func (m *Mover) mkcol(ctx context.Context, base *url.URL, dir string, depth int) (bool, error) {
	op := movers.OpPut
	if dir == "/" || dir == "." || dir == "" {
		return false, nil
	}
	if depth > 64 {
		return false, &movers.Error{Op: op, Code: jobdef.MkdirFailed, Err: fmt.Errorf("too many missing collections above %s", dir)}
	}
	c := *base
	c.Path, c.RawPath, c.RawQuery = dir+"/", "", ""
	for attempt := 0; ; attempt++ {
		resp, err := m.request(ctx, "MKCOL", c.String(), nil)
		if err != nil {
			return false, requestError(ctx, op, "", err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated:
			return true, nil
		case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusMethodNotAllowed: // exists
			return attempt > 0, nil
		case resp.StatusCode == http.StatusConflict && attempt == 0:
			if _, err := m.mkcol(ctx, base, path.Dir(dir), depth+1); err != nil {
				return false, err
			}
		default:
			code := statusCode(op, resp.StatusCode)
			if code == movers.GenericCode(op) {
				code = jobdef.MkdirFailed
			}
			return false, &movers.Error{Op: op, Code: code, Retryable: retryableStatus(resp.StatusCode),
				Err: fmt.Errorf("MKCOL %s answered %s", redact(c.String()), resp.Status)}
		}
	}
}

// cleanup deletes a failed upload (best effort, own deadline).
func (m *Mover) cleanup(ctx context.Context, u string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := m.delete(cctx, u); err != nil {
		m.log.WithError(err).WithField("url", redact(u)).Warn("could not delete a failed upload")
	}
}

// Remove deletes the remote file url. A file that does not exist is not an error.
func (m *Mover) Remove(ctx context.Context, rawURL string) error {
	u, err := m.HTTPURL(rawURL)
	if err != nil {
		return err
	}
	return m.delete(ctx, u)
}

func (m *Mover) delete(ctx context.Context, u string) error {
	resp, err := m.request(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusNoContent, http.StatusNotFound, http.StatusGone:
		return nil
	}
	return fmt.Errorf("DELETE %s answered %s", redact(u), resp.Status)
}

// RemoteChecksum asks the server for the checksum of url with HEAD and Want-Digest. A
// server that sends no Digest of type t gives a *jobdef.PilotError with code 1242.
func (m *Mover) RemoteChecksum(ctx context.Context, rawURL string, t jobdef.ChecksumType) (jobdef.Checksum, error) {
	if t == "" {
		t = jobdef.Adler32
	}
	u, err := m.HTTPURL(rawURL)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	resp, err := m.request(ctx, http.MethodHead, u, http.Header{"Want-Digest": {string(t)}})
	if err != nil {
		return jobdef.Checksum{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jobdef.Checksum{}, jobdef.NewError(statusCode(movers.OpGet, resp.StatusCode),
			fmt.Sprintf("HEAD %s answered %s", redact(u), resp.Status), nil)
	}
	sum, found := ParseDigest(resp.Header.Values("Digest"), t)
	if !found {
		return jobdef.Checksum{}, jobdef.NewError(jobdef.ChksumNotSup, fmt.Sprintf("%s sends no %s digest", redact(u), t), nil)
	}
	return sum, nil
}

// statusCode maps an HTTP status of a failed request to a PanDA code.
func statusCode(op string, status int) jobdef.ErrorCode {
	switch status {
	case http.StatusNotFound, http.StatusGone:
		if op == movers.OpGet {
			return jobdef.MissingInputFile
		}
		return jobdef.NoSuchFile
	case http.StatusUnauthorized, http.StatusForbidden:
		if op == movers.OpGet {
			return jobdef.StageInAuthenticationFailure
		}
		return jobdef.StageOutAuthenticationFailure
	case http.StatusRequestEntityTooLarge, http.StatusInsufficientStorage:
		if op == movers.OpGet {
			return jobdef.NoLocalSpace
		}
		return jobdef.NoRemoteSpace
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return movers.TimeoutCode(op)
	case http.StatusServiceUnavailable:
		return jobdef.ServiceNotAvailable
	}
	return movers.GenericCode(op)
}

// retryableStatus reports whether a new attempt may get another answer.
func retryableStatus(status int) bool {
	return status >= 500 && status != http.StatusNotImplemented && status != http.StatusInsufficientStorage ||
		status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// statusError is the error for an unexpected answer to a request.
func statusError(op, remote string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := fmt.Sprintf("%s answered %s", resp.Request.Method, resp.Status)
	if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		msg += ": " + s
	}
	return &movers.Error{Op: op, URL: remote, Code: statusCode(op, resp.StatusCode), Retryable: retryableStatus(resp.StatusCode),
		Err: errors.New(msg)}
}

// requestError maps a request that got no answer to a *movers.Error.
func requestError(ctx context.Context, op, remote string, err error) error {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	code, retry := NetErrorCode(op, err)
	return &movers.Error{Op: op, URL: remote, Code: code, Retryable: retry, Err: err}
}

// NetErrorCode maps a failed HTTP request (no answer) to a PanDA code and whether another
// attempt may succeed: a server certificate that does not verify is 1099/1137 (not
// retryable), a client certificate refused in the TLS handshake 1338/1383, an unreachable
// network 1327, a network timeout 1151/1152, anything else 1099/1137 (retryable).
func NetErrorCode(op string, err error) (jobdef.ErrorCode, bool) { return neterr.Code(op, err) }

// withURL sets the URL of a *movers.Error made without one.
func withURL(err error, op, remote string) error {
	var me *movers.Error
	if errors.As(err, &me) && me.URL == "" {
		me.URL = remote
		me.Op = op
	}
	return err
}

// redact drops the query (it may carry tokens) and user information from a URL for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
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
	return os.CreateTemp(dir, "."+base+".davs-*")
}
