package movers

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/gopilot/gopilot/jobdef"
)

// ChunkSize is the buffer size of CopyChecksum: the unit in which a copy checks ctx.
const ChunkSize = 1 << 20

// NewHasher returns a fresh hash for t: adler32 (also for the empty type; the same sums as
// hash/adler32, computed several times faster) or md5. It returns nil for any other type.
func NewHasher(t jobdef.ChecksumType) hash.Hash {
	switch t {
	case jobdef.Adler32, "":
		return newAdler32()
	case jobdef.MD5:
		return md5.New()
	}
	return nil
}

// SumOf formats the state of h (made by NewHasher(t)) as a Checksum: adler32 as 8
// lower-case hex digits, md5 as 32.
func SumOf(t jobdef.ChecksumType, h hash.Hash) jobdef.Checksum {
	if t == "" {
		t = jobdef.Adler32
	}
	return jobdef.Checksum{Type: t, Value: hex.EncodeToString(h.Sum(nil))}
}

// CopyChecksum copies src to dst in chunks of ChunkSize, feeding every byte to a hasher of
// type t on the way (no second read), and checks ctx between chunks. It returns the number
// of bytes written and the checksum of exactly those bytes. When ctx ends first it returns
// ctx's cause (wrapped). An unknown t is an error before anything is read.
//
// The hash runs in a second goroutine on chunks already written, overlapping with the next
// read and write (a few chunks of buffer), so a copy costs about max(I/O, hash) rather than
// their sum when a second core is free.
func CopyChecksum(ctx context.Context, dst io.Writer, src io.Reader, t jobdef.ChecksumType) (int64, jobdef.Checksum, error) {
	h := NewHasher(t)
	if h == nil {
		return 0, jobdef.Checksum{}, jobdef.Errorf(jobdef.UnknownChecksumType, "unknown checksum type %q", t)
	}
	const nbuf = 4
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, ChunkSize)
	}
	work := make(chan []byte, nbuf)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range work {
			h.Write(b) // hash.Hash.Write never fails
			free <- b[:cap(b)]
		}
	}()
	// stop ends the hasher; after it h holds the sum of everything handed over.
	stop := func() { close(work); <-hashed }
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			stop()
			return n, jobdef.Checksum{}, fmt.Errorf("copy interrupted after %d bytes: %w", n, context.Cause(ctx))
		}
		buf := <-free
		nr, rerr := fill(src, buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr == nil && nw != nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				stop()
				return n, jobdef.Checksum{}, fmt.Errorf("write: %w", werr)
			}
			work <- buf[:nr]
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			stop()
			return n, SumOf(t, h), nil
		}
		if rerr != nil {
			stop()
			if ctx.Err() != nil {
				return n, jobdef.Checksum{}, fmt.Errorf("copy interrupted after %d bytes: %w", n, context.Cause(ctx))
			}
			return n, jobdef.Checksum{}, fmt.Errorf("read: %w", rerr)
		}
	}
}

// fill reads into buf until it is full, the source ends or fails (io.ReadFull without its
// error translation): a socket or pipe delivers a few KiB per read, and whole chunks mean
// fewer writes and hand-overs to the hasher.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := src.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k == 0 {
			return n, nil
		}
	}
	return n, nil
}

// ChecksumOf reads the file at path once and returns its checksum of type t, checking ctx
// between chunks. Errors from opening the file wrap the *os.PathError (use errors.Is with
// fs.ErrNotExist).
func ChecksumOf(ctx context.Context, path string, t jobdef.ChecksumType) (jobdef.Checksum, error) {
	f, err := os.Open(path)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	defer f.Close()
	_, sum, err := CopyChecksum(ctx, io.Discard, f, t)
	return sum, err
}

// SameChecksum compares two checksums. comparable is false when either has no value or
// their types differ; otherwise equal reports whether the values denote the same digest
// (case-insensitive, and adler32 values compared numerically so that "0a1b2c3" equals
// "00a1b2c3").
func SameChecksum(want, got jobdef.Checksum) (equal, comparable bool) {
	if want.Value == "" || got.Value == "" || want.Type != got.Type {
		return false, false
	}
	if want.Type == jobdef.Adler32 {
		a, err1 := strconv.ParseUint(want.Value, 16, 32)
		b, err2 := strconv.ParseUint(got.Value, 16, 32)
		if err1 == nil && err2 == nil {
			return a == b, true
		}
	}
	return strings.EqualFold(want.Value, got.Value), true
}

