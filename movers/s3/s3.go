// Package s3 is the "s3" mover: object-store transfers with the minio-go S3 client (Pilot 3's
// s3 and objectstore copytools).
//
// URLs are s3://host:port/<bucket>/<key> (Pilot 3's SURLs have a double slash after the
// host, s3://host:port//bucket/key; repeated slashes are ignored), always addressed
// path-style. Transport security: s3s:// is https; for s3:// the endpoint's is_secure
// setting decides, else S3_IS_SECURE, else the port (443 https, 80 http), else plain http
// for a loopback host and https for any other.
//
// Keys, in order: the endpoint's keys from storage data (see EndpointsFromStorage),
// S3_ACCESS_KEY/S3_SECRET_KEY in Transfer.Env, Options.AccessKey/SecretKey, and
// S3_ACCESS_KEY/S3_SECRET_KEY (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) of the
// environment when New was called. A transfer without keys fails with 1364.
//
// Get streams the object into a temporary file next to the destination, computing the
// checksum on the way, checks size (against the expectation and the object's) and
// checksum (against the expectation and the object's "adler32" user metadata, when set),
// and renames it into place. Put streams the local file up (one PUT up to 5 GiB, else in
// parts of PartSize), hashing what it sends, stores an expected adler32 as the object's "adler32" user
// metadata, and checks the stored size with a HEAD; a failed upload is removed (with its
// incomplete multipart upload).
package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/neterr"
	"github.com/gopilot/gopilot/movers/internal/toolrun"
)

// Defaults of Options.
const (
	DefaultRegion   = "us-east-1"
	DefaultPartSize = 64 << 20
	// MaxSinglePut is the largest object S3 accepts in one PUT.
	MaxSinglePut = 5 << 30
	// MetaAdler32 is the user metadata key (x-amz-meta-adler32) holding an object's adler32.
	MetaAdler32    = "adler32"
	cleanupTimeout = 30 * time.Second
	maxRetries     = 2
)

// Endpoint holds the settings of one S3 endpoint (host:port).
type Endpoint struct {
	AccessKey, SecretKey string
	// Secure forces https (true) or http (false); nil decides by the rules of the package.
	Secure *bool
}

// Options configures a Mover. The zero value uses the environment's keys.
type Options struct {
	// AccessKey and SecretKey are the default keys; empty means the environment (see the
	// package documentation).
	AccessKey, SecretKey string
	// Endpoints holds per-endpoint settings keyed by "host:port"; they win over the defaults.
	Endpoints map[string]Endpoint
	// Region is the signing region; empty means DefaultRegion.
	Region string
	// TLSConfig holds the CAs for https endpoints; nil means the system's. It is cloned.
	TLSConfig *tls.Config
	// PartSize is the multipart part size (at least 5 MiB); 0 means DefaultPartSize.
	PartSize uint64
	// SinglePutLimit is the largest file streamed in one PUT, without buffering; larger
	// files, and sources of unknown size, go up in parts, each read once into a buffer of
	// PartSize. 0 means MaxSinglePut.
	SinglePutLimit int64
	// SignPayload signs uploads chunk by chunk (SHA-256 over every byte, checked by the
	// server) on plain http, where the S3 client otherwise does. Off, uploads are sent as
	// UNSIGNED-PAYLOAD, as the client always does over https: the mover checks the stored
	// size, and the checksum against an expectation, itself. Signing halves the upload rate
	// on a loaded machine (SHA-256 on both ends).
	SignPayload bool
	// Getenv reads the environment at New; nil means os.Getenv.
	Getenv func(string) string
	// Log receives a debug entry per transfer and clean-up warnings; nil discards.
	Log logrus.FieldLogger
}

// Mover is the "s3" mover. It is safe for concurrent use.
type Mover struct {
	access, secret string
	secureEnv      *bool
	endpoints      map[string]Endpoint
	region         string
	partSize       uint64
	singlePut      int64
	signPayload    bool
	transport      *http.Transport
	log            logrus.FieldLogger
}

var (
	_ movers.Mover             = (*Mover)(nil)
	_ movers.Remover           = (*Mover)(nil)
	_ movers.RemoteChecksummer = (*Mover)(nil)
	_ movers.Checker           = (*Mover)(nil)
)

