package pilot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/journal"
	"github.com/gopilot/gopilot/timedcmd"
)

// What recovery does with a payload that a dead pilot left running.
const (
	// RecoverKill stops it (SIGTERM to its process group, then SIGKILL after --kill-grace).
	RecoverKill = "kill"
	// RecoverWait waits until it ends on its own.
	RecoverWait = "wait"
)

// RecoveredJob is what recovery did with one journal.
type RecoveredJob struct {
	PandaID int64
	Dir     string
	// Found is the phase the journal was in.
	Found journal.Phase
	// State and Code are the final state and pilot error code reported
	// ("" and 0 when nothing was reported).
	State string
	Code  jobdef.ErrorCode
	// Acked is set when the server accepted the final report.
	Acked bool
	// Err says why the job could not be finished (nil when Acked, or when
	// there was nothing to do).
	Err error
}

// Done reports whether nothing is left unfinished for this job.
func (j RecoveredJob) Done() bool {
	return j.Err == nil && (j.Acked || j.Found == journal.PhaseDone || j.Found == journal.PhaseUnknown)
}

// Recover finishes every job whose journal in the work directory has no
// acknowledged final report, as a pilot that died (SIGKILL, power cut, batch
// system kill) left them:
//
//   - a built, unacknowledged final report is sent as it is;
//   - a payload that still runs (its pid and start time match the journal) is
//     killed, or waited for with Cfg.RecoverRunning "wait"; the job is then
//     reported failed with 1220 (payload lost), its log staged out;
//   - a job that never started its payload (the pilot died in setup or
//     stage-in) is reported failed with 1301;
//   - a payload that ended is judged from its recorded exit as usual; the
//     outputs it owes (exit 0) and the log tarball are staged out first.
//
// Journals held by a live pilot (file lock) are skipped. Recover returns one
// entry per journal found, in PandaID order; it never returns early because
// one job fails.
func (p *Pilot) Recover(ctx context.Context) []RecoveredJob {
	paths, err := journal.Find(p.Workdir)
	if err != nil {
		p.log().WithError(err).Warn("recovery: cannot list the work directory")
		return nil
	}
	var out []RecoveredJob
	for _, path := range paths {
		if ctx.Err() != nil {
			break
		}
		rj := p.recoverOne(ctx, path)
		if rj.Found != journal.PhaseDone && rj.Found != journal.PhaseUnknown {
			lg := p.log().WithFields(logrus.Fields{"pandaid": rj.PandaID, "found": rj.Found.String(), "state": rj.State, "code": int(rj.Code), "acked": rj.Acked})
			if rj.Err != nil {
				lg.WithError(rj.Err).Warn("recovery: job not finished")
			} else {
				lg.Info("recovery: job finished")
			}
		}
		out = append(out, rj)
	}
	return out
}

func (p *Pilot) recoverOne(ctx context.Context, path string) RecoveredJob {
	dir := filepath.Dir(path)
	rj := RecoveredJob{Dir: dir}
	h, err := journal.Replay(path)
	if err != nil {
		rj.Err = err
		return rj
	}
	rj.PandaID, rj.Found = h.Header.PandaID, h.Phase()
	if rj.Found == journal.PhaseDone || rj.Found == journal.PhaseUnknown {
		return rj
	}
	j, err := journal.Open(dir, journal.Owner{Host: p.Host.Node, PilotID: p.Host.PilotID})
	if err != nil {
		rj.Err = err // journal.ErrLocked: a live pilot drives this job
		return rj
	}
	// Read again under the lock: the previous owner may have written more.
	if h, err = journal.Replay(path); err != nil {
		j.Close()
		rj.Err = err
		return rj
	}
	pend := h.Pending()
	rj.Found = pend.Phase

	job, err := jobdef.JobFromFields(h.Header.Fields)
	if err != nil {
		job = &jobdef.Job{PandaID: h.Header.PandaID, AttemptNr: h.Header.AttemptNr}
	}
	r := p.newJobRun(job, h.Header.Start, h.Header.Start)
	r.dir, r.journal, r.updatesSent = dir, j, 1
	if n := len(h.States); n > 0 {
		r.lastState = h.States[n-1].State
	}
	defer r.closeJournal()
	r.log = r.log.WithField("recovery", true)

	if pend.Phase == journal.PhaseUnacked {
		fields, err := jobdef.FieldsFromJSON(pend.Report.Report)
		var rep *jobdef.UpdateReport
		if err == nil {
			rep, err = jobdef.ParseLegacyUpdate(fields)
		}
		if err != nil {
			rj.Err = fmt.Errorf("the journaled final report cannot be read: %w", err)
			return rj
		}
		rj.State, rj.Code = rep.State, jobdef.ErrorCode(rep.PilotErrorCode)
		final, cancel := context.WithTimeout(ctx, time.Duration(p.Cfg.FinalUpdateTimeout)*time.Second)
		defer cancel()
		rj.Acked = r.deliverFinal(final, rep)
		r.finishRecovered(&rj)
		return rj
	}

	switch pend.Phase {
	case journal.PhaseRunning:
		r.recoverRunning(ctx, pend.Run)
	case journal.PhaseSetup:
		r.fail(jobdef.NewError(jobdef.UnknownException, "pilot lost during setup or stage-in", nil))
	case journal.PhaseStageOut, journal.PhaseReport:
		r.restorePayload(ctx, &h.Runs[len(h.Runs)-1])
	}
	r.restoreStaged(h.Files)
	final, cancel := context.WithTimeout(ctx, time.Duration(p.Cfg.FinalUpdateTimeout)*time.Second)
	defer cancel()
	if r.firstError() == nil && len(job.Outputs) > 0 {
		r.stageOutOutputs(final)
	}
	if dirExists(r.dir) && !stagedLog(h.Files, job.LogFile) {
		r.stageOutLog(final)
	}
	rep := r.finalReport()
	rj.State, rj.Code = rep.State, jobdef.ErrorCode(rep.PilotErrorCode)
	rj.Acked = r.sendFinal(final, rep)
	r.finishRecovered(&rj)
	return rj
}

