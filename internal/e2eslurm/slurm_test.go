// Package e2eslurm runs the built pilot as real Slurm batch jobs: a one-node
// Slurm cluster on 127.0.0.1 (scripts/slurm/start.sh), pilots submitted with
// sbatch through examples/slurm/pilot.sbatch, and pandalite as the server.
// The tests need root and the Debian packages in REQUIRED_PACKAGES; they fail,
// never skip, when Slurm cannot run.
package e2eslurm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/internal/sitetest"
)

// bin is the directory holding the pilot and pandalite binaries.
var bin string

func TestMain(m *testing.M) { os.Exit(sitetest.Main(m, &bin)) }

func TestSlurm(t *testing.T) {
	c := startCluster(t)
	t.Run("FourPilotsThirtyJobs", func(t *testing.T) { testFourPilots(t, c) })
	t.Run("ScancelMidJob", func(t *testing.T) { testScancel(t, c) })
}

// pilotEnv is the environment the example submit script reads: the server,
// the queue, the pilot binary and the scratch directory, plus the mark every
// process of the batch jobs inherits.
func pilotEnv(s *sitetest.Site, mark string) []string {
	return []string{
		"PANDA_URL=http://" + s.Addr, "PANDA_QUEUE=E2E",
		"GOPILOT_BINARY=" + filepath.Join(s.Bin, "pilot"), "GOPILOT_SCRATCH=" + s.Work,
		"PILOT_DEBUG=true", "E2E_SLURM_MARK=" + mark,
	}
}

func newMark(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "."), os.Getpid(), time.Now().UnixNano())
}

// waitJobsEnded waits until Slurm counts every job as ended and returns their
// scontrol fields.
func waitJobsEnded(t *testing.T, c *cluster, ids []string, d time.Duration) map[string]map[string]string {
	t.Helper()
	info := map[string]map[string]string{}
	sitetest.WaitFor(t, d, "the pilots' batch jobs to end", func() bool {
		for _, id := range ids {
			m, err := c.jobInfo(id)
			if err != nil {
				t.Fatal(err)
			}
			info[id] = m
			if !ended(m["JobState"]) {
				return false
			}
		}
		return true
	})
	return info
}

// cancelOnFailure scancels the test's jobs when it ends early, so that no
// pilot outlives a failed test.
func cancelOnFailure(t *testing.T, c *cluster, ids *[]string) {
	t.Cleanup(func() {
		if t.Failed() && len(*ids) > 0 {
			c.run(c.env(), "scancel", *ids...)
		}
	})
}

