package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/internal/pandalite"
)

// DefaultSite is the site load runs use unless told otherwise.
const DefaultSite = "LOADGEN"

// JobDefinitions returns m trivial production jobs for site: a short
// transformation, no input, a log file (the only output) named after
// prefix and the job's index.
func JobDefinitions(m int, site, prefix string) []pandalite.Object {
	jobs := make([]pandalite.Object, m)
	for i := range jobs {
		name := fmt.Sprintf("%s.%06d", prefix, i)
		jobs[i] = pandalite.Object{
			{Key: "jobName", Value: name},
			{Key: "computingSite", Value: site},
			{Key: "prodSourceLabel", Value: "managed"},
			{Key: "taskID", Value: 1},
			{Key: "transformation", Value: "sleep"},
			{Key: "jobPars", Value: "0"},
			{Key: "coreCount", Value: 1},
			{Key: "logFile", Value: name + ".log.tgz"},
			{Key: "logGUID", Value: uuid.NewString()},
			{Key: "outFiles", Value: name + ".log.tgz"},
			{Key: "scopeLog", Value: "loadgen"},
			{Key: "realDatasets", Value: "loadgen.log/"},
			{Key: "ddmEndPointOut", Value: "LOADGEN_LOCALDISK"},
			{Key: "destinationDblock", Value: "loadgen.log/"},
		}
	}
	return jobs
}

// Local is a pandalite server over its own database, listening on
// 127.0.0.1, for load runs.
type Local struct {
	Store *pandalite.Store
	URL   string
	in    *pandalite.Instance
}

// StartLocal opens (creating) the database dbPath and serves it on a free
// port of 127.0.0.1. log receives the server's log (nil discards it).
func StartLocal(ctx context.Context, dbPath string, log logrus.FieldLogger) (*Local, error) {
	st, err := pandalite.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	in, err := pandalite.Start(pandalite.NewServer(st, pandalite.Options{Log: log}), "127.0.0.1:0", nil, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &Local{Store: st, URL: in.URL, in: in}, nil
}

// Close stops the server (waiting until ctx ends for calls in progress)
// and closes the database.
func (l *Local) Close(ctx context.Context) error {
	return errors.Join(l.in.Shutdown(ctx), l.Store.Close())
}

// Round is one measured load run with its check.
type Round struct {
	Result *Result
	Check  Check
	// ServerCPU is the CPU time the server process used over the round
	// (start, the run, stop); 0 when not known (in-process or external
	// server).
	ServerCPU time.Duration
}

// ServerCPUPerCycle is ServerCPU per complete cycle (0 when unknown).
func (r *Round) ServerCPUPerCycle() time.Duration {
	if r.ServerCPU <= 0 || r.Result.Cycles == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Result.Cycles)
}

// ClientCPUPerCycle is the load generator's CPU time per complete cycle
// (the server's included when it runs in-process).
func (r *Round) ClientCPUPerCycle() time.Duration {
	if r.Result.Cycles == 0 {
		return 0
	}
	return r.Result.CPU / time.Duration(r.Result.Cycles)
}

// SubmitStore is what a round needs from the store besides Store: a way
// to submit its jobs (*pandalite.Store implements it).
type SubmitStore interface {
	Store
	Submit(ctx context.Context, site string, jobs ...pandalite.Object) ([]int64, error)
}

// RunRound submits jobs fresh jobs for cfg.Site to st, runs cfg against
// the server that serves st, and verifies the outcome. prefix names the
// jobs (so that rounds on one database stay apart).
func RunRound(ctx context.Context, st SubmitStore, cfg Config, jobs int, prefix string) (*Round, error) {
	ids, err := st.Submit(ctx, cfg.Site, JobDefinitions(jobs, cfg.Site, prefix)...)
	if err != nil {
		return nil, fmt.Errorf("loadgen: submit: %w", err)
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	chk, err := Verify(ctx, st, ids, res)
	if err != nil {
		return nil, fmt.Errorf("loadgen: verify: %w", err)
	}
	return &Round{Result: res, Check: chk}, nil
}

// RunLocalRound does RunRound against a fresh in-process server whose
// database is created in dir; cfg.URL is filled in.
func RunLocalRound(ctx context.Context, dir string, cfg Config, jobs int, log logrus.FieldLogger) (*Round, error) {
	l, err := StartLocal(ctx, filepath.Join(dir, fmt.Sprintf("inproc-%d.db", cfg.Pilots)), log)
	if err != nil {
		return nil, err
	}
	cfg.URL = l.URL
	r, err := RunRound(ctx, l.Store, cfg, jobs, "loadgen")
	if cerr := l.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = cerr
	}
	return r, err
}

// RunProcessRound does RunRound against a fresh `bin serve` process (bin
// is a pandalite binary; serveFlags are added to its command line) whose
// database is created in dir, and records the server's CPU time; cfg.URL
// is filled in. The jobs are submitted and checked through the database
// by this process, beside the server.
func RunProcessRound(ctx context.Context, bin, dir string, cfg Config, jobs int, serveFlags ...string) (*Round, error) {
	db := filepath.Join(dir, fmt.Sprintf("process-%d.db", cfg.Pilots))
	st, err := pandalite.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p, err := StartProcess(ctx, bin, db, serveFlags...)
	if err != nil {
		return nil, err
	}
	cfg.URL = p.URL
	r, err := RunRound(ctx, st, cfg, jobs, "loadgen")
	cpu, serr := p.Stop()
	if err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	r.ServerCPU = cpu
	return r, nil
}

// WriteTable writes rounds as an aligned table: pilots, API ("/form"
// added for form bodies), jobs,
// complete cycles per second, getJob and updateJob p50/p99, errors,
// double dispatches, lost updates and the check's verdict.
func WriteTable(w io.Writer, rounds []*Round) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pilots\tapi\tjobs\tcycles/s\tgetJob p50\tgetJob p99\tupdate p50\tupdate p99\tserver CPU/cycle\tpilots CPU/cycle\terrors\tdouble\tlost\tcheck\t")
	for _, r := range rounds {
		verdict := "ok"
		if !r.Check.OK() {
			verdict = "FAIL"
		}
		api := string(r.Result.API)
		if r.Result.Form {
			api += "/form"
		}
		srv := "-"
		if c := r.ServerCPUPerCycle(); c > 0 {
			srv = ms(c)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n",
			r.Result.Pilots, api, r.Check.Jobs, r.Result.CyclesPerSecond(),
			ms(r.Result.GetJob.P50), ms(r.Result.GetJob.P99), ms(r.Result.Update.P50), ms(r.Result.Update.P99), srv, ms(r.ClientCPUPerCycle()),
			r.Result.Errors, r.Check.DoubleDispatch, r.Check.LostUpdates, verdict)
	}
	return tw.Flush()
}

// ms renders a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
