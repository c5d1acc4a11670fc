package e2ehostile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
)

// payloadDeadline bounds the pilot runs of one short job: a pilot stuck on a
// payload file (a FIFO) is stopped and its test fails.
const payloadDeadline = 2 * time.Minute

// Payload reports (jobReport.json, payload_error_report.json) that are
// hostile: not JSON, larger than the pilot reads, a FIFO, a link to a file
// outside the job directory. The payload itself succeeds, so the job
// finishes; the pilot must not hang, must not send a file from outside the
// job directory, and sends the report as metaData only when it is complete,
// valid JSON (a truncated prefix or arbitrary text is left out).
func TestHostilePayloadReports(t *testing.T) {
	t.Parallel()
	passwd, err := os.ReadFile("/etc/passwd")
	sitetest.Must(t, err)
	cases := []struct {
		name   string
		script string
	}{
		{"jobReport.json not JSON", `printf 'exitCode: 0 {{{ not json' > jobReport.json`},
		{"jobReport.json of 40 MB", `{ printf '{"exitCode": 0, "pad": "'; head -c 40000000 /dev/zero | tr '\0' x; printf '"}'; } > jobReport.json`},
		{"jobReport.json a FIFO", `mkfifo jobReport.json`},
		{"jobReport.json a link to /etc/passwd", `ln -s /etc/passwd jobReport.json`},
		{"payload_error_report.json a FIFO", `mkfifo payload_error_report.json`},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := int64(9201 + i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
			s.Submit(sitetest.BaseJob(id, c.script+";", "true"))
			before := sitetest.Snapshot(t, s.Dir)
			run := sitetest.RunWithin(t, s.PilotCmd("-x", "1"), payloadDeadline)
			if run.TimedOut {
				t.Errorf("the pilot hung (stopped after %s)", payloadDeadline)
			}
			got := s.Job(id)
			if got.State != "finished" || got.PilotErrorCode != 0 {
				t.Errorf("state %s code %d diag %q; want finished (the payload succeeded)", got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200))
			}
			fin, ok := s.FinalUpdate(id)
			if !ok {
				t.Fatalf("no final update\n%s", clip(run.Log, 20000))
			}
			if md, ok := fin.Fields.Get("metaData"); ok {
				text, _ := md.(string)
				if text != "" && !json.Valid([]byte(text)) {
					t.Errorf("metaData of %d bytes is not valid JSON (starts %q)", len(text), clip(text, 60))
				}
				if bytes.Contains([]byte(text), passwd) {
					t.Error("metaData carries /etc/passwd")
				}
			}
			if !fileExists(s.RsePath("e2e", sitetest.LogLFN(id))) {
				t.Error("log tarball not in the storage element")
			}
			if held := s.RSEHolding(passwd); len(held) > 0 {
				t.Errorf("/etc/passwd in the storage element: %v", held)
			}
			if ch := before.Changed(sitetest.Snapshot(t, s.Dir), sitetest.SiteAllowed()...); len(ch) > 0 {
				t.Errorf("written outside the job directory: %v", ch)
			}
			if t.Failed() {
				t.Log(clip(run.Log, 20000))
			}
		})
	}
}

