package journal

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// History is what a journal says about its job.
type History struct {
	Path    string   // the journal read
	Records []Record // every readable record, in file order
	// Corrupt lists the damaged lines; their records are lost, the others
	// are all in Records.
	Corrupt []Damage

	Header Header       // from the first Accepted record; zero if none
	Opens  []Opened     // every pilot that took the journal, in order
	States []StateEntry // state changes, in order
	Runs   []PayloadRun // payload runs, in start order
	Files  []FileEntry  // staged files, in order
	Final  *FinalReport // the last built final report; nil if none
	LastAt time.Time    // time of the last record
}

// Header describes the job.
type Header struct {
	Accepted
	Start time.Time // when the job was accepted (the record's time)
}

// StateEntry is one state change.
type StateEntry struct {
	State string
	Time  time.Time
}

// PayloadRun is one payload process.
type PayloadRun struct {
	Started   PayloadStarted
	StartedAt time.Time
	Ended     *PayloadEnded // nil while no end is recorded
	EndedAt   time.Time
}

// FileEntry is one staged file.
type FileEntry struct {
	FileStaged
	Time time.Time
}

// FinalReport is the outbox entry and its fate.
type FinalReport struct {
	ReportBuilt
	Built   time.Time
	Acked   *ReportAcked // nil until the server accepted this report
	AckedAt time.Time
}

// Damage describes one damaged line.
type Damage struct {
	Line   int   // 1-based line number
	Offset int64 // offset of the line's first byte
	Length int   // bytes, '\n' excluded
	// Tail is set when no readable record follows: the damage is the
	// journal's end (a torn or garbled last write), which loses nothing
	// that Append had acknowledged. Damage elsewhere is real data loss.
	Tail   bool
	Reason string
}

func (d Damage) String() string {
	where := "middle"
	if d.Tail {
		where = "tail"
	}
	return fmt.Sprintf("line %d (offset %d, %d bytes, %s): %s", d.Line, d.Offset, d.Length, where, d.Reason)
}

// Replay reads the journal at path. It fails only when the file cannot be
// read: damaged lines (torn, not JSON, bad checksum, bad data, longer than
// MaxRecordSize) are skipped and listed in History.Corrupt, and every
// readable record is returned. It takes no lock, so it may run beside the
// writer; it then sees a prefix of the records, possibly with a torn tail.
func Replay(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	h, err := replay(f, MaxRecordSize)
	if err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", path, err)
	}
	h.Path = path
	return h, nil
}

// replay reads records from r, lines up to max bytes, and derives the
// history.
func replay(r io.Reader, max int) (*History, error) {
	h := &History{}
	lineNo, lastGood := 0, 0
	err := scanLines(r, max, func(l line) {
		lineNo++
		var rec Record
		var derr error
		switch {
		case l.tooLong:
			derr = fmt.Errorf("longer than %d bytes", max)
		case !l.complete:
			// A torn tail is accepted when it is a whole record that only
			// lacks its '\n' (its checksum proves it complete).
			if rec, derr = decode(l.data); derr != nil {
				derr = fmt.Errorf("torn line: %v", derr)
			}
		default:
			rec, derr = decode(l.data)
		}
		if derr != nil {
			h.Corrupt = append(h.Corrupt, Damage{Line: lineNo, Offset: l.off, Length: l.n, Reason: derr.Error()})
			return
		}
		h.Records = append(h.Records, rec)
		lastGood = lineNo
	})
	if err != nil {
		return nil, err
	}
	for i := range h.Corrupt {
		h.Corrupt[i].Tail = h.Corrupt[i].Line > lastGood
	}
	h.derive()
	return h, nil
}

// derive fills the summary fields from Records.
func (h *History) derive() {
	accepted := false
	for _, rec := range h.Records {
		h.LastAt = rec.Time
		switch e := rec.Event.(type) {
		case Opened:
			h.Opens = append(h.Opens, e)
		case Accepted:
			if !accepted {
				accepted = true
				h.Header = Header{Accepted: e, Start: rec.Time}
			}
		case StateChange:
			h.States = append(h.States, StateEntry{State: e.State, Time: rec.Time})
		case PayloadStarted:
			h.Runs = append(h.Runs, PayloadRun{Started: e, StartedAt: rec.Time})
		case PayloadEnded:
			i := h.openRun(e.PID)
			if i < 0 {
				// An end without a recorded start: keep what is known.
				h.Runs = append(h.Runs, PayloadRun{Started: PayloadStarted{PID: e.PID}})
				i = len(h.Runs) - 1
			}
			end := e
			h.Runs[i].Ended, h.Runs[i].EndedAt = &end, rec.Time
		case FileStaged:
			h.Files = append(h.Files, FileEntry{FileStaged: e, Time: rec.Time})
		case ReportBuilt:
			h.Final = &FinalReport{ReportBuilt: e, Built: rec.Time}
		case ReportAcked:
			if h.Final != nil && h.Final.Acked == nil {
				ack := e
				h.Final.Acked, h.Final.AckedAt = &ack, rec.Time
			}
		}
	}
}

