package pilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/identity"
	"github.com/gopilot/gopilot/pilot/journal"
	"github.com/gopilot/gopilot/pilot/monitor"
	"github.com/gopilot/gopilot/pilot/server"
	"github.com/gopilot/gopilot/pilot/status"
)

// JobDirPrefix is the prefix of every job directory, followed by the PandaID.
const JobDirPrefix = journal.JobDirPrefix

// outputActivities are the activities, in order, that choose movers and
// storage for outputs.
func outputActivities() []string { return []string{"pw", "write_lan", "w", "default"} }

// logActivities are the activities, in order, for the log tarball.
func logActivities() []string { return []string{"pl", "pw", "write_lan", "w", "default"} }

// FinalReportFile is the name, inside the job directory, of the final
// update as built before it is sent.
const FinalReportFile = "final_update.json"

// jobResult is what runJob tells the job loop.
type jobResult struct {
	finished bool
	// stopPilot, when set, ends the pilot after this job (e.g. stage-in failed).
	stopPilot *jobdef.PilotError
	// unacked is set when the final report was not acknowledged: it stays
	// in the job's journal for recovery.
	unacked bool
}

// jobRun is the state of one job while the pilot runs it.
type jobRun struct {
	p   *Pilot
	job *jobdef.Job
	dir string
	log logrus.FieldLogger

	mu          sync.Mutex
	err         *jobdef.PilotError // first error: the one reported
	updatesSent int
	payload     *payloadOutcome
	kill        context.CancelCauseFunc
	lastAck     time.Time        // last acknowledged update
	debugOut    string           // output of an operator command, sent with the next update
	debug       atomic.Bool      // the server keeps the job in debug mode
	noCleanup   atomic.Bool      // the server asked to keep the job directory
	wake        chan struct{}    // re-arms the heartbeat timer
	monitor     *monitor.Runner  // payload monitors, once the payload runs
	journal     *journal.Journal // nil when it could not be opened
	lastState   string           // last state recorded in the journal
	// badDefinition is set when the job's definition failed validation,
	// stageOutFailed when its outputs could not be staged out.
	badDefinition, stageOutFailed bool
	// payloadProxy is the payload's own credential file ("" if none).
	payloadProxy string
	// dirID identifies the job directory the pilot created (zero when
	// unknown, e.g. in recovery).
	dirID fileID
	// What /status shows (guarded by mu).
	phase             status.Phase
	payloadPID        int
	filesIn, filesOut int
	bytesIn, bytesOut int64

	tGetJob, tGot           time.Time
	tStageIn, tStageInEnd   time.Time
	tPayload, tPayloadEnd   time.Time
	tStageOut, tStageOutEnd time.Time
	startEpoch              float64
}

// fail records err as the job's error unless one is already recorded (only
// the first error of a job is reported, as in Pilot 3).
func (r *jobRun) fail(err *jobdef.PilotError) {
	if err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
		r.log.WithFields(logrus.Fields{"code": int(err.Code), "diag": err.Diag}).Warn("job failed")
	}
}

