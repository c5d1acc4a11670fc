package pandalite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Job states kept by the store. activated -> sent is done by a getJob or
// acquire_jobs; the pilot moves a job through starting, running, holding,
// transferring to finished or failed; a job killed before dispatch becomes
// cancelled.
const (
	StateActivated    = "activated"
	StateSent         = "sent"
	StateStarting     = "starting"
	StateRunning      = "running"
	StateHolding      = "holding"
	StateTransferring = "transferring"
	StateFinished     = "finished"
	StateFailed       = "failed"
	StateCancelled    = "cancelled"
)

// IsFinal reports whether a job in state st takes no more updates.
func IsFinal(st string) bool {
	return st == StateFinished || st == StateFailed || st == StateCancelled
}

// validUpdateStates are the states a pilot may report (PROTOCOL.md §3.4).
var validUpdateStates = map[string]bool{
	StateStarting: true, StateRunning: true, StateHolding: true,
	StateTransferring: true, StateFinished: true, StateFailed: true,
}

// ErrNotFound is returned for an unknown PandaID.
var ErrNotFound = errors.New("no such job")

// timeLayout is how times are stored (UTC, sortable text).
const timeLayout = "2006-01-02T15:04:05.000000Z"

const schema = `
CREATE TABLE IF NOT EXISTS jobs (
	pandaid            INTEGER PRIMARY KEY,
	attempt_nr         INTEGER NOT NULL,
	state              TEXT    NOT NULL,
	site               TEXT    NOT NULL,
	job_name           TEXT    NOT NULL DEFAULT '',
	prod_source_label  TEXT    NOT NULL DEFAULT '',
	processing_type    TEXT    NOT NULL DEFAULT '',
	task_id            INTEGER NOT NULL DEFAULT 0,
	resource_type      TEXT    NOT NULL DEFAULT '',
	prod_user_id       TEXT    NOT NULL DEFAULT '',
	max_disk           INTEGER NOT NULL DEFAULT 0,
	min_ram            INTEGER NOT NULL DEFAULT 0,
	max_walltime       INTEGER NOT NULL DEFAULT 0,
	priority           INTEGER NOT NULL DEFAULT 0,
	fields             TEXT    NOT NULL,
	n_sent             INTEGER NOT NULL DEFAULT 0,
	command            TEXT    NOT NULL DEFAULT '',
	debug              INTEGER NOT NULL DEFAULT 0,
	debug_off_pending  INTEGER NOT NULL DEFAULT 0,
	node               TEXT    NOT NULL DEFAULT '',
	batch_id           TEXT    NOT NULL DEFAULT '',
	pilot_id           TEXT    NOT NULL DEFAULT '',
	pilot_error_code   INTEGER NOT NULL DEFAULT 0,
	pilot_error_diag   TEXT    NOT NULL DEFAULT '',
	trans_exit_code    INTEGER NOT NULL DEFAULT 0,
	exe_error_code     INTEGER NOT NULL DEFAULT 0,
	exe_error_diag     TEXT    NOT NULL DEFAULT '',
	server_error_diag  TEXT    NOT NULL DEFAULT '',
	n_updates          INTEGER NOT NULL DEFAULT 0,
	created            TEXT    NOT NULL,
	modified           TEXT    NOT NULL,
	dispatched         TEXT    NOT NULL DEFAULT '',
	last_update        TEXT    NOT NULL DEFAULT '',
	ended              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_dispatch ON jobs (site, state, priority DESC, pandaid);
CREATE TABLE IF NOT EXISTS updates (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	pandaid     INTEGER,
	time        TEXT    NOT NULL,
	api         TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	attempt_nr  INTEGER,
	outcome     TEXT    NOT NULL,
	status_code INTEGER NOT NULL,
	command     TEXT    NOT NULL,
	fields      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_job ON updates (pandaid, id);
CREATE TABLE IF NOT EXISTS files (
	pandaid   INTEGER NOT NULL,
	lfn       TEXT    NOT NULL,
	guid      TEXT    NOT NULL,
	fsize     INTEGER NOT NULL,
	checksum  TEXT    NOT NULL,
	surl      TEXT    NOT NULL,
	endpoint  TEXT    NOT NULL,
	kind      TEXT    NOT NULL,
	time      TEXT    NOT NULL,
	PRIMARY KEY (pandaid, lfn)
);
CREATE TABLE IF NOT EXISTS requests (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	time      TEXT    NOT NULL,
	api       TEXT    NOT NULL,
	method    TEXT    NOT NULL,
	site      TEXT    NOT NULL,
	node      TEXT    NOT NULL,
	remote    TEXT    NOT NULL,
	dn        TEXT    NOT NULL,
	pandaids  TEXT    NOT NULL,
	fields    TEXT    NOT NULL
);
`

// Store keeps jobs, their update history, registered output files and the
// job requests in one SQLite database (WAL mode). A Store is safe for
// concurrent use, also by several processes on the same file.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// Open opens (creating if needed) the job database at path. Every
// transaction takes the write lock at BEGIN (BEGIN IMMEDIATE), and a
// connection waits up to 30 s for a lock held by another one.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("pandalite: empty database path")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("pandalite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pandalite: create schema in %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) stamp() string { return s.now().UTC().Format(timeLayout) }

func parseStamp(v string) time.Time {
	t, _ := time.Parse(timeLayout, v)
	return t
}

// withTx runs fn in one write transaction.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("pandalite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("pandalite: commit: %w", err)
	}
	return nil
}

// isUnset reports whether a string-form field value means "not set".
func isUnset(v string) bool {
	switch strings.TrimSpace(v) {
	case "", "NULL", "None", "null":
		return true
	}
	return false
}

// lenientInt parses an integer the way the server's int(float(x)) does;
// unset or malformed values give 0, ok=false.
func lenientInt(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if isUnset(v) {
		return 0, false
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f || f > 9e18 || f < -9e18 {
		return 0, false
	}
	return int64(f), true
}
