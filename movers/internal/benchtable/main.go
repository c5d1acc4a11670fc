// Command benchtable compares the copy mover with "cp" followed by an adler32 of the copy
// (xrdadler32 when it is on PATH, else Go's hash/adler32 over the copy) on one file of a
// given size, and prints a Markdown table of the rates. Used by "make bench".
//
//	go run ./movers/internal/benchtable -size 1GiB -dir /tmp
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/benchutil"
	"github.com/gopilot/gopilot/movers/local"
)

func main() {
	sizeFlag := flag.String("size", "1GiB", "file size (bytes, or with a unit: 64MiB, 1GiB, 1GB)")
	dirFlag := flag.String("dir", os.TempDir(), "directory for the test files (its file system is measured)")
	runsFlag := flag.Int("runs", 3, "rounds (the order of the methods rotates); the table shows the median of each method")
	flag.Parse()
	if err := run(context.Background(), *sizeFlag, *dirFlag, max(*runsFlag, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sizeArg, parent string, runs int) error {
	size, err := benchutil.ParseSize(sizeArg)
	if err != nil {
		return err
	}
	if size <= 0 {
		return errors.New("size must be positive")
	}
	dir, err := os.MkdirTemp(parent, "benchtable-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "src")
	if err := benchutil.WriteRandomFile(src, size); err != nil {
		return err
	}
	const (
		mover     = "copy mover (adler32 while copying)"
		moverSync = "copy mover, fsync before rename"
		cp        = "cp"
		total     = "cp + adler32 of the copy (total)"
	)
	times := map[string][]time.Duration{}
	cpus := map[string][]time.Duration{}
	sums := map[string]string{}
	var sumName string
	moverRun := func(sync bool) error {
		dst := filepath.Join(dir, "mover-dst")
		start, cpu0 := time.Now(), cpuTime()
		res, err := (&local.Copy{Sync: sync}).Get(ctx, movers.Transfer{Source: src, Destination: dst, Size: size})
		if err != nil {
			return err
		}
		name := mover
		if sync {
			name = moverSync
		}
		times[name] = append(times[name], time.Since(start))
		cpus[name] = append(cpus[name], cpuTime()-cpu0)
		sums[name] = res.Checksum.Value
		return os.Remove(dst)
	}
	cpRun := func() error {
		dst := filepath.Join(dir, "cp-dst")
		start, cpu0 := time.Now(), cpuTime()
		if out, err := exec.CommandContext(ctx, "cp", "--", src, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("cp: %v: %s", err, out)
		}
		cpTime, cpCPU := time.Since(start), cpuTime()-cpu0
		name, sum, sumTime, err := adlerOfCopy(ctx, dst)
		if err != nil {
			return err
		}
		sumCPU := cpuTime() - cpu0 - cpCPU
		cpus[cp] = append(cpus[cp], cpCPU)
		cpus[name] = append(cpus[name], sumCPU)
		cpus[total] = append(cpus[total], cpCPU+sumCPU)
		sumName = name
		times[cp] = append(times[cp], cpTime)
		times[name] = append(times[name], sumTime)
		times[total] = append(times[total], cpTime+sumTime)
		sums[name], sums[total] = sum, sum
		return os.Remove(dst)
	}
	steps := []func() error{func() error { return moverRun(false) }, func() error { return moverRun(true) }, cpRun}
	for r := range runs {
		// rotate the order so that no method is always first after the source was written
		for i := range steps {
			settle()
			if err := steps[(r+i)%len(steps)](); err != nil {
				return err
			}
		}
	}

	fmt.Printf("File size %d bytes (%.0f MiB) in %s; source in the page cache; median of %d rounds; MB = 10^6 bytes.\n\n",
		size, float64(size)/(1<<20), parent, runs)
	fmt.Println("| method | seconds | MB/s | CPU s | adler32 |")
	fmt.Println("|---|---:|---:|---:|---|")
	for _, name := range []string{mover, moverSync, cp, sumName, total} {
		d := median(times[name])
		fmt.Printf("| %s | %.3f | %.0f | %.2f | %s |\n", name, d.Seconds(), float64(size)/1e6/d.Seconds(), median(cpus[name]).Seconds(), sums[name])
	}
	if sums[mover] != sums[total] {
		return fmt.Errorf("checksums differ: mover %s, reference %s", sums[mover], sums[total])
	}
	return nil
}

// cpuTime is the user+system time of this process and of its waited-for children.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// settle flushes dirty pages of earlier rounds so that each measurement starts alike.
func settle() { syscall.Sync() }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// adlerOfCopy computes the adler32 of path with xrdadler32 if available, else in Go.
func adlerOfCopy(ctx context.Context, path string) (name, sum string, d time.Duration, err error) {
	if tool, lerr := exec.LookPath("xrdadler32"); lerr == nil {
		start := time.Now()
		out, err := exec.CommandContext(ctx, tool, path).Output()
		if err != nil {
			return "", "", 0, fmt.Errorf("xrdadler32: %w", err)
		}
		fields := strings.Fields(string(out))
		if len(fields) == 0 {
			return "", "", 0, fmt.Errorf("xrdadler32 printed nothing")
		}
		return "xrdadler32 of the copy", strings.ToLower(fields[0]), time.Since(start), nil
	}
	start := time.Now()
	c, err := movers.ChecksumOf(ctx, path, jobdef.Adler32)
	if err != nil {
		return "", "", 0, err
	}
	return "adler32 of the copy (Go hash/adler32; xrdadler32 not on PATH)", c.Value, time.Since(start), nil
}
