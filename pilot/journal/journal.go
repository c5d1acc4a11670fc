package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// File names inside the job directory.
const (
	FileName     = "journal.jsonl" // the journal
	LockFileName = "journal.lock"  // flock'ed by the writer; holds its Owner as JSON
)

// MaxRecordSize is the largest line, '\n' included, that Append writes and
// Replay reads; longer lines read as damaged.
const MaxRecordSize = 80 << 20

// Errors of Open and Append.
var (
	// ErrLocked is matched (errors.Is) by the *LockedError Open returns when
	// another open journal, in this or another live process, holds the lock.
	ErrLocked = errors.New("journal: locked by another writer")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("journal: closed")
	// ErrBroken is wrapped by every Append error after a failed fdatasync or
	// a failed undo of a partial write: the file's contents are no longer
	// known, so the journal accepts no more records. Replay still reads it.
	ErrBroken = errors.New("journal: broken by an earlier write error")
)

// Owner identifies the process that writes a journal. It is written into
// the lock file and into the Opened record.
type Owner struct {
	PID     int       `json:"pid"`                // set by Open to os.Getpid()
	Host    string    `json:"host,omitempty"`     // node name
	PilotID string    `json:"pilot_id,omitempty"` // e.g. the pilot's pilotID or batch id
	Since   time.Time `json:"since"`              // set by Open: when the lock was taken (UTC)
}

// LockedError reports that another writer holds the journal's lock.
// errors.Is(err, ErrLocked) is true for it.
type LockedError struct {
	Path string // the lock file
	// Holder is read from the lock file. Its PID is 0 when the holder had
	// not written it yet; after a crash of a holder and a new holder's
	// take-over there is a moment where it still names the crashed one.
	Holder Owner
}

func (e *LockedError) Error() string {
	if e.Holder.PID <= 0 {
		return fmt.Sprintf("journal: %s is locked by another process (holder unknown)", e.Path)
	}
	s := fmt.Sprintf("journal: %s is locked by pid %d", e.Path, e.Holder.PID)
	if e.Holder.Host != "" {
		s += " on " + e.Holder.Host
	}
	if e.Holder.PilotID != "" {
		s += " (pilot " + e.Holder.PilotID + ")"
	}
	if !e.Holder.Since.IsZero() {
		s += " since " + e.Holder.Since.Format(time.RFC3339)
	}
	return s
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Journal is an open journal, the only writer of its file. Its methods are
// safe for concurrent use.
type Journal struct {
	path string

	mu     sync.Mutex
	f      *os.File // journal, O_APPEND; nil after Close
	lock   *os.File // lock file, flock'ed while open
	seq    uint64   // last sequence number written
	size   int64    // file size after the last complete record
	broken error    // set when the file's state is unknown
}

// Open opens the journal of the job directory dir, creating it if needed,
// and makes the caller its only writer. dir must exist.
//
// Open takes an exclusive flock on dir/LockFileName without waiting; if any
// other open Journal holds it (in this process or another live one) Open
// returns a *LockedError naming the holder from the lock file. The lock is
// released by Close or by the end of the process, never by time.
//
// A torn last line (no '\n', so an Append that never returned nil) is cut
// off; if it holds a complete, valid record, '\n' is added instead. Damage
// elsewhere is left in place for Replay to report. Appending continues after
// the highest sequence number found. When Open creates the journal it
// fsyncs dir and dir's parent, so the file and the job directory survive a
// crash. Open then appends an Opened record with owner, PID and Since set.
func Open(dir string, owner Owner) (*Journal, error) {
	lockPath := filepath.Join(dir, LockFileName)
	lf, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := flockNB(lf); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			le := &LockedError{Path: lockPath, Holder: readHolder(lf)}
			lf.Close()
			return nil, le
		}
		lf.Close()
		return nil, fmt.Errorf("journal: flock %s: %w", lockPath, err)
	}
	owner.PID = os.Getpid()
	owner.Since = time.Now().UTC()
	if err := writeHolder(lf, owner); err != nil {
		lf.Close()
		return nil, fmt.Errorf("journal: writing %s: %w", lockPath, err)
	}

	j, truncated, err := openFile(dir, lf)
	if err != nil {
		lf.Truncate(0)
		lf.Close()
		return nil, err
	}
	if _, err := j.append(Opened{Owner: owner, TruncatedBytes: truncated}); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// openFile opens (or creates) the journal file under the held lock and
