// Package moverstest is the conformance suite every movers.Mover must pass, plus helpers
// for writing mover tests (a slow FIFO source).
//
// A mover package runs it from its tests:
//
//	func TestConformance(t *testing.T) { moverstest.Run(t, moverstest.Env{Mover: m, ...}) }
package moverstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/adler32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

// Env describes the mover under test and how to reach its remote side.
type Env struct {
	Mover movers.Mover
	// NewRemote stores data as a new remote file called name (a plain file name, unique
	// within one Run) and returns its URL.
	NewRemote func(t *testing.T, name string, data []byte) string
	// RemoteURL returns the URL a new remote file called name would have (nothing is created).
	RemoteURL func(t *testing.T, name string) string
	// ReadRemote returns the content of the remote file at url, or an error wrapping
	// fs.ErrNotExist when it does not exist.
	ReadRemote func(t *testing.T, url string) ([]byte, error)
	// LocalDir returns the directory for local files (Get destinations and Put sources);
	// nil means a fresh t.TempDir() per test.
	LocalDir func(t *testing.T) string
	// Stray lists remote entries related to url other than url itself (temporary files of
	// an interrupted upload); nil skips that check.
	Stray func(t *testing.T, url string) []string
	// SlowRemote creates a remote file called name that delivers its first
	// movers.ChunkSize bytes and then stalls until the test ends; started is closed once
	// the mover has read most of them. Nil skips the Get timeout and mid-transfer cancel
	// tests. See SlowFIFO.
	SlowRemote func(t *testing.T, name string) (url string, started <-chan struct{})
	// SlowLocal: the mover accepts a FIFO as Put source (enables the Put timeout and
	// mid-transfer cancel tests, using SlowFIFO in the local directory).
	SlowLocal bool
	// NoPut: Put is unsupported and must fail without creating anything.
	NoPut bool
	// PutConsumesSource: a successful Put removes the local file (mv).
	PutConsumesSource bool
}

// MaxWait bounds how long the suite waits for a mover call that should return promptly
// (after a cancel or a timeout) before failing the test instead of hanging.
const MaxWait = 2 * time.Minute

// Run runs the conformance suite against env.
func Run(t *testing.T, env Env) {
	if env.Mover == nil || env.NewRemote == nil || env.RemoteURL == nil || env.ReadRemote == nil {
		t.Fatal("moverstest: Env needs Mover, NewRemote, RemoteURL and ReadRemote")
	}
	s := &suite{env: env}
	t.Run("Name", s.testName)
	t.Run("Get", s.testGet)
	t.Run("GetNoExpectation", s.testGetNoExpectation)
	t.Run("GetMD5", s.testGetMD5)
	t.Run("GetTypeOnlyChecksum", s.testGetTypeOnly)
	t.Run("GetEmptyFile", s.testGetEmpty)
	t.Run("GetMissingSource", s.testGetMissing)
	t.Run("GetWrongChecksum", s.testGetWrongChecksum)
	t.Run("GetWrongSize", s.testGetWrongSize)
	t.Run("GetCancelledBeforeStart", s.testGetCancelled)
	t.Run("GetTimeoutMidTransfer", s.testGetTimeout)
	t.Run("GetCancelMidTransfer", s.testGetCancelMid)
	t.Run("Put", s.testPut)
	t.Run("PutMissingSource", s.testPutMissing)
	t.Run("PutWrongChecksum", s.testPutWrongChecksum)
	t.Run("PutCancelledBeforeStart", s.testPutCancelled)
	t.Run("PutTimeoutMidTransfer", s.testPutTimeout)
	t.Run("PutCancelMidTransfer", s.testPutCancelMid)
}

type suite struct {
	env Env
	mu  sync.Mutex
	n   int
}

// name returns a unique plain file name for this run.
func (s *suite) name(t *testing.T, base string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("%s.%d.dat", base, s.n)
}

func (s *suite) localDir(t *testing.T) string {
	if s.env.LocalDir != nil {
		return s.env.LocalDir(t)
	}
	return t.TempDir()
}

