package movers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/moverstest"
)

// serialCopy is the obvious one-goroutine copy-and-hash, for comparison.
func serialCopy(dst io.Writer, src io.Reader, t jobdef.ChecksumType) (int64, jobdef.Checksum, error) {
	h := movers.NewHasher(t)
	buf := make([]byte, movers.ChunkSize)
	var n int64
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			h.Write(buf[:nr])
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, jobdef.Checksum{}, werr
			}
		}
		if err == io.EOF {
			return n, movers.SumOf(t, h), nil
		}
		if err != nil {
			return n, jobdef.Checksum{}, err
		}
	}
}

// sink copies into a reused buffer (the cost of a write into the page cache, roughly).
type sink struct{ buf []byte }

func (s *sink) Write(p []byte) (int, error) { return copy(s.buf, p), nil }

// BenchmarkCopyChecksum compares the pipelined CopyChecksum with a serial copy, memory to
// memory, so only the CPU side is measured.
func BenchmarkCopyChecksum(b *testing.B) {
	data := moverstest.Data(32 << 20)
	for _, typ := range []jobdef.ChecksumType{jobdef.Adler32, jobdef.MD5} {
		for _, mode := range []string{"pipelined", "serial"} {
			b.Run(fmt.Sprintf("%s/%s", typ, mode), func(b *testing.B) {
				s := &sink{buf: make([]byte, movers.ChunkSize)}
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					var err error
					if mode == "serial" {
						_, _, err = serialCopy(s, bytes.NewReader(data), typ)
					} else {
						_, _, err = movers.CopyChecksum(context.Background(), s, bytes.NewReader(data), typ)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestCopyChecksumMatchesSerial(t *testing.T) {
	for _, n := range []int{0, 1, movers.ChunkSize - 1, movers.ChunkSize, 5*movers.ChunkSize + 3} {
		data := moverstest.Data(n)
		for _, typ := range []jobdef.ChecksumType{jobdef.Adler32, jobdef.MD5} {
			var a, b bytes.Buffer
			_, want, _ := serialCopy(&a, bytes.NewReader(data), typ)
			// short reads exercise partly filled chunks
			nn, got, err := movers.CopyChecksum(t.Context(), &b, io.LimitReader(shortReader{bytes.NewReader(data)}, int64(n)), typ)
			if err != nil || nn != int64(n) || got != want || !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("n=%d %s: %d %v %v, want %v", n, typ, nn, got, err, want)
			}
		}
	}
}

// shortReader returns short reads (at most 4093 bytes) so chunks are partly filled.
type shortReader struct{ r io.Reader }

func (o shortReader) Read(p []byte) (int, error) {
	if len(p) > 4093 {
		p = p[:4093]
	}
	return o.r.Read(p)
}
