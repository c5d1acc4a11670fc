package movers_test

import (
	"bytes"
	"context"
	"fmt"
	"hash"
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

func TestChecksumReader(t *testing.T) {
	for _, n := range []int{0, 1, movers.ChunkSize, 3*movers.ChunkSize + 17} {
		data := moverstest.Data(n)
		for _, typ := range []jobdef.ChecksumType{jobdef.Adler32, jobdef.MD5} {
			c, err := movers.NewChecksumReader(shortReader{bytes.NewReader(data)}, typ)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			// small reads, as an HTTP transport does
			if _, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{c}, make([]byte, 32<<10)); err != nil {
				t.Fatal(err)
			}
			want := movers.SumOf(typ, func() hash.Hash { h := movers.NewHasher(typ); h.Write(data); return h }())
			sum, nn, ok := c.Sum()
			if !ok || nn != int64(n) || sum != want || !bytes.Equal(got.Bytes(), data) {
				t.Errorf("n=%d %s: Sum = %v %d %v, want %v; data equal %v", n, typ, sum, nn, ok, want, bytes.Equal(got.Bytes(), data))
			}
			c.Close()
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Error("Read after Close succeeded")
			}
		}
	}
	if _, err := movers.NewChecksumReader(bytes.NewReader(nil), "crc"); jobdef.CodeOf(err) != jobdef.UnknownChecksumType {
		t.Errorf("unknown type: %v", err)
	}
}

// TestChecksumReaderStop: Stop while another goroutine reads; no Read succeeds after it.
func TestChecksumReaderStop(t *testing.T) {
	c, err := movers.NewChecksumReader(bytes.NewReader(moverstest.Data(8*movers.ChunkSize)), jobdef.Adler32)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c)
		done <- err
	}()
	c.Stop()
	if err := <-done; err == nil {
		t.Error("a stopped reader read to the end")
	}
	if _, _, ok := c.Sum(); ok {
		t.Error("Sum of a stopped reader is ok")
	}
}

// TestChecksumReaderExactLength: a consumer that reads exactly the length it was told (an
// HTTP transport with a Content-Length) gets the checksum without reading io.EOF, and a
// consumer that stops inside a chunk gets none.
func TestChecksumReaderExactLength(t *testing.T) {
	data := moverstest.Data(movers.ChunkSize + 1000)
	c, _ := movers.NewChecksumReader(bytes.NewReader(data), jobdef.Adler32)
	if _, err := io.ReadFull(c, make([]byte, len(data))); err != nil {
		t.Fatal(err)
	}
	if sum, n, ok := c.Sum(); !ok || n != int64(len(data)) || sum != moverstest.Adler32(data) {
		t.Errorf("Sum after an exact read = %v %d %v", sum, n, ok)
	}
	c, _ = movers.NewChecksumReader(bytes.NewReader(data), jobdef.Adler32)
	io.ReadFull(c, make([]byte, 10))
	if _, n, ok := c.Sum(); ok || n != 10 {
		t.Errorf("Sum inside a chunk: n %d ok %v", n, ok)
	}
}

func BenchmarkChecksumReader(b *testing.B) {
	data := moverstest.Data(32 << 20)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c, _ := movers.NewChecksumReader(bytes.NewReader(data), jobdef.Adler32)
		io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, buf)
		c.Sum()
		c.Close()
	}
}
