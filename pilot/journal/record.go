package journal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"time"
)

// Kind names the type of a record's data.
type Kind string

// The record kinds. A reader keeps records of a kind it does not know
// (Record.Event is nil) and otherwise ignores them.
const (
	KindOpened         Kind = "opened"          // Opened: a pilot took the journal (written by Open)
	KindAccepted       Kind = "accepted"        // Accepted: the job was accepted
	KindState          Kind = "state"           // StateChange: the job entered a state
	KindPayloadStarted Kind = "payload_started" // PayloadStarted: a payload process was started
	KindPayloadEnded   Kind = "payload_ended"   // PayloadEnded: that process ended
	KindFileStaged     Kind = "file_staged"     // FileStaged: a file was transferred and verified
	KindReportBuilt    Kind = "report_built"    // ReportBuilt: the final update was built (outbox entry)
	KindReportAcked    Kind = "report_acked"    // ReportAcked: the server accepted the final update
)

// Event is the data of one record: one of Accepted, StateChange,
// PayloadStarted, PayloadEnded, FileStaged, ReportBuilt, ReportAcked or
// Opened (values, not pointers).
type Event interface {
	Kind() Kind
	validate() error
}

// Opened is written by Open each time a pilot takes the journal.
type Opened struct {
	Owner Owner `json:"owner"`
	// TruncatedBytes is the length of the torn last line (a write that never
	// completed, so whose Append never returned nil) that Open cut off.
	TruncatedBytes int64 `json:"truncated_bytes,omitempty"`
}

// Accepted records that the pilot accepted the job. It carries what a later
// pilot needs to rebuild the job and finish it.
type Accepted struct {
	PandaID   int64  `json:"panda_id"` // > 0
	AttemptNr int    `json:"attempt_nr"`
	Queue     string `json:"queue"`          // PanDA queue the job was taken for
	User      string `json:"user,omitempty"` // prodUserID
	WorkDir   string `json:"work_dir"`       // the job directory
	// Server is the base URL the job's updates go to.
	Server string `json:"server,omitempty"`
	// Outputs are the LFNs of the data outputs, LogFile the LFN of the log
	// tarball ("" for none). History.Pending expects them staged out.
	Outputs []string `json:"outputs,omitempty"`
	LogFile string   `json:"log_file,omitempty"`
	// Fields is the job definition exactly as received (jobdef.Job.Raw).
	// Append leaves out the credential-bearing fields "secrets" and
	// "pilotSecrets"; a missing field reads as unset.
	Fields map[string]string `json:"fields,omitempty"`
}

// StateChange records that the job entered State (starting, running,
// stagein, stageout, finished, failed, ...) at the record's time.
type StateChange struct {
	State string `json:"state"` // non-empty
}

// PayloadStarted identifies a started payload process so that a later pilot
// can tell whether it still runs (see Alive). Build it with
// NewPayloadStarted right after the process was started.
type PayloadStarted struct {
	PID  int `json:"pid"` // > 0
	Pgid int `json:"pgid,omitempty"`
	// StartTicks is the process start time in clock ticks after boot (field
	// 22 of /proc/<pid>/stat); with PID and the boot it identifies the
	// process.
	StartTicks uint64 `json:"start_ticks"`
	// BootTime is the boot time in seconds since the epoch (btime of
	// /proc/stat), BootID the kernel's boot_id ("" if unknown).
	BootTime int64  `json:"boot_time,omitempty"`
	BootID   string `json:"boot_id,omitempty"`
	// ProcessStart is BootTime + StartTicks / clock ticks per second.
	ProcessStart time.Time `json:"process_start,omitzero"`
	// Cgroup is the process's cgroup v2 path ("" if none).
	Cgroup string `json:"cgroup,omitempty"`
}

// PayloadEnded records how the payload process PID ended.
type PayloadEnded struct {
	PID         int     `json:"pid"`       // the PayloadStarted.PID it ends; 0 = the last run without an end
	ExitCode    int     `json:"exit_code"` // -1 when a signal killed it
	Signal      int     `json:"signal,omitempty"`
	CPUSeconds  float64 `json:"cpu_s"`
	WallSeconds float64 `json:"wall_s,omitempty"`
	MaxRSSBytes int64   `json:"max_rss_bytes,omitempty"`
	// Cause says why the pilot stopped it ("" when it ended on its own).
	Cause string `json:"cause,omitempty"`
}