// New returns a Mover configured by opts.
func New(opts Options) *Mover {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	m := &Mover{access: opts.AccessKey, secret: opts.SecretKey, region: opts.Region, partSize: opts.PartSize,
		singlePut: opts.SinglePutLimit, signPayload: opts.SignPayload, endpoints: make(map[string]Endpoint, len(opts.Endpoints)), log: opts.Log}
	for k, v := range opts.Endpoints {
		m.endpoints[strings.ToLower(k)] = v
	}
	if m.access == "" && m.secret == "" {
		m.access, m.secret = getenv("S3_ACCESS_KEY"), getenv("S3_SECRET_KEY")
		if m.access == "" && m.secret == "" {
			m.access, m.secret = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
		}
	}
	if b, err := strconv.ParseBool(getenv("S3_IS_SECURE")); err == nil {
		m.secureEnv = &b
	}
	if m.region == "" {
		m.region = DefaultRegion
	}
	if m.partSize == 0 {
		m.partSize = DefaultPartSize
	}
	if m.singlePut <= 0 || m.singlePut > MaxSinglePut {
		m.singlePut = MaxSinglePut
	}
	if m.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		m.log = l
	}
	var tlsConf *tls.Config
	if opts.TLSConfig != nil {
		tlsConf = opts.TLSConfig.Clone()
	}
	m.transport = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // the object's bytes, never a re-encoding
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
	return m
}

// Name returns "s3".
func (m *Mover) Name() string { return "s3" }

// Schemes returns s3, s3s and s3+rucio (Pilot 3's object-store schemes).
func (m *Mover) Schemes() []string { return []string{"s3", "s3s", "s3+rucio"} }

// CloseIdleConnections closes the idle connections kept for reuse.
func (m *Mover) CloseIdleConnections() { m.transport.CloseIdleConnections() }

// Check fails when no keys are configured at all (neither defaults nor endpoints).
func (m *Mover) Check(ctx context.Context) error {
	if m.access != "" && m.secret != "" {
		return nil
	}
	for _, e := range m.endpoints {
		if e.AccessKey != "" && e.SecretKey != "" {
			return nil
		}
	}
	return errors.New("s3 mover: no S3 keys (S3_ACCESS_KEY and S3_SECRET_KEY, or object-store keys in storage data)")
}

// Location is an object named by an s3 URL.
type Location struct {
	Scheme string // s3, s3s or s3+rucio
	Host   string // host:port as in the URL
	Bucket string
	Key    string
}

// ParseURL splits an s3 URL into endpoint, bucket and key: s3://host[:port]/bucket/key,
// with any number of slashes between the parts. A URL without host, bucket or key, or with
// a query, fragment or user information, is an error.
func ParseURL(raw string) (Location, error) {
	sch := movers.Scheme(raw)
	switch sch {
	case "s3", "s3s", "s3+rucio":
	default:
		return Location{}, fmt.Errorf("%q is not an s3 URL", toolrun.Redact(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("bad URL %q: %w", toolrun.Redact(raw), err)
	}
	if u.Host == "" || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("unsupported s3 URL %q (want s3://host:port/bucket/key)", toolrun.Redact(raw))
	}
	var parts []string
	for _, p := range strings.Split(u.Path, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) < 2 {
		return Location{}, fmt.Errorf("s3 URL %q names no bucket and key", toolrun.Redact(raw))
	}
	for _, p := range parts {
		if p == "." || p == ".." {
			return Location{}, fmt.Errorf("s3 URL %q has a dot segment", toolrun.Redact(raw))
		}
	}
	return Location{Scheme: sch, Host: u.Host, Bucket: parts[0], Key: strings.Join(parts[1:], "/")}, nil
}

// secure decides between https and http for loc (see the package documentation).
func (m *Mover) secure(loc Location) bool {
	if loc.Scheme == "s3s" {
		return true
	}
	if e, ok := m.endpoints[strings.ToLower(loc.Host)]; ok && e.Secure != nil {
		return *e.Secure
	}
	if m.secureEnv != nil {
		return *m.secureEnv
	}
	host, port, err := net.SplitHostPort(loc.Host)
	if err != nil {
		host, port = loc.Host, ""
	}
	switch port {
	case "443":
		return true
	case "80":
		return false
	}
	if host == "localhost" {
		return false
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.IsLoopback() {
		return false
	}
	return true
}

// keys returns the keys for loc and a transfer's environment.
func (m *Mover) keys(loc Location, env []string) (access, secret string) {
	if e, ok := m.endpoints[strings.ToLower(loc.Host)]; ok && e.AccessKey != "" && e.SecretKey != "" {
		return e.AccessKey, e.SecretKey
	}
	var a, s string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "S3_ACCESS_KEY="); ok {
			a = v
		}
		if v, ok := strings.CutPrefix(kv, "S3_SECRET_KEY="); ok {
			s = v
		}
	}
	if a != "" && s != "" {
		return a, s
	}
	return m.access, m.secret
}

