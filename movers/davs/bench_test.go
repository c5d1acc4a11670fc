package davs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/benchutil"
)

// benchSize is MOVERS_BENCH_SIZE (e.g. "256MiB"), default 64 MiB.
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

// BenchmarkNginx measures the davs mover against nginx on loopback: GET into a file and PUT
// from a file (in the page cache), adler32 computed while streaming. go test reports MB/s.
func BenchmarkNginx(b *testing.B) {
	n := gridtest.StartNginxDAV(b)
	size := benchSize(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := benchutil.WriteRandomFile(src, size); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.WriteFile("in/src", data); err != nil {
		b.Fatal(err)
	}
	data = nil
	m := plain()
	b.Run("get", func(b *testing.B) {
		b.SetBytes(size)
		dst := filepath.Join(dir, "dst")
		for b.Loop() {
			if _, err := m.Get(b.Context(), movers.Transfer{Source: "davs://" + n.URL[len("http://"):] + "/in/src", Destination: dst, Size: size}); err != nil {
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
			url := fmt.Sprintf("davs://%s/out/%d", n.URL[len("http://"):], i)
			if _, err := m.Put(b.Context(), movers.Transfer{Source: src, Destination: url, Size: size}); err != nil {
				b.Fatal(err)
			}
			os.Remove(n.Path(fmt.Sprintf("out/%d", i)))
		}
	})
}
