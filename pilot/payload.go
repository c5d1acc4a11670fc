package pilot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/identity"
	"github.com/gopilot/gopilot/pilot/journal"
	"github.com/gopilot/gopilot/pilot/monitor"
	"github.com/gopilot/gopilot/pilot/status"
	"github.com/gopilot/gopilot/timedcmd"
)

// Names of the files the payload writes or reads in the job directory.
const (
	PayloadStdout      = "payload.stdout"
	PayloadStderr      = "payload.stderr"
	JobReportFile      = "jobReport.json"
	PayloadErrorReport = "payload_error_report.json"
	// maxPayloadOutput caps each of payload.stdout and payload.stderr.
	maxPayloadOutput = 4 << 30
)

// payloadOutcome is what the pilot learnt from the payload run.
type payloadOutcome struct {
	exitCode      int
	transExitCode int
	signal        syscall.Signal
	cpu           time.Duration
	wall          time.Duration
	maxRSS        int64 // bytes
	exeErrorCode  int
	exeErrorDiag  string
	metaData      string
}

// PayloadCommand returns the shell command line for the job: a transformation
// given as a URL is run from the job directory as ./<name> <jobPars>; any
// other transformation is run as "<transformation> <jobPars>".
func PayloadCommand(job *jobdef.Job) string {
	trf := job.Transformation
	if job.IsAnalysis() {
		trf = "./" + trfName(trf)
	}
	if job.JobPars == "" {
		return trf
	}
	return trf + " " + job.JobPars
}

// trfName is the file name a downloaded transformation is saved under.
func trfName(u string) string {
	if pu, err := url.Parse(u); err == nil {
		if b := path.Base(pu.Path); b != "" && b != "/" && b != "." {
			return b
		}
	}
	return "transformation"
}