// client returns a client for loc's endpoint (clients are cheap; the transport is shared).
func (m *Mover) client(op, remote string, loc Location, env []string) (*minio.Client, error) {
	access, secret := m.keys(loc, env)
	if access == "" || secret == "" {
		return nil, &movers.Error{Op: op, URL: remote, Code: jobdef.MissingCredentials,
			Err: fmt.Errorf("no S3 keys for %s (S3_ACCESS_KEY and S3_SECRET_KEY)", loc.Host)}
	}
	c, err := minio.New(loc.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(access, secret, ""),
		Secure:       m.secure(loc),
		Transport:    m.transport,
		Region:       m.region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	c.SetAppInfo("gopilot-s3", "1")
	return c, nil
}

// Get downloads t.Source to the local path t.Destination (see the package documentation).
// A missing object or bucket is 1331, refused keys 1338, missing keys 1364, a checksum
// mismatch 1171/1145, a timeout 1151.
func (m *Mover) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpGet, t.Source
	dst, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	loc, err := ParseURL(remote)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	c, err := m.client(op, remote, loc, t.Env)
	if err != nil {
		return movers.Result{}, err
	}
	info, err := c.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
	if err != nil {
		return movers.Result{}, m.fail(ctx, op, remote, err)
	}
	if t.Size > 0 && info.Size != t.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, the object has %d", t.Size, info.Size)}
	}
	tmp, err := toolrun.CreateTemp(dst, "s3")
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
	// Ask for exactly the version stated: a concurrent overwrite fails instead of mixing.
	gopts := minio.GetObjectOptions{}
	if info.ETag != "" {
		gopts.SetMatchETag(info.ETag)
	}
	// The response body itself (minio.Core), not the client's seekable Object, which hands
	// every Read to a goroutine of its own.
	body, _, _, err := minio.Core{Client: c}.GetObject(ctx, loc.Bucket, loc.Key, gopts)
	if err != nil {
		return movers.Result{}, m.fail(ctx, op, remote, err)
	}
	defer body.Close()
	n, sum, err := movers.CopyChecksum(ctx, tmp, body, typ)
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.NoLocalSpace, Err: err}
		}
		var er minio.ErrorResponse
		if errors.As(err, &er) {
			return movers.Result{}, m.fail(ctx, op, remote, err)
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("download interrupted after %d bytes: %w", n, err)}
	}
	if n != info.Size {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("download truncated: %d of %d bytes", n, info.Size)}
	}
	res := movers.Result{Bytes: n, Checksum: sum}
	if stored, found := storedAdler32(info.UserMetadata); found && typ == jobdef.Adler32 {
		if eq, _ := movers.SameChecksum(stored, sum); !eq {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.MismatchCode(op, typ), Retryable: true,
				Err: fmt.Errorf("%w: the object's adler32 metadata is %s, the data received has %s", movers.ErrChecksumMismatch, stored.Value, sum.Value)}
		}
	}
	if err := movers.Verify(op, remote, t, res); err != nil {
		return movers.Result{}, err
	}
	if err := tmp.Close(); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if err := toolrun.Finish(ctx, op, remote, tmp.Name(), dst); err != nil {
		return movers.Result{}, err
	}
	ok = true
	res.Duration, res.Mover, res.URL = time.Since(start), m.Name(), remote
	m.log.WithFields(logrus.Fields{"url": toolrun.Redact(remote), "bytes": n, "seconds": res.Duration.Seconds()}).Debug("s3 get")
	return res, nil
}

// storedAdler32 returns the adler32 of the object's user metadata.
func storedAdler32(meta map[string]string) (jobdef.Checksum, bool) {
	for k, v := range meta {
		if strings.EqualFold(k, MetaAdler32) {
			if _, err := strconv.ParseUint(v, 16, 32); err == nil {
				return jobdef.Checksum{Type: jobdef.Adler32, Value: fmt.Sprintf("%08s", strings.ToLower(v))}, true
			}
		}
	}
	return jobdef.Checksum{}, false
}