// Data returns n pseudo-random bytes (deterministic for a given n).
func Data(n int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(n))
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// Adler32 returns the adler32 checksum of data in jobdef form.
func Adler32(data []byte) jobdef.Checksum {
	return jobdef.Checksum{Type: jobdef.Adler32, Value: fmt.Sprintf("%08x", adler32.Checksum(data))}
}

// MD5 returns the md5 checksum of data in jobdef form.
func MD5(data []byte) jobdef.Checksum {
	s := md5.Sum(data)
	return jobdef.Checksum{Type: jobdef.MD5, Value: hex.EncodeToString(s[:])}
}

// wrong returns a checksum of c's type that is certainly not c.
func wrong(c jobdef.Checksum) jobdef.Checksum {
	v := []byte(c.Value)
	if v[0] == '0' {
		v[0] = '1'
	} else {
		v[0] = '0'
	}
	return jobdef.Checksum{Type: c.Type, Value: string(v)}
}

const size = 3*movers.ChunkSize + 12345 // several chunks, not a multiple of any

// call runs f in a goroutine and fails the test if it does not return within MaxWait.
func call(t *testing.T, what string, f func() (movers.Result, error)) (movers.Result, error) {
	t.Helper()
	type out struct {
		r   movers.Result
		err error
	}
	ch := make(chan out, 1)
	go func() { r, err := f(); ch <- out{r, err} }()
	select {
	case o := <-ch:
		return o.r, o.err
	case <-time.After(MaxWait):
		t.Fatalf("%s did not return within %s", what, MaxWait)
		return movers.Result{}, nil
	}
}

// wantCode checks that err is a *movers.Error with one of codes.
func wantCode(t *testing.T, err error, codes ...jobdef.ErrorCode) *movers.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error with code %v, got success", codes)
	}
	var me *movers.Error
	if !errors.As(err, &me) {
		t.Fatalf("want a *movers.Error, got %T: %v", err, err)
	}
	if len(codes) > 0 {
		for _, c := range codes {
			if me.Code == c {
				return me
			}
		}
		t.Fatalf("error code = %d (%v), want one of %v", me.Code, err, codes)
	}
	return me
}

// noLocal checks that nothing named after name (the file or a temporary) exists in dir.
func noLocal(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), name) {
			t.Errorf("partial or stray local file left behind: %s", filepath.Join(dir, e.Name()))
		}
	}
}

func (s *suite) noRemote(t *testing.T, url string) {
	t.Helper()
	if b, err := s.env.ReadRemote(t, url); err == nil {
		t.Errorf("remote file %s exists (%d bytes) after a failed put", url, len(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading %s: %v (want not-exist)", url, err)
	}
	if s.env.Stray != nil {
		if st := s.env.Stray(t, url); len(st) > 0 {
			t.Errorf("stray remote files after a failed put: %v", st)
		}
	}
}

func (s *suite) testName(t *testing.T) {
	if s.env.Mover.Name() == "" {
		t.Error("empty Name")
	}
	if len(s.env.Mover.Schemes()) == 0 {
		t.Error("no Schemes")
	}
}

func (s *suite) get(t *testing.T, ctx context.Context, tr movers.Transfer) (movers.Result, error) {
	return call(t, "Get", func() (movers.Result, error) { return s.env.Mover.Get(ctx, tr) })
}

func (s *suite) put(t *testing.T, ctx context.Context, tr movers.Transfer) (movers.Result, error) {
	return call(t, "Put", func() (movers.Result, error) { return s.env.Mover.Put(ctx, tr) })
}

func checkLocal(t *testing.T, path string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the destination: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("destination has %d bytes that differ from the %d source bytes", len(got), len(data))
	}
}

func (s *suite) testGet(t *testing.T) {
	data := Data(size)
	name := s.name(t, "get")
	url := s.env.NewRemote(t, name, data)
	dst := filepath.Join(s.localDir(t), name)
	res, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: dst, LFN: name,
		Size: int64(len(data)), Checksum: Adler32(data), Attempt: 1})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkLocal(t, dst, data)
	if res.Bytes != int64(len(data)) {
		t.Errorf("Result.Bytes = %d, want %d", res.Bytes, len(data))
	}
	if res.Checksum != Adler32(data) {
		t.Errorf("Result.Checksum = %v, want %v", res.Checksum, Adler32(data))
	}
	if res.Mover != s.env.Mover.Name() {
		t.Errorf("Result.Mover = %q, want %q", res.Mover, s.env.Mover.Name())
	}
	if res.URL == "" {
		t.Error("Result.URL is empty")
	}
}

