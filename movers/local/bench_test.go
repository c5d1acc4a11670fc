package local_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/benchutil"
	"github.com/gopilot/gopilot/movers/local"
)

// benchSize is MOVERS_BENCH_SIZE (e.g. "1GiB", "256M", "1000000"), default 64 MiB.
func benchSize(b *testing.B) int64 {
	s := os.Getenv("MOVERS_BENCH_SIZE")
	if s == "" {
		return 64 << 20
	}
	n, err := benchutil.ParseSize(s)
	if err != nil {
		b.Fatalf("MOVERS_BENCH_SIZE: %v", err)
	}
	return n
}

// BenchmarkCopy measures the copy mover (Get between two files of the same file system,
// the source in the page cache) with the checksum computed while copying. go test reports
// MB/s (b.SetBytes).
func BenchmarkCopy(b *testing.B) {
	size := benchSize(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := benchutil.WriteRandomFile(src, size); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		typ  jobdef.ChecksumType
		sync bool
	}{
		{"adler32", jobdef.Adler32, false},
		{"adler32-fsync", jobdef.Adler32, true},
		{"md5", jobdef.MD5, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := &local.Copy{Sync: c.sync}
			dst := filepath.Join(dir, "dst")
			b.SetBytes(size)
			for b.Loop() {
				if _, err := m.Get(b.Context(), movers.Transfer{Source: src, Destination: dst, Size: size,
					Checksum: jobdef.Checksum{Type: c.typ}}); err != nil {
					b.Fatal(err)
				}
			}
			os.Remove(dst)
		})
	}
}

// BenchmarkChecksum measures the hashes alone on an in-memory buffer.
func BenchmarkChecksum(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), movers.ChunkSize/16)
	for _, typ := range []jobdef.ChecksumType{jobdef.Adler32, jobdef.MD5} {
		b.Run(string(typ), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				h := movers.NewHasher(typ)
				h.Write(data)
				h.Sum(nil)
			}
		})
	}
}