// Four pilots submitted with sbatch share 30 short jobs: every job finishes,
// none is handed out twice, each job's batchID is the SLURM_JOB_ID of the
// pilot that ran it, pilotID names Slurm, and the pilots end on their own.
func testFourPilots(t *testing.T, c *cluster) {
	const njobs, npilots = 30, 4
	s := sitetest.New(t, bin, sitetest.QueueJSON(30, ""))
	ran := filepath.Join(s.Dir, "ran")
	sitetest.Must(t, os.MkdirAll(ran, 0o755))
	var jobs []map[string]any
	for i := range njobs {
		// The payload records the batch job it ran in, by the environment
		// Slurm gave the pilot.
		jobs = append(jobs, sitetest.BaseJob(int64(6001+i), `echo "$SLURM_JOB_ID" > `+ran+`/"$PANDAID";`, "sleep 0.2"))
	}
	s.Submit(jobs...)

	mark := newMark(t)
	script := filepath.Join(c.root, "examples/slurm/pilot.sbatch")
	var ids []string
	cancelOnFailure(t, c, &ids)
	start := time.Now()
	for range npilots {
		ids = append(ids, c.sbatch(t, pilotEnv(s, mark), []string{"--time=15", "--job-name=e2e-pilot"}, script,
			"-x", "1", "--getjob-wait", "1"))
	}

	ctx := context.Background()
	st := s.Store()
	sitetest.WaitFor(t, 3*time.Minute, "all jobs final", func() bool {
		js, err := st.Jobs(ctx)
		sitetest.Must(t, err)
		for _, j := range js {
			if !pandalite.IsFinal(j.State) {
				return false
			}
		}
		return len(js) == njobs
	})
	allFinal := time.Since(start)
	info := waitJobsEnded(t, c, ids, 2*time.Minute)
	sitetest.WaitFor(t, 2*time.Minute, "the pilots' processes to end", func() bool { return len(markedProcesses(mark)) == 0 })
	t.Logf("%d jobs by %d pilots: all final %v after the first sbatch, pilots gone after %v",
		njobs, npilots, allFinal.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	for _, id := range ids {
		if m := info[id]; m["JobState"] != "COMPLETED" || m["ExitCode"] != "0:0" {
			t.Errorf("pilot %s: JobState=%s ExitCode=%s, want COMPLETED 0:0", id, m["JobState"], m["ExitCode"])
		}
	}

	// Each job handed out exactly once, by the server's record of getJob answers.
	reqs, err := st.Requests(ctx)
	sitetest.Must(t, err)
	handed := map[int64]int{}
	for _, r := range reqs {
		for _, id := range r.PandaIDs {
			handed[id]++
		}
	}
	perPilot := map[string]int{}
	for i := range njobs {
		id := int64(6001 + i)
		j := s.Job(id)
		if j.State != "finished" || j.PilotErrorCode != 0 {
			t.Errorf("job %d: state %s code %d %s", id, j.State, j.PilotErrorCode, j.PilotErrorDiag)
		}
		if handed[id] != 1 || j.NSent != 1 {
			t.Errorf("job %d handed out %d times (nSent %d), want once", id, handed[id], j.NSent)
		}
		b, err := os.ReadFile(filepath.Join(ran, strconv.FormatInt(id, 10)))
		if err != nil {
			t.Errorf("job %d: the payload left no record of its batch job: %v", id, err)
			continue
		}
		slurmID := strings.TrimSpace(string(b))
		if !slices.Contains(ids, slurmID) {
			t.Errorf("job %d ran in Slurm job %q, not one of the pilots %v", id, slurmID, ids)
		}
		perPilot[slurmID]++
		if j.BatchID != slurmID {
			t.Errorf("job %d: batchID %q, want the SLURM_JOB_ID %s of the pilot that ran it", id, j.BatchID, slurmID)
		}
		if !strings.Contains(j.PilotID, "|SLURM|") {
			t.Errorf("job %d: pilotID %q does not name Slurm", id, j.PilotID)
		}
		ups, err := st.Updates(ctx, id)
		sitetest.Must(t, err)
		for _, u := range ups {
			f := u.LegacyFields()
			if v, ok := f["batchID"]; ok && v != slurmID {
				t.Errorf("job %d: %s update has batchID %q, want %s", id, u.State, v, slurmID)
			}
			if v, ok := f["pilotID"]; ok && !strings.Contains(v, "|SLURM|") {
				t.Errorf("job %d: %s update has pilotID %q", id, u.State, v)
			}
		}
	}
	t.Logf("jobs per pilot: %v", perPilot)
}

// scancel of a pilot whose payload runs: Slurm sends SIGTERM to the batch
// step (the pilot, exec'ed by the submit script, and the payload), the pilot
// kills the payload tree and reports the job failed with 1201 before Slurm's
// SIGKILL, and nothing of the job is left running.
func testScancel(t *testing.T, c *cluster) {
	s := sitetest.New(t, bin, sitetest.QueueJSON(30, ""))
	started := filepath.Join(s.Dir, "payload-started")
	// A tree of payload processes, one of them escaped into its own session.
	s.Submit(sitetest.BaseJob(7001, "touch "+started+";",
		"(setsid sleep 305 > /dev/null 2>&1 &); sleep 300 & sleep 300; wait"))

	mark := newMark(t)
	var ids []string
	cancelOnFailure(t, c, &ids)
	killWait := c.killWait(t)
	id := c.sbatch(t, pilotEnv(s, mark), []string{"--time=15", "--job-name=e2e-scancel"},
		filepath.Join(c.root, "examples/slurm/pilot.sbatch"), "-x", "1", "--getjob-wait", "1")
	ids = append(ids, id)

	ctx := context.Background()
	st := s.Store()
	sitetest.WaitFor(t, 2*time.Minute, "the payload to run", func() bool {
		if _, err := os.Stat(started); err != nil {
			return false
		}
		j, err := st.Job(ctx, 7001)
		sitetest.Must(t, err)
		return j.State == "running"
	})
	var pilotPID string
	for _, p := range markedProcesses(mark) {
		pid, cmd, _ := strings.Cut(p, " ")
		if strings.HasPrefix(cmd, filepath.Join(s.Bin, "pilot")+" ") {
			pilotPID = pid
		}
	}
	if pilotPID == "" {
		t.Fatalf("the pilot process is not among the job's processes: %v", markedProcesses(mark))
	}

	cancelled := time.Now()
	if out, err := c.run(c.env(), "scancel", id); err != nil {
		t.Fatalf("scancel: %v\n%s", err, out)
	}
	// The pilot cannot send anything once Slurm's SIGKILL came (KillWait after
	// the SIGTERM), so a final update recorded by then was sent within KillWait.
	sitetest.WaitFor(t, killWait+time.Minute, "the pilot to end", func() bool {
		_, err := os.Stat(filepath.Join("/proc", pilotPID, "cmdline"))
		return err != nil || !slices.ContainsFunc(markedProcesses(mark), func(p string) bool { return strings.HasPrefix(p, pilotPID+" ") })
	})
	pilotGone := time.Since(cancelled)
	left := markedProcesses(mark)
	j := s.Job(7001)
	if j.State != "failed" || j.PilotErrorCode != 1201 {
		t.Errorf("job 7001: state %s code %d (%s), want failed with 1201 (SIGTERM)", j.State, j.PilotErrorCode, j.PilotErrorDiag)
	}
	if j.BatchID != id || !strings.Contains(j.PilotID, "|SLURM|") {
		t.Errorf("job 7001: batchID %q pilotID %q, want %s and Slurm", j.BatchID, j.PilotID, id)
	}
	var final time.Time
	ups, err := st.Updates(ctx, 7001)
	sitetest.Must(t, err)
	for _, u := range ups {
		if pandalite.IsFinal(u.State) {
			final, _ = time.Parse("2006-01-02T15:04:05.000000Z", u.Time)
		}
	}
	if len(left) > 0 {
		t.Errorf("processes of the cancelled job still run once the pilot ended: %v", left)
	}
	// 143:0 is the pilot's own exit (SIGTERM's shell code) before Slurm's
	// SIGKILL, which would read 0:9.
	info := waitJobsEnded(t, c, ids, time.Minute)
	if info[id]["ExitCode"] != "143:0" {
		t.Errorf("Slurm job %s: ExitCode=%s, want 143:0 (the pilot exiting by itself after SIGTERM)", id, info[id]["ExitCode"])
	}
	t.Logf("scancel -> final update %v, -> pilot gone %v (KillWait %v); Slurm: JobState=%s ExitCode=%s",
		final.Sub(cancelled).Round(time.Millisecond), pilotGone.Round(time.Millisecond), killWait,
		info[id]["JobState"], info[id]["ExitCode"])
	sitetest.WaitFor(t, killWait+time.Minute, "every process of the job to end", func() bool { return len(markedProcesses(mark)) == 0 })
}
