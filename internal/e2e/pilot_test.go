package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The demo's three kinds of job in one pilot: one reads an input from the
// storage element, one writes an output, one fails.
func TestPilotRunsJobsEndToEnd(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	size, ck := s.PutInput("e2e.input.txt", []byte("input data for the payload\n"))
	in := baseJob(2001, "wc", "-c e2e.input.txt > count.txt && cat count.txt")
	in["inFiles"], in["GUID"], in["fsize"], in["checksum"] = "e2e.input.txt", "11111111-1111-4111-8111-111111111111", size, ck
	in["scopeIn"], in["realDatasetsIn"], in["ddmEndPointIn"], in["prodDBlockToken"] = "e2e", "e2e.in", "E2E_DISK", "NULL"
	out := baseJob(2002, "echo", "'payload output' > e2e.out.txt")
	out["outFiles"] = "e2e.out.txt," + out["logFile"].(string)
	out["scopeOut"], out["realDatasets"], out["ddmEndPointOut"] = "e2e", "e2e.out,e2e.log", "E2E_DISK,E2E_DISK"
	bad := baseJob(2003, "echo", "'ERROR: failing on purpose' >&2; exit 1")
	s.Submit(in, out, bad)

	code, log := s.RunPilot()
	if code != 0 {
		t.Fatalf("pilot exit %d\n%s", code, log)
	}
	for _, id := range []int64{2001, 2002} {
		j := s.Job(id)
		if j.State != "finished" || j.PilotErrorCode != 0 {
			t.Errorf("job %d: state %s code %d (%s)\n%s", id, j.State, j.PilotErrorCode, j.PilotErrorDiag, log)
		}
		if got := s.States(id); !reflect.DeepEqual(got, []string{"starting", "running", "finished"}) {
			t.Errorf("job %d states %v", id, got)
		}
	}
	j := s.Job(2003)
	if j.State != "failed" || j.PilotErrorCode != 1305 || j.TransExitCode != 1 {
		t.Errorf("job 2003: state %s code %d transExit %d", j.State, j.PilotErrorCode, j.TransExitCode)
	}
	if !strings.Contains(j.PilotErrorDiag, "failing on purpose") {
		t.Errorf("diag %q does not carry the payload's error line", j.PilotErrorDiag)
	}
	// The output and every log tarball are in the storage element.
	b, err := os.ReadFile(s.RsePath("e2e", "e2e.out.txt"))
	if err != nil || string(b) != "payload output\n" {
		t.Errorf("output in RSE: %q %v", b, err)
	}
	for _, id := range []int64{2001, 2002, 2003} {
		lfn := baseJob(id, "", "")["logFile"].(string)
		names := tarNames(t, s.RsePath("e2e", lfn))
		for _, want := range []string{"payload.stdout", "payload.stderr", "pilotlog.txt"} {
			if !hasSuffix(names, "/"+want) {
				t.Errorf("log of %d lacks %s: %v", id, want, names)
			}
		}
	}
	// Job directories are removed once the final state is acknowledged.
	if m, _ := filepath.Glob(filepath.Join(s.Work, "PanDA_Pilot-*")); len(m) != 0 {
		t.Errorf("job directories left: %v", m)
	}
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("log tarball: %v", err)
		return nil
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		must(t, err)
		names = append(names, h.Name)
	}
}

func hasSuffix(names []string, suf string) bool {
	for _, n := range names {
		if strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}

// timefloor 0 means one job per pilot.
func TestTimefloorZeroRunsOneJob(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(0, ""))
	s.Submit(baseJob(2101, "true", ""), baseJob(2102, "true", ""))
	code, log := s.RunPilot()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	if a, b := s.Job(2101).State, s.Job(2102).State; !(a == "finished" && b == "activated") {
		t.Fatalf("states %s, %s; want finished, activated", a, b)
	}
}

// With no job on the server the pilot ends at once with exit 0.
func TestNoJobEndsAtOnce(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	code, log := s.RunPilot()
	if code != 0 || !strings.Contains(log, "no job from the server") {
		t.Fatalf("exit %d\n%s", code, log)
	}
}

