package journal

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestPending(t *testing.T) {
	acc := Accepted{PandaID: 9, Queue: "Q", Outputs: []string{"o1", "o2"}, LogFile: "log.tgz"}
	started := PayloadStarted{PID: 100, StartTicks: 5}
	ended := func(code, sig int) PayloadEnded { return PayloadEnded{PID: 100, ExitCode: code, Signal: sig} }
	out := func(lfn string) FileStaged { return FileStaged{Direction: Out, LFN: lfn} }
	logf := FileStaged{Direction: Log, LFN: "log.tgz"}
	built := func(state string) ReportBuilt {
		return ReportBuilt{State: state, Report: json.RawMessage(`{"jobId":"9","state":"` + state + `"}`)}
	}
	acked := ReportAcked{StatusCode: 0}
	for _, tc := range []struct {
		name    string
		events  []Event
		phase   Phase
		runPID  int
		missing []string
		report  string
	}{
		{name: "nothing", phase: PhaseUnknown},
		{name: "accepted", events: []Event{acc, StateChange{State: "starting"}, FileStaged{Direction: In, LFN: "i"}}, phase: PhaseSetup},
		{name: "payload maybe running", events: []Event{acc, started}, phase: PhaseRunning, runPID: 100},
		{name: "second run running", events: []Event{acc, started, ended(1, 0), PayloadStarted{PID: 200, StartTicks: 9}},
			phase: PhaseRunning, runPID: 200},
		{name: "end without pid closes the open run", events: []Event{acc, started, PayloadEnded{ExitCode: 0}},
			phase: PhaseStageOut, missing: []string{"o1", "o2", "log.tgz"}},
		{name: "end of another pid leaves the run open", events: []Event{acc, started, PayloadEnded{PID: 101}},
			phase: PhaseRunning, runPID: 100},
		{name: "ended, nothing staged out", events: []Event{acc, started, ended(0, 0)},
			phase: PhaseStageOut, missing: []string{"o1", "o2", "log.tgz"}},
		{name: "ended, one output staged", events: []Event{acc, started, ended(0, 0), out("o1")},
			phase: PhaseStageOut, missing: []string{"o2", "log.tgz"}},
		{name: "ended, outputs staged, log not", events: []Event{acc, started, ended(0, 0), out("o2"), out("o1")},
			phase: PhaseStageOut, missing: []string{"log.tgz"}},
		{name: "payload failed: only the log is owed", events: []Event{acc, started, ended(65, 0)},
			phase: PhaseStageOut, missing: []string{"log.tgz"}},
		{name: "payload killed: only the log is owed", events: []Event{acc, started, ended(-1, 9)},
			phase: PhaseStageOut, missing: []string{"log.tgz"}},
		{name: "inputs do not count as staged out", events: []Event{acc, started, ended(0, 0), FileStaged{Direction: In, LFN: "o1"}, out("o2"), logf},
			phase: PhaseStageOut, missing: []string{"o1"}},
		{name: "everything staged, no report", events: []Event{acc, started, ended(0, 0), out("o1"), out("o2"), logf},
			phase: PhaseReport},
		{name: "no files owed", events: []Event{Accepted{PandaID: 9}, started, ended(0, 0)}, phase: PhaseReport},
		{name: "report built", events: []Event{acc, started, ended(0, 0), out("o1"), out("o2"), logf, built("finished")},
			phase: PhaseUnacked, report: "finished"},
		{name: "report built during setup", events: []Event{acc, built("failed")}, phase: PhaseUnacked, report: "failed"},
		{name: "report built while a run has no end", events: []Event{acc, started, built("failed")}, phase: PhaseUnacked, report: "failed"},
		{name: "report acknowledged", events: []Event{acc, built("failed"), acked}, phase: PhaseDone},
		{name: "rebuilt after an ack", events: []Event{acc, built("failed"), acked, built("finished")}, phase: PhaseUnacked, report: "finished"},
		{name: "ack before any report is ignored", events: []Event{acc, acked}, phase: PhaseSetup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j := mustOpen(t, dir)
			for _, ev := range tc.events {
				if _, err := j.Append(ev); err != nil {
					t.Fatal(err)
				}
			}
			j.Close()
			h := mustReplay(t, j.Path())
			p := h.Pending()
			if p.Phase != tc.phase || h.Phase() != tc.phase {
				t.Fatalf("phase %v, want %v (%s)", p.Phase, tc.phase, p)
			}
			if (p.Run != nil) != (tc.runPID != 0) || p.Run != nil && p.Run.Started.PID != tc.runPID {
				t.Errorf("run %+v, want pid %d", p.Run, tc.runPID)
			}
			if !reflect.DeepEqual(p.Missing, tc.missing) {
				t.Errorf("missing %q, want %q", p.Missing, tc.missing)
			}
			if (p.Report != nil) != (tc.report != "") || p.Report != nil && p.Report.State != tc.report {
				t.Errorf("report %+v, want %q", p.Report, tc.report)
			}
			if h.Acknowledged() != (tc.phase == PhaseDone) {
				t.Errorf("Acknowledged %v", h.Acknowledged())
			}
			if p.String() == "" || strings.HasPrefix(p.String(), "Phase(") {
				t.Errorf("String %q", p.String())
			}
		})
	}
}

