// Package pilot is the pilot's orchestration: the job loop with timefloor and
// lifetime rules, the per-job state machine (stage-in, payload, stage-out,
// log tarball, final update), server updates and the mapping of every failure
// to its PanDA error code.
//
// Every dependency is a field of Pilot, wired by cmd/pilot; the interfaces
// the pilot needs are declared here, where they are used.
package pilot

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/identity"
	"github.com/gopilot/gopilot/pilot/journal"
	"github.com/gopilot/gopilot/pilot/server"
	"github.com/gopilot/gopilot/pilot/status"
	"github.com/gopilot/gopilot/timedcmd"
)

// JobSource hands out jobs: the PanDA server (getJob) or a job file.
// It returns an error wrapping server.ErrNoJob when there is no job.
type JobSource interface {
	GetJob(ctx context.Context, req server.JobRequest) (*jobdef.Job, error)
}

// Reporter receives job updates: the PanDA server (updateJob) or a file
// writer in the modes without server updates.
type Reporter interface {
	UpdateJob(ctx context.Context, rep *jobdef.UpdateReport) (*server.Reply, error)
}

// Stager moves a job's files (implemented by movers.Stager).
type Stager interface {
	StageIn(ctx context.Context, job *jobdef.Job, jobDir string) error
	StageOut(ctx context.Context, job *jobdef.Job, jobDir string, files []*jobdef.FileSpec, activities []string) error
}

// IdentitySwitcher prepares the local identity and credential of each
// payload (implemented by identity.Switcher).
type IdentitySwitcher interface {
	Prepare(ctx context.Context, job *jobdef.Job, jobDir string) (*identity.Plan, error)
}

// Downloader fetches a URL (transformations).
type Downloader interface {
	Get(ctx context.Context, url string) ([]byte, error)
}

// Pilot runs jobs. All fields except Log, Now and the optional ones must be
// set before Run.
type Pilot struct {
	Cfg      Config
	Log      logrus.FieldLogger
	Source   JobSource
	Reporter Reporter
	Stager   Stager
	// Fetch downloads transformations given as URLs; nil disables URL transformations.
	Fetch Downloader
	// Identity, when non-nil, runs payloads as another local account.
	Identity IdentitySwitcher
	// Runner starts payloads; a subreaper Runner also finds and kills
	// descendants that escaped the payload's session. nil means timedcmd's
	// package-level Start.
	Runner *timedcmd.Runner
	// Queue is the queue description; nil in offline mode without queue data.
	Queue *jobdef.QueueData
	// Workdir is the directory in which job directories are created.
	Workdir string
	// LogFile is the pilot log (pilotlog.txt), shipped in each log tarball.
	LogFile string
	// Host describes the worker node for getJob and updates.
	Host HostInfo
	// ServerURL is exported to payloads as PANDA_SERVER_URL.
	ServerURL string
	// Offline keeps the log tarball in the work directory instead of staging it out.
	Offline bool
	// Start is the pilot's start time; zero means the time Run is called.
	Start time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hurry, when non-nil, is cancelled by a second signal: the log
	// stage-out is skipped and only the final update is sent.
	Hurry context.Context
	// Credentials, when non-empty, are the proxy and tokens the pilot uses:
	// before each getJob they must last long enough for a job
	// (--proxy-min-lifetime, capped by the remaining lifetime), and while a
	// payload runs they are re-checked (unless --noproxyverification).
	Credentials *credentials.Checker
	// Metrics, when non-nil, counts jobs, transfers, payload time and
	// server calls for the status endpoint.
	Metrics *status.Metrics

	mu      sync.Mutex
	pilotEr *jobdef.PilotError
	drain   string  // drain reason; "" while not draining
	current *jobRun // the running job, nil between jobs
	guard   blackHole
	// deadline is the end of the pilot's lifetime (set by Run).
	deadline time.Time
}

// HostInfo holds the worker-node facts the server is told about.
type HostInfo struct {
	Node        string
	CPUMHz      float64
	MemMB       float64
	CPUUnit     string // cpuConsumptionUnit, "s+<cpu model>"
	PilotID     string
	BatchID     string
	SchedulerID string
	HarvesterID string
	WorkerID    string
}

// Outcome is what a pilot run did.
type Outcome struct {
	JobsRun, Finished, Failed int
	// Recovered counts the jobs left unfinished by an earlier pilot that
	// this one finished (see Recover).
	Recovered int
	// Err is the first pilot-level error (nil when none).
	Err *jobdef.PilotError
	// ExitCode is the pilot's shell exit code, as Pilot 3 computes it.
	ExitCode int
}

func (p *Pilot) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pilot) log() logrus.FieldLogger {
	if p.Log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		return l
	}
	return p.Log
}

// setPilotError records the first pilot-level error (it decides the exit code).
func (p *Pilot) setPilotError(e *jobdef.PilotError) {
	if e == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pilotEr == nil {
		p.pilotEr = e
	}
}