// A transformation given as a URL is downloaded from the server and run with jobPars.
func TestURLTransformation(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	must(t, os.WriteFile(filepath.Join(s.Trf, "runcmd.sh"), []byte("#!/bin/bash\necho \"trf got: $*\"\n\"$@\"\n"), 0o644))
	s.Submit(baseJob(2201, "http://"+s.Addr+"/trf/runcmd.sh", "test -n \"$PANDAID\""))
	code, log := s.RunPilot()
	if j := s.Job(2201); code != 0 || j.State != "finished" {
		t.Fatalf("exit %d state %s code %d %s\n%s", code, j.State, j.PilotErrorCode, j.PilotErrorDiag, log)
	}
}

// The v1 API works end to end.
func TestV1API(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	s.Submit(baseJob(2301, "true", ""))
	code, log := s.RunPilot("--api", "v1")
	if j := s.Job(2301); code != 0 || j.State != "finished" {
		t.Fatalf("exit %d state %s\n%s", code, j.State, log)
	}
}

// Each signal the pilot handles kills the payload tree, stages out the log,
// fails the job with the signal's job-level code and ends the pilot with
// the shell code of the pilot-level code (ERRORCODES.md).
func TestSignalsFailJob(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		sig      syscall.Signal
		jobCode  int
		exitCode int
	}{
		{syscall.SIGTERM, 1201, 143},
		{syscall.SIGINT, 1200, 130},
		{syscall.SIGQUIT, 1202, 131},
		{syscall.SIGUSR1, 1207, 138},
		{syscall.SIGXCPU, 1204, 152},
		{syscall.SIGBUS, 1206, 135},
		{syscall.SIGSEGV, 1203, 139},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			id := int64(2401 + i)
			s := newSite(t, queueJSON(60, ""))
			marker := filepath.Join(s.Dir, "payload-started")
			tag := fmt.Sprintf("sleep 30%d", i)
			s.Submit(baseJob(id, "touch "+marker+";", tag+" & "+tag+"; wait"))
			cmd := s.PilotCmd()
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			must(t, cmd.Start())
			waitFor(t, 30*time.Second, "payload start", func() bool { _, err := os.Stat(marker); return err == nil })
			must(t, cmd.Process.Signal(tc.sig))
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
			j := s.Job(id)
			if code != tc.exitCode || j.State != "failed" || j.PilotErrorCode != tc.jobCode {
				t.Fatalf("exit %d state %s code %d, want exit %d code %d\n%s", code, j.State, j.PilotErrorCode, tc.exitCode, tc.jobCode, out.String())
			}
			if _, err := os.Stat(s.RsePath("e2e", baseJob(id, "", "")["logFile"].(string))); err != nil {
				t.Fatalf("log not staged out after one signal: %v\n%s", err, out.String())
			}
			if pids := processesWithArg(tag, s.Work); len(pids) > 0 {
				t.Fatalf("payload processes survive: %v", pids)
			}
		})
	}
}