func (r *jobRun) firstError() *jobdef.PilotError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// runJob runs one job from its directory's creation to its acknowledged
// final update.
func (p *Pilot) runJob(ctx context.Context, job *jobdef.Job, tGetJob, tGot time.Time) jobResult {
	jctx, kill := context.WithCancelCause(ctx)
	defer kill(nil)
	r := p.newJobRun(job, tGetJob, tGot)
	r.kill = kill
	r.dir = jobDirOf(p.Workdir, job.PandaID)
	r.log.WithFields(logrus.Fields{"task": job.TaskID, "attempt": job.AttemptNr, "transformation": job.Transformation,
		"inputs": len(job.Inputs), "outputs": len(job.Outputs)}).Info("job received")

	var res jobResult
	p.setCurrent(r)
	defer p.setCurrent(nil)
	if err := job.Validate(); err != nil {
		r.badDefinition = true
		r.fail(asPilotError(err, jobdef.UnknownException))
	} else if pe := reservedNames(job); pe != nil {
		r.badDefinition = true
		r.fail(pe)
	} else if pe := p.walltimeFits(job, p.remaining()); pe != nil {
		r.fail(pe)
	} else if err := os.Mkdir(r.dir, 0o755); err != nil {
		r.fail(jobdef.NewError(jobdef.MkdirFailed, "cannot create job directory "+r.dir, err))
		res.stopPilot = r.firstError()
	} else {
		r.dirID, _ = dirIdentity(r.dir)
		r.openJournal()
	}
	defer r.closeJournal()

	// Heartbeats run for the whole job, until the final update.
	hbDone := make(chan struct{})
	var hbWG sync.WaitGroup
	if r.firstError() == nil {
		hbWG.Add(1)
		go func() {
			defer hbWG.Done()
			r.heartbeats(jctx, hbDone)
		}()
	}

	if r.firstError() == nil && len(job.Inputs) > 0 {
		r.update(jctx, "starting")
		r.setPhase(status.PhaseStageIn)
		r.tStageIn = p.now()
		r.log.WithField("files", len(job.Inputs)).Info("stage-in")
		err := p.Stager.StageIn(jctx, job, r.dir)
		r.recordFiles(journal.In, job.Inputs)
		r.countStaged(true, job.Inputs, p.now().Sub(r.tStageIn))
		if err != nil {
			pe := r.stopCause(jctx, asPilotError(err, jobdef.StageInFailed))
			r.fail(pe)
			if context.Cause(jctx) == nil {
				res.stopPilot = pe
			}
		}
		r.tStageInEnd = p.now()
	}

	if r.firstError() == nil {
		r.runPayload(jctx)
	}

	// Everything below runs even when the job was killed: outputs (only for a
	// successful payload), the log tarball and the final update go out on a
	// context detached from the kill, with its own deadline.
	final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(p.Cfg.FinalUpdateTimeout)*time.Second)
	defer cancelFinal()
	r.tStageOut = p.now()
	r.setPhase(status.PhaseStageOut)
	intact := r.dirIntact()
	if !intact && r.dirID != (fileID{}) {
		r.fail(jobdef.NewError(jobdef.LogFileCreationFailure, "the job directory was removed or replaced during the job: nothing is staged out of it", nil))
	}
	if intact && r.firstError() == nil && len(job.Outputs) > 0 {
		r.stageOutOutputs(jctx)
	}
	if intact {
		r.stageOutLog(p.hurried(final))
	}
	r.tStageOutEnd = p.now()
	close(hbDone)
	hbWG.Wait()

	r.setPhase(status.PhaseFinalizing)
	rep := r.finalReport()
	res.finished = rep.State == "finished"
	if note := p.guard.note(r, context.Cause(jctx) != nil, p.Cfg); note != "" {
		r.log.Error(note)
		rep.PilotErrorDiag = clipString(rep.PilotErrorDiag+" ["+note+"]", 250)
		if res.stopPilot == nil {
			res.stopPilot = jobdef.NewError(r.firstError().Code, note, nil)
		}
	}
	p.Metrics.JobDone(rep.State)
	if r.sendFinal(final, rep) {
		r.removeJobDir()
	} else {
		res.unacked = true
	}
	return res
}

// fileID identifies a file by device and inode.
type fileID struct{ dev, ino uint64 }

