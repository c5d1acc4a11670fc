package e2ehostile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
)

// Outputs that are not regular files inside the job directory: stage-out
// refuses them with FILEHANDLINGFAILURE (1303), nothing they point to reaches
// the storage element, the log tarball (links stored as links) and the final
// report still go out, and the pilot does not hang on a FIFO or a device.
// A link to a file inside the job directory is a control case and is
// uploaded.
func TestHostileOutputFiles(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
	secretText := []byte("secret outside the job directory 5f1e\n")
	secret := filepath.Join(s.Dir, "secret.txt")
	sitetest.Must(t, os.WriteFile(secret, secretText, 0o600))
	passwd, err := os.ReadFile("/etc/passwd")
	sitetest.Must(t, err)
	const out = "e2e.hostile.out"
	cases := []struct {
		name   string
		script string // run in the job directory; must leave out behind
		code   jobdef.ErrorCode
	}{
		{"symlink to /etc/passwd", "ln -s /etc/passwd " + out, jobdef.FileHandlingFailure},
		{"symlink to a file outside", "ln -s " + secret + " " + out, jobdef.FileHandlingFailure},
		{"relative symlink out of the job directory", "ln -s ../../secret.txt " + out, jobdef.FileHandlingFailure},
		{"chain of symlinks ending outside", "ln -s hop " + out + "; ln -s /etc/passwd hop", jobdef.FileHandlingFailure},
		{"symlink to /dev/zero", "ln -s /dev/zero " + out, jobdef.FileHandlingFailure},
		{"directory", "mkdir " + out + " && echo x > " + out + "/f", jobdef.FileHandlingFailure},
		{"FIFO", "mkfifo " + out, jobdef.FileHandlingFailure},
		{"character device", "mknod " + out + " c 1 5", jobdef.FileHandlingFailure},
		{"symlink inside the job directory (allowed)", "echo inside > real.dat && ln -s real.dat " + out, 0},
	}
	var jobs []map[string]any
	for i, c := range cases {
		j := sitetest.BaseJob(int64(9001+i), c.script+";", "true")
		output(j, out)
		jobs = append(jobs, j)
	}
	s.Submit(jobs...)
	before := sitetest.Snapshot(t, s.Dir)
	// Many failing jobs in a row: the black-hole guard is tested on its own
	// (TestHostileOutputsAndBlackHoleGuard).
	cmd := s.PilotCmd("-x", "1")
	cmd.Env = append(cmd.Env, "PILOT_BLACKHOLE_JOBS=0")
	run := sitetest.RunWithin(t, cmd, pilotDeadline)
	if run.TimedOut || run.ExitCode != 0 {
		t.Errorf("pilot exit %d (timed out %v)", run.ExitCode, run.TimedOut)
	}
	for i, c := range cases {
		id := int64(9001 + i)
		got := s.Job(id)
		wantState := "failed"
		if c.code == 0 {
			wantState = "finished"
		}
		if got.State != wantState || got.PilotErrorCode != int(c.code) || (c.code != 0 && !strings.Contains(got.PilotErrorDiag, out)) {
			t.Errorf("%s: state %s code %d diag %q; want %s, %d, naming %s", c.name, got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200), wantState, c.code, out)
		}
		if _, ok := s.FinalUpdate(id); !ok {
			t.Errorf("%s: no final update", c.name)
		}
		files, err := s.Store().Files(t.Context(), id)
		sitetest.Must(t, err)
		kinds := map[string]bool{}
		for _, f := range files {
			kinds[f.Kind] = true
		}
		if !kinds["log"] {
			t.Errorf("%s: log not registered (files %v)", c.name, files)
		}
		if kinds["output"] != (c.code == 0) {
			t.Errorf("%s: output registered %v; want %v", c.name, kinds["output"], c.code == 0)
		}
		if tb := s.RsePath("e2e", sitetest.LogLFN(id)); fileExists(tb) {
			for name, desc := range sitetest.TarMembers(t, tb) {
				if strings.HasSuffix(name, "/"+out) && c.code != 0 && desc != "2 -> "+linkTarget(c.script) && !strings.HasPrefix(desc, "5") {
					t.Errorf("%s: the log tarball holds %s as %q; want a link or nothing", c.name, name, desc)
				}
			}
		} else {
			t.Errorf("%s: log tarball not in the storage element", c.name)
		}
	}
	if held := s.RSEHolding(passwd); len(held) > 0 {
		t.Errorf("/etc/passwd copied into the storage element: %v", held)
	}
	if held := s.RSEHolding(secretText); len(held) > 0 {
		t.Errorf("a file outside the job directory copied into the storage element: %v", held)
	}
	if b, err := os.ReadFile(secret); err != nil || !bytes.Equal(b, secretText) {
		t.Errorf("the file outside the job directory changed: %q %v", b, err)
	}
	if ch := before.Changed(sitetest.Snapshot(t, s.Dir), sitetest.SiteAllowed()...); len(ch) > 0 {
		t.Errorf("written outside the job directories: %v", ch)
	}
	if t.Failed() {
		t.Log(clip(run.Log, 30000))
	}
}

// Outputs refused because of what the payload left (here links to
// /etc/passwd) are the payload's failure, not the node's: they must not trip
// the black-hole guard (consecutive quick failures "for pilot or site
// reasons"), or one user's hostile jobs drain every pilot they reach. After
// three such jobs the pilot still takes and runs the next one.
func TestHostileOutputsAndBlackHoleGuard(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
	const out = "e2e.hostile.out"
	var jobs []map[string]any
	for i := range 3 {
		j := sitetest.BaseJob(int64(9101+i), "ln -s /etc/passwd "+out+";", "true")
		output(j, out)
		jobs = append(jobs, j)
	}
	jobs = append(jobs, sitetest.BaseJob(9104, "true", ""))
	s.Submit(jobs...)
	run := sitetest.RunWithin(t, s.PilotCmd("-x", "1"), pilotDeadline)
	for i := range 3 {
		if got := s.Job(int64(9101 + i)); got.State != "failed" || got.PilotErrorCode != int(jobdef.FileHandlingFailure) {
			t.Errorf("job %d: state %s code %d; want failed, %d", 9101+i, got.State, got.PilotErrorCode, jobdef.FileHandlingFailure)
		}
	}
	if got := s.Job(9104); run.ExitCode != 0 || got.State != "finished" {
		t.Errorf("pilot exit %d, next job %s; want 0 and finished: payload-made output failures stopped the pilot", run.ExitCode, got.State)
		t.Log(clip(run.Log, 20000))
	}
}

// linkTarget is the target of the first "ln -s TARGET NAME" in script.
func linkTarget(script string) string {
	f := strings.Fields(script)
	for i := 0; i+2 < len(f); i++ {
		if f[i] == "ln" && f[i+1] == "-s" {
			return f[i+2]
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