func (s *suite) testGetNoExpectation(t *testing.T) {
	data := Data(size + 1)
	name := s.name(t, "getnoexp")
	url := s.env.NewRemote(t, name, data)
	dst := filepath.Join(s.localDir(t), name)
	res, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: dst, LFN: name})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkLocal(t, dst, data)
	if !res.Checksum.IsZero() && res.Checksum != Adler32(data) {
		t.Errorf("Result.Checksum = %v, want zero or %v", res.Checksum, Adler32(data))
	}
}

func (s *suite) testGetMD5(t *testing.T) {
	data := Data(size + 2)
	name := s.name(t, "getmd5")
	url := s.env.NewRemote(t, name, data)
	dst := filepath.Join(s.localDir(t), name)
	res, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: dst, LFN: name,
		Size: int64(len(data)), Checksum: MD5(data)})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkLocal(t, dst, data)
	if res.Checksum != MD5(data) {
		t.Errorf("Result.Checksum = %v, want %v", res.Checksum, MD5(data))
	}
}

// testGetTypeOnly: a Checksum with a Type and no Value asks for that algorithm without an
// expectation; the result carries it (or nothing, for movers that only read to verify).
func (s *suite) testGetTypeOnly(t *testing.T) {
	data := Data(size + 6)
	name := s.name(t, "gettypeonly")
	url := s.env.NewRemote(t, name, data)
	dst := filepath.Join(s.localDir(t), name)
	res, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: dst, LFN: name,
		Checksum: jobdef.Checksum{Type: jobdef.MD5}})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkLocal(t, dst, data)
	if !res.Checksum.IsZero() && res.Checksum != MD5(data) {
		t.Errorf("Result.Checksum = %v, want zero or %v", res.Checksum, MD5(data))
	}
}

func (s *suite) testGetEmpty(t *testing.T) {
	name := s.name(t, "getempty")
	url := s.env.NewRemote(t, name, nil)
	dst := filepath.Join(s.localDir(t), name)
	if _, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: dst, LFN: name,
		Checksum: Adler32(nil)}); err != nil {
		t.Fatalf("Get of an empty file: %v", err)
	}
	checkLocal(t, dst, nil)
}

func (s *suite) testGetMissing(t *testing.T) {
	name := s.name(t, "getmissing")
	url := s.env.RemoteURL(t, name)
	dir := s.localDir(t)
	_, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, name), LFN: name, Size: 10})
	wantCode(t, err, jobdef.MissingInputFile)
	noLocal(t, dir, name)
}

func (s *suite) testGetWrongChecksum(t *testing.T) {
	for _, c := range []struct {
		kind string
		sum  func([]byte) jobdef.Checksum
		code jobdef.ErrorCode
	}{{"adler32", Adler32, jobdef.GetADMismatch}, {"md5", MD5, jobdef.GetMD5Mismatch}} {
		t.Run(c.kind, func(t *testing.T) {
			data := Data(size + 3)
			name := s.name(t, "getbad"+c.kind)
			url := s.env.NewRemote(t, name, data)
			dir := s.localDir(t)
			_, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, name), LFN: name,
				Size: int64(len(data)), Checksum: wrong(c.sum(data))})
			wantCode(t, err, c.code)
			noLocal(t, dir, name)
		})
	}
}

func (s *suite) testGetWrongSize(t *testing.T) {
	data := Data(1000)
	name := s.name(t, "getsize")
	url := s.env.NewRemote(t, name, data)
	dir := s.localDir(t)
	_, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, name), LFN: name, Size: 1001})
	wantCode(t, err)
	noLocal(t, dir, name)
}

func (s *suite) testGetCancelled(t *testing.T) {
	data := Data(1000)
	name := s.name(t, "getcancelled")
	url := s.env.NewRemote(t, name, data)
	dir := s.localDir(t)
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(jobdef.NewError(jobdef.SigTerm, "test cancel", nil))
	_, err := s.get(t, ctx, movers.Transfer{Source: url, Destination: filepath.Join(dir, name), LFN: name})
	me := wantCode(t, err)
	if me.Retryable {
		t.Error("a cancelled transfer must not be retryable")
	}
	noLocal(t, dir, name)
}