// processesWithArg lists processes whose command line contains s and whose
// environment marks them as payloads of a pilot working in workdir.
func processesWithArg(s, workdir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if strings.Contains(string(env), "PILOT_HOME="+workdir+"\x00") {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// `pandalite kill` makes the next heartbeat answer tobekilled: the payload
// dies and the job ends failed with 1144.
func TestServerKill(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	marker := filepath.Join(s.Dir, "started")
	s.Submit(baseJob(2501, "touch "+marker+";", "sleep 300"))
	cmd := s.PilotCmd("--heartbeat", "1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	waitFor(t, 30*time.Second, "payload start", func() bool { _, err := os.Stat(marker); return err == nil })
	if _, err := s.Store().Kill(t.Context(), 2501); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	j := s.Job(2501)
	if err != nil || j.State != "failed" || j.PilotErrorCode != 1144 {
		t.Fatalf("pilot err %v, state %s code %d\n%s", err, j.State, j.PilotErrorCode, out.String())
	}
}

// Hostile job definitions are refused with a clear error and a PanDA code,
// nothing is written outside the work directory, and the final state still
// reaches the server.
func TestHostileJobsReported(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	cases := []struct {
		name string
		edit func(j map[string]any)
		diag string // a word the diagnostic must contain
	}{
		{"dotdot output", func(j map[string]any) { setOutput(j, "../../escape.txt") }, "escape.txt"},
		{"slash output", func(j map[string]any) { setOutput(j, "sub/escape.txt") }, "escape.txt"},
		{"NUL in name", func(j map[string]any) { setOutput(j, "a\x00b") }, "outFiles"},
		{"300-byte name", func(j map[string]any) { setOutput(j, long) }, "255"},
		{"negative size", func(j map[string]any) { setInput(j, "in.txt", "-5", "ad:0a1b2c3d") }, "fsize"},
		{"bad checksum", func(j map[string]any) { setInput(j, "in.txt", "5", "zz:nothex") }, "checksum"},
		{"lists of different lengths", func(j map[string]any) {
			setInput(j, "in.txt", "5", "ad:0a1b2c3d")
			j["GUID"] = "a,b,c"
		}, "GUID"},
	}
	s := newSite(t, queueJSON(60, ""))
	var jobs []map[string]any
	for i, c := range cases {
		j := baseJob(int64(2601+i), "touch "+filepath.Join(s.Dir, "ran")+";", "true")
		c.edit(j)
		jobs = append(jobs, j)
	}
	s.SubmitArgs([]string{"--unchecked"}, jobs...)
	_, log := s.RunPilot("-x", "1")
	for i, c := range cases {
		got := s.Job(int64(2601 + i))
		if got.State != "failed" || got.PilotErrorCode == 0 || !strings.Contains(got.PilotErrorDiag, c.diag) {
			t.Errorf("%s: state %s code %d diag %q", c.name, got.State, got.PilotErrorCode, got.PilotErrorDiag)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "ran")); err == nil {
		t.Error("a payload of a hostile job ran")
	}
	if m, _ := filepath.Glob(filepath.Join(s.Dir, "*escape*")); len(m) > 0 {
		t.Errorf("files written outside the work directory: %v", m)
	}
	if t.Failed() {
		t.Log(log)
	}
}

func setOutput(j map[string]any, lfn string) {
	j["outFiles"] = lfn + "," + j["logFile"].(string)
	j["scopeOut"], j["realDatasets"], j["ddmEndPointOut"] = "e2e", "x,y", "E2E_DISK,E2E_DISK"
}

func setInput(j map[string]any, lfn, size, checksum string) {
	j["inFiles"], j["GUID"], j["fsize"], j["checksum"] = lfn, "11111111-1111-4111-8111-111111111111", size, checksum
	j["scopeIn"], j["realDatasetsIn"], j["ddmEndPointIn"] = "e2e", "e2e.in", "E2E_DISK"
}

// `pilot exec` runs one payload offline: the final report lands in
// heartbeat.json and the log tarball stays in the work directory.
func TestExecOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	job := baseJob(2701, "echo", "offline > result.txt")
	b, _ := json.Marshal(map[string]any{"2701": job})
	jf := filepath.Join(dir, "pandaJobData.out")
	must(t, os.WriteFile(jf, b, 0o644))
	work := filepath.Join(dir, "work")
	cmd := execCommand("exec", "--job", jf, "--workdir", work)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pilot exec: %v\n%s", err, out)
	}
	var hb map[string]any
	hbb, err := os.ReadFile(filepath.Join(work, "heartbeat.json"))
	must(t, err)
	must(t, json.Unmarshal(hbb, &hb))
	if hb["state"] != "finished" || hb["jobId"] != "2701" {
		t.Fatalf("heartbeat.json: %v", hb)
	}
	if _, err := os.Stat(filepath.Join(work, job["logFile"].(string))); err != nil {
		t.Fatalf("log tarball not in the work directory: %v", err)
	}
	r, err := os.ReadFile(filepath.Join(work, "PanDA_Pilot-2701", "result.txt"))
	if err != nil || string(r) != "offline\n" {
		t.Fatalf("payload result %q %v", r, err)
	}
}

// A job in debug mode gets heartbeats every --debug-heartbeat seconds that
// carry the tail of the payload's stdout.
func TestDebugHeartbeatCarriesStdout(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	j := baseJob(2801, "echo", "visible-in-debug-mode; sleep 4")
	j["debug"] = "True"
	s.Submit(j)
	code, log := s.RunPilot("--debug-heartbeat", "1")
	if job := s.Job(2801); code != 0 || job.State != "finished" {
		t.Fatalf("exit %d state %s\n%s", code, job.State, log)
	}
	ups, err := s.Store().Updates(t.Context(), 2801)
	must(t, err)
	found := false
	for _, u := range ups {
		if v, ok := u.Fields.Get("stdout"); ok && u.State == "running" && strings.Contains(toString(v), "visible-in-debug-mode") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no running update carried the payload's stdout (%d updates)\n%s", len(ups), log)
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// A second signal skips the log stage-out; the final update still goes out.
func TestSecondSignalSkipsLogStageOut(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	marker := filepath.Join(s.Dir, "started")
	// The payload ignores SIGTERM, so the pilot waits out the kill grace:
	// the second signal arrives while the payload is still being stopped.
	s.Submit(baseJob(2901, "trap '' TERM; touch "+marker+";", "sleep 303"))
	cmd := s.PilotCmd("--kill-grace", "3")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	waitFor(t, 30*time.Second, "payload start", func() bool { _, err := os.Stat(marker); return err == nil })
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(500 * time.Millisecond)
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	cmd.Wait()
	j := s.Job(2901)
	if j.State != "failed" || j.PilotErrorCode != 1201 {
		t.Fatalf("state %s code %d\n%s", j.State, j.PilotErrorCode, out.String())
	}
	if _, err := os.Stat(s.RsePath("e2e", baseJob(2901, "", "")["logFile"].(string))); err == nil {
		t.Fatalf("the log was staged out despite the second signal\n%s", out.String())
	}
	if pids := processesWithArg("sleep 303", s.Work); len(pids) > 0 {
		t.Fatalf("payload processes survive: %v", pids)
	}
}

// The monitors stop a payload that uses more memory than the job asked for
// (minRamCount x the queue's RSS grace): 1235.
func TestMemoryMonitorKillsPayload(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	// x is used after the sleep so that the shell cannot exec sleep and drop its memory.
	j := baseJob(3001, "x=$(head -c 120000000 /dev/zero | tr '\\0' a);", "sleep 120; echo ${#x}")
	j["minRamCount"] = 20 // MB: with the default grace the limit is 40 MB
	s.Submit(j)
	code, log := s.RunPilot("--monitor-interval", "1")
	got := s.Job(3001)
	if code != 0 || got.State != "failed" || got.PilotErrorCode != 1235 {
		t.Fatalf("exit %d state %s code %d %s\n%s", code, got.State, got.PilotErrorCode, got.PilotErrorDiag, log)
	}
}

// A payload that touches no file for --looping-limit is killed as looping: 1150.
func TestLoopingJobKilled(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	s.Submit(baseJob(3002, "sleep", "120"))
	code, log := s.RunPilot("--monitor-interval", "1", "--looping-limit", "2")
	got := s.Job(3002)
	if code != 0 || got.State != "failed" || got.PilotErrorCode != 1150 {
		t.Fatalf("exit %d state %s code %d %s\n%s", code, got.State, got.PilotErrorCode, got.PilotErrorDiag, log)
	}
}

// Every job keeps a journal; `pilot inspect` prints it.
func TestJournalAndInspect(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	out := baseJob(3101, "echo", "'journaled output' > e2e.journal.txt")
	out["outFiles"] = "e2e.journal.txt," + out["logFile"].(string)
	out["scopeOut"], out["realDatasets"], out["ddmEndPointOut"] = "e2e", "e2e.out,e2e.log", "E2E_DISK,E2E_DISK"
	s.Submit(out)
	code, log := s.RunPilot("--cleanup=false")
	if code != 0 || s.Job(3101).State != "finished" {
		t.Fatalf("exit %d\n%s", code, log)
	}
	b, err := execCommand("inspect", "--workdir", s.Work, "3101").CombinedOutput()
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, b)
	}
	for _, want := range []string{"3101", "starting", "running", "e2e.journal.txt", "ad:", "finished"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, b)
		}
	}
}

// A payload that leaves a daemon behind (double fork into a new session)
// does not leave it running: the pilot is a subreaper and kills the tree.
func TestEscapedDaemonKilled(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	s.Submit(baseJob(3201, "(setsid sleep 304 > /dev/null 2>&1 &);", "true"))
	code, log := s.RunPilot()
	if j := s.Job(3201); code != 0 || j.State != "finished" {
		t.Fatalf("exit %d state %s\n%s", code, j.State, log)
	}
	if pids := processesWithArg("sleep 304", s.Work); len(pids) > 0 {
		t.Fatalf("escaped daemon survives: %v", pids)
	}
}