func TestFind(t *testing.T) {
	work := t.TempDir()
	mk := func(rel string, dir bool) {
		p := filepath.Join(work, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if dir {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mk("PanDA_Pilot-10/"+FileName, false)
	mk("PanDA_Pilot-9/"+FileName, false)
	mk("PanDA_Pilot-100/"+FileName, false)
	mk("PanDA_Pilot-11/payload.stdout", false) // no journal
	mk("PanDA_Pilot-abc/"+FileName, false)
	mk("PanDA_Pilot-12x/"+FileName, false)
	mk("PanDA_Pilot-+13/"+FileName, false)
	mk("PanDA_Pilot-0/"+FileName, false)
	mk("PanDA_Pilot-99999999999999999999/"+FileName, false)
	mk("PanDA_Pilot-/"+FileName, false)
	mk("other/"+FileName, false)
	mk("PanDA_Pilot-14/"+FileName, true) // a directory, not a journal
	mk("PanDA_Pilot-15", false)          // a file, not a directory
	if err := os.Symlink(filepath.Join(work, "PanDA_Pilot-10"), filepath.Join(work, "PanDA_Pilot-16")); err != nil {
		t.Fatal(err)
	}
	got, err := Find(work)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(work, "PanDA_Pilot-9", FileName),
		filepath.Join(work, "PanDA_Pilot-10", FileName),
		filepath.Join(work, "PanDA_Pilot-100", FileName),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %q\nwant %q", got, want)
	}
	if got, err := Find(t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("empty work dir: %q, %v", got, err)
	}
	if _, err := Find(filepath.Join(work, "missing")); err == nil {
		t.Error("Find of a missing directory succeeded")
	}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	evs := sampleEvents(dir)
	evs = append(evs[:5:5], PayloadEnded{PID: 31337, ExitCode: -1, Signal: 9, CPUSeconds: 12.5, WallSeconds: 3, MaxRSSBytes: 3 << 20, Cause: "killed by the PanDA server"},
		FileStaged{Direction: Log, LFN: "log\x1b[2J.tgz", Size: 1, Checksum: "ad:00000009"})
	for _, ev := range evs {
		if _, err := j.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	f, err := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":99,"torn`)
	f.Close()
	h := mustReplay(t, j.Path())
	var buf bytes.Buffer
	if err := Render(&buf, h); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"PanDA job 4242", "attempt 2", "phase stage-out", "TEST_QUEUE", "Jane Doe <jane@example.org>", dir,
		"https://panda.example:25443", "out1.root, out2.root", "pid " + strconv.Itoa(os.Getpid()) + " on node1.example pilot pilot-1",
		"starting", "running", "31337", "2026-01-02 03:04:05.060Z", "-1", "12.50", "3.0", "/gopilot/job-4242",
		"killed by the PanDA server", "in1.root", "1234", "ad:0a1b2c3d", "xrdcp", "root://se.example:1094//data/in1.root",
		`"log\x1b[2J.tgz"`, "none built", "line 9", "tail", "Pending: payload ended; not staged out: log.tgz",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("a control character reached the output")
	}
	// Columns line up: the state names start where the STATE heading does.
	lines := strings.Split(out, "\n")
	col := -1
	for _, l := range lines {
		if strings.HasPrefix(l, "  TIME") {
			col = strings.Index(l, "STATE")
		}
	}
	for _, s := range []string{"starting", "running"} {
		found := false
		for _, l := range lines {
			if strings.HasSuffix(l, s) && strings.Index(l, s) == col {
				found = true
			}
		}
		if !found {
			t.Errorf("state %q not in the STATE column %d:\n%s", s, col, out)
		}
	}

	// A done job and an empty journal render too.
	dir2 := t.TempDir()
	j2 := mustOpen(t, dir2)
	for _, ev := range sampleEvents(dir2) {
		j2.Append(ev)
	}
	j2.Close()
	buf.Reset()
	if err := Render(&buf, mustReplay(t, j2.Path())); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"phase done", "md5:0123456789abcdef0123456789abcdef", "StatusCode 0", "pilotErrorCode  0", "Pending: final report acknowledged"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("done job: output lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := Render(&buf, &History{}); err != nil || !strings.Contains(buf.String(), "no accepted record") {
		t.Errorf("empty history: %v\n%s", err, buf.String())
	}
}
