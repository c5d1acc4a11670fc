// Package e2efault runs the built pilot against pandalite through a
// fault-injecting proxy, and kills pilots with SIGKILL at every stage of a
// job, then judges what the server recorded: exactly one correct final state
// per job, no job handed out twice, no output registered twice, and no
// payload left running.
package e2efault

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/faultproxy"
	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/pilot/journal"
)

// bin is the directory holding the pilot and pandalite binaries.
var bin string

func TestMain(m *testing.M) {
	os.Exit(sitetest.Main(m, &bin))
}

// pilotArgs are the flags every pilot in these tests gets, after the
// site's own: the server is reached through the proxy, and a final update
// is retried for two minutes at most.
func pilotArgs(p *faultproxy.Proxy, extra ...string) []string {
	return append([]string{"--url", p.URL(), "--final-update-timeout", "120"}, extra...)
}

// marker is a string that only the payload of job id has in its command
// line.
func marker(id int64) string { return fmt.Sprintf("gopilot-e2efault-%d-%d", id, os.Getpid()) }

// outLFN is the output file of job id.
func outLFN(id int64) string { return fmt.Sprintf("e2efault.%d.out", id) }

// job returns a job that writes its output (with the given shell command
// before it) and carries its marker.
func job(id int64, before string) map[string]any {
	pars := fmt.Sprintf("%s echo 'output of %d' > %s; : %s", before, id, outLFN(id), marker(id))
	return sitetest.WithOutput(sitetest.BaseJob(id, "true;", pars), outLFN(id))
}

// checkJob asserts the server's record of job id (see Outcome.Problems),
// that every registered file is in the storage element with the registered
// checksum, and that no payload of the job runs.
func checkJob(t *testing.T, s *sitetest.Site, id int64, state string, code int, lfns ...string) {
	t.Helper()
	outs, err := sitetest.Outcomes(t.Context(), s.Store())
	sitetest.Must(t, err)
	o := outs[id]
	if o == nil {
		t.Fatalf("job %d unknown to the server", id)
	}
	for _, p := range o.Problems(state, code, lfns...) {
		t.Errorf("job %d: %s", id, p)
	}
	for _, f := range o.Files {
		ck, err := sitetest.ChecksumOf(s.RsePath("e2e", f.LFN))
		if err != nil || "ad:"+ck != f.Checksum {
			t.Errorf("job %d: %s registered with %s, storage has %s (%v)", id, f.LFN, f.Checksum, ck, err)
		}
	}
	checkNothingRuns(t, s, id)
}

// checkStorage fails the test when the storage element holds anything but
// the files registered for its jobs and the inputs given (a partial or
// temporary file left by an interrupted transfer).
func checkStorage(t *testing.T, s *sitetest.Site, inputs ...string) {
	t.Helper()
	outs, err := sitetest.Outcomes(t.Context(), s.Store())
	sitetest.Must(t, err)
	want := map[string]bool{}
	for _, o := range outs {
		for _, f := range o.Files {
			want[s.RsePath("e2e", f.LFN)] = true
		}
	}
	for _, lfn := range inputs {
		want[s.RsePath("e2e", lfn)] = true
	}
	filepath.WalkDir(s.RSE, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !want[p] {
			t.Errorf("storage element holds %s, which is no registered file", p)
		}
		return nil
	})
}

// checkNothingRuns fails the test when a payload of job id still runs (and
// kills it).
func checkNothingRuns(t *testing.T, s *sitetest.Site, id int64) {
	t.Helper()
	if pids := sitetest.LiveProcesses(s.Work, marker(id)); len(pids) > 0 {
		t.Errorf("job %d: payload processes still run: %v", id, pids)
		sitetest.KillProcesses(pids)
	}
}

// checkJournals asserts that no journal in the work directory is left
// unacknowledged.
func checkJournals(t *testing.T, workdir string) {
	t.Helper()
	paths, err := journal.Find(workdir)
	sitetest.Must(t, err)
	for _, p := range paths {
		h, err := journal.Replay(p)
		sitetest.Must(t, err)
		if pend := h.Pending(); pend.Phase != journal.PhaseDone {
			t.Errorf("%s: %s", p, pend)
		}
	}
}

// phaseOf returns the phase of job id's journal.
func phaseOf(t *testing.T, workdir string, id int64) journal.Phase {
	t.Helper()
	h, err := journal.Replay(filepath.Join(workdir, fmt.Sprintf("PanDA_Pilot-%d", id), journal.FileName))
	sitetest.Must(t, err)
	return h.Phase()
}

// journalHas reports whether job id's journal has a record of kind.
func journalHas(workdir string, id int64, kind journal.Kind) bool {
	b, err := os.ReadFile(filepath.Join(workdir, fmt.Sprintf("PanDA_Pilot-%d", id), journal.FileName))
	return err == nil && strings.Contains(string(b), `"kind":"`+string(kind)+`"`)
}

// recoverCmdArgs turns pull-mode pilot arguments into `pilot recover` ones.
func recoverPilot(t *testing.T, s *sitetest.Site, args ...string) *sitetest.Pilot {
	t.Helper()
	cmd := s.PilotCmd(args...)
	cmd.Args = append([]string{cmd.Args[0], "recover"}, cmd.Args[1:]...)
	return sitetest.StartPilot(t, cmd)
}

// waitDeadline is how long a pilot run may take in these tests.
const waitDeadline = 5 * time.Minute
