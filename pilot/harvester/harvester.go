// Package harvester is the pilot's side of Harvester's shared-file
// messenger (PROTOCOL.md §6): Harvester mode detection, the job source that
// reads the job file Harvester places (PUSH) or asks for one
// (worker_requestjob.json, PULL), and the reporter that writes
// worker_attributes.json, event_status.dump.json and the jobReport.json copy
// Harvester reads instead of (or besides) server updates, plus kill_worker.
//
// Every file the pilot writes for Harvester is written atomically (a
// temporary file in the same directory, synced, then renamed), so Harvester
// never reads half a file.
package harvester

import (
	"fmt"
	"path/filepath"
	"strings"
)

// File names of the shared-file protocol (Pilot 3's configuration defaults,
// which match Harvester's messenger defaults except kill_worker).
const (
	// JobDataFile is Harvester's job file in the access point or data dir.
	JobDataFile = "pandaJobData.out"
	// HPCJobsFile is the job file name of Harvester's HPC template.
	HPCJobsFile = "HPCJobs.json"
	// JobDefinitionCopy is where the pilot keeps the job file it consumed
	// (in its own work directory).
	JobDefinitionCopy = "job_definition.json"
	// JobRequestFile asks Harvester for jobs: {"nJobs": 1}.
	JobRequestFile = "worker_requestjob.json"
	// WorkerAttributesFile holds the last would-be updateJob dictionary.
	WorkerAttributesFile = "worker_attributes.json"
	// EventStatusFile lists the files Harvester is to stage out.
	EventStatusFile = "event_status.dump.json"
	// JobReportFile is the copy of the payload's job report.
	JobReportFile = "jobReport.json"
	// KillWorkerFile is touched when the pilot ends. Harvester's own
	// default is kill_worker.json: the site configuration must match.
	KillWorkerFile = "kill_worker"
)

// Environment variables Harvester sets in the worker.
const (
	EnvHarvesterID       = "HARVESTER_ID"
	EnvHarvesterWorkerID = "HARVESTER_WORKER_ID"
	EnvHarvesterWorkdir  = "HARVESTER_WORKDIR"
)

// SubmitMode is Harvester's submit mode.
type SubmitMode string

// The submit modes.
const (
	// Pull: Harvester only submits the pilot. In Harvester mode (-z with
	// Harvester options) the pilot asks Harvester for each job with
	// worker_requestjob.json and waits for the job file.
	Pull SubmitMode = "PULL"
	// Push: Harvester fetched the job and placed the job file before the
	// pilot started; the pilot never asks the server for a job.
	Push SubmitMode = "PUSH"
)

// ParseSubmitMode parses --harvester-submit-mode: PULL or PUSH in any case;
// "" is PULL (Pilot 3's default).
func ParseSubmitMode(s string) (SubmitMode, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", string(Pull):
		return Pull, nil
	case string(Push):
		return Push, nil
	}
	return "", fmt.Errorf("--harvester-submit-mode %q: want PULL or PUSH", s)
}

// Options are the pilot settings that concern Harvester: -z and the
// --harvester-* flags.
type Options struct {
	// NoServerUpdate is -z/--noserverupdate.
	NoServerUpdate bool
	// Workdir is --harvester-workdir, the worker's access point.
	Workdir string
	// Datadir is --harvester-datadir, the directory holding pandaJobData.out.
	Datadir string
	// EventStatusDump is --harvester-eventstatusdump.
	EventStatusDump string
	// WorkerAttributes is --harvester-workerattributes.
	WorkerAttributes string
	// SubmitMode is --harvester-submit-mode.
	SubmitMode string
}

// Enabled reports whether the pilot runs in Harvester mode, exactly as
// Pilot 3 decides it (PROTOCOL.md §6.1): -z together with any of
// --harvester-workdir, --harvester-datadir, --harvester-eventstatusdump or
// --harvester-workerattributes; or HARVESTER_ID or HARVESTER_WORKER_ID
// present in the environment (even empty) with submit mode PUSH (any case).
// lookupEnv is os.LookupEnv or a stand-in.
func Enabled(o Options, lookupEnv func(string) (string, bool)) bool {
	if o.NoServerUpdate && (o.Workdir != "" || o.Datadir != "" || o.EventStatusDump != "" || o.WorkerAttributes != "") {
		return true
	}
	_, hid := lookupEnv(EnvHarvesterID)
	_, wid := lookupEnv(EnvHarvesterWorkerID)
	return (hid || wid) && strings.EqualFold(strings.TrimSpace(o.SubmitMode), string(Push))
}

// JobFileCandidates returns the paths where a job file is looked for, in
// Pilot 3's order (PROTOCOL.md §6.2): <Datadir>/pandaJobData.out when
// Datadir is set, otherwise <launchDir>/../pandaJobData.out,
// <launchDir>/pandaJobData.out and <pilotWorkdir>/pandaJobData.out; then
// <Workdir>/HPCJobs.json and $HARVESTER_WORKDIR/HPCJobs.json when set.
// launchDir is the directory the pilot was started in. Duplicates are
// dropped; the first existing file wins.
func JobFileCandidates(o Options, launchDir, pilotWorkdir string, lookupEnv func(string) (string, bool)) []string {
	var paths []string
	if o.Datadir != "" {
		paths = append(paths, filepath.Join(o.Datadir, JobDataFile))
	} else {
		if launchDir != "" {
			paths = append(paths, filepath.Join(launchDir, "..", JobDataFile), filepath.Join(launchDir, JobDataFile))
		}
		if pilotWorkdir != "" {
			paths = append(paths, filepath.Join(pilotWorkdir, JobDataFile))
		}
	}
	if o.Workdir != "" {
		paths = append(paths, filepath.Join(o.Workdir, HPCJobsFile))
	}
	if hw, ok := lookupEnv(EnvHarvesterWorkdir); ok && hw != "" {
		paths = append(paths, filepath.Join(hw, HPCJobsFile))
	}
	seen := map[string]bool{}
	out := paths[:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// ReportDir is the directory of the report files: --harvester-workdir when
// set, else the pilot's work directory ($PILOT_HOME).
func ReportDir(o Options, pilotWorkdir string) string {
	if o.Workdir != "" {
		return o.Workdir
	}
	return pilotWorkdir
}

// ReportPath resolves a report file: the flag's value when given (absolute,
// or relative to dir), else dir/def. Pilot 3 uses these flags only to
// detect Harvester mode; honouring a given name keeps the default
// locations unchanged and lets a site name the files as its Harvester
// configuration does.
func ReportPath(flag, dir, def string) string {
	switch {
	case flag == "":
		return filepath.Join(dir, def)
	case filepath.IsAbs(flag):
		return filepath.Clean(flag)
	}
	return filepath.Join(dir, flag)
}
