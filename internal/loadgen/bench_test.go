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
// updates) through an in-process pandalite, one op per job, for several
// pilot counts, both APIs and both legacy encodings. It reports cycles/s and the p99 latencies as seen
// by the pilots, and fails if a job is handed out twice or an update is
// lost.
func BenchmarkDispatch(b *testing.B) {
	for _, enc := range []struct {
		name string
		api  server.API
		form bool
	}{{"legacy", server.Legacy, false}, {"legacy-form", server.Legacy, true}, {"v1", server.V1, false}} {
		for _, n := range []int{10, 100, 500} {
			b.Run(fmt.Sprintf("api=%s/pilots=%d", enc.name, n), func(b *testing.B) {
				benchDispatch(b, enc.api, enc.form, n)
			})
		}
	}
}

func benchDispatch(b *testing.B, api server.API, form bool, pilots int) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 10*time.Minute, fmt.Errorf("benchmark took over 10 min"))
	defer cancel()
	l, err := StartLocal(ctx, filepath.Join(b.TempDir(), "jobs.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	ids, err := l.Store.Submit(ctx, DefaultSite, JobDefinitions(b.N, DefaultSite, "bench")...)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := Run(ctx, Config{URL: l.URL, Site: DefaultSite, Pilots: pilots, API: api, FormEncoding: form})
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