// Put uploads the local file t.Source to t.Destination (see the package documentation). A
// missing source is 1165, a missing bucket 1103, refused keys 1383, missing keys 1364, a
// full storage 1333, a checksum mismatch 1172/1141, a timeout 1152.
func (m *Mover) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	op, remote := movers.OpPut, t.Destination
	src, typ, err := movers.Begin(ctx, op, t)
	if err != nil {
		return movers.Result{}, err
	}
	loc, err := ParseURL(remote)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	c, err := m.client(op, remote, loc, t.Env)
	if err != nil {
		return movers.Result{}, err
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	defer in.Close()
	// A pipe blocks in Read; a deadline unblocks it when ctx ends.
	stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Now()) })
	defer stop()
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	opts := minio.PutObjectOptions{PartSize: m.partSize, ContentType: "application/octet-stream",
		DisableContentSha256: !m.signPayload, DisableMultipart: size >= 0 && size <= m.singlePut}
	if typ == jobdef.Adler32 && t.Checksum.Value != "" {
		opts.UserMetadata = map[string]string{MetaAdler32: strings.ToLower(t.Checksum.Value)}
	}
	body, err := movers.NewChecksumReader(in, typ) // hashes beside the upload
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: jobdef.UnknownChecksumType, Err: err}
	}
	defer body.Close()
	_, err = c.PutObject(ctx, loc.Bucket, loc.Key, body, size, opts)
	if err == nil {
		// The client stops after size bytes; the source must end there too.
		var probe [1]byte
		if k, perr := body.Read(probe[:]); k > 0 || perr != io.EOF {
			err = fmt.Errorf("%s did not end after the %d bytes sent (read %d more: %v)", src, body.N()-int64(k), k, perr)
		}
	}
	if err != nil {
		m.cleanup(ctx, c, loc, remote)
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		if rerr := body.Err(); rerr != nil { // the local file failed, not the storage
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
				Err: fmt.Errorf("reading %s: %w", src, rerr)}
		}
		return movers.Result{}, m.fail(ctx, op, remote, err)
	}
	sum, sent, complete := body.Sum()
	res := movers.Result{Bytes: sent, Checksum: sum}
	fail := func(e error) (movers.Result, error) {
		m.cleanup(ctx, c, loc, remote)
		return movers.Result{}, e
	}
	if !complete || (size >= 0 && sent != size) {
		return fail(&movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("%d of the %d bytes of %s were sent", sent, size, src)})
	}
	if err := movers.Verify(op, remote, t, res); err != nil {
		return fail(err)
	}
	info, err := c.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
	if err != nil {
		return fail(m.fail(ctx, op, remote, err))
	}
	if info.Size != sent {
		return fail(&movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("the storage holds %d bytes, %d were sent", info.Size, sent)})
	}
	res.Duration, res.Mover, res.URL = time.Since(start), m.Name(), remote
	m.log.WithFields(logrus.Fields{"url": toolrun.Redact(remote), "bytes": res.Bytes, "seconds": res.Duration.Seconds()}).Debug("s3 put")
	return res, nil
}

// cleanup removes a failed upload and its incomplete multipart upload (best effort, own
// deadline).
func (m *Mover) cleanup(ctx context.Context, c *minio.Client, loc Location, remote string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.RemoveIncompleteUpload(cctx, loc.Bucket, loc.Key); err != nil && !isNotFound(err) {
		m.log.WithError(err).WithField("url", toolrun.Redact(remote)).Warn("could not abort an incomplete upload")
	}
	if err := c.RemoveObject(cctx, loc.Bucket, loc.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		m.log.WithError(err).WithField("url", toolrun.Redact(remote)).Warn("could not remove a failed upload")
	}
}

// Remove deletes the object url. An object that does not exist is not an error.
func (m *Mover) Remove(ctx context.Context, rawURL string) error {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return err
	}
	c, err := m.client(movers.OpPut, rawURL, loc, nil)
	if err != nil {
		return err
	}
	if err := c.RemoveObject(ctx, loc.Bucket, loc.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing %s: %w", toolrun.Redact(rawURL), err)
	}
	return nil
}

// RemoteChecksum returns the adler32 stored with the object (its "adler32" user metadata).
// An object without it, or another type, gives a *jobdef.PilotError with code 1242.
func (m *Mover) RemoteChecksum(ctx context.Context, rawURL string, t jobdef.ChecksumType) (jobdef.Checksum, error) {
	if t == "" {
		t = jobdef.Adler32
	}
	if t != jobdef.Adler32 {
		return jobdef.Checksum{}, jobdef.NewError(jobdef.ChksumNotSup, fmt.Sprintf("s3 mover: no %s checksums on object stores", t), nil)
	}
	loc, err := ParseURL(rawURL)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	c, err := m.client(movers.OpGet, rawURL, loc, nil)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	info, err := c.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
	if err != nil {
		var me *movers.Error
		if errors.As(m.fail(ctx, movers.OpGet, rawURL, err), &me) {
			return jobdef.Checksum{}, me.AsPilotError()
		}
		return jobdef.Checksum{}, err
	}
	sum, found := storedAdler32(info.UserMetadata)
	if !found {
		return jobdef.Checksum{}, jobdef.NewError(jobdef.ChksumNotSup, fmt.Sprintf("%s has no adler32 metadata", toolrun.Redact(rawURL)), nil)
	}
	return sum, nil
}