// Lifetime returns the pilot's maximum running time: the queue's maxtime when
// set, else --lifetime.
func (p *Pilot) Lifetime() time.Duration {
	if p.Queue != nil && p.Queue.MaxTime > 0 {
		return p.Queue.MaxTime
	}
	return p.Cfg.LifetimeDuration()
}

func (p *Pilot) timefloor() time.Duration {
	if p.Queue == nil {
		return 0
	}
	return p.Queue.Timefloor
}

// Run takes jobs until the rules say stop, and returns what happened. ctx
// ends the pilot: its cancellation cause (a *SignalError for signals) becomes
// the running job's error code and the pilot's exit code.
func (p *Pilot) Run(ctx context.Context) Outcome {
	lifetime := p.Lifetime()
	p.mu.Lock()
	if p.Start.IsZero() {
		p.Start = p.now()
	}
	p.deadline = p.Start.Add(lifetime)
	p.mu.Unlock()
	lg := p.log()
	// The pilot's own deadline: past it the running job fails with 1213.
	ctx, cancel := context.WithDeadlineCause(ctx, p.Start.Add(lifetime),
		jobdef.NewError(jobdef.ReachedMaxTime, "pilot lifetime of "+lifetime.String()+" reached", nil))
	defer cancel()

	var out Outcome
	if p.Cfg.Recover && !p.Offline {
		out.Recovered, _ = p.recoverAll(ctx)
	}
	failures, requests := 0, 0
	taskID := ""
	unacked := false
	for {
		if unacked {
			// A final report was not acknowledged: deliver it before taking
			// more work; if it still fails the server is not reachable and
			// the journal keeps it for the next pilot.
			if _, n := p.recoverAll(ctx); n > 0 {
				break
			}
			unacked = false
		}
		ok, why := MayFetch(FetchState{
			Now: p.now(), Start: p.Start, Timefloor: p.timefloor(), Lifetime: lifetime,
			JobsRun: out.JobsRun, Stopping: ctx.Err() != nil || p.Draining() != "",
		})
		if !ok {
			lg.WithField("reason", why).Info("not asking for another job")
			break
		}
		if err := p.checkCredentials(); err != nil {
			lg.WithError(err).Error("credentials too short for another job; the pilot takes no more jobs")
			p.setPilotError(asPilotError(err, jobdef.NoProxy))
			break
		}
		requests++
		if requests > p.Cfg.GetJobRequests {
			lg.WithField("requests", requests-1).Info("getJob request limit for this job slot reached")
			break
		}
		lg.WithField("reason", why).Debug("asking for a job")
		tGetJob := p.now()
		job, err := p.Source.GetJob(ctx, p.jobRequest(taskID, p.Start.Add(lifetime).Sub(tGetJob)))
		p.Metrics.GetJob(p.now().Sub(tGetJob), err)
		if errors.Is(err, server.ErrNoJob) {
			failures++
			lg.WithFields(logrus.Fields{"answer": err.Error(), "no_job_answers": failures, "tolerated": p.Cfg.GetJobFailures}).Info("no job from the server")
			if failures >= p.Cfg.GetJobFailures {
				break
			}
			if !sleepCtx(ctx, jitter(time.Duration(p.Cfg.GetJobWait)*time.Second)) {
				break
			}
			continue
		}
		var bad *server.BadJobError
		if errors.As(err, &bad) {
			// The job is ours but unusable: report it failed with the
			// validation error's code, and go on with the next one.
			out.JobsRun++
			out.Failed++
			requests = 0
			p.reportBadJob(ctx, bad, tGetJob)
			continue
		}
		var httpErr *server.HTTPError
		if err != nil && ctx.Err() == nil && errors.As(err, &httpErr) && httpErr.Status >= 500 {
			// The server answered with an error: it dispatched nothing, so
			// asking again is safe, within the --getjobfailures budget.
			failures++
			lg.WithError(err).WithFields(logrus.Fields{"failures": failures, "tolerated": p.Cfg.GetJobFailures}).Warn("getJob failed on the server")
			if failures >= p.Cfg.GetJobFailures {
				p.setPilotError(asPilotError(err, jobdef.CommunicationFailure))
				break
			}
			if !sleepCtx(ctx, jitter(time.Duration(p.Cfg.GetJobWait)*time.Second)) {
				break
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			pe := asPilotError(err, jobdef.CommunicationFailure)
			lg.WithError(err).Error("getJob failed")
			p.setPilotError(pe)
			break
		}
		out.JobsRun++
		requests = 0
		res := p.runJob(ctx, job, tGetJob, p.now())
		unacked = res.unacked
		if res.finished {
			out.Finished++
		} else {
			out.Failed++
		}
		if p.Cfg.AllowSameUser && job.TaskID != 0 {
			taskID = formatInt(job.TaskID)
		}
		if res.stopPilot != nil {
			lg.WithError(res.stopPilot).Warn("the pilot takes no more jobs")
			p.setPilotError(res.stopPilot)
			break
		}
	}
	if unacked {
		// The batch system must not take this pilot for a success.
		lg.Warn("final reports not acknowledged; they stay in the journals for the next pilot (pilot recover)")
		p.setPilotError(jobdef.NewError(jobdef.CommunicationFailure, "final reports not acknowledged by the server", nil))
	}
	p.mu.Lock()
	out.Err = p.pilotEr
	p.mu.Unlock()
	out.ExitCode = exitCode(ctx, out.Err)
	return out
}

// checkCredentials checks, before a getJob, that every credential the pilot
// uses lasts for a job: --proxy-min-lifetime, or the pilot's remaining
// lifetime when that is shorter (1163, 1373, 1382, 1177).
func (p *Pilot) checkCredentials() error {
	if p.Cfg.NoProxyVerification || p.Credentials.Empty() {
		return nil
	}
	need := credentials.NeedBeforeJob(time.Duration(p.Cfg.ProxyMinLifetime)*time.Second, p.remaining())
	return p.Credentials.Check(p.now(), need)
}

// remaining returns the pilot's remaining lifetime.
func (p *Pilot) remaining() time.Duration {
	if p.deadline.IsZero() {
		return p.Lifetime()
	}
	return p.deadline.Sub(p.now())
}

// recoverAll runs Recover and returns how many jobs it finished and how
// many it left unfinished (journals held by a live pilot not counted).
func (p *Pilot) recoverAll(ctx context.Context) (finished, left int) {
	for _, rj := range p.Recover(ctx) {
		switch {
		case rj.Acked:
			finished++
		case !rj.Done() && !errors.Is(rj.Err, journal.ErrLocked):
			left++
		}
	}
	return finished, left
}

// reportBadJob sends the final 'failed' update for a job whose definition
// could not be used.
func (p *Pilot) reportBadJob(ctx context.Context, bad *server.BadJobError, tGetJob time.Time) {
	pe := asPilotError(bad.Err, jobdef.UnknownException)
	job := &jobdef.Job{PandaID: bad.PandaID, AttemptNr: bad.AttemptNr}
	r := p.newJobRun(job, tGetJob, p.now())
	r.log.WithError(bad.Err).Error("the server handed out a malformed job; reporting it failed")
	r.fail(pe)
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(p.Cfg.FinalUpdateTimeout)*time.Second)
	defer cancel()
	r.sendFinal(final, r.finalReport())
}