// Direction of a staged file.
type Direction string

// Directions of FileStaged.
const (
	In  Direction = "in"  // stage-in of an input
	Out Direction = "out" // stage-out of a data output
	Log Direction = "log" // stage-out of the log tarball
)

// FileStaged records one file transferred and verified.
type FileStaged struct {
	Direction Direction `json:"direction"` // In, Out or Log
	LFN       string    `json:"lfn"`       // non-empty
	// URL is the remote URL read or written; Append removes a password in
	// it (user:xxxxx@), it must carry no other credential.
	URL      string `json:"url,omitempty"`
	Size     int64  `json:"size"`
	Checksum string `json:"checksum,omitempty"` // as jobdef.Checksum.String: "ad:<hex>", "md5:<hex>"
	Mover    string `json:"mover,omitempty"`
}

// ReportBuilt is the outbox entry: the final update exactly as it is sent.
type ReportBuilt struct {
	State string `json:"state"` // finished or failed (the report's state)
	// Report is the legacy update dictionary as a JSON object
	// (jobdef.UpdateReport.LegacyJSON). Stored compacted; decode it with
	// jobdef.FieldsFromJSON and jobdef.ParseLegacyUpdate to send it again.
	Report json.RawMessage `json:"report"`
}

// ReportAcked records that the server accepted the last built final update.
type ReportAcked struct {
	StatusCode int    `json:"status_code"`
	Command    string `json:"command,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
}

// Kind implements Event.
func (Opened) Kind() Kind { return KindOpened }

// Kind implements Event.
func (Accepted) Kind() Kind { return KindAccepted }

// Kind implements Event.
func (StateChange) Kind() Kind { return KindState }

// Kind implements Event.
func (PayloadStarted) Kind() Kind { return KindPayloadStarted }

// Kind implements Event.
func (PayloadEnded) Kind() Kind { return KindPayloadEnded }

// Kind implements Event.
func (FileStaged) Kind() Kind { return KindFileStaged }

// Kind implements Event.
func (ReportBuilt) Kind() Kind { return KindReportBuilt }

// Kind implements Event.
func (ReportAcked) Kind() Kind { return KindReportAcked }

func (Opened) validate() error { return nil }

func (e Accepted) validate() error {
	if e.PandaID <= 0 {
		return fmt.Errorf("accepted: PandaID %d is not positive", e.PandaID)
	}
	for _, o := range e.Outputs {
		if o == "" {
			return errors.New("accepted: empty output LFN")
		}
	}
	return nil
}

func (e StateChange) validate() error {
	if e.State == "" {
		return errors.New("state: empty state")
	}
	return nil
}

func (e PayloadStarted) validate() error {
	if e.PID <= 0 {
		return fmt.Errorf("payload_started: pid %d is not positive", e.PID)
	}
	return nil
}

func (e PayloadEnded) validate() error {
	if e.PID < 0 {
		return fmt.Errorf("payload_ended: pid %d is negative", e.PID)
	}
	return nil
}

func (e FileStaged) validate() error {
	switch e.Direction {
	case In, Out, Log:
	default:
		return fmt.Errorf("file_staged: direction %q is not in, out or log", e.Direction)
	}
	if e.LFN == "" {
		return errors.New("file_staged: empty LFN")
	}
	return nil
}

func (e ReportBuilt) validate() error {
	if e.State == "" {
		return errors.New("report_built: empty state")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(e.Report, &obj); err != nil || obj == nil {
		return errors.New("report_built: report is not a JSON object")
	}
	return nil
}

func (ReportAcked) validate() error { return nil }

// secretFields are the job fields that Append leaves out of Accepted.Fields.
func secretFields() []string { return []string{"secrets", "pilotSecrets"} }

// sanitize returns e as it is stored: credentials removed (see
// Accepted.Fields and FileStaged.URL), ReportBuilt.Report compacted. It
// never modifies the caller's maps or slices.
func sanitize(e Event) Event {
	switch v := e.(type) {
	case Accepted:
		if v.Fields != nil {
			m := make(map[string]string, len(v.Fields))
			for k, x := range v.Fields {
				m[k] = x
			}
			for _, k := range secretFields() {
				delete(m, k)
			}
			v.Fields = m
		}
		return v
	case ReportBuilt:
		var buf bytes.Buffer
		if json.Compact(&buf, v.Report) == nil {
			v.Report = buf.Bytes()
		}
		return v
	case FileStaged:
		if u, err := url.Parse(v.URL); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				v.URL = u.Redacted()
			}
		}
		return v
	}
	return e
}

// Record is one journal line.
type Record struct {
	Seq  uint64    // from 1, strictly increasing within a journal
	Time time.Time // when the record was appended, UTC
	Kind Kind
	// Event is the decoded data: a value of the type Kind names, or nil for
	// a kind this package does not know.
	Event Event
}

// wire is the JSON form of a record without its crc member.
type wire struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Kind Kind            `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// crcTable returns the CRC-32C table (the standard library builds it once).
func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

const (
	crcKey = `,"crc":"`
	// crcTrailerLen is len(`,"crc":"xxxxxxxx"}`).
	crcTrailerLen = len(crcKey) + 8 + 2
)

// marshal is json.Marshal without HTML escaping, so that text reads as
// written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// encode returns rec as one journal line, '\n' included.
func encode(rec Record) ([]byte, error) {
	data, err := marshal(rec.Event)
	if err != nil {
		return nil, err
	}
	b, err := marshal(wire{Seq: rec.Seq, Time: rec.Time, Kind: rec.Kind, Data: data})
	if err != nil {
		return nil, err
	}
	body := b[:len(b)-1] // without the closing '}'
	sum := crc32.Checksum(body, crcTable())
	line := make([]byte, 0, len(body)+crcTrailerLen+1)
	line = append(line, body...)
	line = append(line, crcKey...)
	line = fmt.Appendf(line, "%08x", sum)
	line = append(line, '"', '}', '\n')
	return line, nil
}

// decode parses one line (without its '\n').
func decode(line []byte) (Record, error) {
	n := len(line)
	if n == 0 {
		return Record{}, errors.New("empty line")
	}
	if n < crcTrailerLen+2 || line[0] != '{' {
		return Record{}, errors.New("not a record")
	}
	trailer := line[n-crcTrailerLen:]
	if !bytes.HasPrefix(trailer, []byte(crcKey)) || !bytes.HasSuffix(trailer, []byte(`"}`)) {
		return Record{}, errors.New("no crc member at the end")
	}
	var want [4]byte
	if _, err := hex.Decode(want[:], trailer[len(crcKey):len(crcKey)+8]); err != nil {
		return Record{}, errors.New("crc is not hexadecimal")
	}
	body := line[:n-crcTrailerLen]
	got := crc32.Checksum(body, crcTable())
	if got != uint32(want[0])<<24|uint32(want[1])<<16|uint32(want[2])<<8|uint32(want[3]) {
		return Record{}, errors.New("bad checksum")
	}
	var w wire
	if err := json.Unmarshal(line, &w); err != nil {
		return Record{}, fmt.Errorf("bad JSON: %v", err)
	}
	if w.Seq == 0 {
		return Record{}, errors.New("sequence number 0")
	}
	if w.Kind == "" {
		return Record{}, errors.New("no kind")
	}
	rec := Record{Seq: w.Seq, Time: w.Time, Kind: w.Kind}
	ev, err := decodeEvent(w.Kind, w.Data)
	if err != nil {
		return Record{}, fmt.Errorf("bad %s data: %v", w.Kind, err)
	}
	rec.Event = ev
	return rec, nil
}

// decodeEvent decodes data of kind k; nil, nil for an unknown kind.
func decodeEvent(k Kind, data json.RawMessage) (Event, error) {
	switch k {
	case KindOpened:
		return decodeAs[Opened](data)
	case KindAccepted:
		return decodeAs[Accepted](data)
	case KindState:
		return decodeAs[StateChange](data)
	case KindPayloadStarted:
		return decodeAs[PayloadStarted](data)
	case KindPayloadEnded:
		return decodeAs[PayloadEnded](data)
	case KindFileStaged:
		return decodeAs[FileStaged](data)
	case KindReportBuilt:
		return decodeAs[ReportBuilt](data)
	case KindReportAcked:
		return decodeAs[ReportAcked](data)
	}
	return nil, nil
}

func decodeAs[T Event](data json.RawMessage) (Event, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	return v, nil
}