func isS3Error(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0)
}

func isNotFound(err error) bool {
	er := minio.ToErrorResponse(err)
	return er.StatusCode == http.StatusNotFound || er.Code == minio.NoSuchKey || er.Code == minio.NoSuchBucket ||
		er.Code == "NoSuchUpload"
}

// fail maps a failed S3 request to a *movers.Error (see ErrorCode).
func (m *Mover) fail(ctx context.Context, op, remote string, err error) error {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	code, retry := ErrorCode(op, err)
	return &movers.Error{Op: op, URL: remote, Code: code, Retryable: retry, Err: err}
}

// ErrorCode maps an error of the S3 client to a PanDA code and whether another attempt
// may succeed: a missing object or bucket 1331 (get) or 1103 (put), refused keys or
// signatures 1338/1383, a full storage or quota 1333, throttling or an unavailable service
// 1324, a request timeout 1151/1152, other server errors 1099/1137 (retryable when 5xx),
// and errors without an answer as the network mapping of the davs mover.
func ErrorCode(op string, err error) (jobdef.ErrorCode, bool) {
	if !isS3Error(err) {
		return neterr.Code(op, err)
	}
	er := minio.ToErrorResponse(err)
	switch er.Code {
	case minio.NoSuchKey, minio.NoSuchBucket, "NotFound":
		if op == movers.OpGet {
			return jobdef.MissingInputFile, false
		}
		return jobdef.NoSuchFile, false
	case minio.AccessDenied, "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
		return toolrun.Auth(op), false
	case "EntityTooLarge", "QuotaExceeded", "XMinioStorageFull":
		if op == movers.OpGet {
			return movers.GenericCode(op), false
		}
		return jobdef.NoRemoteSpace, false
	case "SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized":
		return jobdef.ServiceNotAvailable, true
	case "RequestTimeout", "RequestTimeTooSkewed":
		return movers.TimeoutCode(op), true
	case "PreconditionFailed": // the object changed between HEAD and GET
		return movers.GenericCode(op), true
	}
	switch s := er.StatusCode; {
	case s == http.StatusNotFound:
		return toolrun.ByOp(jobdef.MissingInputFile, jobdef.NoSuchFile)(op), false
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return toolrun.Auth(op), false
	case s == http.StatusInsufficientStorage:
		return toolrun.ByOp(movers.GenericCode(op), jobdef.NoRemoteSpace)(op), false
	case s == http.StatusServiceUnavailable || s == http.StatusTooManyRequests:
		return jobdef.ServiceNotAvailable, true
	case s >= 500:
		return movers.GenericCode(op), true
	}
	return movers.GenericCode(op), false
}

// EndpointsFromStorage collects the S3 endpoints of storage data: for every protocol whose
// endpoint is an s3 URL, its host:port with the protocol's settings. As in Pilot 3 the
// settings "access_key" and "secret_key" name a key pair rather than hold it; lookup
// resolves the names (e.g. os.LookupEnv: the site exports the keys under those names).
// "is_secure" (a boolean or its text) forces https or http. Endpoints whose keys do not
// resolve keep only is_secure.
func EndpointsFromStorage(sd jobdef.StorageData, lookup func(name string) (string, bool)) map[string]Endpoint {
	out := map[string]Endpoint{}
	for _, rse := range sd {
		if rse == nil {
			continue
		}
		for _, protos := range rse.ARProtocols {
			for _, p := range protos {
				loc, err := url.Parse(p.Endpoint)
				if err != nil || loc.Host == "" {
					continue
				}
				switch movers.Scheme(p.Endpoint) {
				case "s3", "s3s", "s3+rucio":
				default:
					continue
				}
				host := strings.ToLower(loc.Host)
				e := out[host]
				if v, ok := p.Settings["is_secure"]; ok {
					if b, ok := boolOf(v); ok {
						e.Secure = &b
					}
				}
				an, _ := p.Settings["access_key"].(string)
				sn, _ := p.Settings["secret_key"].(string)
				if an != "" && sn != "" && lookup != nil && e.AccessKey == "" {
					a, ok1 := lookup(an)
					s, ok2 := lookup(sn)
					if ok1 && ok2 && a != "" && s != "" {
						e.AccessKey, e.SecretKey = a, s
					}
				}
				out[host] = e
			}
		}
	}
	return out
}

func boolOf(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		return b, err == nil
	case float64:
		return x != 0, true
	}
	return false, false
}
