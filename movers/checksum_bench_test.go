package movers_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"hash"
	"hash/adler32"
	"io"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/moverstest"
)

// reference returns data's checksum of type t with the standard library's hash.
func reference(data []byte, t jobdef.ChecksumType) jobdef.Checksum {
	var h hash.Hash = md5.New()
	if t == jobdef.Adler32 {
		h = adler32.New()
	}
	h.Write(data)
	return movers.SumOf(t, h)
}

// sink copies into a reused buffer (the cost of a write into the page cache, roughly).
type sink struct{ buf []byte }

func (s *sink) Write(p []byte) (int, error) { return copy(s.buf, p), nil }

// BenchmarkCopyChecksum measures CopyChecksum memory to memory, so only the CPU side is
// measured.
func BenchmarkCopyChecksum(b *testing.B) {
	data := moverstest.Data(32 << 20)
	for _, typ := range []jobdef.ChecksumType{jobdef.Adler32, jobdef.MD5} {
		b.Run(string(typ), func(b *testing.B) {
			s := &sink{buf: make([]byte, movers.ChunkSize)}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := movers.CopyChecksum(context.Background(), s, bytes.NewReader(data), typ); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCopyChecksum(t *testing.T) {
	for _, n := range []int{0, 1, movers.ChunkSize - 1, movers.ChunkSize, 5*movers.ChunkSize + 3} {
		data := moverstest.Data(n)
		for _, typ := range []jobdef.ChecksumType{jobdef.Adler32, jobdef.MD5} {
			var b bytes.Buffer
			// short reads: a chunk is filled from several
			nn, got, err := movers.CopyChecksum(t.Context(), &b, io.LimitReader(shortReader{bytes.NewReader(data)}, int64(n)), typ)
			if err != nil || nn != int64(n) || got != reference(data, typ) || !bytes.Equal(b.Bytes(), data) {
				t.Errorf("n=%d %s: %d %v %v, want %v", n, typ, nn, got, err, reference(data, typ))
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
			want := reference(data, typ)
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
// HTTP transport with a Content-Length) gets the checksum without reading io.EOF; Sum
// covers exactly the bytes handed out.
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
	if sum, n, ok := c.Sum(); !ok || n != 10 || sum != moverstest.Adler32(data[:10]) {
		t.Errorf("Sum after 10 bytes: %v %d %v", sum, n, ok)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Sum succeeded")
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
