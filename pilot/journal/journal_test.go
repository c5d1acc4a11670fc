package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sampleEvents returns one or more events of every kind Append takes, in
// the order of a successful job.
func sampleEvents(dir string) []Event {
	return []Event{
		Accepted{
			PandaID: 4242, AttemptNr: 2, Queue: "TEST_QUEUE", User: "Jane Doe <jane@example.org>", WorkDir: dir,
			Server: "https://panda.example:25443", Outputs: []string{"out1.root", "out2.root"}, LogFile: "log.tgz",
			Fields: map[string]string{"PandaID": "4242", "attemptNr": "2", "jobPars": "--in=\"a b\" <x>&y", "outFiles": "out1.root,out2.root,log.tgz"},
		},
		StateChange{State: "starting"},
		FileStaged{Direction: In, LFN: "in1.root", URL: "root://se.example:1094//data/in1.root", Size: 1234, Checksum: "ad:0a1b2c3d", Mover: "xrdcp"},
		StateChange{State: "running"},
		PayloadStarted{PID: 31337, Pgid: 31337, StartTicks: 987654, BootTime: 1700000000, BootID: "0b1f6c2e-7a4b-4c5d-9e8f-0123456789ab",
			ProcessStart: time.Date(2026, 1, 2, 3, 4, 5, 60000000, time.UTC), Cgroup: "/gopilot/job-4242"},
		PayloadEnded{PID: 31337, ExitCode: 0, CPUSeconds: 12.5, WallSeconds: 20.25, MaxRSSBytes: 512 << 20},
		StateChange{State: "stageout"},
		FileStaged{Direction: Out, LFN: "out1.root", URL: "davs://se.example/out1.root", Size: 10, Checksum: "ad:00000001", Mover: "gfal"},
		FileStaged{Direction: Out, LFN: "out2.root", URL: "davs://se.example/out2.root", Size: 20, Checksum: "md5:0123456789abcdef0123456789abcdef", Mover: "gfal"},
		FileStaged{Direction: Log, LFN: "log.tgz", URL: "davs://se.example/log.tgz", Size: 30, Checksum: "ad:00000003", Mover: "gfal"},
		StateChange{State: "finished"},
		ReportBuilt{State: "finished", Report: json.RawMessage(`{"jobId":"4242","state":"finished","startTime":1700000000.0,"xml":"<a>&</a>","attemptNr":2,"pilotErrorCode":0}`)},
		ReportAcked{StatusCode: 0, Command: "NULL", Attempts: 1},
	}
}