// dirIdentity returns the identity of the directory dir (not following a
// symbolic link).
func dirIdentity(dir string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fileID{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fileID{}, fmt.Errorf("%s is not a directory", dir)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// dirIntact reports whether the job directory is still the directory the
// pilot created: a payload may remove it or put a symbolic link to
// somewhere else in its place, and nothing must then be staged out of it.
func (r *jobRun) dirIntact() bool {
	id, err := dirIdentity(r.dir)
	if err != nil {
		return false
	}
	return r.dirID == (fileID{}) || id == r.dirID
}

// reservedNames refuses a job whose file names are those of the pilot's
// own files in the job or work directory (1371): an input named
// journal.jsonl would overwrite the job's journal.
func reservedNames(job *jobdef.Job) *jobdef.PilotError {
	reserved := map[string]bool{
		journal.FileName: true, journal.LockFileName: true, FinalReportFile: true,
		PayloadStdout: true, PayloadStderr: true, HeartbeatFile: true,
		QueuedataCache: true, StoragedataCache: true, "pilotlog.txt": true, identity.PayloadProxyFile: true,
	}
	names := []string{job.LogFile}
	for _, f := range job.Inputs {
		names = append(names, f.LFN)
	}
	for _, f := range job.Outputs {
		names = append(names, f.LFN)
	}
	for _, n := range names {
		if reserved[n] || strings.HasPrefix(n, ".gopilot-") {
			return jobdef.NewError(jobdef.BadOutputFileName, fmt.Sprintf("file name %q is reserved for the pilot's own files", n), nil)
		}
	}
	return nil
}

// newJobRun starts the bookkeeping of a job received at tGot.
func (p *Pilot) newJobRun(job *jobdef.Job, tGetJob, tGot time.Time) *jobRun {
	r := &jobRun{
		p: p, job: job, kill: func(error) {}, phase: status.PhaseSetup,
		log:     p.log().WithField("pandaid", job.PandaID),
		tGetJob: tGetJob, tGot: tGot, lastAck: tGot,
		startEpoch: epoch(tGot), wake: make(chan struct{}, 1),
	}
	r.debug.Store(job.Debug)
	return r
}

// stopCause returns the kill cause when the job's context was cancelled
// (signal, server kill, time limit), else fallback.
func (r *jobRun) stopCause(ctx context.Context, fallback *jobdef.PilotError) *jobdef.PilotError {
	if pe := causeError(ctx, fallback.Code); pe != nil {
		return pe
	}
	return fallback
}

func (r *jobRun) stageOutOutputs(ctx context.Context) {
	files := make([]*jobdef.FileSpec, 0, len(r.job.Outputs))
	for i := range r.job.Outputs {
		if r.job.Outputs[i].Status != jobdef.StatusTransferred { // staged before a recovery
			files = append(files, &r.job.Outputs[i])
		}
	}
	if len(files) == 0 {
		return
	}
	r.log.WithField("files", len(files)).Info("stage-out of outputs")
	if r.p.Cfg.OutputDir != "" && r.p.Offline {
		r.keepOutputs(files)
		return
	}
	t0 := r.p.now()
	err := r.p.Stager.StageOut(ctx, r.job, r.dir, files, outputActivities())
	r.recordFiles(journal.Out, r.job.Outputs)
	r.countStaged(false, r.job.Outputs, r.p.now().Sub(t0))
	if err != nil {
		r.stageOutFailed = true
		r.fail(r.stopCause(ctx, asPilotError(err, jobdef.StageOutFailed)))
	}
}

// keepOutputs moves outputs to --output-dir (offline mode).
func (r *jobRun) keepOutputs(files []*jobdef.FileSpec) {
	if err := os.MkdirAll(r.p.Cfg.OutputDir, 0o755); err != nil {
		r.fail(jobdef.NewError(jobdef.MkdirFailed, r.p.Cfg.OutputDir, err))
		return
	}
	for _, f := range files {
		src := filepath.Join(r.dir, f.LFN)
		if err := os.Rename(src, filepath.Join(r.p.Cfg.OutputDir, f.LFN)); err != nil {
			if errors.Is(err, os.ErrNotExist) && allowedMissing(r.job, f.LFN) {
				continue
			}
			r.fail(jobdef.NewError(jobdef.MissingOutputFile, f.LFN, err))
		}
	}
}

func allowedMissing(job *jobdef.Job, lfn string) bool {
	for _, a := range job.AllowNoOutput {
		if a == lfn {
			return true
		}
	}
	return false
}

// stageOutLog creates the log tarball and stages it out (or, offline, keeps
// it in the work directory).
func (r *jobRun) stageOutLog(ctx context.Context) {
	if r.job.LogFile == "" {
		return
	}
	if ctx.Err() != nil {
		r.log.Warn("second signal: log stage-out skipped")
		return
	}
	exclude := map[string]bool{r.job.LogFile: true}
	for _, f := range r.job.Inputs {
		exclude[f.LFN] = true
	}
	for _, f := range r.job.Outputs {
		exclude[f.LFN] = true
	}
	// The tarball is built under a name of the pilot's own, so that no log
	// file name can overwrite a pilot file in the work directory.
	tarball := filepath.Join(r.p.Workdir, fmt.Sprintf(".gopilot-log-%d.tgz", r.job.PandaID))
	prefix := fmt.Sprintf("tarball_PandaJob_%d_%s", r.job.PandaID, r.p.Cfg.Queue)
	_, err := CreateLogTarball(ctx, tarball, r.dir, prefix, exclude, r.p.LogFile)
	srcDir := r.dir // where the tarball is staged out from
	if errors.Is(err, syscall.ENOSPC) && !r.p.Offline {
		// The work directory's file system is full (often the payload's
		// doing): build the tarball in the temporary directory instead and
		// stage it out from there.
		os.Remove(tarball)
		tmp, terr := os.MkdirTemp("", "gopilot-log-")
		if terr == nil {
			defer os.RemoveAll(tmp)
			srcDir = tmp
			tarball = filepath.Join(tmp, r.job.LogFile)
			r.log.WithField("dir", tmp).Warn("no space left in the work directory: log tarball built in the temporary directory")
			_, err = CreateLogTarball(ctx, tarball, r.dir, prefix, exclude, r.p.LogFile)
		}
	}
	if err != nil {
		os.Remove(tarball)
		r.log.WithError(err).Warn("log tarball not created")
		r.fail(jobdef.NewError(jobdef.LogFileCreationFailure, err.Error(), err))
		return
	}
	if r.p.Offline {
		kept := filepath.Join(r.p.Workdir, r.job.LogFile)
		if err := os.Rename(tarball, kept); err != nil {
			r.fail(jobdef.NewError(jobdef.LogFileCreationFailure, "keeping the log tarball", err))
			return
		}
		r.log.WithField("file", kept).Info("log tarball kept in the work directory")
		return
	}
	if srcDir == r.dir {
		// The tarball is staged out from the job directory, like any output.
		if err := os.Rename(tarball, filepath.Join(r.dir, r.job.LogFile)); err != nil {
			r.fail(jobdef.NewError(jobdef.LogFileCreationFailure, "moving the log tarball into the job directory", err))
			return
		}
	}
	if r.job.Log.LFN == "" {
		r.job.Log.LFN = r.job.LogFile
		r.job.Log.Kind = jobdef.Log
	}
	r.log.WithField("lfn", r.job.LogFile).Info("stage-out of the log")
	t0 := r.p.now()
	err = r.p.Stager.StageOut(ctx, r.job, srcDir, []*jobdef.FileSpec{&r.job.Log}, logActivities())
	r.recordFiles(journal.Log, []jobdef.FileSpec{r.job.Log})
	r.countStaged(false, []jobdef.FileSpec{r.job.Log}, r.p.now().Sub(t0))
	if err != nil {
		r.fail(asPilotError(err, jobdef.StageOutFailed))
	}
}

// heartbeats sends a 'running' update every --heartbeat seconds (every
// --debug-heartbeat seconds while the server keeps the job in debug mode)
// until done is closed. When no update has succeeded for --lost-heartbeat
// seconds the job is killed with 1317, as Pilot 3 gives up on a job whose
// server it cannot reach.
func (r *jobRun) heartbeats(ctx context.Context, done <-chan struct{}) {
	for {
		d := time.Duration(r.p.Cfg.Heartbeat) * time.Second
		if r.debug.Load() {
			d = time.Duration(r.p.Cfg.DebugHeartbeat) * time.Second
		}
		t := time.NewTimer(d)
		select {
		case <-done:
			t.Stop()
			return
		case <-r.wake:
			t.Stop()
		case <-t.C:
			r.update(ctx, "running")
		}
		if lost := time.Duration(r.p.Cfg.LostHeartbeat) * time.Second; r.sinceLastAck() > lost {
			r.kill(jobdef.NewError(jobdef.ExceededMaxWaitTime, fmt.Sprintf("no successful update for %s (lost heartbeat)", lost), nil))
			return
		}
	}
}

func (r *jobRun) sinceLastAck() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p.now().Sub(r.lastAck)
}

// update sends a non-final update. The first update of a job is always
// 'starting'. Server commands in the answer are acted upon.
func (r *jobRun) update(ctx context.Context, state string) {
	r.mu.Lock()
	if r.updatesSent == 0 {
		state = "starting"
	}
	r.updatesSent++
	r.mu.Unlock()
	rep := r.baseReport(state)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	reply, err := r.p.Reporter.UpdateJob(ctx, rep)
	if err != nil {
		r.p.Metrics.ServerError("updateJob")
		r.log.WithError(err).WithField("state", state).Warn("update failed")
		return
	}
	r.mu.Lock()
	r.lastAck = r.p.now()
	changed := state != r.lastState
	r.lastState = state
	r.mu.Unlock()
	if changed {
		r.record(journal.StateChange{State: state})
	}
	r.log.WithFields(logrus.Fields{"state": state, "command": reply.Command}).Debug("update sent")
	r.handleCommands(ctx, reply)
}

// handleCommands acts on the server's back-channel commands (PROTOCOL.md §3.5).
func (r *jobRun) handleCommands(ctx context.Context, reply *server.Reply) {
	for _, c := range reply.Commands() {
		switch {
		case c == "tobekilled":
			r.log.Warn("the server ordered the job to be killed")
			r.kill(jobdef.NewError(jobdef.PandaKill, "killed by the PanDA server (tobekilled)", nil))
		case c == "debug":
			if !r.debug.Swap(true) {
				r.log.Info("debug mode on: heartbeats every ", r.p.Cfg.DebugHeartbeat, " s with the payload's stdout")
				r.poke()
			}
		case c == "debugoff":
			if r.debug.Swap(false) {
				r.log.Info("debug mode off")
				r.poke()
			}
		case c == "nocleanup":
			r.noCleanup.Store(true)
		case c == "alreadydone" || c == "softkill":
		case strings.Contains(c, " "):
			out, err := OperatorCommand(ctx, c, r.dir)
			if err != nil {
				r.log.WithError(err).WithField("command", c).Warn("operator command refused")
				out = err.Error()
			}
			r.mu.Lock()
			r.debugOut = out
			r.mu.Unlock()
			r.debug.Store(true)
			r.poke()
		default:
			r.log.WithField("command", c).Warn("unknown server command ignored")
		}
	}
}

// poke makes the heartbeat loop re-read its interval.
func (r *jobRun) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *jobRun) baseReport(state string) *jobdef.UpdateReport {
	h := r.p.Host
	meta := ""
	rep := &jobdef.UpdateReport{
		JobID: r.job.PandaID, State: state, Timestamp: r.p.now().Format("2006-01-02T15:04:05-07:00"),
		SiteName: r.siteName(), Node: h.Node, AttemptNr: r.job.AttemptNr,
		SchedulerID: h.SchedulerID, PilotID: h.PilotID, BatchID: h.BatchID,
		StartTime: r.startEpoch, MetaData: &meta, CoreCount: max(r.job.CoreCount, 1),
		CPUConsumptionUnit: h.CPUUnit,
	}
	r.mu.Lock()
	mr := r.monitor
	r.mu.Unlock()
	if mr != nil {
		st := mr.Stats()
		rep.MaxRSS, rep.MaxPSS, rep.AvgRSS, rep.AvgPSS = st.MaxRSS, st.MaxPSS, st.AvgRSS, st.AvgPSS
		if st.CPUSeconds > 0 {
			rep.CPUConsumptionTime, rep.CPUConversionFactor = st.CPUSeconds, 1.0
		}
	}
	if r.debug.Load() {
		r.mu.Lock()
		rep.Stdout, r.debugOut = r.debugOut, ""
		r.mu.Unlock()
		if rep.Stdout == "" {
			rep.Stdout = tailInDir(r.dir, PayloadStdout, 2048)
		}
	}
	return rep
}

