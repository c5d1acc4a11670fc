package pilot

import (
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/status"
)

// Snapshot implements status.Source: the pilot and its current job, from
// what the pilot already holds in memory (no I/O).
func (p *Pilot) Snapshot() status.Snapshot {
	p.mu.Lock()
	r, drain, start, deadline := p.current, p.drain, p.Start, p.deadline
	p.mu.Unlock()
	s := status.Snapshot{
		PilotID: p.Host.PilotID, Queue: p.Cfg.Queue, Site: p.Cfg.Queue, Node: p.Host.Node, Version: Version,
		Started: start, Deadline: deadline, Draining: drain != "", DrainReason: drain,
	}
	if p.Queue != nil && p.Queue.Resource != "" {
		s.Site = p.Queue.Resource
	}
	if r != nil {
		s.Job = r.status()
	}
	return s
}

// status describes the job for /status.
func (r *jobRun) status() *status.JobStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	js := &status.JobStatus{
		PandaID: r.job.PandaID, State: r.phase, Started: r.tGot, PayloadPID: r.payloadPID,
		FilesStagedIn: r.filesIn, BytesIn: r.bytesIn, FilesStagedOut: r.filesOut, BytesOut: r.bytesOut,
	}
	if r.monitor != nil {
		if last := r.monitor.Last(); last != nil && last.Err == nil {
			js.CPUSeconds = int64(last.CPU / time.Second)
			js.RSSKB, js.PSSKB = last.RSS, last.PSS
		}
	}
	return js
}

// setPhase records the job's phase for /status.
func (r *jobRun) setPhase(ph status.Phase) {
	r.mu.Lock()
	r.phase = ph
	r.mu.Unlock()
}

// countStaged adds the transferred files of files to the job's counters and
// the pilot's metrics; in tells stage-in from stage-out.
func (r *jobRun) countStaged(in bool, files []jobdef.FileSpec, d time.Duration) {
	n, bytes := 0, int64(0)
	for _, f := range files {
		if f.Status == jobdef.StatusTransferred {
			n++
			bytes += f.Size
		}
	}
	r.mu.Lock()
	if in {
		r.filesIn += n
		r.bytesIn += bytes
	} else {
		r.filesOut += n
		r.bytesOut += bytes
	}
	r.mu.Unlock()
	if in {
		r.p.Metrics.StageIn(n, bytes, d)
	} else {
		r.p.Metrics.StageOut(n, bytes, d)
	}
}
