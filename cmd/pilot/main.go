// Command pilot is gopilot, a PanDA pilot: it takes jobs from a PanDA server
// (or one job from a file), stages their inputs, runs the payload, stages
// outputs and the log out, and reports every state.
//
// Usage:
//
//	pilot [flags]                      pull jobs from the server (Pilot 3's command line)
//	pilot exec --job FILE [flags]      run one payload offline from a job file
//	pilot recover --workdir DIR [flags]          finish the jobs a dead pilot left in DIR, then exit
//	pilot inspect [--workdir DIR] [PANDAID...]   print the journals of the jobs in a work directory
//
// main only reads the configuration, wires the parts together, handles
// signals and turns the outcome into the exit code.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/internal/logx"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/davs"
	"github.com/gopilot/gopilot/movers/gfal"
	"github.com/gopilot/gopilot/movers/local"
	"github.com/gopilot/gopilot/movers/s3"
	"github.com/gopilot/gopilot/movers/xrootd"
	"github.com/gopilot/gopilot/pilot"
	"github.com/gopilot/gopilot/pilot/journal"
	"github.com/gopilot/gopilot/pilot/status"
	"github.com/gopilot/gopilot/timedcmd"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without os.Exit, returning the exit code.
func run(args []string, stderr io.Writer) int {
	start := time.Now()
	mode := "pull"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	switch mode {
	case "pull", "exec", "recover":
	case "inspect":
		return inspect(args, os.Stdout, stderr)
	case "version":
		fmt.Fprintln(stderr, "gopilot", pilot.Version)
		return 0
	default:
		fmt.Fprintf(stderr, "pilot: unknown command %q (want exec, recover, inspect, version, or flags for pull mode)\n", mode)
		return 2
	}

	cfg := pilot.Defaults()
	if err := cfg.LoadEnv(); err != nil {
		fmt.Fprintln(stderr, "pilot:", err)
		return 2
	}
	fs := pflag.NewFlagSet("pilot", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.BindFlags(fs)
	var jobFile, queuedataFile, storageFile string
	if mode == "exec" {
		fs.StringVar(&jobFile, "job", "", "job definition file (getJob answer, job JSON or Harvester job file)")
		fs.StringVar(&queuedataFile, "queuedata", "", "queue data file (optional)")
		fs.StringVar(&storageFile, "storagedata", "", "storage data file (optional)")
	}
	fs.Usage = func() {
		switch mode {
		case "exec":
			fmt.Fprintln(stderr, "usage: pilot exec --job FILE [flags]")
		case "recover":
			fmt.Fprintln(stderr, "usage: pilot recover --workdir DIR [flags]   (the server flags of pull mode)")
		default:
			fmt.Fprintln(stderr, "usage: pilot [flags]   (every flag also reads $PILOT_<NAME>)")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "pilot:", err)
		return 2
	}
	workdir, err := cfg.WorkdirOrCwd()
	if err == nil {
		workdir, err = filepath.Abs(workdir)
	}
	if err == nil {
		err = os.MkdirAll(workdir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pilot: work directory:", err)
		return jobdef.MkdirFailed.ShellExit()
	}
	level := "info"
	if cfg.Debug {
		level = "debug"
	}
	logFile := filepath.Join(workdir, "pilotlog.txt")
	redactor := credentials.NewRedactor()
	lg, closeLog, err := logx.New(logx.Options{Level: level, JSON: cfg.LogFormat == "json", Stderr: stderr, File: logFile,
		Filter: func(w io.Writer) io.Writer { return logx.RedactingWriter(w, redactor.Redact) }})
	if err != nil {
		fmt.Fprintln(stderr, "pilot:", err)
		return 2
	}
	defer closeLog()

	ctx, hurry, stop := signalContext(lg)
	defer stop()

	// The pilot is a child subreaper: payload descendants that escape by
	// double fork re-parent to it and are killed with the payload.
	runner, err := timedcmd.NewRunner(timedcmd.RunnerOptions{Subreaper: true, Logger: lg})
	if err != nil {
		lg.WithError(err).Warn("no subreaper: escaped payload descendants are found by their session only")
		runner = nil
	} else {
		defer runner.Close()
	}
	p := &pilot.Pilot{
		Cfg: cfg, Log: lg, Workdir: workdir, LogFile: logFile, Start: start,
		Host: hostInfo(cfg), Hurry: hurry, Runner: runner,
	}
	lg.WithFields(logrus.Fields{"version": pilot.Version, "mode": mode, "workdir": workdir, "pid": os.Getpid()}).Info("gopilot starting")
	lg.WithField("config", cfg.Redacted()).Debug("effective configuration")
	hv, err := newHarvesterRun(p, mode)
	if err != nil {
		lg.WithError(err).Error("pilot cannot start")
		return 2
	}
	defer hv.end(ctx)

	if mode == "exec" {
		if jobFile == "" {
			lg.Error("pilot exec needs --job FILE")
			return 2
		}
		if err := setupOffline(ctx, p, jobFile, queuedataFile, storageFile); err != nil {
			return fail(lg, err)
		}
	} else if err := setupPull(ctx, p, redactor); err != nil {
		return fail(lg, err)
	}
	if err := hv.start(ctx); err != nil {
		return fail(lg, err)
	}

	if mode == "recover" {
		return recoverMode(ctx, p, lg)
	}
	stopControl, err := startControl(p, lg)
	if err != nil {
		return fail(lg, err)
	}
	defer stopControl()
	out := p.Run(ctx)
	lg.WithFields(logrus.Fields{"jobs": out.JobsRun, "finished": out.Finished, "failed": out.Failed,
		"exit": out.ExitCode, "elapsed": time.Since(start).Round(time.Millisecond)}).Info("gopilot done")
	if out.Err != nil {
		lg.WithFields(logrus.Fields{"code": int(out.Err.Code), "diag": out.Err.Diag}).Warn("pilot error")
	}
	return out.ExitCode
}

// startControl starts the node-local status endpoint (--status-addr) and
// the drain-file watcher (--drain-file) when configured. They run until the
// returned stop is called, past the signals that end the job loop, so that
// /status shows a stopping pilot too.
func startControl(p *pilot.Pilot, lg logrus.FieldLogger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	if p.Cfg.DrainFile != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status.WatchDrainFile(ctx, p.Cfg.DrainFile, 0, p.Drain)
		}()
	}
	if p.Cfg.StatusAddr != "" {
		p.Metrics = status.NewMetrics()
		srv, err := status.New(p.Cfg.StatusAddr, p, p, p.Metrics, lg)
		if err != nil {
			stop()
			return nil, jobdef.NewError(jobdef.UnknownException, "status endpoint "+p.Cfg.StatusAddr, err)
		}
		lg.WithField("addr", srv.Addr()).Info("status endpoint listening")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx); err != nil {
				lg.WithError(err).Warn("status endpoint")
			}
		}()
	}
	return stop, nil
}

