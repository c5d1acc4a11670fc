package benchutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1500000", 1500000, true},
		{"64MiB", 64 << 20, true},
		{"64m", 64 << 20, true},
		{"1 GiB", 1 << 30, true},
		{" 2G ", 2 << 30, true},
		{"3KB", 3000, true},
		{"1MB", 1e6, true},
		{"5B", 5, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1.5G", 0, false},
		{"1X", 0, false},
		{"9999999999T", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "64MiB", "1 g", "9999999999999T", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}

func TestWriteRandomFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteRandomFile(p, 3<<20+5); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != 3<<20+5 {
		t.Fatalf("size %v %v", fi, err)
	}
}