func mustOpen(t testing.TB, dir string) *Journal {
	t.Helper()
	j, err := Open(dir, Owner{Host: "node1.example", PilotID: "pilot-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func mustReplay(t testing.TB, path string) *History {
	t.Helper()
	h, err := Replay(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRoundTrip(t *testing.T) {
	for _, ev := range sampleEvents("/work/PanDA_Pilot-4242") {
		t.Run(string(ev.Kind()), func(t *testing.T) {
			dir := t.TempDir()
			j := mustOpen(t, dir)
			rec, err := j.Append(ev)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Seq != 2 || rec.Kind != ev.Kind() || rec.Time.Location() != time.UTC {
				t.Errorf("Append returned seq %d kind %s loc %v", rec.Seq, rec.Kind, rec.Time.Location())
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			h := mustReplay(t, filepath.Join(dir, FileName))
			if len(h.Corrupt) != 0 || len(h.Records) != 2 {
				t.Fatalf("records %d, damage %v", len(h.Records), h.Corrupt)
			}
			if got := h.Records[1]; !reflect.DeepEqual(got, rec) {
				t.Errorf("replayed %#v\nwant     %#v", got, rec)
			}
			if !reflect.DeepEqual(h.Records[1].Event, ev) {
				t.Errorf("event changed: %#v, appended %#v", h.Records[1].Event, ev)
			}
		})
	}
}

func TestFullJob(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	evs := sampleEvents(dir)
	for _, ev := range evs {
		if _, err := j.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	h := mustReplay(t, j.Path())
	if len(h.Records) != len(evs)+1 || len(h.Corrupt) != 0 {
		t.Fatalf("records %d damage %v", len(h.Records), h.Corrupt)
	}
	for i, r := range h.Records {
		if r.Seq != uint64(i+1) {
			t.Errorf("record %d has seq %d", i, r.Seq)
		}
	}
	if h.Header.PandaID != 4242 || h.Header.Queue != "TEST_QUEUE" || h.Header.WorkDir != dir || h.Header.Start.IsZero() {
		t.Errorf("header %+v", h.Header)
	}
	if got := len(h.States); got != 4 || h.States[1].State != "running" {
		t.Errorf("states %+v", h.States)
	}
	if len(h.Runs) != 1 || h.Runs[0].Ended == nil || h.Runs[0].Ended.CPUSeconds != 12.5 {
		t.Errorf("runs %+v", h.Runs)
	}
	if len(h.Files) != 4 || h.Files[2].Checksum != "md5:0123456789abcdef0123456789abcdef" {
		t.Errorf("files %+v", h.Files)
	}
	if !h.Acknowledged() || h.Final.State != "finished" || h.Phase() != PhaseDone {
		t.Errorf("final %+v phase %v", h.Final, h.Phase())
	}
	if len(h.Opens) != 1 || h.Opens[0].Owner.PID != os.Getpid() || h.Opens[0].Owner.Host != "node1.example" {
		t.Errorf("opens %+v", h.Opens)
	}
	// The journal is plain JSON lines: every line decodes on its own, the
	// report is stored as sent, without HTML escaping.
	b, _ := os.ReadFile(j.Path())
	for i, l := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Errorf("line %d is not JSON: %v", i+1, err)
		}
	}
	if !bytes.Contains(b, []byte(`"xml":"<a>&</a>"`)) {
		t.Errorf("report not stored verbatim:\n%s", b)
	}
}

func TestAppendSanitizes(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	fields := map[string]string{"PandaID": "7", "secrets": "s3cr3t-token", "pilotSecrets": "{\"x\":\"s3cr3t-pilot\"}"}
	if _, err := j.Append(Accepted{PandaID: 7, Fields: fields}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(FileStaged{Direction: Out, LFN: "a", URL: "https://user:s3cr3t-pw@se.example/a"}); err != nil {
		t.Fatal(err)
	}
	if len(fields) != 3 {
		t.Error("Append modified the caller's map")
	}
	b, _ := os.ReadFile(j.Path())
	if bytes.Contains(b, []byte("s3cr3t")) {
		t.Errorf("a credential reached the journal:\n%s", b)
	}
	h := mustReplay(t, j.Path())
	if h.Header.Fields["PandaID"] != "7" || h.Files[0].URL != "https://user:xxxxx@se.example/a" {
		t.Errorf("fields %v url %q", h.Header.Fields, h.Files[0].URL)
	}
}

func TestAppendRejects(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	for _, tc := range []struct {
		name string
		ev   Event
	}{
		{"nil", nil},
		{"opened", Opened{}},
		{"accepted without PandaID", Accepted{Queue: "q"}},
		{"accepted with empty output", Accepted{PandaID: 1, Outputs: []string{""}}},
		{"empty state", StateChange{}},
		{"payload without pid", PayloadStarted{StartTicks: 5}},
		{"payload end with negative pid", PayloadEnded{PID: -1}},
		{"file without direction", FileStaged{LFN: "a"}},
		{"file with bad direction", FileStaged{Direction: "sideways", LFN: "a"}},
		{"file without LFN", FileStaged{Direction: In}},
		{"report without state", ReportBuilt{Report: json.RawMessage(`{}`)}},
		{"report not an object", ReportBuilt{State: "failed", Report: json.RawMessage(`[1]`)}},
		{"report not JSON", ReportBuilt{State: "failed", Report: json.RawMessage(`{`)}},
		{"report null", ReportBuilt{State: "failed", Report: json.RawMessage(`null`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := j.Append(tc.ev); err == nil {
				t.Error("Append accepted it")
			}
		})
	}
	j.Close()
	if _, err := j.Append(StateChange{State: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	h := mustReplay(t, j.Path())
	if len(h.Records) != 1 || len(h.Corrupt) != 0 {
		t.Errorf("rejected events reached the file: %d records, %v", len(h.Records), h.Corrupt)
	}
}

func TestAppendConcurrent(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	const workers, each = 4, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := j.Append(StateChange{State: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	j.Close()
	h := mustReplay(t, j.Path())
	if len(h.Records) != workers*each+1 || len(h.Corrupt) != 0 {
		t.Fatalf("records %d damage %v", len(h.Records), h.Corrupt)
	}
	for i, r := range h.Records {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing"), Owner{}); err == nil {
		t.Error("Open of a missing directory succeeded")
	}
	if err := os.Mkdir(filepath.Join(dir, "j"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(dir, "j", FileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "j"), Owner{}); err == nil {
		t.Error("Open followed a symbolic link")
	}
}

// crcLine returns body closed by a correct crc member, '\n' included.
func crcLine(body string) string {
	return fmt.Sprintf(`%s,"crc":"%08x"}`+"\n", body, crc32.Checksum([]byte(body), crcTable()))
}

// journalLines returns a journal of an Opened record and four states, as
// lines with their '\n'.
func journalLines(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	j := mustOpen(t, dir)
	for _, s := range []string{"starting", "running", "stageout", "finished"} {
		if _, err := j.Append(StateChange{State: s}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	b, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestReplayDamage(t *testing.T) {
	base := journalLines(t) // lines 1..5, the last without '\n'
	base[len(base)-1] += "\n"
	all := strings.Join(base, "")
	with := func(f func(l []string) []string) string {
		return strings.Join(f(append([]string(nil), base...)), "")
	}
	type dmg struct {
		line int
		tail bool
		why  string
	}
	for _, tc := range []struct {
		name     string
		content  string
		records  int
		damage   []dmg
		maxSeq   uint64
		cut      int64 // bytes Open cuts off
		states   []string
		afterDmg int // damaged lines after Open and one more Append
	}{
		{name: "intact", content: all, records: 5, maxSeq: 5},
		{name: "empty file", content: "", records: 0},
		{name: "last line without newline", content: strings.TrimSuffix(all, "\n"), records: 5, maxSeq: 5},
		{name: "truncated last line", content: all[:len(all)-20], records: 4, maxSeq: 4,
			damage: []dmg{{5, true, "torn line"}}, cut: int64(len(base[4]) - 20)},
		{name: "truncated to one byte", content: all[:len(all)-len(base[4])+1], records: 4, maxSeq: 4,
			damage: []dmg{{5, true, "torn line"}}, cut: 1},
		{name: "garbage last line", content: all + "this is not a record\n", records: 5, maxSeq: 5,
			damage: []dmg{{6, true, "not a record"}}, afterDmg: 1},
		{name: "garbage without newline", content: all + `{"seq":6,"ti`, records: 5, maxSeq: 5,
			damage: []dmg{{6, true, "torn line"}}, cut: 12},
		{name: "zero-filled tail", content: all + strings.Repeat("\x00", 300), records: 5, maxSeq: 5,
			damage: []dmg{{6, true, "torn line"}}, cut: 300},
		{name: "corrupted middle line", content: with(func(l []string) []string {
			l[2] = strings.Replace(l[2], "running", "runninG", 1)
			return l
		}), records: 4, maxSeq: 5, damage: []dmg{{3, false, "bad checksum"}}, afterDmg: 1},
		{name: "cut middle line", content: with(func(l []string) []string {
			l[2] = l[2][:30] + "\n"
			return l
		}), records: 4, maxSeq: 5, damage: []dmg{{3, false, "no crc"}}, afterDmg: 1},
		{name: "empty middle line", content: with(func(l []string) []string {
			l[1] += "\n"
			return l
		}), records: 5, maxSeq: 5, damage: []dmg{{3, false, "empty line"}}, afterDmg: 1},
		{name: "bad JSON with a good crc", content: all + crcLine(`{"seq":6,"kind":`), records: 5, maxSeq: 5,
			damage: []dmg{{6, true, "bad JSON"}}, afterDmg: 1},
		{name: "bad data with a good crc", content: all + crcLine(`{"seq":6,"time":"2026-01-01T00:00:00Z","kind":"state","data":{"state":""}`),
			records: 5, maxSeq: 5, damage: []dmg{{6, true, "bad state data"}}, afterDmg: 1},
		{name: "sequence zero", content: all + crcLine(`{"seq":0,"time":"2026-01-01T00:00:00Z","kind":"state","data":{"state":"x"}`),
			records: 5, maxSeq: 5, damage: []dmg{{6, true, "sequence number 0"}}, afterDmg: 1},
		{name: "unknown kind is kept", content: all + crcLine(`{"seq":6,"time":"2026-01-01T00:00:00Z","kind":"future","data":{"x":1}`),
			records: 6, maxSeq: 6},
		{name: "too long middle line", content: with(func(l []string) []string {
			l[1] = strings.Repeat("x", 5000) + "\n"
			return l
		}), records: 4, maxSeq: 5, damage: []dmg{{2, false, "longer than"}}, afterDmg: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			h, err := replay(strings.NewReader(tc.content), 4096)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Records) != tc.records {
				t.Errorf("%d records, want %d", len(h.Records), tc.records)
			}
			if len(h.Corrupt) != len(tc.damage) {
				t.Fatalf("damage %v, want %v", h.Corrupt, tc.damage)
			}
			for i, d := range tc.damage {
				got := h.Corrupt[i]
				if got.Line != d.line || got.Tail != d.tail || !strings.Contains(got.Reason, d.why) {
					t.Errorf("damage %v, want line %d tail %v reason %q", got, d.line, d.tail, d.why)
				}
			}
			if tc.name != "too long middle line" {
				fh := mustReplay(t, path)
				if len(fh.Records) != len(h.Records) || len(fh.Corrupt) != len(h.Corrupt) {
					t.Errorf("Replay and replay differ: %d/%d records", len(fh.Records), len(h.Records))
				}
			}

			// A new writer repairs a torn tail and continues the sequence.
			j := mustOpen(t, dir)
			rec, err := j.Append(StateChange{State: "after"})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Seq != tc.maxSeq+2 {
				t.Errorf("next seq %d, want %d", rec.Seq, tc.maxSeq+2)
			}
			j.Close()
			h2 := mustReplay(t, path)
			op := h2.Opens[len(h2.Opens)-1]
			if op.TruncatedBytes != tc.cut {
				t.Errorf("Open cut %d bytes, want %d", op.TruncatedBytes, tc.cut)
			}
			if len(h2.Records) != tc.records+2 || len(h2.Corrupt) != tc.afterDmg {
				t.Errorf("after Open: %d records (want %d), damage %v (want %d)", len(h2.Records), tc.records+2, h2.Corrupt, tc.afterDmg)
			}
			for _, d := range h2.Corrupt {
				if d.Tail {
					t.Errorf("damage %v still at the tail after an Append", d)
				}
			}
			if last := h2.States[len(h2.States)-1]; last.State != "after" {
				t.Errorf("last state %q", last.State)
			}
		})
	}
}

func TestOpenLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	j1, err := Open(dir, Owner{Host: "first", PilotID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Owner{Host: "second"})
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second Open: %v", err)
	}
	if le.Holder.PID != os.Getpid() || le.Holder.Host != "first" || le.Holder.PilotID != "p1" {
		t.Errorf("holder %+v", le.Holder)
	}
	if msg := err.Error(); !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(msg, "first") {
		t.Errorf("message %q does not name the holder", msg)
	}
	if err := j1.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(dir, Owner{Host: "second"})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	j2.Close()
	if h := mustReplay(t, filepath.Join(dir, FileName)); len(h.Opens) != 2 {
		t.Errorf("opens %+v", h.Opens)
	}
}

func TestOpenLockedAcrossProcesses(t *testing.T) {
	t.Run("other process refused while we hold", func(t *testing.T) {
		dir := t.TempDir()
		j, err := Open(dir, Owner{Host: "parent"})
		if err != nil {
			t.Fatal(err)
		}
		out, code := runHelper(t, "open", dir)
		if code != 3 || out != "locked "+strconv.Itoa(os.Getpid()) {
			t.Errorf("helper while locked: exit %d, %q", code, out)
		}
		j.Close()
		out, code = runHelper(t, "open", dir)
		if code != 0 || out != "ok" {
			t.Errorf("helper after Close: exit %d, %q", code, out)
		}
	})
	t.Run("we are refused until the holder dies", func(t *testing.T) {
		dir := t.TempDir()
		hp := startHelper(t, "hold", dir)
		if got := hp.line(t); got != "held" {
			t.Fatalf("helper said %q", got)
		}
		_, err := Open(dir, Owner{Host: "parent"})
		var le *LockedError
		if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder.PID != hp.cmd.Process.Pid || le.Holder.Host != "holder" {
			t.Fatalf("Open while the helper holds: %v (%+v)", err, le)
		}
		// A crash (SIGKILL) releases the lock: no Close ran.
		hp.cmd.Process.Kill()
		hp.cmd.Wait()
		j, err := Open(dir, Owner{Host: "parent"})
		if err != nil {
			t.Fatalf("Open after the holder died: %v", err)
		}
		j.Close()
		h := mustReplay(t, filepath.Join(dir, FileName))
		if len(h.Opens) != 2 || h.Opens[0].Owner.PID != hp.cmd.Process.Pid || h.Opens[1].Owner.PID != os.Getpid() {
			t.Errorf("opens %+v", h.Opens)
		}
		if len(h.States) != 1 || h.States[0].State != "running" {
			t.Errorf("the holder's record is missing: %+v", h.States)
		}
	})
}
