package harvester

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// TimestampLayout is the form of the timestamp in worker_attributes.json
// (Pilot 3's time_stamp(): local time with the UTC offset).
const TimestampLayout = "2006-01-02T15:04:05-07:00"

// Forwarder sends updates to the PanDA server (a *server.Client).
type Forwarder interface {
	UpdateJob(ctx context.Context, rep *jobdef.UpdateReport) (*server.Reply, error)
}

// JobLookup finds a job the pilot runs by PandaID (a *Source); nil when
// unknown.
type JobLookup interface {
	Job(pandaID int64) *jobdef.Job
}

// Reporter writes the files Harvester reads instead of job updates; it
// implements the pilot's Reporter. At every update it writes
// worker_attributes.json; at the final update (rep.Final), before that, it
// writes event_status.dump.json when a transferred file is found and
// Dir/jobReport.json when the update carries the payload's job report
// (metaData). With Server set the update is then also sent to the server,
// and the server's answer is returned; otherwise the answer is an empty
// acknowledgement. A file that cannot be written is an error (the pilot
// retries a final update).
type Reporter struct {
	// Dir is the access point (--harvester-workdir, else the pilot's work
	// directory): the jobReport.json copy goes there.
	Dir string
	// WorkerAttributes is the worker attributes file; "" means
	// Dir/worker_attributes.json.
	WorkerAttributes string
	// EventStatus is the event status dump; "" means
	// Dir/event_status.dump.json. The files it lists are looked for in the
	// tree under its directory.
	EventStatus string
	// Jobs tells a job's log file from its outputs; nil (or an unknown job)
	// falls back to the name (see BuildEventStatus).
	Jobs JobLookup
	// Server, when set, also receives every update.
	Server Forwarder
	// Log receives the reporter's messages; nil discards them.
	Log logrus.FieldLogger
	// Now is the clock for the timestamp; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
}

func (w *Reporter) log() logrus.FieldLogger {
	if w.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		return l
	}
	return w.Log
}

func (w *Reporter) attrPath() string {
	if w.WorkerAttributes != "" {
		return w.WorkerAttributes
	}
	return filepath.Join(w.Dir, WorkerAttributesFile)
}

func (w *Reporter) eventPath() string {
	if w.EventStatus != "" {
		return w.EventStatus
	}
	return filepath.Join(w.Dir, EventStatusFile)
}

// UpdateJob writes the Harvester files for rep (see Reporter).
func (w *Reporter) UpdateJob(ctx context.Context, rep *jobdef.UpdateReport) (*server.Reply, error) {
	if err := w.write(rep); err != nil {
		return nil, err
	}
	if w.Server != nil {
		return w.Server.UpdateJob(ctx, rep)
	}
	return &server.Reply{}, nil
}

func (w *Reporter) write(rep *jobdef.UpdateReport) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	lg := w.log().WithFields(logrus.Fields{"pandaid": rep.JobID, "state": rep.State})
	// The stage-out list and the job report go first: when Harvester sees
	// the final jobStatus, they are in place.
	if rep.Final {
		if rep.MetaData != nil && strings.TrimSpace(*rep.MetaData) != "" {
			b, err := ShrinkJobReport([]byte(*rep.MetaData))
			if err != nil {
				lg.WithError(err).Warn("the payload's job report is not copied for Harvester")
			} else if err := WriteFileAtomic(filepath.Join(w.Dir, JobReportFile), b); err != nil {
				return fmt.Errorf("job report for Harvester: %w", err)
			}
		}
		var logLFN string
		if w.Jobs != nil {
			if j := w.Jobs.Job(rep.JobID); j != nil {
				logLFN = j.LogFile
			}
		}
		ep := w.eventPath()
		es, missing, err := BuildEventStatus(rep, logLFN, filepath.Dir(ep))
		if err != nil {
			lg.WithError(err).Warn("the output report is unreadable; no files are declared to Harvester")
		}
		for _, m := range missing {
			lg.WithField("lfn", m).Warn("transferred file not found under the access point; not declared to Harvester")
		}
		if len(es) > 0 {
			b, err := json.MarshalIndent(es, "", "  ")
			if err != nil {
				return err
			}
			if err := WriteFileAtomic(ep, append(b, '\n')); err != nil {
				return fmt.Errorf("event status for Harvester: %w", err)
			}
			lg.WithFields(logrus.Fields{"file": ep, "files": len(es[strconv.FormatInt(rep.JobID, 10)])}).Info("declared the job's files to Harvester")
		}
	}
	b, err := WorkerAttributes(rep, now)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(w.attrPath(), b); err != nil {
		return fmt.Errorf("worker attributes for Harvester: %w", err)
	}
	return nil
}

