package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Jobs that fail for site reasons within seconds trip the black-hole guard:
// after --blackhole-jobs of them the pilot takes no more jobs and says why
// in the last job's final update; the remaining jobs stay with the server.
func TestBlackHoleGuard(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	// A transformation URL outside --baseurls cannot be fetched: the payload
	// never runs, a site-side failure.
	for id := int64(3201); id <= 3205; id++ {
		s.Submit(baseJob(id, "http://example.invalid/trf.sh", ""))
	}
	code, log := s.RunPilot("--baseurls", "http://allowed.invalid/", "--blackhole-jobs", "3", "--getjobfailures", "5")
	var failed []int64
	for id := int64(3201); id <= 3205; id++ {
		if j := s.Job(id); j.State == "failed" {
			failed = append(failed, id)
		}
	}
	if len(failed) != 3 {
		t.Fatalf("exit %d: %d jobs failed (%v), want 3\n%s", code, len(failed), failed, log)
	}
	last := s.Job(failed[2])
	if !strings.Contains(last.PilotErrorDiag, "black-hole guard") {
		t.Fatalf("last job's diag %q does not name the guard", last.PilotErrorDiag)
	}
	if first := s.Job(failed[0]); strings.Contains(first.PilotErrorDiag, "black-hole") {
		t.Fatalf("first job's diag names the guard: %q", first.PilotErrorDiag)
	}
	if !strings.Contains(log, "black-hole guard") {
		t.Fatalf("the pilot log does not say why it stopped\n%s", log)
	}
}

// A job whose maxWalltime exceeds the pilot's remaining lifetime is not
// started: it fails at once with 1213 and its payload never runs.
func TestJobLongerThanLifetimeNotStarted(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	// The test queue has maxtime 3600; the job wants two hours.
	marker := filepath.Join(s.Dir, "ran")
	j := baseJob(3301, "touch "+marker+";", "true")
	j["maxWalltime"] = 7200
	s.Submit(j)
	code, log := s.RunPilot()
	got := s.Job(3301)
	if got.State != "failed" || got.PilotErrorCode != 1213 {
		t.Fatalf("exit %d state %s code %d %s\n%s", code, got.State, got.PilotErrorCode, got.PilotErrorDiag, log)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the payload ran")
	}
	// A job that fits runs.
	j = baseJob(3302, "touch "+marker+";", "true")
	j["maxWalltime"] = 600
	s.Submit(j)
	if code, log := s.RunPilot(); s.Job(3302).State != "finished" {
		t.Fatalf("exit %d: fitting job %+v\n%s", code, s.Job(3302), log)
	}
}
