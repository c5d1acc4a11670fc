package status

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopilot/gopilot/pilot/server"
)

// MetricsContentType is the Content-Type of GET /metrics: Prometheus text
// exposition format 0.0.4.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// maxLabelValues bounds the distinct values of each label (outcome,
// operation, result); further values are counted under "other", so that a
// caller passing unexpected strings cannot grow the exposition without
// bound.
const maxLabelValues = 32

// Results of GetJob, the values of the result label of
// gopilot_getjob_requests_total.
const (
	GetJobGot    = "job"     // a job was handed out
	GetJobNone   = "no_job"  // the server had no job (server.ErrNoJob)
	GetJobBadJob = "bad_job" // a job was handed out but unusable (*server.BadJobError)
	GetJobError  = "error"   // any other error
)

// nBuckets is the number of finite buckets of the getJob latency histogram.
const nBuckets = 13

// getJobBounds are the upper bounds, in seconds, of the getJob latency
// histogram's buckets (+Inf is implicit).
func getJobBounds() [nBuckets]float64 {
	return [nBuckets]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
}

// Metrics holds the pilot's counters and the getJob latency histogram. All
// methods are safe for concurrent use. The zero value is ready to use, and
// every method of a nil *Metrics does nothing (WriteText then writes zeros),
// so a pilot without a status endpoint can call them unconditionally.
type Metrics struct {
	mu sync.Mutex
	v  values
}

// values are the metrics' values, guarded by Metrics.mu.
type values struct {
	jobs       labelCounts // by outcome
	getJobRes  labelCounts // by result
	serverErrs labelCounts // by operation
	stageIn    transfers
	stageOut   transfers
	payloads   uint64
	wall, cpu  float64 // payload seconds
	getJob     histogram
}

type transfers struct {
	files, bytes uint64
	seconds      float64
}

// labelCounts counts by one label's value; the zero value is ready to use.
type labelCounts map[string]uint64