func (r *jobRun) siteName() string {
	if q := r.p.Queue; q != nil && q.Resource != "" {
		return q.Resource
	}
	return r.p.Cfg.Queue
}

// finalReport builds the final update from everything the job recorded.
func (r *jobRun) finalReport() *jobdef.UpdateReport {
	pe := r.firstError()
	state := "finished"
	if pe != nil {
		state = "failed"
	}
	rep := r.baseReport(state)
	rep.Final = true
	rep.EndTime = epoch(r.p.now())
	rep.MetaData = nil
	if po := r.payload; po != nil {
		rep.TransExitCode = po.transExitCode
		rep.ExeErrorCode = po.exeErrorCode
		rep.ExeErrorDiag = po.exeErrorDiag
		if po.metaData != "" {
			md := po.metaData
			rep.MetaData = &md
		}
		if cpu := int64(po.cpu.Seconds() + 0.5); cpu > rep.CPUConsumptionTime && cpu < 1e9 {
			rep.CPUConsumptionTime = cpu
			rep.CPUConversionFactor = 1.0
		}
		if kb := po.maxRSS / 1024; kb > rep.MaxRSS {
			rep.MaxRSS = kb
		}
		if wall := po.wall.Seconds(); state == "finished" && wall > 0 {
			rep.MeanCoreCount = float64(int((po.cpu.Seconds()/wall)*100+0.5)) / 100
			if rep.MeanCoreCount <= 0 {
				rep.MeanCoreCount = 1.0
			}
		}
	}
	if pe != nil {
		rep.PilotErrorCode = int(pe.Code)
		rep.PilotErrorDiag = pe.Diag
		rep.PilotLog = tailFile(r.p.LogFile, 1024)
	}
	files := append([]jobdef.FileSpec{}, r.job.Outputs...)
	if r.job.LogFile != "" {
		files = append(files, r.job.Log)
	}
	if or := jobdef.BuildOutputReport(files); len(or) > 0 {
		rep.XML = or.JSON()
	}
	rep.PilotTiming = r.pilotTiming()
	return rep
}