// exitCode computes the pilot's shell exit status: the first pilot-level
// error's shell code, else the signal's, else 0. A payload failure alone
// does not make the pilot fail.
func exitCode(ctx context.Context, pe *jobdef.PilotError) int {
	if pe != nil && pe.Code != 0 {
		return pe.Code.ShellExit()
	}
	var se *SignalError
	if errors.As(context.Cause(ctx), &se) {
		return jobdef.PilotSignalCode(se.Signal).ShellExit()
	}
	return 0
}

func (p *Pilot) jobRequest(taskID string, remaining time.Duration) server.JobRequest {
	site, ce := p.Cfg.Queue, p.Cfg.Queue
	if p.Queue != nil {
		if p.Queue.Resource != "" {
			site = p.Queue.Resource
		}
		if p.Queue.Name != "" {
			ce = p.Queue.Name
		}
	}
	label := p.Cfg.JobLabel
	if p.Queue != nil && p.Queue.Status == "test" && label != "ptest" {
		label = "test"
	}
	disk := freeSpaceMB(p.Workdir)
	if p.Queue != nil && p.Queue.MaxWDir > 0 && p.Queue.MaxWDir < disk {
		disk = p.Queue.MaxWDir
	}
	return server.JobRequest{
		SiteName: site, ComputingElement: ce, ProdSourceLabel: label,
		DiskSpace: disk, WorkingGroup: p.Cfg.WorkingGroup, CPU: p.Host.CPUMHz, Mem: p.Host.MemMB,
		Node: p.Host.Node, AllowOtherCountry: p.Cfg.AllowOtherCountry, JobType: p.Cfg.JobType,
		CountryGroup: p.Cfg.CountryGroup, TaskID: taskID, ResourceType: p.Cfg.ResourceType,
		HarvesterID: p.Host.HarvesterID, WorkerID: p.Host.WorkerID,
		RemainingTime: int64(remaining / time.Second),
	}
}

// hurried returns a context that ends with ctx or when the pilot is told to
// hurry (second signal).
func (p *Pilot) hurried(ctx context.Context) context.Context {
	if p.Hurry == nil {
		return ctx
	}
	c, cancel := context.WithCancelCause(ctx)
	context.AfterFunc(p.Hurry, func() { cancel(context.Cause(p.Hurry)) })
	return c
}

// sleepCtx waits d or until ctx ends; it reports whether the full wait passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter returns d randomised by +-50%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}

// asPilotError returns err's PilotError, or a new one with code fallback.
func asPilotError(err error, fallback jobdef.ErrorCode) *jobdef.PilotError {
	if err == nil {
		return nil
	}
	var pe *jobdef.PilotError
	if errors.As(err, &pe) {
		return pe
	}
	return jobdef.NewError(fallback, err.Error(), err)
}
