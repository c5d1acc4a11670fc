package status

import (
	"errors"
	"time"
)

// Phase is the pilot's current phase within a job.
type Phase string

// The phases of a job, in the order the pilot goes through them.
const (
	PhaseSetup      Phase = "setup"      // job received: directory, journal, credentials
	PhaseStageIn    Phase = "stagein"    // input files being transferred
	PhaseRunning    Phase = "running"    // payload running
	PhaseStageOut   Phase = "stageout"   // outputs and log tarball being transferred
	PhaseFinalizing Phase = "finalizing" // final update being sent
)

// Phases lists every phase in order.
func Phases() []Phase {
	return []Phase{PhaseSetup, PhaseStageIn, PhaseRunning, PhaseStageOut, PhaseFinalizing}
}

// Snapshot is what GET /status returns: the pilot and its current job at one
// moment. The Source fills every field except UptimeSeconds and
// TimeLeftSeconds, which the Server computes from Started and Deadline with
// its own clock at the time of the request (values set by the Source are
// overwritten), and Jobs, which the Server fills from its Metrics when the
// Source leaves it nil. The Server also shows every time in UTC, truncated
// to the second.
type Snapshot struct {
	PilotID string `json:"pilot_id"`
	Queue   string `json:"queue"`
	Site    string `json:"site"`
	Node    string `json:"node"`
	Version string `json:"version"`
	// Started is the pilot's start time (RFC 3339 in JSON).
	Started time.Time `json:"started"`
	// Deadline is when the pilot's lifetime ends; zero when unknown
	// (then absent from JSON).
	Deadline time.Time `json:"deadline,omitzero"`
	// UptimeSeconds is the whole seconds since Started (0 when Started
	// is zero or in the future).
	UptimeSeconds int64 `json:"uptime_seconds"`
	// TimeLeftSeconds is the whole seconds until Deadline, at least 0;
	// -1 when Deadline is zero (unknown).
	TimeLeftSeconds int64 `json:"time_left_seconds"`
	// Draining is true once the pilot takes no more jobs because it was
	// told to drain; DrainReason says why ("" when not draining).
	Draining    bool   `json:"draining"`
	DrainReason string `json:"drain_reason"`
	// Jobs counts the jobs done so far by outcome ("finished",
	// "failed", ...). It is never null in JSON.
	Jobs map[string]int64 `json:"jobs"`
	// Job is the current job; nil (JSON null) when the pilot is idle.
	Job *JobStatus `json:"job"`
}

// JobStatus is the current job as /status shows it.
type JobStatus struct {
	PandaID int64 `json:"panda_id"`
	State   Phase `json:"state"`
	// Started is when the pilot received the job (RFC 3339 in JSON).
	Started time.Time `json:"started"`
	// PayloadPID is the payload's process id; 0 when no payload runs.
	PayloadPID int `json:"payload_pid"`
	// CPUSeconds is the payload tree's CPU time (user + system) so far.
	CPUSeconds int64 `json:"cpu_seconds"`
	// RSSKB and PSSKB are the payload tree's resident and proportional
	// set sizes in kB (latest sample).
	RSSKB int64 `json:"rss_kb"`
	PSSKB int64 `json:"pss_kb"`
	// FilesStagedIn/Out count the files transferred so far, BytesIn/Out
	// their bytes.
	FilesStagedIn  int   `json:"files_staged_in"`
	FilesStagedOut int   `json:"files_staged_out"`
	BytesIn        int64 `json:"bytes_in"`
	BytesOut       int64 `json:"bytes_out"`
}

// Source gives the Server the pilot's current state. Snapshot is called
// once per GET /status and GET /metrics, from the server's goroutines, so it
// must be safe for concurrent use and quick (no I/O). The Server does not
// keep or modify maps the Snapshot refers to beyond filling a nil Jobs.
type Source interface {
	Snapshot() Snapshot
}

// Controller carries out the admin actions. Both methods are called from
// the server's goroutines (Drain also from WatchDrainFile's, when the pilot
// wires it so), must be safe for concurrent use and must return quickly:
// they record the request and let the pilot act on it.
type Controller interface {
	// Drain makes the pilot finish its current job and take no more.
	// It may be called any number of times; the first reason should
	// be kept.
	Drain(reason string)
	// KillJob kills the current job, which is then reported with the
	// pilot's code for a kill by the site. It returns an error (ErrNoJob
	// or one wrapping it is the expected one) when there is no current
	// job; any error is answered with 409 Conflict and its text.
	KillJob(reason string) error
}

// ErrNoJob is what a Controller's KillJob returns when there is no current
// job to kill.
var ErrNoJob = errors.New("no current job")

// ActionReply is the JSON answer to POST /drain and POST /kill.
type ActionReply struct {
	// OK is true when the action was taken.
	OK bool `json:"ok"`
	// Action is "drain" or "kill".
	Action string `json:"action"`
	// Reason is the reason passed to the Controller.
	Reason string `json:"reason"`
	// Error says why the action was not taken ("" when OK).
	Error string `json:"error,omitempty"`
	// Status is the snapshot taken after the action.
	Status Snapshot `json:"status"`
}

// complete fills the fields the Server computes (see Snapshot).
func (s *Snapshot) complete(now time.Time, m *Metrics) {
	s.UptimeSeconds = 0
	if !s.Started.IsZero() && now.After(s.Started) {
		s.UptimeSeconds = int64(now.Sub(s.Started) / time.Second)
	}
	s.TimeLeftSeconds = -1
	if !s.Deadline.IsZero() {
		s.TimeLeftSeconds = max(0, int64(s.Deadline.Sub(now)/time.Second))
	}
	if s.Jobs == nil {
		s.Jobs = m.JobCounts()
	}
	s.Started, s.Deadline = utcSecond(s.Started), utcSecond(s.Deadline)
	if s.Job != nil {
		j := *s.Job // the Source's copy stays untouched
		j.Started = utcSecond(j.Started)
		s.Job = &j
	}
}

// utcSecond returns t in UTC, truncated to the second.
func utcSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}