// pilotTiming renders getjob|stagein|payload|stageout|initialsetup|setup in
// whole seconds.
func (r *jobRun) pilotTiming() string {
	sec := func(a, b time.Time) int64 {
		if a.IsZero() || b.IsZero() || b.Before(a) {
			return 0
		}
		return int64(b.Sub(a) / time.Second)
	}
	return fmt.Sprintf("%d|%d|%d|%d|%d|%d",
		sec(r.tGetJob, r.tGot), sec(r.tStageIn, r.tStageInEnd), sec(r.tPayload, r.tPayloadEnd),
		sec(r.tStageOut, r.tStageOutEnd), sec(r.tGot, r.tStageIn), 0)
}

// sendFinal writes the final report into the job directory, then sends it
// until the server acknowledges it or ctx ends. It reports whether the
// report was acknowledged.
func (r *jobRun) sendFinal(ctx context.Context, rep *jobdef.UpdateReport) bool {
	if r.journal != nil {
		r.record(journal.ReportBuilt{State: rep.State, Report: rep.LegacyJSON()})
	} else if dirExists(r.dir) {
		if b, err := json.MarshalIndent(rep.Legacy(), "", "  "); err == nil {
			if err := writeFileSync(filepath.Join(r.dir, FinalReportFile), b); err != nil {
				r.log.WithError(err).Warn("cannot save the final report")
			}
		}
	}
	return r.deliverFinal(ctx, rep)
}

