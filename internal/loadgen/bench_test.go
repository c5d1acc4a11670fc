package loadgen

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopilot/gopilot/pilot/server"
)

// BenchmarkDispatch measures complete job cycles (getJob and three
// updates) through a local pandalite, one op per job, for several pilot
// counts and both APIs. It reports cycles/s and the p99 latencies as seen
// by the pilots, and fails if a job is handed out twice or an update is
// lost.
func BenchmarkDispatch(b *testing.B) {
	for _, api := range []server.API{server.Legacy, server.V1} {
		for _, n := range []int{10, 100, 500} {
			b.Run(fmt.Sprintf("api=%s/pilots=%d", api, n), func(b *testing.B) {
				benchDispatch(b, api, n)
			})
		}
	}
}

func benchDispatch(b *testing.B, api server.API, pilots int) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 10*time.Minute, fmt.Errorf("benchmark took over 10 min"))
	defer cancel()
	l, err := StartLocal(ctx, filepath.Join(b.TempDir(), "jobs.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	jobs := max(b.N, pilots)
	ids, err := l.Store.Submit(ctx, DefaultSite, JobDefinitions(jobs, DefaultSite, "bench")...)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := Run(ctx, Config{URL: l.URL, Site: DefaultSite, Pilots: pilots, API: api})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	chk, err := Verify(ctx, l.Store, ids, res)
	if err != nil {
		b.Fatal(err)
	}
	if !chk.OK() || res.Errors > 0 {
		b.Fatalf("errors %d %v; check %+v", res.Errors, res.FirstErrors, chk)
	}
	b.ReportMetric(res.CyclesPerSecond(), "cycles/s")
	b.ReportMetric(float64(res.GetJob.P99)/1e6, "getJob-p99-ms")
	b.ReportMetric(float64(res.Update.P99)/1e6, "update-p99-ms")
}
