package s3_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/benchutil"
	"github.com/gopilot/gopilot/movers/s3"
)

// BenchmarkS3 measures the s3 mover against a loopback Versity S3 Gateway: GET into a file
// and PUT from a file in the page cache (MOVERS_BENCH_SIZE, default 64 MiB). go test
// reports MB/s.
func BenchmarkS3(b *testing.B) {
	size := int64(64 << 20)
	if v := os.Getenv("MOVERS_BENCH_SIZE"); v != "" {
		n, err := benchutil.ParseSize(v)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	srv := gridtest.StartS3(b)
	if err := srv.MakeBucket("bench"); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := benchutil.WriteRandomFile(src, size); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.WriteFile("bench/in/src", data); err != nil {
		b.Fatal(err)
	}
	data = nil
	m := s3.New(s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	b.Run("get", func(b *testing.B) {
		b.SetBytes(size)
		dst := filepath.Join(dir, "dst")
		for b.Loop() {
			if _, err := m.Get(b.Context(), movers.Transfer{Source: srv.S3URL("bench", "in/src"), Destination: dst, Size: size}); err != nil {
				b.Fatal(err)
			}
			os.Remove(dst)
		}
	})
	b.Run("put", func(b *testing.B) {
		b.SetBytes(size)
		i := 0
		for b.Loop() {
			i++
			key := fmt.Sprintf("out/%d", i)
			if _, err := m.Put(b.Context(), movers.Transfer{Source: src, Destination: srv.S3URL("bench", key), Size: size}); err != nil {
				b.Fatal(err)
			}
			os.Remove(srv.Path("bench/" + key))
		}
	})
}