// recoverMode finishes the unfinished jobs of the work directory and exits
// 0 when none is left unfinished, 1 otherwise.
func recoverMode(ctx context.Context, p *pilot.Pilot, lg logrus.FieldLogger) int {
	code, n := 0, 0
	for _, rj := range p.Recover(ctx) {
		if rj.Found == journal.PhaseDone || rj.Found == journal.PhaseUnknown {
			continue
		}
		n++
		fmt.Printf("%d\t%s\t%s\t%d\t%v\n", rj.PandaID, rj.Found, rj.State, int(rj.Code), rj.Acked)
		if !rj.Done() {
			code = 1
		}
	}
	lg.WithFields(logrus.Fields{"jobs": n, "exit": code}).Info("recovery done")
	return code
}

// fail logs a start-up error and returns its shell exit code.
func fail(lg logrus.FieldLogger, err error) int {
	code := jobdef.CodeOf(err)
	lg.WithError(err).WithField("code", int(code)).Error("pilot cannot start")
	return code.ShellExit()
}

// signalContext returns a context cancelled with a *pilot.SignalError on the
// first handled signal, and a second one cancelled on the second signal (the
// pilot then skips the log stage-out and only sends the final update). A
// third signal ends the process at once with the signal's exit code.
func signalContext(lg logrus.FieldLogger) (context.Context, context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	hurry, hurryNow := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, pilot.HandledSignals()...)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				n++
				sig, _ := s.(syscall.Signal)
				lg.WithFields(logrus.Fields{"signal": s.String(), "count": n}).Warn("signal received")
				switch n {
				case 1:
					cancel(&pilot.SignalError{Signal: sig})
				case 2:
					hurryNow(&pilot.SignalError{Signal: sig})
				case 3:
					os.Exit(jobdef.PilotSignalCode(sig).ShellExit())
				}
			}
		}
	}()
	return ctx, hurry, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
		hurryNow(nil)
	}
}