// deliverFinal sends an already journaled final report until the server
// acknowledges it (journaled as ReportAcked) or ctx ends.
func (r *jobRun) deliverFinal(ctx context.Context, rep *jobdef.UpdateReport) bool {
	lg := r.log.WithFields(logrus.Fields{"state": rep.State, "code": rep.PilotErrorCode})
	for attempt := 1; ; attempt++ {
		reply, err := r.p.Reporter.UpdateJob(ctx, rep)
		if err == nil && (reply.StatusCode == 0 || reply.Has("tobekilled") || reply.Has("alreadydone")) {
			r.record(journal.ReportAcked{StatusCode: reply.StatusCode, Command: reply.Command, Attempts: attempt})
			r.closeJournal()
			lg.WithField("attempts", attempt).Info("final update acknowledged")
			return true
		}
		r.p.Metrics.ServerError("updateJob")
		if err == nil {
			err = fmt.Errorf("server answered StatusCode %d", reply.StatusCode)
		}
		lg.WithError(err).WithField("attempt", attempt).Warn("final update not acknowledged")
		if !sleepCtx(ctx, jitter(time.Duration(min(attempt, 6))*5*time.Second)) {
			lg.Error("giving up on the final update; it is kept in " + FinalReportFile)
			return false
		}
	}
}

