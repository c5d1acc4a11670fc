// Command benchtable measures timedcmd against bare os/exec in the same
// process, trial by trial and interleaved, and prints a Markdown table:
// the cost of running /bin/true, the latency from a child's exit to the
// return of Wait, and the latency from a deadline to the death of every
// process of a 50-process tree (SIGKILL at once, and with every process
// ignoring SIGTERM so that the grace period runs out).
//
// Usage: go run ./timedcmd/internal/benchtable [-n 500] [-kill-n 40] [-grace 100ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/gopilot/gopilot/internal/helperproc"
	"github.com/gopilot/gopilot/timedcmd"
	"github.com/gopilot/gopilot/timedcmd/internal/bench"
	"golang.org/x/sys/unix"
)

func main() {
	helperproc.Dispatch(nil) // the exit-latency child is this binary
	n := flag.Int("n", 500, "trials per implementation for /bin/true and exit latency")
	killN := flag.Int("kill-n", 40, "trials per implementation for each tree kill")
	grace := flag.Duration("grace", 100*time.Millisecond, "grace period of the SIGTERM-ignoring tree")
	flag.Parse()
	if err := run(*n, *killN, *grace); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

type row struct {
	name       string
	tc, osexec bench.Sample
	note       string
}

func run(n, killN int, grace time.Duration) error {
	ctx := context.Background()
	load0 := loadavg()
	var rows []row

	// Package-level timedcmd first, with no subreaper in the process.
	tc, oe, err := pair(n, func(k bench.Kind) (time.Duration, error) { return bench.True(ctx, k, nil) })
	if err != nil {
		return err
	}
	rows = append(rows, row{"`/bin/true`, start to reaped", tc, oe,
		fmt.Sprintf("ratio of medians **%.2fx** (means %.2fx); timedcmd captures both tails through pipes, os/exec discards output",
			ratio(tc.Quantile(0.5), oe.Quantile(0.5)), ratio(mean(tc), mean(oe)))})

	tc, oe, err = pair(n, func(k bench.Kind) (time.Duration, error) { return bench.ExitLatency(ctx, k, nil) })
	if err != nil {
		return err
	}
	rows = append(rows, row{"exit latency: child exits → Wait returns", tc, oe, "package-level Run; stdout through a pipe on both sides"})

	r, err := timedcmd.NewRunner(timedcmd.RunnerOptions{Subreaper: true})
	if err != nil {
		return err
	}
	defer r.Close()
	tc, oe, err = pair(n, func(k bench.Kind) (time.Duration, error) { return bench.ExitLatency(ctx, k, r) })
	if err != nil {
		return err
	}
	rows = append(rows, row{"exit latency, subreaper Runner", tc, oe, "the process is a child subreaper with its reaper running"})

	for _, v := range []struct {
		name       string
		ignoreTERM bool
		grace      time.Duration
	}{
		{fmt.Sprintf("kill %d-process tree, grace 0", bench.TreeSize), false, 0},
		{fmt.Sprintf("kill %d-process tree ignoring SIGTERM, grace %v", bench.TreeSize, grace), true, grace},
	} {
		left := map[bench.Kind]int{}
		tc, oe, err = pair(killN, func(k bench.Kind) (time.Duration, error) {
			res, err := bench.KillTree(k, r, v.ignoreTERM, v.grace)
			left[k] += res.Left
			return res.Latency, err
		})
		if err != nil {
			return err
		}
		rows = append(rows, row{v.name, tc, oe, fmt.Sprintf(
			"deadline → Wait returns; processes still alive then: timedcmd %d, os/exec %d in %d trials (os/exec cannot reach the 4 that left the session)",
			left[bench.Timedcmd], left[bench.OSExec], killN)})
	}

	fmt.Printf("| measurement | timedcmd p50 | timedcmd p99 | os/exec p50 | os/exec p99 | notes |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---|\n")
	for _, rw := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", rw.name,
			ms(rw.tc.Quantile(0.5)), ms(rw.tc.Quantile(0.99)), ms(rw.osexec.Quantile(0.5)), ms(rw.osexec.Quantile(0.99)), rw.note)
	}
	fmt.Printf("\n%s, %s, %d CPUs, kernel %s; %d trials per cell (%d for the kills), interleaved; load average %s before, %s after.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), kernel(), n, killN, load0, loadavg())
	return nil
}

// pair runs trial n times for each kind, alternating which goes first.
func pair(n int, trial func(bench.Kind) (time.Duration, error)) (tc, oe bench.Sample, err error) {
	order := [2]bench.Kind{bench.Timedcmd, bench.OSExec}
	for i := range n {
		for j := range 2 {
			k := order[(i+j)%2]
			d, err := trial(k)
			if err != nil {
				return nil, nil, fmt.Errorf("%v trial %d: %w", k, i, err)
			}
			if k == bench.Timedcmd {
				tc = append(tc, d)
			} else {
				oe = append(oe, d)
			}
		}
	}
	return tc, oe, nil
}

func mean(s bench.Sample) time.Duration {
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(max(len(s), 1))
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