// openRun returns the index of the last run without an end whose PID is
// pid (any PID when pid is 0), or -1.
func (h *History) openRun(pid int) int {
	for i := len(h.Runs) - 1; i >= 0; i-- {
		if h.Runs[i].Ended == nil && (pid == 0 || h.Runs[i].Started.PID == pid) {
			return i
		}
	}
	return -1
}

// Acknowledged reports whether the last built final report was accepted by
// the server.
func (h *History) Acknowledged() bool { return h.Final != nil && h.Final.Acked != nil }

// Phase says how far a job got, from the records alone.
type Phase int

// Phases, in the order a job goes through them.
const (
	// PhaseUnknown: no Accepted record; the journal names no job.
	PhaseUnknown Phase = iota
	// PhaseSetup: accepted, no payload started, no final report: the pilot
	// stopped during setup or stage-in. A failed final report is owed.
	PhaseSetup
	// PhaseRunning: a payload run has a start and no end; it may still be
	// running (check with PayloadStarted.Alive).
	PhaseRunning
	// PhaseStageOut: the payload ended; files it owes are not all staged out
	// (Pending.Missing).
	PhaseStageOut
	// PhaseReport: nothing left to stage, but no final report was built.
	PhaseReport
	// PhaseUnacked: the final report was built and not acknowledged; it is
	// to be delivered (Pending.Report).
	PhaseUnacked
	// PhaseDone: the last built final report was acknowledged.
	PhaseDone
)

func (p Phase) String() string {
	switch p {
	case PhaseUnknown:
		return "unknown"
	case PhaseSetup:
		return "setup"
	case PhaseRunning:
		return "running"
	case PhaseStageOut:
		return "stage-out"
	case PhaseReport:
		return "report"
	case PhaseUnacked:
		return "unacknowledged"
	case PhaseDone:
		return "done"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Pending is what is unfinished in a job.
type Pending struct {
	Phase Phase
	// Run is the run without an end (PhaseRunning).
	Run *PayloadRun
	// Missing lists the LFNs owed and not staged out (PhaseStageOut): the
	// data outputs when the last run ended with exit code 0 and no signal,
	// then the log file; each LFN counts as staged once a FileStaged with
	// direction Out or Log names it.
	Missing []string
	// Report is the report to deliver (PhaseUnacked).
	Report *FinalReport
}

// Pending derives what is unfinished. The first that applies wins: the
// last built report acknowledged (PhaseDone) or not (PhaseUnacked); no
// Accepted record (PhaseUnknown); a run without an end (PhaseRunning); no
// run (PhaseSetup); files owed (PhaseStageOut); else PhaseReport.
func (h *History) Pending() Pending {
	switch {
	case h.Final != nil && h.Final.Acked != nil:
		return Pending{Phase: PhaseDone}
	case h.Final != nil:
		return Pending{Phase: PhaseUnacked, Report: h.Final}
	case h.Header.PandaID == 0:
		return Pending{Phase: PhaseUnknown}
	}
	if i := h.openRun(0); i >= 0 {
		return Pending{Phase: PhaseRunning, Run: &h.Runs[i]}
	}
	if len(h.Runs) == 0 {
		return Pending{Phase: PhaseSetup}
	}
	if missing := h.missing(); len(missing) > 0 {
		return Pending{Phase: PhaseStageOut, Missing: missing}
	}
	return Pending{Phase: PhaseReport}
}

// Phase is Pending().Phase.
func (h *History) Phase() Phase { return h.Pending().Phase }

func (h *History) missing() []string {
	staged := map[string]bool{}
	for _, f := range h.Files {
		if f.Direction == Out || f.Direction == Log {
			staged[f.LFN] = true
		}
	}
	var owed []string
	if last := h.Runs[len(h.Runs)-1].Ended; last != nil && last.ExitCode == 0 && last.Signal == 0 {
		owed = append(owed, h.Header.Outputs...)
	}
	if h.Header.LogFile != "" {
		owed = append(owed, h.Header.LogFile)
	}
	var missing []string
	for _, lfn := range owed {
		if !staged[lfn] {
			missing = append(missing, lfn)
			staged[lfn] = true // list each once
		}
	}
	return missing
}

// String describes p in one line.
func (p Pending) String() string {
	switch p.Phase {
	case PhaseRunning:
		if p.Run != nil {
			return fmt.Sprintf("payload pid %d (start ticks %d) has no recorded end; it may still be running", p.Run.Started.PID, p.Run.Started.StartTicks)
		}
	case PhaseStageOut:
		return "payload ended; not staged out: " + strings.Join(p.Missing, ", ")
	case PhaseSetup:
		return "accepted; no payload was started and no final report was built"
	case PhaseReport:
		return "payload ended and files are staged; no final report was built"
	case PhaseUnacked:
		if p.Report != nil {
			return fmt.Sprintf("final report (%s) built %s, not acknowledged", p.Report.State, p.Report.Built.Format(time.RFC3339))
		}
	case PhaseDone:
		return "final report acknowledged; nothing pending"
	case PhaseUnknown:
		return "no job was accepted in this journal"
	}
	return p.Phase.String()
}

// fields returns the report as a map (for display); nil if undecodable.
func (f *FinalReport) fields() map[string]any {
	var m map[string]any
	if json.Unmarshal(f.Report, &m) != nil {
		return nil
	}
	return m
}