// WorkerAttributes renders worker_attributes.json for rep: the legacy
// updateJob dictionary (rep.LegacyJSON(), floats as Python writes them)
// without xml, inputfiles and outputfiles, plus jobStatus (the state) and
// timestamp (now, TimestampLayout); keys sorted, indented.
func WorkerAttributes(rep *jobdef.UpdateReport, now time.Time) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rep.LegacyJSON(), &m); err != nil {
		return nil, fmt.Errorf("worker attributes: %w", err)
	}
	for _, k := range []string{"xml", "inputfiles", "outputfiles"} {
		delete(m, k)
	}
	st, _ := json.Marshal(rep.State)
	ts, _ := json.Marshal(now.Format(TimestampLayout))
	m["jobStatus"] = st
	m["timestamp"] = ts
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("worker attributes: %w", err)
	}
	return append(b, '\n'), nil
}

// EventStatusEntry is one file Harvester is to stage out
// (event_status.dump.json; Harvester's SharedFileMessenger reads path,
// type, guid, fsize and chksum).
type EventStatusEntry struct {
	Type   string `json:"type"` // "log" or "output"
	Path   string `json:"path"` // absolute path
	GUID   string `json:"guid"`
	FSize  int64  `json:"fsize"`
	Chksum string `json:"chksum"` // adler32 (8 hex digits), else md5
}

// BuildEventStatus returns the event status dump of a final update:
// {"<PandaID>": [entries]} with the log first, then the outputs in LFN
// order, for every file of the output report (rep.XML, i.e. every
// transferred file) found by FindFile under searchDir, by LFN and then by
// the base name of its SURL. missing lists the LFNs not found. The log is
// the file named logLFN; with logLFN "" it is the file whose name looks
// like a log tarball (starts with "log.", or holds ".log.tgz" or
// ".log.tar.gz"). The result is empty when no file was found.
func BuildEventStatus(rep *jobdef.UpdateReport, logLFN, searchDir string) (es map[string][]EventStatusEntry, missing []string, err error) {
	or, err := jobdef.ParseOutputReport(rep.XML)
	if err != nil {
		return nil, nil, err
	}
	lfns := make([]string, 0, len(or))
	for lfn := range or {
		lfns = append(lfns, lfn)
	}
	isLog := func(lfn string) bool {
		if logLFN != "" {
			return lfn == logLFN
		}
		return looksLikeLog(lfn)
	}
	sort.Slice(lfns, func(i, j int) bool {
		li, lj := isLog(lfns[i]), isLog(lfns[j])
		if li != lj {
			return li
		}
		return lfns[i] < lfns[j]
	})
	var entries []EventStatusEntry
	for _, lfn := range lfns {
		e := or[lfn]
		p := FindFile(searchDir, lfn)
		if p == "" {
			if base := surlBase(e.SURL); base != "" && base != lfn {
				p = FindFile(searchDir, base)
			}
		}
		if p == "" {
			missing = append(missing, lfn)
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		typ := "output"
		if isLog(lfn) {
			typ = "log"
		}
		ck := e.Adler32
		if ck == "" {
			ck = e.MD5Sum
		}
		entries = append(entries, EventStatusEntry{Type: typ, Path: p, GUID: e.GUID, FSize: e.FSize, Chksum: ck})
	}
	if len(entries) == 0 {
		return nil, missing, nil
	}
	return map[string][]EventStatusEntry{strconv.FormatInt(rep.JobID, 10): entries}, missing, nil
}

// looksLikeLog tells a log tarball by its name: it starts with "log." or
// holds ".log.tgz" or ".log.tar.gz" (ATLAS: log.<task>._<n>.job.log.tgz.1).
func looksLikeLog(lfn string) bool {
	return strings.HasPrefix(lfn, "log.") || strings.Contains(lfn, ".log.tgz") || strings.Contains(lfn, ".log.tar.gz")
}

// surlBase is the last path element of a SURL (without query), "" when none.
func surlBase(surl string) string {
	if i := strings.IndexAny(surl, "?#"); i >= 0 {
		surl = surl[:i]
	}
	b := path.Base(surl)
	if b == "." || b == "/" || b == ".." || !strings.Contains(surl, "/") {
		return ""
	}
	return b
}

// ShrinkJobReport returns the payload job report as Pilot 3 copies it for
// Harvester: the same JSON object with every executor[].logfileReport
// replaced by {} (numbers kept exactly; keys sorted, indented). Input that
// is over jobdef.MaxBodySize, not UTF-8 or not a JSON object is an error.
func ShrinkJobReport(data []byte) ([]byte, error) {
	if len(data) > jobdef.MaxBodySize {
		return nil, fmt.Errorf("job report of %d bytes exceeds the limit of %d bytes", len(data), jobdef.MaxBodySize)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("job report is not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("job report is not a JSON object: %v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("job report has data after its JSON object")
	}
	if ex, ok := m["executor"].([]any); ok {
		for _, e := range ex {
			if em, ok := e.(map[string]any); ok {
				if _, has := em["logfileReport"]; has {
					em["logfileReport"] = map[string]any{}
				}
			}
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("job report: %w", err)
	}
	return append(b, '\n'), nil
}