// PayloadEnv returns the payload's environment: the pilot's own environment
// plus what Pilot 3 sets for payloads.
func (p *Pilot) PayloadEnv(job *jobdef.Job, jobDir string) []string {
	set := map[string]string{
		"PANDAID":                formatInt(job.PandaID),
		"PanDA_TaskID":           formatInt(job.TaskID),
		"PanDA_AttemptNr":        strconv.Itoa(job.AttemptNr),
		"PILOT_HOME":             p.Workdir,
		"PILOT_WORK_DIR":         jobDir,
		"PILOT_VERSION":          Version,
		"PILOT_USER":             p.Cfg.PilotUser,
		"PILOT_SITENAME":         p.Cfg.Queue,
		"PILOT_JOB_STATE":        "running",
		"PANDA_SERVER_URL":       p.ServerURL,
		"QUEUEDATA_SERVER_URL":   p.Cfg.QueuedataURL,
		"STORAGEDATA_SERVER_URL": p.Cfg.StoragedataURL,
		"PANDA_RESOURCE":         p.Cfg.Queue,
		"ATHENA_PROC_NUMBER":     strconv.Itoa(max(job.CoreCount, 1)),
		"ATHENA_CORE_NUMBER":     strconv.Itoa(max(job.CoreCount, 1)),
	}
	if p.Queue != nil && p.Queue.Resource != "" {
		set["PILOT_SITENAME"] = p.Queue.Resource
		set["PANDA_RESOURCE"] = p.Queue.Resource
	}
	env := make([]string, 0, len(os.Environ())+len(set))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// runPayload prepares and runs the payload, then records its outcome and
// error, if any.
func (r *jobRun) runPayload(ctx context.Context) {
	job := r.job
	if job.IsAnalysis() {
		if err := r.downloadTrf(ctx); err != nil {
			r.fail(err)
			return
		}
	} else if strings.TrimSpace(job.Transformation) == "" {
		r.fail(jobdef.NewError(jobdef.UnknownPayloadFailure, "the job has no transformation", nil))
		return
	}
	// A job without inputs has not reported yet: say 'starting' before the
	// payload is launched, as Pilot 3 does.
	r.mu.Lock()
	first := r.updatesSent == 0
	r.mu.Unlock()
	if first {
		r.update(ctx, "starting")
	}
	command := PayloadCommand(job)
	r.log.WithField("command", clipString(command, 300)).Info("payload starting")
	spec := timedcmd.Spec{
		Path:           "/bin/bash",
		Args:           []string{"/bin/bash", "-c", command},
		Env:            r.p.PayloadEnv(job, r.dir),
		Dir:            r.dir,
		StdoutFile:     filepath.Join(r.dir, PayloadStdout),
		StderrFile:     filepath.Join(r.dir, PayloadStderr),
		MaxOutputBytes: maxPayloadOutput,
		TailBytes:      4096,
		NewSession:     true,
		Grace:          time.Duration(r.p.Cfg.Grace) * time.Second,
	}
	if r.p.Identity != nil {
		plan, err := r.p.Identity.Prepare(ctx, job, r.dir)
		if err != nil {
			r.fail(asPilotError(err, jobdef.SetupFailure))
			return
		}
		// The job directory goes back to the pilot before stage-out and the log.
		defer func() {
			if err := plan.Release(); err != nil {
				r.log.WithError(err).Warn("giving the job directory back to the pilot")
			}
		}()
		if err := plan.Apply(&spec); err != nil {
			r.fail(asPilotError(err, jobdef.SetupFailure))
			return
		}
		r.payloadProxy = plan.ProxyPath
		if plan.Account != "" {
			r.log.WithField("account", plan.Account).Info("payload runs as another account")
		}
	}
	r.tPayload = r.p.now()
	cmd, err := r.p.Runner.Start(ctx, spec)
	if err != nil {
		r.tPayloadEnd = r.p.now()
		r.fail(jobdef.NewError(jobdef.PayloadExecutionFailure, "cannot start the payload", err))
		return
	}
	r.log.WithField("pid", cmd.Pid()).Info("payload started")
	r.mu.Lock()
	r.phase, r.payloadPID = status.PhaseRunning, cmd.Pid()
	r.mu.Unlock()
	if ps, err := journal.NewPayloadStarted(cmd.Pid(), cmd.Pgid()); err == nil {
		r.record(ps)
	}
	mr := r.startMonitors(ctx, cmd)
	r.update(ctx, "running")
	res, err := cmd.Wait()
	r.tPayloadEnd = r.p.now()
	mr.stop()
	if err := mr.runner.Err(); err != nil {
		// A monitor's finding is the reason even when the payload died of
		// the same cause (e.g. a full disk) before it was stopped.
		r.fail(asPilotError(err, jobdef.UnknownPayloadFailure))
	}
	r.mu.Lock()
	r.payloadPID = 0
	r.mu.Unlock()
	if res != nil {
		r.p.Metrics.Payload(res.Duration(), res.UserCPU+res.SysCPU)
		cause := ""
		if res.Cause != nil {
			cause = res.Cause.Error()
		}
		r.record(journal.PayloadEnded{PID: cmd.Pid(), ExitCode: res.ExitCode, Signal: int(res.Signal),
			CPUSeconds: (res.UserCPU + res.SysCPU).Seconds(), WallSeconds: res.Duration().Seconds(), MaxRSSBytes: res.MaxRSS, Cause: cause})
	}
	if err != nil {
		r.fail(jobdef.NewError(jobdef.PayloadExecutionException, "waiting for the payload", err))
		return
	}
	r.interpret(ctx, res)
}

// monitors is the running set of payload monitors.
type monitors struct {
	runner *monitor.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *monitors) stop() {
	m.cancel()
	<-m.done
}

// startMonitors watches the payload tree (memory, looping, disk, stdout
// size, wall time) until stop; the first failure stops the payload with
// its code as the cause.
func (r *jobRun) startMonitors(ctx context.Context, cmd *timedcmd.Cmd) *monitors {
	opts := monitor.Options{PayloadStart: r.tPayload, Lifetime: r.p.Lifetime(),
		LoopingLimit: time.Duration(r.p.Cfg.LoopingLimit) * time.Second}
	if iv := time.Duration(r.p.Cfg.MonitorInterval) * time.Second; iv > 0 {
		opts.LoopingInterval, opts.MemoryInterval, opts.DiskInterval, opts.WalltimeInterval = iv, iv, iv, iv
	}
	ms := monitor.Defaults(r.job, r.p.Queue, r.dir, opts)
	if !r.p.Cfg.NoProxyVerification && !r.p.Credentials.Empty() {
		chk := r.p.Credentials
		if r.payloadProxy != "" {
			chk = chk.With(credentials.ProxySource(r.payloadProxy))
		}
		ms = append(ms, &identity.CredentialMonitor{Checker: chk})
	}
	m := &monitors{done: make(chan struct{})}
	m.runner = &monitor.Runner{Monitors: ms, Log: r.log, Kill: func(pe *jobdef.PilotError) {
		r.log.WithFields(logrus.Fields{"code": int(pe.Code), "diag": pe.Diag}).Warn("monitor stops the payload")
		r.kill(pe)
		go cmd.Stop(pe)
	}}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	r.mu.Lock()
	r.monitor = m.runner
	r.mu.Unlock()
	go func() {
		defer close(m.done)
		_ = m.runner.Run(mctx, cmd.Pid())
	}()
	return m
}

// interpret turns the payload's result and reports into the job's outcome.
func (r *jobRun) interpret(ctx context.Context, res *timedcmd.Result) {
	po := &payloadOutcome{
		exitCode: res.ExitCode, signal: res.Signal,
		cpu: res.UserCPU + res.SysCPU, wall: res.Duration(), maxRSS: res.MaxRSS,
	}
	if res.ExitCode > 0 {
		po.transExitCode = res.ExitCode % 255
	}
	r.payload = po
	lg := r.log.WithFields(logrus.Fields{"exit": res.ExitCode, "signal": int(res.Signal), "wall": res.Duration().Round(time.Millisecond), "cpu": po.cpu.Round(time.Millisecond)})
	if len(res.Survivors) > 0 {
		lg = lg.WithField("survivors", res.Survivors)
	}
	lg.Info("payload ended")

	if b, err := readInDir(r.dir, JobReportFile, maxReportSize+1); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.log.WithError(err).Warn(JobReportFile + " not read")
		}
	} else if len(b) > maxReportSize || !json.Valid(b) {
		r.log.WithField("bytes", len(b)).Warn(JobReportFile + " is not a JSON document of at most 16 MiB; not sent as metaData")
	} else {
		po.metaData = string(b)
		var jr struct {
			ExitCode *int   `json:"exitCode"`
			ExitMsg  string `json:"exitMsg"`
		}
		if json.Unmarshal(b, &jr) == nil && jr.ExitCode != nil && *jr.ExitCode != 0 {
			po.exeErrorCode = *jr.ExitCode
			po.exeErrorDiag = jr.ExitMsg
		}
	}
	if b, err := readInDir(r.dir, PayloadErrorReport, maxReportSize); err == nil {
		var er struct {
			Code int    `json:"error_code"`
			Diag string `json:"error_diag"`
		}
		if json.Unmarshal(b, &er) == nil && er.Code != 0 {
			po.exeErrorCode = er.Code
			po.exeErrorDiag = er.Diag
			r.fail(jobdef.NewError(jobdef.PayloadExecutionFailure, er.Diag, nil))
		}
	}

	switch {
	case res.Cause != nil:
		// Stopped by the pilot: the cause says why (signal, server kill, time limit).
		r.fail(r.stopCause(ctx, jobdef.NewError(jobdef.SigTerm, res.Cause.Error(), res.Cause)))
	case res.Signal != 0:
		r.fail(jobdef.NewError(jobdef.SignalCode(res.Signal), "payload killed by signal "+signalName(res.Signal), nil))
	case res.ExitCode != 0 && bytes.Contains(res.StderrTail, []byte("No space left on device")):
		r.fail(jobdef.NewError(jobdef.NoLocalSpace, "payload failed: no space left on device", nil))
	case res.ExitCode != 0:
		code := jobdef.TransformErrorCode(res.ExitCode)
		diag := errorLine(res.StderrTail)
		if diag == "" {
			diag = fmt.Sprintf("payload exited with code %d", res.ExitCode)
		}
		r.fail(jobdef.NewError(code, diag, nil))
	case po.exeErrorCode != 0:
		r.fail(jobdef.NewError(jobdef.PayloadExecutionFailure, po.exeErrorDiag, nil))
	}
}

