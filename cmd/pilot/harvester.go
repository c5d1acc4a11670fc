package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/pilot"
	"github.com/gopilot/gopilot/pilot/harvester"
	"github.com/gopilot/gopilot/pilot/server"
)

// Job loop settings in Harvester mode, applied to the options left at their
// defaults (PILOT_FEATURES.md §4).
const (
	harvesterGetJobRequests = 60 // getJob requests (job file looks) per job slot
	harvesterGetJobFailures = 12 // "no job" looks before the pilot ends
	harvesterGetJobWait     = 10 // seconds between looks
	// harvesterPullWait bounds one look's wait for Harvester's answer to a
	// job request in PULL mode.
	harvesterPullWait = 30 * time.Second
	// workerStatusTimeout bounds each worker status call with its retries.
	workerStatusTimeout = 30 * time.Second
)

// workerStatusUpdater sends worker status calls (a *server.Client).
type workerStatusUpdater interface {
	UpdateWorkerStatus(ctx context.Context, ws server.WorkerStatus) error
}

// harvesterRun is one pilot run's Harvester integration: Harvester mode
// (job files and report files instead of, or besides, the server,
// PROTOCOL.md §6) and the worker status calls of Harvester-managed pilots
// (HARVESTER_ID and HARVESTER_WORKER_ID set, server updates on). A
// harvesterRun for `pilot exec` does nothing.
type harvesterRun struct {
	p       *pilot.Pilot
	log     logrus.FieldLogger
	opts    harvester.Options
	mode    harvester.SubmitMode
	enabled bool // Harvester mode
	src     *harvester.Source
	status  workerStatusUpdater // nil: no worker status calls
	started bool                // the 'started' call was made
}

// newHarvesterRun decides Harvester mode for pull mode and, when it is on,
// applies the Harvester job loop settings to the options left at their
// defaults. An invalid --harvester-submit-mode is an error.
func newHarvesterRun(p *pilot.Pilot, mode string) (*harvesterRun, error) {
	h := &harvesterRun{}
	if mode != "pull" {
		return h, nil
	}
	c := &p.Cfg
	sm, err := harvester.ParseSubmitMode(c.HarvesterSubmitMode)
	if err != nil {
		return nil, err
	}
	h.p, h.log, h.mode = p, p.Log, sm
	h.opts = harvester.Options{
		NoServerUpdate: c.NoServerUpdate, Workdir: c.HarvesterWorkdir, Datadir: c.HarvesterDatadir,
		EventStatusDump: c.HarvesterEventDump, WorkerAttributes: c.HarvesterWorkerAttr, SubmitMode: c.HarvesterSubmitMode,
	}
	h.enabled = harvester.Enabled(h.opts, os.LookupEnv)
	if h.enabled {
		def := pilot.Defaults()
		if c.GetJobRequests == def.GetJobRequests {
			c.GetJobRequests = harvesterGetJobRequests
		}
		if c.GetJobFailures == def.GetJobFailures {
			c.GetJobFailures = harvesterGetJobFailures
		}
		if c.GetJobWait == def.GetJobWait {
			c.GetJobWait = harvesterGetJobWait
		}
	}
	return h, nil
}

// start wires Harvester mode into the set-up pilot (its Source and Reporter
// are replaced; the server client stays the Reporter's forward target when
// server updates are on) and sends the 'started' worker status. A failed
// worker status call is logged, not fatal (Pilot 3 ignores its answer).
func (h *harvesterRun) start(ctx context.Context) error {
	p := h.p
	if p == nil {
		return nil
	}
	if !p.Cfg.NoServerUpdate && p.Host.HarvesterID != "" && p.Host.WorkerID != "" {
		if u, ok := p.Source.(workerStatusUpdater); ok {
			h.status = u
		}
	}
	if h.enabled {
		if err := h.wire(); err != nil {
			return err
		}
	}
	if h.status != nil {
		h.started = true
		h.sendStatus(ctx, server.WorkerStarted)
	}
	return nil
}

func (h *harvesterRun) wire() error {
	p := h.p
	launch, err := os.Getwd()
	if err != nil {
		launch = ""
	}
	dir := harvester.ReportDir(h.opts, p.Workdir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("harvester access point: %w", err)
	}
	h.src = &harvester.Source{
		Mode: h.mode, Home: p.Workdir, Wait: harvesterPullWait, Log: p.Log,
		Candidates: harvester.JobFileCandidates(h.opts, launch, p.Workdir, os.LookupEnv),
	}
	rep := &harvester.Reporter{
		Dir:              dir,
		WorkerAttributes: harvester.ReportPath(h.opts.WorkerAttributes, dir, harvester.WorkerAttributesFile),
		EventStatus:      harvester.ReportPath(h.opts.EventStatusDump, dir, harvester.EventStatusFile),
		Jobs:             h.src, Log: p.Log,
	}
	if !p.Cfg.NoServerUpdate && p.Reporter != nil {
		rep.Server = p.Reporter
	}
	p.Source, p.Reporter = h.src, rep
	h.log.WithFields(logrus.Fields{
		"submit_mode": h.mode, "access_point": dir, "job_files": h.src.Candidates,
		"server_updates": rep.Server != nil, "getjobrequests": p.Cfg.GetJobRequests,
		"getjobfailures": p.Cfg.GetJobFailures, "getjob_wait": p.Cfg.GetJobWait,
	}).Info("Harvester mode")
	return nil
}

// end sends the 'finished' worker status when 'started' was sent,
// withdraws an outstanding job request and, in Harvester mode, touches
// kill_worker in the pilot's work directory. It runs even when the pilot
// was stopped by a signal.
func (h *harvesterRun) end(ctx context.Context) {
	if h.p == nil {
		return
	}
	if h.started {
		h.sendStatus(context.WithoutCancel(ctx), server.WorkerFinished)
	}
	if h.src != nil {
		if err := h.src.Close(); err != nil {
			h.log.WithError(err).Warn("cannot withdraw the job request")
		}
	}
	if h.enabled {
		if err := harvester.TouchKillWorker(h.p.Workdir, time.Now()); err != nil {
			h.log.WithError(err).Warn("cannot touch " + harvester.KillWorkerFile)
		}
	}
}

func (h *harvesterRun) sendStatus(ctx context.Context, status string) {
	p := h.p
	ctx, cancel := context.WithTimeoutCause(ctx, workerStatusTimeout,
		fmt.Errorf("worker status %q not sent within %s", status, workerStatusTimeout))
	defer cancel()
	ws := server.WorkerStatus{HarvesterID: p.Host.HarvesterID, WorkerID: p.Host.WorkerID, Status: status, Site: p.Cfg.Queue, Node: p.Host.Node}
	lg := h.log.WithFields(logrus.Fields{"harvester_id": ws.HarvesterID, "worker_id": ws.WorkerID, "status": status})
	if err := h.status.UpdateWorkerStatus(ctx, ws); err != nil {
		lg.WithError(err).Warn("worker status not sent")
		return
	}
	lg.Info("worker status sent")
}
