package pandalite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
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

// schema creates the tables, or brings an older database up to date.
// jobs_ready indexes only the jobs waiting for dispatch, so that updates
// of jobs already handed out do not touch it (older databases had an index
// over all states, jobs_dispatch). The ids of updates and requests grow
// with each row (rows are never deleted), without AUTOINCREMENT's extra
// bookkeeping write.
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
DROP INDEX IF EXISTS jobs_dispatch;
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (site, priority DESC, pandaid) WHERE state = 'activated';
CREATE TABLE IF NOT EXISTS updates (
	id          INTEGER PRIMARY KEY,
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
	id        INTEGER PRIMARY KEY,
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
//
// Within one Store every write goes through a single goroutine owning a
// single connection (see withTx) with prepared statements; reads use a
// pool of read-only connections, which WAL lets run beside the writer.
type Store struct {
	w, r *sql.DB
	wc   *sql.Conn // the writer connection, held for the Store's life
	st   *statements
	now  func() time.Time

	ops        chan *writeOp
	quit       chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// readConns is the size of the read connection pool.
const readConns = 4

// Open opens (creating if needed) the job database at path. Every write
// transaction takes the write lock at BEGIN (BEGIN IMMEDIATE), and a
// connection waits up to 30 s for a lock held by another process.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("pandalite: empty database path")
	}
	dsn := func(readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(30000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		if readOnly {
			q.Add("_pragma", "query_only(1)")
		} else {
			// The only writer's page cache stays valid between its
			// transactions: let it hold a large database.
			q.Add("_pragma", "cache_size(-32768)")
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("pandalite: open %s: %w", path, err)
	}
	// One connection: the write path is serial by construction.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	wc, err := w.Conn(ctx)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("pandalite: open %s: %w", path, err)
	}
	fail := func(err error) (*Store, error) {
		_ = wc.Close()
		_ = w.Close()
		return nil, err
	}
	if _, err := wc.ExecContext(ctx, schema); err != nil {
		return fail(fmt.Errorf("pandalite: create schema in %s: %w", path, err))
	}
	st, err := prepareStatements(ctx, wc)
	if err != nil {
		return fail(fmt.Errorf("pandalite: %s: %w", path, err))
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		_ = st.close()
		return fail(fmt.Errorf("pandalite: open %s: %w", path, err))
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	s := &Store{
		w: w, r: r, wc: wc, st: st, now: time.Now,
		ops: make(chan *writeOp), quit: make(chan struct{}), writerDone: make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// Close stops the write path (writes in progress finish first; later
// ones fail with ErrClosed) and closes the database. Calling it again
// returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.writerDone
		s.closeErr = errors.Join(s.st.close(), s.wc.Close(), s.w.Close(), s.r.Close())
	})
	return s.closeErr
}

func (s *Store) stamp() string { return s.now().UTC().Format(timeLayout) }

func parseStamp(v string) time.Time {
	t, _ := time.Parse(timeLayout, v)
	return t
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