// repairs a torn tail.
func openFile(dir string, lf *os.File) (*Journal, int64, error) {
	path := filepath.Join(dir, FileName)
	created := true
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if errors.Is(err, fs.ErrExist) {
		created = false
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|unix.O_NOFOLLOW, 0o644)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %w", err)
	}
	fail := func(err error) (*Journal, int64, error) {
		f.Close()
		return nil, 0, fmt.Errorf("journal: %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !st.Mode().IsRegular() {
		return fail(errors.New("not a regular file"))
	}
	var maxSeq uint64
	var lastEnd int64    // offset after the last '\n'
	var tailValid bool   // the bytes after lastEnd are one valid record
	var tailPresent bool // there are bytes after lastEnd
	err = scanLines(io.NewSectionReader(f, 0, st.Size()), MaxRecordSize, func(l line) {
		rec, derr := decode(l.data)
		if derr == nil && !l.tooLong && rec.Seq > maxSeq {
			maxSeq = rec.Seq
		}
		if l.complete {
			lastEnd = l.off + int64(l.n) + 1
			return
		}
		tailPresent = true
		tailValid = derr == nil && !l.tooLong
	})
	if err != nil {
		return fail(err)
	}
	size := st.Size()
	var truncated int64
	switch {
	case tailPresent && tailValid:
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fail(err)
		}
		size++
	case tailPresent:
		if err := f.Truncate(lastEnd); err != nil {
			return fail(err)
		}
		truncated = size - lastEnd
		size = lastEnd
	}
	if tailPresent {
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return fail(err)
		}
	}
	if created {
		if err := syncDir(dir); err != nil {
			return fail(err)
		}
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return fail(err)
		}
	}
	return &Journal{path: path, f: f, lock: lf, seq: maxSeq, size: size}, truncated, nil
}

// Path returns the journal file's path.
func (j *Journal) Path() string { return j.path }

// Append writes e as the next record and makes it durable: when Append
// returns nil the record has been written with one write(2) and
// fdatasync(2) has succeeded, so it survives a crash of the process or of
// the node. It returns the record as written (sequence number, time, and e
// with credentials removed, see Accepted.Fields and FileStaged.URL).
//
// e must be one of the event types of this package other than Opened, and
// valid (Accepted.PandaID > 0, StateChange.State non-empty,
// PayloadStarted.PID > 0, FileStaged with a Direction and an LFN,
// ReportBuilt with a state and a JSON object). The encoded line must not
// exceed MaxRecordSize.
//
// When the write fails, the partial line is cut off again and the journal
// stays usable; if that or fdatasync fails, the error wraps ErrBroken and so
// does every later Append. After Close, Append returns ErrClosed.
func (j *Journal) Append(e Event) (Record, error) {
	if _, ok := e.(Opened); ok {
		return Record{}, errors.New("journal: Opened records are written by Open")
	}
	return j.append(e)
}

func (j *Journal) append(e Event) (Record, error) {
	if e == nil {
		return Record{}, errors.New("journal: nil event")
	}
	if err := e.validate(); err != nil {
		return Record{}, fmt.Errorf("journal: %w", err)
	}
	e = sanitize(e)

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return Record{}, ErrClosed
	}
	if j.broken != nil {
		return Record{}, j.broken
	}
	if j.seq == math.MaxUint64 {
		return Record{}, errors.New("journal: sequence numbers exhausted")
	}
	rec := Record{Seq: j.seq + 1, Time: time.Now().UTC(), Kind: e.Kind(), Event: e}
	line, err := encode(rec)
	if err != nil {
		return Record{}, fmt.Errorf("journal: encoding %s: %w", rec.Kind, err)
	}
	if len(line) > MaxRecordSize {
		return Record{}, fmt.Errorf("journal: %s record of %d bytes exceeds %d", rec.Kind, len(line), MaxRecordSize)
	}
	if _, err := j.f.Write(line); err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.broken = fmt.Errorf("%w: write: %v; undo: %v", ErrBroken, err, terr)
			return Record{}, j.broken
		}
		return Record{}, fmt.Errorf("journal: write: %w", err)
	}
	if err := unix.Fdatasync(int(j.f.Fd())); err != nil {
		j.broken = fmt.Errorf("%w: fdatasync: %v", ErrBroken, err)
		return Record{}, j.broken
	}
	j.seq = rec.Seq
	j.size += int64(len(line))
	return rec, nil
}

// Close closes the journal and releases the lock (the lock file stays, its
// contents are cleared). Records already appended stay durable. Close is
// idempotent.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	// Clear the holder while still holding the lock, so the file names no
	// one once it is released.
	if terr := j.lock.Truncate(0); err == nil {
		err = terr
	}
	if cerr := j.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

func flockNB(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

// writeHolder replaces the lock file's contents with o as one JSON line.
// The new contents are written before the old tail is cut, so a reader sees
// either the old or the new object first.
func writeHolder(f *os.File, o Owner) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(b)))
}

// readHolder reads the Owner from a lock file; zero if unreadable.
func readHolder(f *os.File) Owner {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	var o Owner
	if err := json.NewDecoder(bytes.NewReader(buf[:n])).Decode(&o); err != nil || o.PID < 0 {
		return Owner{}
	}
	return o
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