func (r *jobRun) finishRecovered(rj *RecoveredJob) {
	if !rj.Acked {
		rj.Err = errors.New("the server did not acknowledge the final report")
		return
	}
	r.closeJournal()
	r.removeJobDir()
}

// recoverRunning deals with a payload that has a start and no end in the
// journal: still alive, it is killed or waited for; the job fails with 1220
// either way, since its exit status is lost with the pilot that started it.
func (r *jobRun) recoverRunning(ctx context.Context, run *journal.PayloadRun) {
	st := run.Started
	ended := journal.PayloadEnded{PID: st.PID, ExitCode: -1}
	diag := fmt.Sprintf("payload lost: the pilot running it ended; pid %d was already gone", st.PID)
	if st.Alive() {
		if r.p.Cfg.RecoverRunning == RecoverWait {
			r.log.WithField("pid", st.PID).Info("recovery: waiting for the payload left running")
			for st.Alive() && sleepCtx(ctx, time.Second) {
			}
			ended.Cause = "ended while no pilot watched it"
			diag = fmt.Sprintf("payload lost: the pilot running it ended; pid %d ended unobserved, its exit status is unknown", st.PID)
		} else {
			sig := r.killLeftover(ctx, st)
			ended.Signal, ended.Cause = int(sig), "killed by pilot recovery"
			diag = fmt.Sprintf("payload lost: the pilot running it ended; pid %d was still running and was killed", st.PID)
		}
	}
	r.record(ended)
	r.fail(jobdef.NewError(jobdef.UnknownPayloadFailure, diag, nil))
}

// killLeftover stops the process group of a payload a dead pilot started:
// SIGTERM, then SIGKILL after the kill grace. The group is signalled only
// while its leader is the very process the journal recorded (pid and start
// time), and the payload runs in its own session, so the group is the
// payload's. It returns the last signal sent.
func (r *jobRun) killLeftover(ctx context.Context, st journal.PayloadStarted) syscall.Signal {
	target := st.PID
	if st.Pgid == st.PID {
		target = -st.PID
	}
	r.log.WithField("pid", st.PID).Warn("recovery: killing the payload left running")
	sig := syscall.SIGTERM
	if err := unix.Kill(target, sig); err != nil {
		return sig
	}
	deadline := time.Now().Add(time.Duration(r.p.Cfg.Grace) * time.Second)
	for st.Alive() && time.Now().Before(deadline) && sleepCtx(ctx, 50*time.Millisecond) {
	}
	if st.Alive() {
		sig = syscall.SIGKILL
		_ = unix.Kill(target, sig)
		for i := 0; i < 100 && st.Alive(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return sig
}

// restorePayload judges a payload that ended before its pilot died, from
// the end the journal recorded, as interpret would have.
func (r *jobRun) restorePayload(ctx context.Context, run *journal.PayloadRun) {
	e := run.Ended
	res := &timedcmd.Result{
		ExitCode: e.ExitCode, Signal: syscall.Signal(e.Signal),
		UserCPU: time.Duration(e.CPUSeconds * float64(time.Second)), MaxRSS: e.MaxRSSBytes,
		Start: run.StartedAt, End: run.StartedAt.Add(time.Duration(e.WallSeconds * float64(time.Second))),
		StderrTail: []byte(tailInDir(r.dir, PayloadStderr, 4096)),
	}
	if e.Cause != "" {
		res.Cause = errors.New(e.Cause)
	}
	r.tPayload, r.tPayloadEnd = res.Start, res.End
	r.interpret(ctx, res)
}

// restoreStaged marks the job's files that the journal records as staged
// out, so that they are not transferred again and appear in the final
// report with what was measured then.
func (r *jobRun) restoreStaged(files []journal.FileEntry) {
	for _, f := range files {
		if f.Direction != journal.Out && f.Direction != journal.Log {
			continue
		}
		spec := &r.job.Log
		if f.Direction == journal.Out {
			spec = nil
			for i := range r.job.Outputs {
				if r.job.Outputs[i].LFN == f.LFN {
					spec = &r.job.Outputs[i]
				}
			}
			if spec == nil {
				continue
			}
		} else if spec.LFN == "" {
			spec.LFN, spec.Kind = f.LFN, jobdef.Log
		}
		spec.Status, spec.SURL, spec.Size, spec.Mover = jobdef.StatusTransferred, f.URL, f.Size, f.Mover
		if ck, err := jobdef.ParseChecksum(f.Checksum); err == nil {
			spec.Checksum = ck
		}
	}
}

func stagedLog(files []journal.FileEntry, lfn string) bool {
	for _, f := range files {
		if f.Direction == journal.Log && f.LFN == lfn {
			return true
		}
	}
	return false
}

// jobDirOf returns the job directory of a PandaID in the work directory.
func jobDirOf(workdir string, pandaID int64) string {
	return filepath.Join(workdir, JobDirPrefix+strconv.FormatInt(pandaID, 10))
}

// removeJobDir removes an acknowledged job's directory when cleanup is on.
func (r *jobRun) removeJobDir() {
	if r.p.Cfg.Cleanup && !r.p.Offline && !r.noCleanup.Load() && dirExists(r.dir) {
		if err := os.RemoveAll(r.dir); err != nil {
			r.log.WithError(err).Warn("cannot remove the job directory")
		}
	}
}
