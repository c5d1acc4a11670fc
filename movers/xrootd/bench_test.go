package xrootd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/benchutil"
	"github.com/gopilot/gopilot/movers/xrootd"
	"github.com/gopilot/gopilot/timedcmd"
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

// BenchmarkGet compares downloads from a loopback xrootd: bare xrdcp, xrdcp computing
// adler32 (--cksum adler32:print), and the mover in both checksum modes. go test reports
// MB/s.
func BenchmarkGet(b *testing.B) {
	gridtest.NeedPrograms(b, gridtest.XrootdPackages, "xrdcp")
	x := gridtest.StartXrootd(b)
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
	if err := x.WriteFile("in/src", data); err != nil {
		b.Fatal(err)
	}
	data = nil
	url := x.RootURL + "//in/src"
	dst := filepath.Join(dir, "dst")
	env := append(os.Environ(), "XRD_CONNECTIONWINDOW=10", "XRD_CONNECTIONRETRY=1")
	tool := func(b *testing.B, args ...string) {
		res, err := timedcmd.Run(b.Context(), timedcmd.Spec{Path: args[0], Args: args, Env: env})
		if err != nil || !res.Success() {
			b.Fatalf("%v: %v %s", args, err, res.StderrTail)
		}
	}
	for _, c := range []struct {
		name string
		run  func(b *testing.B)
	}{
		{"xrdcp", func(b *testing.B) { tool(b, "xrdcp", "-np", "-f", url, dst) }},
		{"xrdcp-cksum", func(b *testing.B) { tool(b, "xrdcp", "-np", "-f", "--cksum", "adler32:print", url, dst) }},
		{"mover-stream", func(b *testing.B) { get(b, xrootd.New(xrootd.Options{}), url, dst, size) }},
		{"mover-toolchecksum", func(b *testing.B) { get(b, xrootd.New(xrootd.Options{ToolChecksum: true}), url, dst, size) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				c.run(b)
				os.Remove(dst)
			}
		})
	}
}

func get(b *testing.B, m movers.Mover, url, dst string, size int64) {
	if _, err := m.Get(b.Context(), movers.Transfer{Source: url, Destination: dst, Size: size}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPut compares uploads to a loopback xrootd: bare xrdcp, xrdcp with persist on
// successful close or printing the server's adler32 of the stored file, and the mover in
// both modes (streaming the file into xrdcp while hashing it, or xrdcp reading it).
func BenchmarkPut(b *testing.B) {
	gridtest.NeedPrograms(b, gridtest.XrootdPackages, "xrdcp")
	x := gridtest.StartXrootd(b)
	size := benchSize(b)
	src := filepath.Join(b.TempDir(), "src")
	if err := benchutil.WriteRandomFile(src, size); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "XRD_CONNECTIONWINDOW=10", "XRD_CONNECTIONRETRY=1")
	m := xrootd.New(xrootd.Options{})
	mt := xrootd.New(xrootd.Options{ToolChecksum: true})
	i := 0
	for _, c := range []struct {
		name  string
		flags []string // xrdcp flags; nil runs the mover
	}{
		{"xrdcp", []string{"-np", "-f"}},
		{"xrdcp-posc", []string{"-np", "-f", "--posc"}},
		{"xrdcp-cksum", []string{"-np", "-f", "--cksum", "adler32:print"}},
		{"mover", nil},
		{"mover-toolchecksum", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				i++
				url := fmt.Sprintf("%s//out/%d", x.RootURL, i)
				if c.flags != nil {
					args := append(append([]string{"xrdcp"}, c.flags...), src, url)
					res, err := timedcmd.Run(b.Context(), timedcmd.Spec{Path: "xrdcp", Args: args, Env: env})
					if err != nil || !res.Success() {
						b.Fatalf("xrdcp: %v %s", err, res.StderrTail)
					}
				} else {
					mv := m
					if c.name == "mover-toolchecksum" {
						mv = mt
					}
					if _, err := mv.Put(b.Context(), movers.Transfer{Source: src, Destination: url, Size: size}); err != nil {
						b.Fatal(err)
					}
				}
				os.Remove(x.Path(fmt.Sprintf("out/%d", i)))
			}
		})
	}
}
