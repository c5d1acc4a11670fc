// Package loadgen runs many simulated pilots at once against a PanDA
// server (normally pandalite) over real HTTP, through the pilot's own
// wire client (pilot/server), and checks afterwards, through the server's
// job store, that no job was handed out twice and no update was lost.
//
// A simulated pilot does what a pilot does with a trivial job, without
// running anything: getJob (legacy getJob or v1 acquire_jobs), then the
// updates "starting", "running" and a final "finished" carrying a
// one-file output report (the job's log file), and again, until the
// server has no job left for it.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// Config describes one load run.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:25080.
	URL string
	// Site is the siteName (v1: site_name) the pilots ask jobs for.
	Site string
	// Pilots is the number of pilots running at the same time (>= 1).
	Pilots int
	// API is the server API the pilots speak: server.Legacy (also for "")
	// or server.V1.
	API server.API
	// FormEncoding makes legacy pilots use Pilot 3's curl path (form
	// bodies answered in JSON) instead of gzip JSON answered urlencoded.
	FormEncoding bool
	// Label is the prodSourceLabel the pilots send; "" means "managed".
	Label string
	// AttemptTimeout bounds one HTTP call; 0 means 60 s.
	AttemptTimeout time.Duration
	// MaxErrors is how many failed calls a pilot tolerates before it
	// gives up; 0 means 10.
	MaxErrors int
	// Log receives one line per pilot that gives up; nil discards.
	Log logrus.FieldLogger
}

// Latency summarises the durations of one kind of call, as the pilot sees
// them (encoding, HTTP round trip and decoding).
type Latency struct {
	N        int
	P50, P99 time.Duration
	Max      time.Duration
}

// summarise sorts d in place and returns its summary.
func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	pick := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.5) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return Latency{N: len(d), P50: pick(0.50), P99: pick(0.99), Max: d[len(d)-1]}
}

// SentUpdate is one update a pilot sent for a job.
type SentUpdate struct {
	State string
	// Answered is true when the server answered StatusCode 0; false when
	// the call failed (the server may or may not have seen it).
	Answered bool
	// Command is the command of the answer ("" for NULL).
	Command string
}

// JobTrace is what the pilots did with one job.
type JobTrace struct {
	PandaID int64
	// Pilots lists the pilots (0-based) that received the job, once per
	// receipt; more than one entry means the job was handed out twice.
	Pilots  []int
	Updates []SentUpdate
}

// Result is the outcome of a run, as the pilots saw it.
type Result struct {
	Pilots int
	API    server.API
	Form   bool // legacy pilots used form bodies (Config.FormEncoding)
	// Cycles counts complete job cycles: a job received and its three
	// updates answered with StatusCode 0 and no command.
	Cycles int
	// Elapsed runs from the moment all pilots start to the moment the last
	// one stops (it has been told there is no job left, or gave up).
	Elapsed time.Duration
	// CPU is the CPU time (user + system) this process used during the
	// run: the pilots' share, plus the server's when it runs in-process.
	CPU    time.Duration
	GetJob Latency // every getJob / acquire_jobs call, including the final "no job" ones
	Update Latency // every updateJob / update_job call
	// Errors counts failed calls: transport or HTTP errors, undecodable
	// answers, StatusCode != 0, an unexpected command.
	Errors int
	// FirstErrors holds the first few error messages.
	FirstErrors []string
	// Jobs holds the trace of every job received, by PandaID.
	Jobs map[int64]*JobTrace
}

// CyclesPerSecond is Cycles divided by Elapsed.
func (r *Result) CyclesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Cycles) / r.Elapsed.Seconds()
}

// maxFirstErrors bounds Result.FirstErrors.
const maxFirstErrors = 10

// pilotLog is what one pilot collects; merged after the run.
type pilotLog struct {
	getJob, update []time.Duration
	jobs           []*JobTrace
	cycles, errors int
	firstErrors    []string
}

