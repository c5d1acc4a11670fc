package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
)

// BenchmarkChownTree hands over (and back) a job directory of 10 directories of 100 files.
func BenchmarkChownTree(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	for d := 0; d < 10; d++ {
		sub := filepath.Join(dir, fmt.Sprint("d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < 100; f++ {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprint("f", f)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := chownTree(dir, 65534, 65534); err != nil {
			b.Fatal(err)
		}
		if err := chownTree(dir, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareRelease is the per-job cost for a fixed account and an empty job directory.
func BenchmarkPrepareRelease(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	s, err := New(Options{PayloadUser: "nobody"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		b.Fatal(err)
	}
	job := &jobdef.Job{PandaID: 1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.Prepare(context.Background(), job, dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Release(); err != nil {
			b.Fatal(err)
		}
	}
}
