package pilot

import (
	"fmt"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/status"
)

// Drain makes the pilot finish its current job and take no more. It is
// safe to call from any goroutine, any number of times; the first reason
// is kept.
func (p *Pilot) Drain(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drain == "" {
		if reason == "" {
			reason = "drain requested"
		}
		p.drain = reason
		p.log().WithField("reason", reason).Warn("draining: the current job finishes, no more jobs are taken")
	}
}

// Draining returns the drain reason, "" when the pilot is not draining.
func (p *Pilot) Draining() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drain
}

// KillJob kills the running job's payload; the job is reported failed with
// 1205 (USERKILL: killed on the node by the site) after its log is staged
// out. It returns status.ErrNoJob when no job runs.
func (p *Pilot) KillJob(reason string) error {
	p.mu.Lock()
	r := p.current
	p.mu.Unlock()
	if r == nil {
		return status.ErrNoJob
	}
	if reason == "" {
		reason = "killed on the node by the site"
	}
	r.log.WithField("reason", reason).Warn("job kill requested on the node")
	r.kill(jobdef.NewError(jobdef.UserKill, reason, nil))
	return nil
}

func (p *Pilot) setCurrent(r *jobRun) {
	p.mu.Lock()
	p.current = r
	p.mu.Unlock()
}

// blackHole is the guard against a node that fails every job: it counts
// consecutive jobs that failed quickly for pilot or site reasons.
type blackHole struct {
	n int
}

// siteFailure reports whether a failed job counts for the black-hole guard:
// it failed within limit of its start, for a reason of the pilot or the
// site (its payload never ran, or ran fine while its outputs could not be
// staged out), and not because it was killed (signal, server, operator) or
// its definition was bad.
func siteFailure(r *jobRun, killed bool, limit time.Duration) bool {
	if r.firstError() == nil || killed || r.badDefinition || r.p.now().Sub(r.tGot) > limit {
		return false
	}
	if r.payload == nil {
		return true // setup, stage-in, identity, transformation
	}
	return r.payload.exitCode == 0 && r.payload.signal == 0 && r.stageOutFailed && !payloadFileCode(r.firstError().Code)
}

// note applies the guard to a finished job and returns the text to add to
// the job's final diagnostics when the pilot stops because of it ("" else).
func (b *blackHole) note(r *jobRun, killed bool, cfg Config) string {
	if cfg.BlackHoleJobs <= 0 {
		return ""
	}
	if !siteFailure(r, killed, time.Duration(cfg.BlackHoleSeconds)*time.Second) {
		b.n = 0
		return ""
	}
	b.n++
	if b.n < cfg.BlackHoleJobs {
		return ""
	}
	return fmt.Sprintf("black-hole guard: %d consecutive jobs failed for pilot or site reasons within %d s of their start; this pilot takes no more jobs",
		b.n, cfg.BlackHoleSeconds)
}

// walltimeFits reports, for a job just received, whether its maxWalltime
// fits in the pilot's remaining lifetime; when it does not the job is
// failed at once (1213) rather than killed when the pilot's time is up.
func (p *Pilot) walltimeFits(job *jobdef.Job, remaining time.Duration) *jobdef.PilotError {
	if job.MaxWalltime <= 0 {
		return nil
	}
	need := time.Duration(job.MaxWalltime) * time.Second
	if need <= remaining {
		return nil
	}
	return jobdef.NewError(jobdef.ReachedMaxTime, fmt.Sprintf("job maxWalltime %s exceeds the pilot's remaining lifetime %s: not started",
		need, remaining.Round(time.Second)), nil)
}

// payloadFileCodes are failures caused by the files a payload produced
// (missing, empty, not regular, badly named): not the site's fault.
func payloadFileCode(c jobdef.ErrorCode) bool {
	switch c {
	case jobdef.MissingOutputFile, jobdef.ZeroFileSize, jobdef.FileHandlingFailure, jobdef.BadOutputFileName, jobdef.LFNTooLong:
		return true
	}
	return false
}
