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

// ChunkSize is the unit in which CopyChecksum reads, writes and hashes, and checks ctx.
// 256 KiB stays in the processor's cache from the read through the write to the hash:
// measured on two cores against loopback servers, this used less CPU and was faster than
// 1 MiB chunks hashed by a second goroutine.
const ChunkSize = 256 << 10

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

// CopyChecksum copies src to dst in chunks of up to ChunkSize (a chunk is filled from
// several reads of a socket or pipe), feeding every byte to a hasher of type t right after
// writing it (no second read), and checks ctx between chunks. It returns the number of
// bytes written and the checksum of exactly those bytes. When ctx ends first it returns
// ctx's cause (wrapped). An unknown t is an error before anything is read.
func CopyChecksum(ctx context.Context, dst io.Writer, src io.Reader, t jobdef.ChecksumType) (int64, jobdef.Checksum, error) {
	h := NewHasher(t)
	if h == nil {
		return 0, jobdef.Checksum{}, jobdef.Errorf(jobdef.UnknownChecksumType, "unknown checksum type %q", t)
	}
	buf := make([]byte, ChunkSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, jobdef.Checksum{}, fmt.Errorf("copy interrupted after %d bytes: %w", n, context.Cause(ctx))
		}
		nr, rerr := fill(src, buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr == nil && nw != nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, jobdef.Checksum{}, fmt.Errorf("write: %w", werr)
			}
			h.Write(buf[:nr])
		}
		if rerr == io.EOF {
			return n, SumOf(t, h), nil
		}
		if rerr != nil {
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

// ChecksumReader hands out the bytes of a source through Read and computes their checksum
// on the way, for consumers that pull (an HTTP request body, an S3 upload): each Read reads
// from the source straight into the caller's buffer and hashes those bytes while they are
// still in the processor's cache. Nothing is read twice.
//
// Read, Stop and Sum may be called from different goroutines (they serialise). The source
// itself is not closed.
type ChecksumReader struct {
	typ jobdef.ChecksumType
	h   hash.Hash
	src io.Reader

	mu      sync.Mutex
	n       int64
	err     error // sticky: the source's error (io.EOF at its end)
	stopped bool
}

// errReaderStopped is what Read returns after Stop or Sum.
var errReaderStopped = errors.New("checksum reader stopped")

// NewChecksumReader returns a ChecksumReader of src computing a checksum of type t. An
// unknown t is an error.
func NewChecksumReader(src io.Reader, t jobdef.ChecksumType) (*ChecksumReader, error) {
	h := NewHasher(t)
	if h == nil {
		return nil, jobdef.Errorf(jobdef.UnknownChecksumType, "unknown checksum type %q", t)
	}
	return &ChecksumReader{typ: t, h: h, src: src}, nil
}

// Read implements io.Reader.
func (c *ChecksumReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, errReaderStopped
	}
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.src.Read(p)
	if n > 0 {
		c.h.Write(p[:n])
		c.n += int64(n)
	}
	if err != nil {
		c.err = err
	}
	return n, err
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

// Stop makes every later Read fail and waits for a Read in progress to return. Use it (or
// Sum) when the consumer may still be reading in another goroutine (an HTTP transport that
// received an answer before it sent the whole body).
func (c *ChecksumReader) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

// Sum stops the reader like Stop and returns the checksum of the n bytes handed out; the
// caller compares n with the size it expects (a consumer that reads an exact length never
// sees io.EOF). ok is false after Stop.
func (c *ChecksumReader) Sum() (sum jobdef.Checksum, n int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return jobdef.Checksum{}, c.n, false
	}
	c.stopped = true
	return SumOf(c.typ, c.h), c.n, true
}

// Close stops the reader (Read fails afterwards). It does not close the source.
func (c *ChecksumReader) Close() error {
	c.Stop()
	return nil
}
