package journal

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seedJournal returns a valid journal of every record kind.
func seedJournal(f *testing.F) []byte {
	var buf bytes.Buffer
	evs := append([]Event{Opened{Owner: Owner{PID: 1, Host: "h"}}}, sampleEvents("/w/PanDA_Pilot-4242")...)
	for i, ev := range evs {
		line, err := encode(Record{Seq: uint64(i + 1), Time: time.Unix(1700000000, int64(i)).UTC(), Kind: ev.Kind(), Event: sanitize(ev)})
		if err != nil {
			f.Fatal(err)
		}
		buf.Write(line)
	}
	return buf.Bytes()
}

// FuzzReplay: Replay never fails on contents and never panics, and neither
// do the views built on its History.
func FuzzReplay(f *testing.F) {
	good := seedJournal(f)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add(append(append([]byte{}, good...), "garbage\n{\"seq\":"...))
	f.Add(bytes.Replace(good, []byte(`"state"`), []byte(`"stat3"`), 1))
	f.Add([]byte(crcLine(`{"seq":1,"time":"x","kind":"state","data":{"state":"a"}`)))
	f.Add([]byte(crcLine(`{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"payload_ended","data":{"pid":0}`)))
	f.Add([]byte("\n\n\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := replay(bytes.NewReader(data), 1024)
		if err != nil {
			t.Fatalf("replay failed on contents: %v", err)
		}
		lines := bytes.Count(data, []byte{'\n'})
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		if len(h.Records)+len(h.Corrupt) != lines {
			t.Fatalf("%d records + %d damaged != %d lines", len(h.Records), len(h.Corrupt), lines)
		}
		seenTail := false
		for _, d := range h.Corrupt {
			if seenTail && !d.Tail {
				t.Fatalf("middle damage %v after tail damage", d)
			}
			seenTail = seenTail || d.Tail
		}
		for _, r := range h.Records {
			if r.Seq == 0 || r.Kind == "" {
				t.Fatalf("invalid record %+v", r)
			}
		}
		p := h.Pending()
		_ = p.String()
		if p.Phase == PhaseRunning && p.Run == nil || p.Phase == PhaseUnacked && p.Report == nil {
			t.Fatalf("pending %+v lacks its detail", p)
		}
		if err := Render(io.Discard, h); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzOpen: whatever a journal file holds, Open takes it over and the next
// record is readable and last, with no damage at the tail.
func FuzzOpen(f *testing.F) {
	good := seedJournal(f)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add([]byte("garbage"))
	f.Add([]byte("garbage\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		before, err := replay(bytes.NewReader(data), MaxRecordSize)
		if err != nil {
			t.Fatal(err)
		}
		j, err := Open(dir, Owner{})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := j.Append(StateChange{State: "fuzz"})
		j.Close()
		if err != nil {
			t.Fatal(err)
		}
		h, err := Replay(path)
		if err != nil {
			t.Fatal(err)
		}
		last := h.Records[len(h.Records)-1]
		if last.Seq != rec.Seq || last.Kind != KindState {
			t.Fatalf("last record %+v, appended %+v", last, rec)
		}
		for _, r := range before.Records {
			if r.Seq >= rec.Seq-1 {
				t.Fatalf("sequence not continued: old %d, new Opened %d", r.Seq, rec.Seq-1)
			}
		}
		for _, d := range h.Corrupt {
			if d.Tail {
				t.Fatalf("tail damage %v after Open and Append", d)
			}
		}
		if len(h.Records) < len(before.Records)+2 {
			t.Fatalf("records lost: %d before, %d after", len(before.Records), len(h.Records))
		}
	})
}

// FuzzParseStat: parseStat never panics and a parsed state is one byte.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine("bash", 'S', 42, "12345")))
	f.Add([]byte(statLine("a) b (c", 'R', 7, "99")))
	f.Add([]byte("1 ("))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err == nil && s.state == 0 && !bytes.Contains(b, []byte{0}) {
			t.Fatalf("parsed %q to %+v", b, s)
		}
	})
}