func (s *suite) testGetTimeout(t *testing.T) {
	if s.env.SlowRemote == nil {
		t.Skip("no SlowRemote in Env")
	}
	name := s.name(t, "gettimeout")
	url, _ := s.env.SlowRemote(t, name)
	dir := s.localDir(t)
	_, err := s.get(t, t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, name), LFN: name,
		Timeout: 200 * time.Millisecond})
	wantCode(t, err, jobdef.StageInTimeout)
	noLocal(t, dir, name)
}

func (s *suite) testGetCancelMid(t *testing.T) {
	if s.env.SlowRemote == nil {
		t.Skip("no SlowRemote in Env")
	}
	name := s.name(t, "getcancelmid")
	url, started := s.env.SlowRemote(t, name)
	dir := s.localDir(t)
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	go func() {
		select {
		case <-started:
			cancel(jobdef.NewError(jobdef.SigTerm, "test cancel mid-transfer", nil))
		case <-ctx.Done():
		}
	}()
	_, err := s.get(t, ctx, movers.Transfer{Source: url, Destination: filepath.Join(dir, name), LFN: name})
	me := wantCode(t, err)
	if me.Code != jobdef.SigTerm {
		t.Errorf("code = %d, want the cancel cause's code %d", me.Code, jobdef.SigTerm)
	}
	noLocal(t, dir, name)
}