func (l *pilotLog) fail(err error) {
	l.errors++
	if len(l.firstErrors) < maxFirstErrors {
		l.firstErrors = append(l.firstErrors, err.Error())
	}
}

// Run starts cfg.Pilots pilots against cfg.URL at the same moment and
// returns when all of them have stopped: each stops when the server
// answers that it has no job, after cfg.MaxErrors failed calls, or when
// ctx ends (then Run returns the partial result with context.Cause(ctx)).
// Every pilot has its own client and HTTP connection, like a pilot
// process of its own; calls are not retried, so every failure is counted
// and no update is sent twice.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Pilots < 1 {
		return nil, fmt.Errorf("loadgen: %d pilots: need at least one", cfg.Pilots)
	}
	if cfg.Site == "" {
		return nil, errors.New("loadgen: no site")
	}
	api, err := server.ParseAPI(string(cfg.API))
	if err != nil || api == server.Auto {
		return nil, fmt.Errorf("loadgen: API %q: want legacy or v1", cfg.API)
	}
	cfg.API = api
	if cfg.Label == "" {
		cfg.Label = "managed"
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 60 * time.Second
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 10
	}
	log := cfg.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}

	clients := make([]*server.Client, cfg.Pilots)
	for i := range clients {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 4
		c, err := server.New(server.Options{
			BaseURL: cfg.URL, API: cfg.API, FormEncoding: cfg.FormEncoding,
			UserAgent:  "gopilot-loadgen",
			HTTPClient: &http.Client{Transport: tr},
			// A negative count turns retries off: a retried update could
			// reach the server twice and blur the lost-update check.
			RetryMax:       -1,
			AttemptTimeout: cfg.AttemptTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		clients[i] = c
		defer tr.CloseIdleConnections()
	}

	logs := make([]pilotLog, cfg.Pilots)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p := pilot{id: i, cfg: &cfg, c: clients[i], out: &logs[i]}
			if err := p.run(ctx); err != nil && ctx.Err() == nil {
				log.WithField("pilot", i).WithError(err).Warn("pilot gave up")
			}
		}()
	}
	cpu0, t0 := processCPU(), time.Now()
	close(start)
	wg.Wait()
	res := &Result{Pilots: cfg.Pilots, API: cfg.API, Form: cfg.FormEncoding && cfg.API == server.Legacy, Elapsed: time.Since(t0), CPU: processCPU() - cpu0, Jobs: map[int64]*JobTrace{}}

	var gets, updates []time.Duration
	for i := range logs {
		l := &logs[i]
		gets = append(gets, l.getJob...)
		updates = append(updates, l.update...)
		res.Cycles += l.cycles
		res.Errors += l.errors
		for _, e := range l.firstErrors {
			if len(res.FirstErrors) < maxFirstErrors {
				res.FirstErrors = append(res.FirstErrors, fmt.Sprintf("pilot %d: %s", i, e))
			}
		}
		for _, j := range l.jobs {
			t, ok := res.Jobs[j.PandaID]
			if !ok {
				res.Jobs[j.PandaID] = j
				continue
			}
			t.Pilots = append(t.Pilots, j.Pilots...)
			t.Updates = append(t.Updates, j.Updates...)
		}
	}
	res.GetJob, res.Update = summarise(gets), summarise(updates)
	if ctx.Err() != nil {
		return res, context.Cause(ctx)
	}
	return res, nil
}

// pilot is one simulated pilot.
type pilot struct {
	id  int
	cfg *Config
	c   *server.Client
	out *pilotLog
}

