package timedcmd_test

import (
	"context"
	"testing"
	"time"

	"github.com/gopilot/gopilot/timedcmd"
	"github.com/gopilot/gopilot/timedcmd/internal/bench"
)

// The benchmarks run timedcmd and bare os/exec side by side and report
// the median and 99th percentile of each trial as metrics; `go run
// ./timedcmd/internal/benchtable` prints the same as a table.

func report(b *testing.B, s bench.Sample) {
	b.ReportMetric(float64(s.Quantile(0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(s.Quantile(0.99).Microseconds()), "p99-µs")
}

func subreaper(b *testing.B) *timedcmd.Runner {
	r, err := timedcmd.NewRunner(timedcmd.RunnerOptions{Subreaper: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func BenchmarkTrue(b *testing.B) {
	for _, k := range []bench.Kind{bench.Timedcmd, bench.OSExec} {
		b.Run(k.String(), func(b *testing.B) {
			var s bench.Sample
			for b.Loop() {
				d, err := bench.True(context.Background(), k, nil)
				if err != nil {
					b.Fatal(err)
				}
				s = append(s, d)
			}
			report(b, s)
		})
	}
}

func BenchmarkExitLatency(b *testing.B) {
	cases := []struct {
		name      string
		kind      bench.Kind
		subreaper bool
	}{
		{"timedcmd", bench.Timedcmd, false},
		{"timedcmd-subreaper", bench.Timedcmd, true},
		{"osexec", bench.OSExec, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var r *timedcmd.Runner
			if tc.subreaper {
				r = subreaper(b)
			}
			var s bench.Sample
			for b.Loop() {
				d, err := bench.ExitLatency(context.Background(), tc.kind, r)
				if err != nil {
					b.Fatal(err)
				}
				s = append(s, d)
			}
			report(b, s)
		})
	}
}

func BenchmarkKillTree(b *testing.B) {
	for _, v := range []struct {
		name       string
		ignoreTERM bool
		grace      time.Duration
	}{
		{"grace0", false, 0},
		{"ignoreTERM", true, 100 * time.Millisecond},
	} {
		for _, k := range []bench.Kind{bench.Timedcmd, bench.OSExec} {
			b.Run(v.name+"/"+k.String(), func(b *testing.B) {
				r := subreaper(b)
				var s bench.Sample
				left := 0
				for b.Loop() {
					res, err := bench.KillTree(k, r, v.ignoreTERM, v.grace)
					if err != nil {
						b.Fatal(err)
					}
					s = append(s, res.Latency)
					left += res.Left
				}
				report(b, s)
				b.ReportMetric(float64(left)/float64(len(s)), "left/op")
			})
		}
	}
}