func (s *suite) testPut(t *testing.T) {
	data := Data(size + 4)
	name := s.name(t, "put")
	src := filepath.Join(s.localDir(t), name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	url := s.env.RemoteURL(t, name)
	res, err := s.put(t, t.Context(), movers.Transfer{Source: src, Destination: url, LFN: name,
		Size: int64(len(data)), Checksum: Adler32(data)})
	if s.env.NoPut {
		wantCode(t, err)
		s.noRemote(t, url)
		return
	}
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := s.env.ReadRemote(t, url)
	if err != nil {
		t.Fatalf("reading back %s: %v", url, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("remote file has %d bytes that differ from the %d source bytes", len(got), len(data))
	}
	if res.Bytes != int64(len(data)) || res.Checksum != Adler32(data) {
		t.Errorf("Result = %d bytes %v, want %d %v", res.Bytes, res.Checksum, len(data), Adler32(data))
	}
	if res.Mover != s.env.Mover.Name() {
		t.Errorf("Result.Mover = %q, want %q", res.Mover, s.env.Mover.Name())
	}
	_, err = os.Stat(src)
	if s.env.PutConsumesSource != errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Put, local source: %v (PutConsumesSource=%v)", err, s.env.PutConsumesSource)
	}
	// without expectation: adler32 is computed anyway
	name2 := s.name(t, "putnoexp")
	src2 := filepath.Join(s.localDir(t), name2)
	if err := os.WriteFile(src2, data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	url2 := s.env.RemoteURL(t, name2)
	res, err = s.put(t, t.Context(), movers.Transfer{Source: src2, Destination: url2, LFN: name2})
	if err != nil {
		t.Fatalf("Put without expectation: %v", err)
	}
	if res.Checksum != Adler32(data[:1000]) {
		t.Errorf("Result.Checksum = %v, want %v", res.Checksum, Adler32(data[:1000]))
	}
}

func (s *suite) testPutMissing(t *testing.T) {
	name := s.name(t, "putmissing")
	url := s.env.RemoteURL(t, name)
	_, err := s.put(t, t.Context(), movers.Transfer{Source: filepath.Join(s.localDir(t), name), Destination: url, LFN: name})
	if s.env.NoPut {
		wantCode(t, err)
	} else {
		wantCode(t, err, jobdef.MissingOutputFile)
	}
	s.noRemote(t, url)
}

func (s *suite) testPutWrongChecksum(t *testing.T) {
	if s.env.NoPut {
		t.Skip("Put unsupported")
	}
	for _, c := range []struct {
		kind string
		sum  func([]byte) jobdef.Checksum
		code jobdef.ErrorCode
	}{{"adler32", Adler32, jobdef.PutADMismatch}, {"md5", MD5, jobdef.PutMD5Mismatch}} {
		t.Run(c.kind, func(t *testing.T) {
			data := Data(size + 5)
			name := s.name(t, "putbad"+c.kind)
			src := filepath.Join(s.localDir(t), name)
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			url := s.env.RemoteURL(t, name)
			_, err := s.put(t, t.Context(), movers.Transfer{Source: src, Destination: url, LFN: name,
				Size: int64(len(data)), Checksum: wrong(c.sum(data))})
			wantCode(t, err, c.code)
			s.noRemote(t, url)
			if _, err := os.Stat(src); err != nil {
				t.Errorf("a failed Put must keep the local file: %v", err)
			}
		})
	}
}

func (s *suite) testPutCancelled(t *testing.T) {
	name := s.name(t, "putcancelled")
	src := filepath.Join(s.localDir(t), name)
	if err := os.WriteFile(src, Data(1000), 0o644); err != nil {
		t.Fatal(err)
	}
	url := s.env.RemoteURL(t, name)
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(jobdef.NewError(jobdef.SigTerm, "test cancel", nil))
	_, err := s.put(t, ctx, movers.Transfer{Source: src, Destination: url, LFN: name})
	me := wantCode(t, err)
	if me.Retryable {
		t.Error("a cancelled transfer must not be retryable")
	}
	s.noRemote(t, url)
	if _, err := os.Stat(src); err != nil {
		t.Errorf("a failed Put must keep the local file: %v", err)
	}
}

func (s *suite) testPutTimeout(t *testing.T) {
	if s.env.NoPut || !s.env.SlowLocal {
		t.Skip("Put unsupported or SlowLocal not set")
	}
	name := s.name(t, "puttimeout")
	src := filepath.Join(s.localDir(t), name)
	SlowFIFO(t, src, Data(movers.ChunkSize))
	url := s.env.RemoteURL(t, name)
	_, err := s.put(t, t.Context(), movers.Transfer{Source: src, Destination: url, LFN: name, Timeout: 200 * time.Millisecond})
	wantCode(t, err, jobdef.StageOutTimeout)
	s.noRemote(t, url)
}

func (s *suite) testPutCancelMid(t *testing.T) {
	if s.env.NoPut || !s.env.SlowLocal {
		t.Skip("Put unsupported or SlowLocal not set")
	}
	name := s.name(t, "putcancelmid")
	src := filepath.Join(s.localDir(t), name)
	started := SlowFIFO(t, src, Data(movers.ChunkSize))
	url := s.env.RemoteURL(t, name)
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	go func() {
		select {
		case <-started:
			cancel(jobdef.NewError(jobdef.SigTerm, "test cancel mid-transfer", nil))
		case <-ctx.Done():
		}
	}()
	_, err := s.put(t, ctx, movers.Transfer{Source: src, Destination: url, LFN: name})
	wantCode(t, err, jobdef.SigTerm)
	s.noRemote(t, url)
}

// SlowFIFO creates a named pipe at path whose reader receives first and then waits (the
// pipe stays open, without more data) until the test ends. The returned channel is closed
// once the reader has consumed all but at most one pipe buffer (64 KiB) of first, i.e.
// when a transfer reading from path is certainly in progress. The writer is stopped and
// the pipe removed in t.Cleanup.
func SlowFIFO(t *testing.T, path string, first []byte) <-chan struct{} {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	started := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	var mu sync.Mutex
	var w *os.File
	go func() {
		defer close(done)
		var f *os.File
		for f == nil { // a non-blocking open for writing succeeds once a reader has the pipe open
			fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
			if err == nil {
				f = os.NewFile(uintptr(fd), path) // non-blocking: pollable, Close interrupts Write
				break
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		mu.Lock()
		w = f
		mu.Unlock()
		if _, err := f.Write(first); err == nil {
			close(started)
		}
		<-stop
	}()
	t.Cleanup(func() {
		close(stop)
		mu.Lock()
		if w != nil {
			w.Close()
		}
		mu.Unlock()
		<-done
		os.Remove(path)
	})
	return started
}