// A payload that removes its own job directory, or swaps it for a link to a
// directory outside: the job is reported failed with a code, the final
// update goes out, nothing from outside the job directory is uploaded (as
// output or inside the log tarball) and nothing outside is removed.
func TestPayloadRemovesJobDirectory(t *testing.T) {
	t.Parallel()
	const out = "e2e.hostile.out"
	cases := []struct {
		name   string
		script string // %OUTSIDE% is a directory outside the job directory
		output bool
		code   jobdef.ErrorCode // 0: any non-zero code
	}{
		// The log tarball cannot be made: LOGFILECREATIONFAILURE.
		{"deletes its job directory", `rm -rf "$PILOT_WORK_DIR"`, false, jobdef.LogFileCreationFailure},
		{"deletes its job directory, with an output", `echo data > ` + out + `; rm -rf "$PILOT_WORK_DIR"`, true, 0},
		{"swaps its job directory for a link outside", `d="$PILOT_WORK_DIR"; cd /; rm -rf "$d"; ln -s %OUTSIDE% "$d"`, true, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := int64(9251 + i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
			outside := filepath.Join(s.Dir, "outside")
			sitetest.Must(t, os.Mkdir(outside, 0o755))
			secret := []byte("outside the job directory 9c2a\n")
			for _, name := range []string{out, "secret.txt"} {
				sitetest.Must(t, os.WriteFile(filepath.Join(outside, name), secret, 0o644))
			}
			j := sitetest.BaseJob(id, strings.ReplaceAll(c.script, "%OUTSIDE%", outside)+";", "true")
			if c.output {
				output(j, out)
			}
			s.Submit(j)
			before := sitetest.Snapshot(t, s.Dir)
			run := sitetest.RunWithin(t, s.PilotCmd("-x", "1"), payloadDeadline)
			if run.TimedOut {
				t.Errorf("the pilot hung (stopped after %s)", payloadDeadline)
			}
			got := s.Job(id)
			if got.State != "failed" || got.PilotErrorCode == 0 || (c.code != 0 && got.PilotErrorCode != int(c.code)) {
				t.Errorf("state %s code %d diag %q; want failed with code %d (0: any)", got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200), c.code)
			}
			t.Logf("reported: %s %d %q", got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200))
			if _, ok := s.FinalUpdate(id); !ok {
				t.Error("no final update")
			}
			if held := s.RSEHolding(secret); len(held) > 0 {
				t.Errorf("files from outside the job directory in the storage element: %v", held)
			}
			for _, name := range []string{out, "secret.txt"} {
				if b, err := os.ReadFile(filepath.Join(outside, name)); err != nil || !bytes.Equal(b, secret) {
					t.Errorf("outside/%s changed: %q %v", name, b, err)
				}
			}
			if ch := before.Changed(sitetest.Snapshot(t, s.Dir), sitetest.SiteAllowed()...); len(ch) > 0 {
				t.Errorf("written outside the job directory: %v", ch)
			}
			if t.Failed() {
				t.Log(clip(run.Log, 20000))
			}
		})
	}
}

// A payload that fills the disk. The work directory is a 16 MB tmpfs that
// the test fills (outside the job directory, before the pilot starts) until
// ENOSPC, so that every write of the payload fails and the disk is still full
// when the pilot makes the log tarball and appends to the journal; with any
// space left, whether the payload or the free-space monitor gets there first
// is a race. The pilot's rules: the free-space monitor (below 1 GB free while
// running, checked when the payload starts and every minute) stops the
// payload with NOLOCALSPACE (1098); a payload that dies of ENOSPC before the
// monitor looks must get the same code (Pilot 3, ATLAS diagnose.py
// is_out_of_space: "No space left on device" in the payload's stderr). The
// final update is built in memory and still reaches the server although the
// journal cannot be written; the log tarball still reaches the storage
// element; nothing escapes the job directory and the filler outside it is
// left alone.
func TestPayloadFillsDisk(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, trf, pars string }{
		{"writes until ENOSPC and exits", "dd", "if=/dev/zero of=fill bs=64k"},
		{"writes until ENOSPC and goes on", "dd if=/dev/zero of=fill bs=64k;", "sleep 120"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := int64(9301 + i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
			sitetest.MountTmpfs(t, s.Work, 16<<20)
			filled := fillDisk(t, filepath.Join(s.Work, "prefill"))
			s.Submit(sitetest.BaseJob(id, c.trf, c.pars))
			before := sitetest.Snapshot(t, s.Dir)
			run := sitetest.RunWithin(t, s.PilotCmd("-x", "1"), payloadDeadline)
			if run.TimedOut {
				t.Errorf("the pilot hung (stopped after %s)", payloadDeadline)
			}
			got := s.Job(id)
			t.Logf("pilot exit %d; job %s %d %q", run.ExitCode, got.State, got.PilotErrorCode, got.PilotErrorDiag)
			if got.State != "failed" || got.PilotErrorCode != int(jobdef.NoLocalSpace) {
				t.Errorf("state %s code %d diag %q; want failed, %d", got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200), jobdef.NoLocalSpace)
			}
			if _, ok := s.FinalUpdate(id); !ok {
				t.Error("no final update")
			}
			if !fileExists(s.RsePath("e2e", sitetest.LogLFN(id))) {
				t.Error("log tarball not in the storage element")
			}
			if st, err := os.Stat(filepath.Join(s.Work, "prefill")); err != nil || st.Size() != filled {
				t.Errorf("the file outside the job directory changed: %v", err)
			}
			if ch := before.Changed(sitetest.Snapshot(t, s.Dir), sitetest.SiteAllowed()...); len(ch) > 0 {
				t.Errorf("written outside the job directory: %v", ch)
			}
			if pids := sitetest.Processes(s.Work); len(pids) > 0 {
				t.Errorf("payload processes left: %v", pids)
			}
			if t.Failed() {
				t.Log(clip(run.Log, 20000))
			}
		})
	}
}

// fillDisk writes zeros to path until its file system is full and returns the
// size written.
func fillDisk(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	sitetest.Must(t, err)
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		sitetest.Must(t, err)
	}
}
