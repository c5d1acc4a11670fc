package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopilot/gopilot/pilot/server"
)

func writeChecked(t *testing.T, m *Metrics, snap Snapshot) *exposition {
	t.Helper()
	var b bytes.Buffer
	if err := m.WriteText(&b, snap); err != nil {
		t.Fatal(err)
	}
	x, err := checkExposition(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return x
}

func completed(snap Snapshot, m *Metrics) Snapshot {
	snap.complete(t0, m)
	return snap
}

func TestMetricsText(t *testing.T) {
	base := newFakePilot().Snapshot()
	withJob := base
	withJob.Job = runningJob()
	draining := base
	draining.Draining, draining.DrainReason = true, "site maintenance"
	unknownDeadline := base
	unknownDeadline.Deadline = time.Time{}

	busy := func() *Metrics {
		m := NewMetrics()
		m.JobDone("finished")
		m.JobDone("finished")
		m.JobDone("failed")
		m.JobDone("")
		m.StageIn(3, 3000, 1500*time.Millisecond)
		m.StageIn(1, 500, 500*time.Millisecond)
		m.StageOut(2, 7000, 250*time.Millisecond)
		m.Payload(time.Hour, 50*time.Minute)
		m.GetJob(30*time.Millisecond, nil)
		m.GetJob(200*time.Millisecond, fmt.Errorf("%w (StatusCode 20)", server.ErrNoJob))
		m.GetJob(200*time.Second, errors.New("connection refused"))
		m.ServerError("getJob")
		m.ServerError("updateJob")
		m.ServerError("updateJob")
		return m
	}

	for _, tc := range []struct {
		name string
		m    *Metrics
		snap Snapshot
		want map[string]float64 // series key -> value
		gone []string           // series keys that must be absent
	}{
		{name: "fresh", m: NewMetrics(), snap: base, want: map[string]float64{
			`gopilot_jobs_total,outcome="finished"`:            0,
			`gopilot_jobs_total,outcome="failed"`:              0,
			`gopilot_uptime_seconds`:                           5400,
			`gopilot_time_left_seconds`:                        7200,
			`gopilot_draining`:                                 0,
			`gopilot_start_time_seconds`:                       float64(t0.Add(-90 * time.Minute).Unix()),
			`gopilot_getjob_duration_seconds_bucket,le="+Inf"`: 0,
			`gopilot_getjob_duration_seconds_count`:            0,
			`gopilot_getjob_requests_total,result="no_job"`:    0,
			`gopilot_job_phase,phase="running"`:                0,
			`gopilot_stagein_bytes_total`:                      0,
			`gopilot_payloads_total`:                           0,
			`gopilot_info,pilot_id="node1:1234|PR|0.1.0",queue="TEST_QUEUE",site="TEST_SITE",node="node1.example.org",version="0.1.0"`: 1,
		}, gone: []string{`gopilot_job_cpu_seconds`, `gopilot_job_rss_bytes`}},
		{name: "busy", m: busy(), snap: withJob, want: map[string]float64{
			`gopilot_jobs_total,outcome="finished"`:             2,
			`gopilot_jobs_total,outcome="failed"`:               1,
			`gopilot_jobs_total,outcome="unknown"`:              1,
			`gopilot_stagein_files_total`:                       4,
			`gopilot_stagein_bytes_total`:                       3500,
			`gopilot_stagein_seconds_total`:                     2,
			`gopilot_stageout_files_total`:                      2,
			`gopilot_stageout_bytes_total`:                      7000,
			`gopilot_stageout_seconds_total`:                    0.25,
			`gopilot_payloads_total`:                            1,
			`gopilot_payload_wall_seconds_total`:                3600,
			`gopilot_payload_cpu_seconds_total`:                 3000,
			`gopilot_getjob_requests_total,result="job"`:        1,
			`gopilot_getjob_requests_total,result="no_job"`:     1,
			`gopilot_getjob_requests_total,result="error"`:      1,
			`gopilot_getjob_requests_total,result="bad_job"`:    0,
			`gopilot_getjob_duration_seconds_bucket,le="0.025"`: 0,
			`gopilot_getjob_duration_seconds_bucket,le="0.05"`:  1,
			`gopilot_getjob_duration_seconds_bucket,le="0.25"`:  2,
			`gopilot_getjob_duration_seconds_bucket,le="120"`:   2,
			`gopilot_getjob_duration_seconds_bucket,le="+Inf"`:  3,
			`gopilot_getjob_duration_seconds_count`:             3,
			`gopilot_getjob_duration_seconds_sum`:               200.23,
			`gopilot_server_errors_total,op="getJob"`:           1,
			`gopilot_server_errors_total,op="updateJob"`:        2,
			`gopilot_job_phase,phase="running"`:                 1,
			`gopilot_job_phase,phase="stagein"`:                 0,
			`gopilot_job_cpu_seconds`:                           512,
			`gopilot_job_rss_bytes`:                             204800 * 1024,
			`gopilot_job_pss_bytes`:                             150000 * 1024,
		}},
		{name: "draining", m: NewMetrics(), snap: draining, want: map[string]float64{`gopilot_draining`: 1}},
		{name: "unknown deadline", m: NewMetrics(), snap: unknownDeadline, gone: []string{`gopilot_time_left_seconds`}},
		{name: "nil metrics", m: nil, snap: base, want: map[string]float64{
			`gopilot_uptime_seconds`: 5400, `gopilot_getjob_duration_seconds_count`: 0,
		}, gone: []string{`gopilot_jobs_total,outcome="finished"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := writeChecked(t, tc.m, completed(tc.snap, tc.m))
			for k, want := range tc.want {
				got, ok := x.values[k]
				if !ok {
					t.Errorf("%s missing", k)
				} else if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			for _, k := range tc.gone {
				if _, ok := x.values[k]; ok {
					t.Errorf("%s present", k)
				}
			}
		})
	}
}

// TestMetricsFamilies pins the metric set: the families, their types and
// their order.
func TestMetricsFamilies(t *testing.T) {
	x := writeChecked(t, NewMetrics(), completed(newFakePilot().Snapshot(), nil))
	var got []string
	for _, f := range x.families {
		got = append(got, f.name+" "+f.typ)
	}
	want := []string{
		"gopilot_info gauge", "gopilot_start_time_seconds gauge", "gopilot_uptime_seconds gauge",
		"gopilot_time_left_seconds gauge", "gopilot_draining gauge", "gopilot_job_phase gauge",
		"gopilot_job_cpu_seconds gauge", "gopilot_job_rss_bytes gauge", "gopilot_job_pss_bytes gauge",
		"gopilot_jobs_total counter",
		"gopilot_stagein_files_total counter", "gopilot_stagein_bytes_total counter", "gopilot_stagein_seconds_total counter",
		"gopilot_stageout_files_total counter", "gopilot_stageout_bytes_total counter", "gopilot_stageout_seconds_total counter",
		"gopilot_payloads_total counter", "gopilot_payload_wall_seconds_total counter", "gopilot_payload_cpu_seconds_total counter",
		"gopilot_getjob_requests_total counter", "gopilot_getjob_duration_seconds histogram",
		"gopilot_server_errors_total counter",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("families:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGetJobResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"job", nil, GetJobGot},
		{"no job", server.ErrNoJob, GetJobNone},
		{"wrapped no job", fmt.Errorf("getJob: %w", server.ErrNoJob), GetJobNone},
		{"bad job", &server.BadJobError{PandaID: 7, Err: errors.New("bad")}, GetJobBadJob},
		{"wrapped bad job", fmt.Errorf("x: %w", &server.BadJobError{PandaID: 7, Err: errors.New("bad")}), GetJobBadJob},
		{"error", errors.New("503"), GetJobError},
		{"cancelled", context.Canceled, GetJobError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			m.GetJob(time.Second, tc.err)
			x := writeChecked(t, m, completed(newFakePilot().Snapshot(), m))
			for _, r := range []string{GetJobGot, GetJobNone, GetJobBadJob, GetJobError} {
				want := 0.0
				if r == tc.want {
					want = 1
				}
				if got, _ := x.get("gopilot_getjob_requests_total", "result", r); got != want {
					t.Errorf("result %s = %v, want %v", r, got, want)
				}
			}
		})
	}
}

// TestLabelEscaping feeds hostile label values through the writer and reads
// them back with the strict checker.
func TestLabelEscaping(t *testing.T) {
	for _, v := range []string{
		`quote"d`, `back\slash`, "new\nline", `\n literal`, "tab\there", `all "\` + "\n" + `"`, "ünïcødé", "{}=,",
	} {
		t.Run(v, func(t *testing.T) {
			m := NewMetrics()
			m.ServerError(v)
			snap := completed(newFakePilot().Snapshot(), m)
			snap.Queue = v
			x := writeChecked(t, m, snap)
			if got, ok := x.get("gopilot_server_errors_total", "op", v); !ok || got != 1 {
				t.Errorf("op %q: %v %v; have %v", v, got, ok, x.values)
			}
			f := x.families[0]
			if q, _ := f.samples[0].label("queue"); q != v {
				t.Errorf("queue label %q, want %q", q, v)
			}
		})
	}
	t.Run("invalid UTF-8", func(t *testing.T) {
		m := NewMetrics()
		m.JobDone("bad\xffoutcome")
		x := writeChecked(t, m, completed(newFakePilot().Snapshot(), m))
		if got, _ := x.get("gopilot_jobs_total", "outcome", "bad\uFFFDoutcome"); got != 1 {
			t.Errorf("outcome not replaced: %v", x.values)
		}
	})
}

func TestLabelCardinality(t *testing.T) {
	m := NewMetrics()
	for i := range 3 * maxLabelValues {
		m.ServerError(fmt.Sprintf("op%03d", i))
	}
	x := writeChecked(t, m, completed(newFakePilot().Snapshot(), m))
	var n int
	var total float64
	for _, f := range x.families {
		if f.name == "gopilot_server_errors_total" {
			n = len(f.samples)
			for _, s := range f.samples {
				total += s.value
			}
		}
	}
	if n != maxLabelValues+1 || total != 3*maxLabelValues {
		t.Errorf("%d series with %v errors, want %d with %d", n, total, maxLabelValues+1, 3*maxLabelValues)
	}
	if got, _ := x.get("gopilot_server_errors_total", "op", "other"); got != 2*maxLabelValues {
		t.Errorf("other = %v", got)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.JobDone("finished")
	m.StageIn(1, 1, time.Second)
	m.StageOut(1, 1, time.Second)
	m.Payload(time.Second, time.Second)
	m.GetJob(time.Second, nil)
	m.ServerError("getJob")
	if c := m.JobCounts(); c == nil || len(c) != 0 {
		t.Errorf("JobCounts = %v", c)
	}
	var zero Metrics
	zero.JobDone("finished")
	if c := zero.JobCounts(); c["finished"] != 1 {
		t.Errorf("zero value JobCounts = %v", c)
	}
}

func TestNegativeValues(t *testing.T) {
	m := NewMetrics()
	m.StageIn(-1, -100, -time.Second)
	m.StageOut(-1, -100, -time.Second)
	m.Payload(-time.Second, -time.Second)
	m.GetJob(-time.Second, nil)
	x := writeChecked(t, m, completed(newFakePilot().Snapshot(), m))
	for _, k := range []string{"gopilot_stagein_bytes_total", "gopilot_stageout_seconds_total",
		"gopilot_payload_wall_seconds_total", "gopilot_getjob_duration_seconds_sum"} {
		if v, _ := x.get(k); v != 0 {
			t.Errorf("%s = %v, want 0", k, v)
		}
	}
	if v, _ := x.get("gopilot_getjob_duration_seconds_bucket", "le", "0.01"); v != 1 {
		t.Errorf("negative latency not in the first bucket: %v", v)
	}
}

func TestFormatValue(t *testing.T) {
	tenth := 0.1
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-3, "-3"}, {2.5, "2.5"}, {0.005, "0.005"}, {1e6, "1000000"},
		{123456789012, "123456789012"}, {1e20, "1e+20"}, {tenth + 0.2, "0.30000000000000004"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := formatValue(tc.v); got != tc.want {
			t.Errorf("formatValue(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestMetricsConcurrent updates the metrics from many goroutines while
// others write the exposition; run with -race. Every exposition must pass
// the checker and counters must never go down; the final counts are exact.
func TestMetricsConcurrent(t *testing.T) {
	const writers, rounds = 8, 300
	m := NewMetrics()
	snap := completed(newFakePilot().Snapshot(), m)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				m.JobDone([]string{"finished", "failed"}[i%2])
				m.StageIn(1, 100, time.Millisecond)
				m.StageOut(1, 10, time.Millisecond)
				m.Payload(time.Second, time.Second/2)
				m.GetJob(time.Duration(w*i)*time.Millisecond, nil)
				m.ServerError("updateJob")
			}
		}()
	}
	stop := make(chan struct{})
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			var last float64
			for {
				var b bytes.Buffer
				if err := m.WriteText(&b, snap); err != nil {
					errc <- err
					return
				}
				x, err := checkExposition(b.String())
				if err != nil {
					errc <- err
					return
				}
				v, _ := x.get("gopilot_stagein_bytes_total")
				if v < last {
					errc <- fmt.Errorf("counter went down: %v < %v", v, last)
					return
				}
				last = v
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	x := writeChecked(t, m, snap)
	n := float64(writers * rounds)
	for k, want := range map[string]float64{
		`gopilot_jobs_total,outcome="finished"`:      n / 2,
		`gopilot_jobs_total,outcome="failed"`:        n / 2,
		`gopilot_stagein_bytes_total`:                100 * n,
		`gopilot_stageout_files_total`:               n,
		`gopilot_payloads_total`:                     n,
		`gopilot_getjob_duration_seconds_count`:      n,
		`gopilot_server_errors_total,op="updateJob"`: n,
	} {
		if got := x.values[k]; got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
}