// run loops getJob -> starting -> running -> finished until there is no
// job, too many calls failed, or ctx ends.
func (p *pilot) run(ctx context.Context) error {
	node := fmt.Sprintf("loadgen-%04d", p.id)
	req := server.JobRequest{
		SiteName: p.cfg.Site, ComputingElement: p.cfg.Site, ProdSourceLabel: p.cfg.Label,
		DiskSpace: 100000, CPU: 2000, Mem: 16000, Node: node,
	}
	for ctx.Err() == nil {
		if p.out.errors >= p.cfg.MaxErrors {
			return fmt.Errorf("%d failed calls", p.out.errors)
		}
		t0 := time.Now()
		job, err := p.c.GetJob(ctx, req)
		p.out.getJob = append(p.out.getJob, time.Since(t0))
		if errors.Is(err, server.ErrNoJob) {
			return nil
		}
		if err != nil {
			var bad *server.BadJobError
			if !errors.As(err, &bad) {
				p.out.fail(fmt.Errorf("getJob: %w", err))
				continue
			}
			// A job the client could not parse is still handed out: keep its
			// trace so that the check sees it, and fail it like a pilot would.
			p.out.fail(fmt.Errorf("getJob: %w", err))
			job = &jobdef.Job{PandaID: bad.PandaID, AttemptNr: bad.AttemptNr}
		}
		p.cycle(ctx, node, job)
	}
	return context.Cause(ctx)
}

// cycle sends the three updates of one job and records them.
func (p *pilot) cycle(ctx context.Context, node string, job *jobdef.Job) {
	tr := &JobTrace{PandaID: job.PandaID, Pilots: []int{p.id}}
	p.out.jobs = append(p.out.jobs, tr)
	startTime := float64(time.Now().UnixMilli()) / 1000
	complete := true
	for _, state := range []string{"starting", "running", "finished"} {
		rep := &jobdef.UpdateReport{
			JobID: job.PandaID, State: state, Timestamp: time.Now().Format("2006-01-02T15:04:05-07:00"),
			SiteName: p.cfg.Site, Node: node, AttemptNr: job.AttemptNr,
			SchedulerID: "loadgen", PilotID: node + "|loadgen", BatchID: strconv.Itoa(p.id),
			StartTime: startTime, CPUConsumptionUnit: "s",
		}
		if state == "finished" {
			rep.Final = true
			rep.EndTime = float64(time.Now().UnixMilli()) / 1000
			rep.PilotTiming = "1|0|0|1|0"
			rep.XML = outputReport(job)
		}
		t0 := time.Now()
		reply, err := p.c.UpdateJob(ctx, rep)
		p.out.update = append(p.out.update, time.Since(t0))
		su := SentUpdate{State: state}
		switch {
		case err != nil:
			p.out.fail(fmt.Errorf("update %d %s: %w", job.PandaID, state, err))
		case reply.StatusCode != 0:
			p.out.fail(fmt.Errorf("update %d %s: StatusCode %d", job.PandaID, state, reply.StatusCode))
		default:
			su.Answered, su.Command = true, reply.Command
			if reply.Command != "" {
				p.out.fail(fmt.Errorf("update %d %s: command %q", job.PandaID, state, reply.Command))
			}
		}
		tr.Updates = append(tr.Updates, su)
		if !su.Answered || su.Command != "" {
			complete = false
			break
		}
	}
	if complete {
		p.out.cycles++
	}
}

// outputReport is the final update's report: the job's log file, as if
// it had been uploaded.
func outputReport(job *jobdef.Job) string {
	lfn := job.Log.LFN
	if lfn == "" {
		lfn = fmt.Sprintf("loadgen.%d.log.tgz", job.PandaID)
	}
	guid := job.Log.GUID
	if guid == "" {
		guid = job.LogGUID
	}
	return jobdef.OutputReport{lfn: {
		GUID: guid, FSize: 1024 + job.PandaID%1000, Adler32: fmt.Sprintf("%08x", uint32(job.PandaID)),
		SURL: "file:///loadgen/" + lfn, Endpoint: "LOADGEN_LOCALDISK",
	}}.JSON()
}

// sortedIDs returns the PandaIDs of m in order.
func sortedIDs[V any](m map[int64]V) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