// maxReportSize bounds the payload reports the pilot reads.
const maxReportSize = 16 << 20

// readInDir reads at most max bytes of the file name inside dir. The file is
// opened through an os.Root, so a symbolic link the payload left that points
// outside dir is refused: the pilot may run as root while the payload did not.
func readInDir(dir, name string, max int64) ([]byte, error) {
	f, err := openRegularInDir(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// openRegularInDir opens the regular file name inside dir through an
// os.Root (no symbolic link out of dir is followed). The open does not
// block on a FIFO the payload left in the file's place, and anything but a
// regular file is refused.
func openRegularInDir(dir, name string) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", name, st.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// errorLine picks the last line of stderr that looks like an error message.
func errorLine(tail []byte) string {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(tail))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.Contains(l, "ERROR") || strings.Contains(l, "Error") || strings.Contains(l, "error") {
			last = l
		}
	}
	return clipString(last, 200)
}

// downloadTrf fetches a URL transformation into the job directory and makes
// it executable. A transformation already present in the directory is used
// as it is.
func (r *jobRun) downloadTrf(ctx context.Context) *jobdef.PilotError {
	u := r.job.Transformation
	dst := filepath.Join(r.dir, trfName(u))
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if !r.p.trfAllowed(u) {
		return jobdef.NewError(jobdef.TrfDownloadFailure, "transformation URL "+u+" is not under an allowed base URL (--baseurls)", nil)
	}
	if r.p.Fetch == nil {
		return jobdef.NewError(jobdef.TrfDownloadFailure, "no downloader for "+u, nil)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	data, err := r.p.Fetch.Get(dctx, u)
	if err != nil {
		return jobdef.NewError(jobdef.TrfDownloadFailure, err.Error(), err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return jobdef.NewError(jobdef.ChmodTrf, err.Error(), err)
	}
	r.log.WithFields(logrus.Fields{"url": u, "bytes": len(data)}).Info("transformation downloaded")
	return nil
}

func (p *Pilot) trfAllowed(u string) bool {
	if strings.TrimSpace(p.Cfg.BaseURLs) == "" {
		return true
	}
	for _, b := range strings.Split(p.Cfg.BaseURLs, ",") {
		if b = strings.TrimSpace(b); b != "" && strings.HasPrefix(u, b) {
			return true
		}
	}
	return false
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