// hostInfo gathers the worker-node facts once.
func hostInfo(cfg pilot.Config) pilot.HostInfo {
	h := pilot.HostInfo{SchedulerID: envOr("PANDA_JSID", "unknown")}
	h.Node = os.Getenv("PANDA_HOSTNAME")
	if h.Node == "" {
		h.Node, _ = os.Hostname()
	}
	if slot := os.Getenv("_CONDOR_SLOT"); slot != "" {
		h.Node = slot + "@" + h.Node
	}
	model := "unknown"
	if infos, err := cpu.Info(); err == nil && len(infos) > 0 {
		h.CPUMHz = infos[0].Mhz
		model = infos[0].ModelName
		for _, f := range infos[0].Flags {
			if f == "avx2" {
				model += "+AVX2"
				break
			}
		}
	}
	h.CPUUnit = "s+" + model
	if vm, err := mem.VirtualMemory(); err == nil {
		h.MemMB = float64(vm.Total/(1<<20)*100) / 100
	}
	b := pilot.DetectBatch(os.Getenv)
	h.BatchID = b.ID
	h.PilotID = pilot.PilotID(os.Getenv("GTAG"), b, cfg.VersionTag)
	h.HarvesterID = os.Getenv("HARVESTER_ID")
	h.WorkerID = os.Getenv("HARVESTER_WORKER_ID")
	return h
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// newRegistry builds the movers this binary offers, with Pilot 3's
// copytool names as aliases. The davs mover uses the given TLS client
// configuration and storage headers; the s3 mover only its CAs, with keys
// from S3_ACCESS_KEY/S3_SECRET_KEY or, per object-store endpoint of the
// storage data, from the environment variables its settings name; mv
// follows the queue's catchall; external tools run through the pilot's
// runner.
func newRegistry(tlsConf *tls.Config, hdr http.Header, q *jobdef.QueueData, sd jobdef.StorageData, runner *timedcmd.Runner, lg logrus.FieldLogger) (*movers.Registry, error) {
	var s3TLS *tls.Config
	if tlsConf != nil {
		s3TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: tlsConf.RootCAs}
	}
	reg, err := movers.NewRegistry(
		local.NewCopy(),
		local.NewSymlink(),
		local.NewMv(local.MvOptions{FinalDestination: q != nil && q.CatchallHas("mv_final_destination")}),
		xrootd.New(xrootd.Options{Runner: runner, Log: lg}),
		gfal.New(gfal.Options{Runner: runner, Log: lg}),
		davs.New(davs.Options{TLSConfig: tlsConf, Header: hdr, Log: lg}),
		s3.New(s3.Options{Endpoints: s3.EndpointsFromStorage(sd, os.LookupEnv), TLSConfig: s3TLS, Log: lg}),
	)
	if err != nil {
		return nil, err
	}
	if reg, err = reg.WithAlias("gfalcopy", "gfal"); err != nil {
		return nil, err
	}
	return reg.WithAlias("objectstore", "s3")
}