func (c *labelCounts) add(v string, n uint64) {
	if *c == nil {
		*c = labelCounts{}
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	if _, ok := (*c)[v]; !ok && len(*c) >= maxLabelValues {
		v = "other"
	}
	(*c)[v] += n
}

type histogram struct {
	counts [nBuckets]uint64 // per bucket, not cumulative
	inf    uint64           // above the last bound
	sum    float64
}

func (h *histogram) observe(v float64) {
	h.sum += v
	bounds := getJobBounds()
	for i, b := range bounds {
		if v <= b {
			h.counts[i]++
			return
		}
	}
	h.inf++
}

// NewMetrics returns an empty set of metrics in which the usual label values
// (outcomes finished and failed, the GetJob results) are present with 0, so
// that they appear in the first scrape.
func NewMetrics() *Metrics {
	m := &Metrics{}
	for _, o := range []string{"finished", "failed"} {
		m.v.jobs.add(o, 0)
	}
	for _, r := range []string{GetJobGot, GetJobNone, GetJobBadJob, GetJobError} {
		m.v.getJobRes.add(r, 0)
	}
	return m
}

// JobDone counts a job that ended with outcome, its final state as reported
// to the server ("finished", "failed", ...; "" counts as "unknown").
func (m *Metrics) JobDone(outcome string) {
	if m == nil {
		return
	}
	if outcome == "" {
		outcome = "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v.jobs.add(outcome, 1)
}

// StageIn counts files input files transferred with bytes in total, taking
// d. Call it once per job (or once per file): the counters add up either
// way. Negative values count as 0.
func (m *Metrics) StageIn(files int, bytes int64, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v.stageIn.add(files, bytes, d)
}

// StageOut is StageIn for outputs and log tarballs.
func (m *Metrics) StageOut(files int, bytes int64, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v.stageOut.add(files, bytes, d)
}

func (t *transfers) add(files int, bytes int64, d time.Duration) {
	t.files += uint64(max(files, 0))
	t.bytes += uint64(max(bytes, 0))
	t.seconds += max(d, 0).Seconds()
}

// Payload counts one payload run that took wall time and cpu CPU time
// (user + system of its process tree). Negative values count as 0.
func (m *Metrics) Payload(wall, cpu time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v.payloads++
	m.v.wall += max(wall, 0).Seconds()
	m.v.cpu += max(cpu, 0).Seconds()
}

// GetJob records one getJob call that took d and returned err: its latency
// goes into the histogram and its result (GetJobGot, GetJobNone for
// server.ErrNoJob, GetJobBadJob for *server.BadJobError, else GetJobError)
// is counted. It does not count server errors: call ServerError for those.
func (m *Metrics) GetJob(d time.Duration, err error) {
	if m == nil {
		return
	}
	res := GetJobError
	var bad *server.BadJobError
	switch {
	case err == nil:
		res = GetJobGot
	case errors.Is(err, server.ErrNoJob):
		res = GetJobNone
	case errors.As(err, &bad):
		res = GetJobBadJob
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v.getJobRes.add(res, 1)
	m.v.getJob.observe(max(d, 0).Seconds())
}

// ServerError counts one failed call to the server; op names the operation
// ("getJob", "updateJob", ...; "" counts as "unknown").
func (m *Metrics) ServerError(op string) {
	if m == nil {
		return
	}
	if op == "" {
		op = "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v.serverErrs.add(op, 1)
}

// JobCounts returns a copy of the job counts by outcome (never nil).
func (m *Metrics) JobCounts() map[string]int64 {
	out := map[string]int64{}
	if m == nil {
		return out
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.v.jobs {
		out[k] = int64(v)
	}
	return out
}

// snapshot copies the values under the lock.
func (m *Metrics) snapshot() values {
	if m == nil {
		return values{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.v
	c.jobs = maps.Clone(m.v.jobs)
	c.getJobRes = maps.Clone(m.v.getJobRes)
	c.serverErrs = maps.Clone(m.v.serverErrs)
	return c
}

// WriteText writes every metric in Prometheus text exposition format 0.0.4:
// the counters and the histogram held by m, and gauges derived from snap
// (identity, uptime, time left, draining, the current job's phase and
// resource use). snap should be complete (as the Server passes it):
// UptimeSeconds and TimeLeftSeconds are used as they are, and
// gopilot_time_left_seconds is left out when TimeLeftSeconds is negative.
// Families appear in a fixed order and label values sorted, so that two
// scrapes differ only in values.
func (m *Metrics) WriteText(w io.Writer, snap Snapshot) error {
	c := m.snapshot()
	var e expo
	e.b.Grow(8 << 10)

	e.family("gopilot_info", "gauge", "Constant 1, labelled with the pilot's identity.")
	e.sample("gopilot_info", 1, "pilot_id", snap.PilotID, "queue", snap.Queue, "site", snap.Site,
		"node", snap.Node, "version", snap.Version)
	e.family("gopilot_start_time_seconds", "gauge", "Pilot start time in seconds since the Unix epoch.")
	if !snap.Started.IsZero() {
		e.sample("gopilot_start_time_seconds", float64(snap.Started.UnixMilli())/1e3)
	}
	e.gauge("gopilot_uptime_seconds", "Seconds since the pilot started.", float64(snap.UptimeSeconds))
	e.family("gopilot_time_left_seconds", "gauge", "Seconds until the pilot's lifetime ends.")
	if snap.TimeLeftSeconds >= 0 {
		e.sample("gopilot_time_left_seconds", float64(snap.TimeLeftSeconds))
	}
	e.gauge("gopilot_draining", "1 when the pilot was told to drain (finish the current job, take no more), else 0.",
		bool01(snap.Draining))

	e.family("gopilot_job_phase", "gauge", "1 for the current job's phase, 0 for the others; all 0 when idle.")
	for _, p := range Phases() {
		e.sample("gopilot_job_phase", bool01(snap.Job != nil && snap.Job.State == p), "phase", string(p))
	}
	// The current job's figures are absent when the pilot is idle.
	for _, g := range []struct {
		name, help string
		v          func(*JobStatus) float64
	}{
		{"gopilot_job_cpu_seconds", "CPU seconds used so far by the current job's payload.",
			func(j *JobStatus) float64 { return float64(j.CPUSeconds) }},
		{"gopilot_job_rss_bytes", "Resident set size of the current job's payload process tree.",
			func(j *JobStatus) float64 { return float64(j.RSSKB) * 1024 }},
		{"gopilot_job_pss_bytes", "Proportional set size of the current job's payload process tree.",
			func(j *JobStatus) float64 { return float64(j.PSSKB) * 1024 }},
	} {
		e.family(g.name, "gauge", g.help)
		if snap.Job != nil {
			e.sample(g.name, g.v(snap.Job))
		}
	}

	e.labelled("gopilot_jobs_total", "counter", "Jobs done, by final state.", "outcome", c.jobs)

	e.counter("gopilot_stagein_files_total", "Input files staged in.", float64(c.stageIn.files))
	e.counter("gopilot_stagein_bytes_total", "Bytes staged in.", float64(c.stageIn.bytes))
	e.counter("gopilot_stagein_seconds_total", "Seconds spent staging in.", c.stageIn.seconds)
	e.counter("gopilot_stageout_files_total", "Output and log files staged out.", float64(c.stageOut.files))
	e.counter("gopilot_stageout_bytes_total", "Bytes staged out.", float64(c.stageOut.bytes))
	e.counter("gopilot_stageout_seconds_total", "Seconds spent staging out.", c.stageOut.seconds)

	e.counter("gopilot_payloads_total", "Payloads run to their end.", float64(c.payloads))
	e.counter("gopilot_payload_wall_seconds_total", "Wall-clock seconds of the payloads run.", c.wall)
	e.counter("gopilot_payload_cpu_seconds_total", "CPU seconds (user + system) of the payloads run.", c.cpu)

	e.labelled("gopilot_getjob_requests_total", "counter", "getJob calls, by result (job, no_job, bad_job, error).",
		"result", c.getJobRes)
	e.family("gopilot_getjob_duration_seconds", "histogram", "Latency of getJob calls, retries included.")
	var cum uint64
	for i, b := range getJobBounds() {
		cum += c.getJob.counts[i]
		e.sample("gopilot_getjob_duration_seconds_bucket", float64(cum), "le", formatValue(b))
	}
	cum += c.getJob.inf
	e.sample("gopilot_getjob_duration_seconds_bucket", float64(cum), "le", "+Inf")
	e.sample("gopilot_getjob_duration_seconds_sum", c.getJob.sum)
	e.sample("gopilot_getjob_duration_seconds_count", float64(cum))

	e.labelled("gopilot_server_errors_total", "counter", "Failed calls to the PanDA server, by operation.",
		"op", c.serverErrs)

	_, err := w.Write(e.b.Bytes())
	return err
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// expo builds an exposition.
type expo struct{ b bytes.Buffer }

func (e *expo) family(name, typ, help string) {
	e.b.WriteString("# HELP ")
	e.b.WriteString(name)
	e.b.WriteByte(' ')
	e.b.WriteString(escapeHelp(help))
	e.b.WriteString("\n# TYPE ")
	e.b.WriteString(name)
	e.b.WriteByte(' ')
	e.b.WriteString(typ)
	e.b.WriteByte('\n')
}

func (e *expo) gauge(name, help string, v float64) {
	e.family(name, "gauge", help)
	e.sample(name, v)
}

func (e *expo) counter(name, help string, v float64) {
	e.family(name, "counter", help)
	e.sample(name, v)
}

func (e *expo) labelled(name, typ, help, label string, c labelCounts) {
	e.family(name, typ, help)
	for _, k := range slices.Sorted(maps.Keys(c)) {
		e.sample(name, float64(c[k]), label, k)
	}
}

// sample writes one sample line; labels are name, value pairs.
func (e *expo) sample(name string, v float64, labels ...string) {
	e.b.WriteString(name)
	if len(labels) > 0 {
		e.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				e.b.WriteByte(',')
			}
			e.b.WriteString(labels[i])
			e.b.WriteString(`="`)
			e.b.WriteString(escapeLabel(labels[i+1]))
			e.b.WriteByte('"')
		}
		e.b.WriteByte('}')
	}
	e.b.WriteByte(' ')
	e.b.WriteString(formatValue(v))
	e.b.WriteByte('\n')
}

// escapeLabel escapes a label value: backslash, double quote and line feed,
// after replacing invalid UTF-8.
func escapeLabel(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

// escapeHelp escapes HELP text: backslash and line feed.
func escapeHelp(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\\\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// formatValue formats a sample value: whole numbers without exponent or
// fraction, others in Go's shortest form, and +Inf, -Inf, NaN as the format
// spells them.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