// openJournal starts the job's journal (journal.jsonl in the job directory).
// A journal that cannot be opened is logged and the job goes on without it.
func (r *jobRun) openJournal() {
	j, err := journal.Open(r.dir, journal.Owner{Host: r.p.Host.Node, PilotID: r.p.Host.PilotID})
	if err != nil {
		r.log.WithError(err).Warn("no job journal")
		return
	}
	r.journal = j
	outs := make([]string, 0, len(r.job.Outputs))
	for _, f := range r.job.Outputs {
		outs = append(outs, f.LFN)
	}
	r.record(journal.Accepted{PandaID: r.job.PandaID, AttemptNr: r.job.AttemptNr, Queue: r.p.Cfg.Queue,
		User: r.job.ProdUserID, WorkDir: r.dir, Server: r.p.ServerURL, Outputs: outs, LogFile: r.job.LogFile,
		Fields: r.job.Raw})
}

func (r *jobRun) closeJournal() {
	r.mu.Lock()
	j := r.journal
	r.journal = nil
	r.mu.Unlock()
	if j != nil {
		if err := j.Close(); err != nil {
			r.log.WithError(err).Warn("closing the job journal")
		}
	}
}

// record appends an event to the job's journal; a failure is logged.
func (r *jobRun) record(ev journal.Event) {
	r.mu.Lock()
	j := r.journal
	r.mu.Unlock()
	if j == nil {
		return
	}
	if _, err := j.Append(ev); err != nil {
		r.log.WithError(err).Warn("job journal")
	}
}

// recordFiles journals every transferred file of files.
func (r *jobRun) recordFiles(dir journal.Direction, files []jobdef.FileSpec) {
	for _, f := range files {
		if f.Status == jobdef.StatusTransferred {
			r.record(journal.FileStaged{Direction: dir, LFN: f.LFN, URL: f.SURL, Size: f.Size, Checksum: f.Checksum.String(), Mover: f.Mover})
		}
	}
}

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// freeSpaceMB returns the free space of dir's file system in MB (0 if unknown).
func freeSpaceMB(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize) / (1 << 20)
}

// tailFile returns at most n bytes from the end of a file ("" when unreadable).
func tailFile(path string, n int64) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	return tailOf(f, n)
}

// tailOf returns at most n bytes from the end of f, from a line start.
func tailOf(f *os.File, n int64) string {
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return ""
	}
	s := string(buf)
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

// tailInDir is tailFile for a file inside dir, opened through an os.Root so
// that a symbolic link out of dir is not followed.
func tailInDir(dir, name string, n int64) string {
	f, err := openRegularInDir(dir, name)
	if err != nil {
		return ""
	}
	defer f.Close()
	return tailOf(f, n)
}

// writeFileSync writes data to path atomically (temporary file, fsync, rename).
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp) // a full disk must not leave half files behind
	}
	return err
}