// Verify checks a transfer's outcome against its expectation: bytes against t.Size (when
// both are known) and r.Checksum against t.Checksum (when both are set and of the same
// type). A size difference is a retryable *Error with GenericCode(op); a checksum mismatch a
// retryable *Error with MismatchCode(op, type). url names the remote side in the error.
func Verify(op, url string, t Transfer, r Result) error {
	if t.Size > 0 && r.Bytes > 0 && r.Bytes != t.Size {
		return &Error{Op: op, URL: url, Code: GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, transferred %d", t.Size, r.Bytes)}
	}
	if eq, ok := SameChecksum(t.Checksum, r.Checksum); ok && !eq {
		return &Error{Op: op, URL: url, Code: MismatchCode(op, t.Checksum.Type), Retryable: true,
			Err: fmt.Errorf("%w: expected %s, got %s", ErrChecksumMismatch, t.Checksum, r.Checksum)}
	}
	return nil
}

// ErrChecksumMismatch is wrapped by the errors Verify returns for a checksum mismatch.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// ChecksumReader hands out the bytes of a source through Read while a second goroutine
// computes their checksum, for consumers that pull (an HTTP request body, an S3 upload):
// the source is read in chunks of ChunkSize, and a chunk is hashed once Read has handed
// all of it out, overlapping with what the consumer does next. Nothing is read twice.
//
// Read and Stop may be called from different goroutines. Sum, Stop or Close must be called
// to end the hashing goroutine. The source itself is not closed.
type ChecksumReader struct {
	typ  jobdef.ChecksumType
	h    hash.Hash
	src  io.Reader
	free chan []byte
	work chan []byte
	done chan struct{}

	mu     sync.Mutex
	cur    []byte // the chunk being handed out, nil between chunks
	off    int
	n      int64
	err    error // sticky: the source's error (io.EOF at its end)
	closed bool
}

// errReaderStopped is what Read returns after Stop.
var errReaderStopped = errors.New("checksum reader stopped")

// NewChecksumReader returns a ChecksumReader of src computing a checksum of type t. An
// unknown t is an error.
func NewChecksumReader(src io.Reader, t jobdef.ChecksumType) (*ChecksumReader, error) {
	h := NewHasher(t)
	if h == nil {
		return nil, jobdef.Errorf(jobdef.UnknownChecksumType, "unknown checksum type %q", t)
	}
	const nbuf = 3
	c := &ChecksumReader{typ: t, h: h, src: src, free: make(chan []byte, nbuf), work: make(chan []byte, nbuf),
		done: make(chan struct{})}
	for range nbuf {
		c.free <- make([]byte, ChunkSize)
	}
	go func() {
		defer close(c.done)
		for b := range c.work {
			h.Write(b)
			c.free <- b[:cap(b)]
		}
	}()
	return c, nil
}

// Read implements io.Reader.
func (c *ChecksumReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errReaderStopped
	}
	for c.off == len(c.cur) {
		if c.cur != nil {
			c.work <- c.cur // fully handed out: hash it
			c.cur, c.off = nil, 0
		}
		if c.err != nil {
			return 0, c.err
		}
		buf := <-c.free
		n, err := c.src.Read(buf)
		if n > 0 {
			c.cur, c.off = buf[:n], 0
		} else {
			c.free <- buf
		}
		if err != nil {
			c.err = err
		}
	}
	k := copy(p, c.cur[c.off:])
	c.off += k
	c.n += int64(k)
	return k, nil
}

// N returns the number of bytes handed out so far.
func (c *ChecksumReader) N() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Err returns the error the source failed with, nil at its end or while it has not failed.
func (c *ChecksumReader) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == io.EOF {
		return nil
	}
	return c.err
}

// Stop makes every later Read fail and waits for a Read in progress to return, without
// computing a checksum. Use Sum instead when the consumer may still be reading in another
// goroutine (an HTTP transport that received an answer before it sent the whole body):
// Sum takes the same lock.
func (c *ChecksumReader) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *ChecksumReader) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	close(c.work)
	<-c.done
}

// Sum ends the hashing goroutine (Read fails afterwards) and returns the checksum of the n
// bytes handed out. ok is false when bytes read from the source were not all handed out
// (the consumer stopped in the middle of a chunk) or Stop came first; the caller compares n
// with the size it expects (a consumer that reads an exact length never sees io.EOF).
func (c *ChecksumReader) Sum() (sum jobdef.Checksum, n int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.off != len(c.cur) {
		return jobdef.Checksum{}, c.n, false
	}
	if c.cur != nil {
		c.work <- c.cur
		c.cur, c.off = nil, 0
	}
	c.closeLocked()
	return SumOf(c.typ, c.h), c.n, true
}

// Close ends the hashing goroutine (Read fails afterwards). It does not close the source.
func (c *ChecksumReader) Close() error {
	c.Stop()
	return nil
}
