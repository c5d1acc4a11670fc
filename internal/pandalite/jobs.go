package pandalite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// FirstPandaID is the PandaID given to the first job of an empty store
// when the job does not bring its own.
const FirstPandaID = 1000001

// JobInfo is one job as the store sees it.
type JobInfo struct {
	PandaID         int64
	AttemptNr       int
	State           string
	Site            string
	JobName         string
	ProdSourceLabel string
	TaskID          int64
	NSent           int
	Command         string // pending command for the pilot ("tobekilled" or "")
	Debug           bool
	Node            string
	BatchID         string
	PilotID         string
	PilotErrorCode  int
	PilotErrorDiag  string
	TransExitCode   int
	ExeErrorCode    int
	ExeErrorDiag    string
	ServerErrorDiag string // why the server itself failed the job (e.g. a rejected output report)
	NUpdates        int
	Created         time.Time
	Modified        time.Time
	Dispatched      time.Time // zero until sent
	LastUpdate      time.Time // zero until the first update
	Ended           time.Time // zero until final
	Fields          Object    // the job definition as submitted (plus PandaID/attemptNr)
}

// ObjectFromMap converts a Go map (values of any JSON-marshalable type) to
// an Object with sorted keys.
func ObjectFromMap(m map[string]any) (Object, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return ParseObject(b)
}

// ParseJobs reads job definitions from a job file: one job object (getJob
// field names, native JSON types or strings), a JSON array of them, a
// Harvester-style {"<PandaID>": {...}, ...} object (the key becomes the
// PandaID when the job has none), or a one-line urlencoded getJob answer.
// A StatusCode field is dropped.
func ParseJobs(data []byte) ([]Object, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty job file")
	}
	if len(trimmed) > MaxBodySize {
		return nil, fmt.Errorf("job file larger than %d bytes", MaxBodySize)
	}
	var jobs []Object
	switch trimmed[0] {
	case '[':
		v, err := parseValue(trimmed)
		if err != nil {
			return nil, fmt.Errorf("job file: %w", err)
		}
		for i, e := range v.([]any) {
			o, ok := e.(Object)
			if !ok {
				return nil, fmt.Errorf("job file: element %d is %s, not a job object", i, pyTypeName(e))
			}
			jobs = append(jobs, o)
		}
	case '{':
		o, err := ParseObject(trimmed)
		if err != nil {
			return nil, fmt.Errorf("job file: %w", err)
		}
		if isHarvesterFile(o) {
			for _, f := range o {
				job := f.Value.(Object)
				if v, ok := job.Get("PandaID"); !ok || isUnset(pyStr(v)) {
					id, _ := strconv.ParseInt(f.Key, 10, 64)
					job = append(Object{{"PandaID", id}}, job...)
				}
				jobs = append(jobs, job)
			}
		} else {
			jobs = append(jobs, o)
		}
	default:
		if !strings.Contains(string(trimmed), "=") {
			return nil, errors.New("job file is neither JSON nor a urlencoded job")
		}
		o := Object{}
		for _, pair := range strings.Split(string(trimmed), "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			o.Set(unquotePlus(k), unquotePlus(v))
		}
		jobs = append(jobs, o)
	}
	if len(jobs) == 0 {
		return nil, errors.New("job file holds no job")
	}
	for i := range jobs {
		jobs[i].Delete("StatusCode")
	}
	return jobs, nil
}

// isHarvesterFile reports whether o is {"<digits>": {job}, ...}.
func isHarvesterFile(o Object) bool {
	if len(o) == 0 {
		return false
	}
	for _, f := range o {
		if f.Key == "" || strings.Trim(f.Key, "0123456789") != "" {
			return false
		}
		if _, ok := f.Value.(Object); !ok {
			return false
		}
	}
	return true
}

// fieldInt returns key's value as an integer (unset or malformed -> 0).
func fieldInt(o Object, key string) (int64, bool) {
	return lenientInt(o.Str(key))
}

// fieldStr returns key's value in str() form, "" when unset.
func fieldStr(o Object, key string) string {
	v := o.Str(key)
	if isUnset(v) {
		return ""
	}
	return v
}

// Submit stores jobs as activated, ready to be handed out, and returns
// their PandaIDs in order. All jobs are stored or none.
//
// For each job: StatusCode is dropped; a missing PandaID is assigned (the
// next after the largest known one, at least FirstPandaID) and placed
// first; a missing attemptNr becomes 1; the job's site is its
// computingSite field, else its siteName field, else site. The job must
// pass jobdef.JobFromFields (the error names the field). A PandaID already
// in the store is refused. The fields are kept as given and served back
// unchanged, except PandaID, attemptNr and nSent which the server sets.
func (s *Store) Submit(ctx context.Context, site string, jobs ...Object) ([]int64, error) {
	return s.submit(ctx, site, true, jobs)
}

// SubmitUnchecked is Submit without the jobdef validation of the job
// fields: it stores what a broken or hostile server could hand out, so
// that pilots can be tested against it. PandaID, attemptNr and the site
// are still required.
func (s *Store) SubmitUnchecked(ctx context.Context, site string, jobs ...Object) ([]int64, error) {
	return s.submit(ctx, site, false, jobs)
}

func (s *Store) submit(ctx context.Context, site string, check bool, jobs []Object) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	var ids []int64
	err := s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		ids = make([]int64, 0, len(jobs))
		var maxID sql.NullInt64
		if err := s.st.maxPandaID.QueryRowContext(ctx).Scan(&maxID); err != nil {
			return fmt.Errorf("pandalite: submit: %w", err)
		}
		next := int64(FirstPandaID)
		if maxID.Valid && maxID.Int64 >= next {
			next = maxID.Int64 + 1
		}
		for _, job := range jobs {
			if id, ok := fieldInt(job, "PandaID"); ok && id >= next {
				next = id + 1
			}
		}
		now := s.stamp()
		ins := s.st.insertJob
		seen := map[int64]bool{}
		for i, in := range jobs {
			job := append(Object(nil), in...)
			job.Delete("StatusCode")
			name := fmt.Sprintf("job %d", i+1)
			var id int64
			if v, ok := job.Get("PandaID"); ok && !isUnset(pyStr(v)) {
				n, err := strconv.ParseInt(strings.TrimSpace(pyStr(v)), 10, 64)
				if err != nil || n <= 0 {
					return fmt.Errorf("%s: field PandaID: %q is not a positive integer", name, pyStr(v))
				}
				id = n
			} else {
				id = next
				next++
				job.Delete("PandaID")
				job = append(Object{{"PandaID", id}}, job...)
			}
			name = fmt.Sprintf("job %d (PandaID %d)", i+1, id)
			if seen[id] {
				return fmt.Errorf("%s: PandaID given twice", name)
			}
			seen[id] = true
			attempt := int64(1)
			if v, ok := job.Get("attemptNr"); ok && !isUnset(pyStr(v)) {
				n, err := strconv.ParseInt(strings.TrimSpace(pyStr(v)), 10, 64)
				if err != nil || n < 0 {
					return fmt.Errorf("%s: field attemptNr: %q is not a non-negative integer", name, pyStr(v))
				}
				attempt = n
			} else {
				job.Set("attemptNr", 1)
			}
			jobSite := fieldStr(job, "computingSite")
			if jobSite == "" {
				jobSite = fieldStr(job, "siteName")
			}
			if jobSite == "" {
				jobSite = site
			}
			if jobSite == "" {
				return fmt.Errorf("%s: no site: the job has no computingSite and no site was given", name)
			}
			if check {
				if _, err := jobdef.JobFromFields(job.Strings()); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			taskID, _ := fieldInt(job, "taskID")
			if taskID == 0 {
				taskID, _ = fieldInt(job, "jediTaskID")
			}
			maxDisk, _ := fieldInt(job, "maxDiskCount")
			minRAM, _ := fieldInt(job, "minRamCount")
			maxWall, _ := fieldInt(job, "maxWalltime")
			prio, _ := fieldInt(job, "currentPriority")
			_, err := ins.ExecContext(ctx,
				id, attempt, StateActivated, jobSite, fieldStr(job, "jobName"),
				fieldStr(job, "prodSourceLabel"), fieldStr(job, "processingType"), taskID,
				fieldStr(job, "resource_type"), fieldStr(job, "prodUserID"), maxDisk, minRAM, maxWall, prio,
				string(EncodeJSON(job)), boolInt(fieldStr(job, "debug") == "True"), now, now)
			if err != nil {
				if strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "PRIMARY KEY") {
					return fmt.Errorf("%s: PandaID %d already exists", name, id)
				}
				return fmt.Errorf("pandalite: submit %s: %w", name, err)
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// SubmitFile parses data with ParseJobs and submits the jobs.
func (s *Store) SubmitFile(ctx context.Context, site string, data []byte) ([]int64, error) {
	jobs, err := ParseJobs(data)
	if err != nil {
		return nil, err
	}
	return s.Submit(ctx, site, jobs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const jobColumns = `pandaid, attempt_nr, state, site, job_name, prod_source_label, task_id, n_sent,
	command, debug, node, batch_id, pilot_id, pilot_error_code, pilot_error_diag, trans_exit_code,
	exe_error_code, exe_error_diag, server_error_diag, n_updates, created, modified, dispatched,
	last_update, ended, fields`

type scanner interface{ Scan(dest ...any) error }

func scanJob(sc scanner) (JobInfo, error) {
	var j JobInfo
	var debug int
	var created, modified, dispatched, lastUpdate, ended, fields string
	err := sc.Scan(&j.PandaID, &j.AttemptNr, &j.State, &j.Site, &j.JobName, &j.ProdSourceLabel,
		&j.TaskID, &j.NSent, &j.Command, &debug, &j.Node, &j.BatchID, &j.PilotID, &j.PilotErrorCode,
		&j.PilotErrorDiag, &j.TransExitCode, &j.ExeErrorCode, &j.ExeErrorDiag, &j.ServerErrorDiag,
		&j.NUpdates, &created, &modified, &dispatched, &lastUpdate, &ended, &fields)
	if err != nil {
		return j, err
	}
	j.Debug = debug != 0
	j.Created, j.Modified = parseStamp(created), parseStamp(modified)
	j.Dispatched, j.LastUpdate, j.Ended = parseStamp(dispatched), parseStamp(lastUpdate), parseStamp(ended)
	j.Fields, err = ParseObject([]byte(fields))
	if err != nil {
		return j, fmt.Errorf("pandalite: job %d: stored fields: %w", j.PandaID, err)
	}
	return j, nil
}

// Jobs lists all jobs by PandaID.
func (s *Store) Jobs(ctx context.Context) ([]JobInfo, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs ORDER BY pandaid`)
	if err != nil {
		return nil, fmt.Errorf("pandalite: list jobs: %w", err)
	}
	defer rows.Close()
	var out []JobInfo
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Job returns one job, or an error wrapping ErrNotFound.
func (s *Store) Job(ctx context.Context, pandaID int64) (JobInfo, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE pandaid = ?`, pandaID))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("pandalite: job %d: %w", pandaID, ErrNotFound)
	}
	return j, err
}

// Kill asks for a job to be killed and returns its state afterwards. A
// job not yet handed out is cancelled at once; a job held by a pilot gets
// the command "tobekilled", which its next update receives (the pilot then
// fails the job, normally with 1144, and reports it). A job already in a
// final state is left alone and an error is returned.
func (s *Store) Kill(ctx context.Context, pandaID int64) (string, error) {
	var state string
	err := s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		if err := c.QueryRowContext(ctx, `SELECT state FROM jobs WHERE pandaid = ?`, pandaID).Scan(&state); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("pandalite: kill %d: %w", pandaID, ErrNotFound)
			}
			return fmt.Errorf("pandalite: kill %d: %w", pandaID, err)
		}
		if IsFinal(state) {
			return fmt.Errorf("pandalite: kill %d: job is already %s", pandaID, state)
		}
		now := s.stamp()
		if state == StateActivated {
			state = StateCancelled
			_, err := c.ExecContext(ctx, `UPDATE jobs SET state = ?, command = 'tobekilled',
				server_error_diag = 'killed before dispatch', modified = ?, ended = ? WHERE pandaid = ?`,
				state, now, now, pandaID)
			return err
		}
		_, err := c.ExecContext(ctx, `UPDATE jobs SET command = 'tobekilled', modified = ? WHERE pandaid = ?`, now, pandaID)
		return err
	})
	return state, err
}

// SetDebug switches a job's debug mode. While on, every update answer
// carries the command "debug" (and a job handed out afterwards has
// debug=True); switching it off makes the next answer carry "debugoff".
func (s *Store) SetDebug(ctx context.Context, pandaID int64, on bool) error {
	return s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		var state string
		var debug int
		err := c.QueryRowContext(ctx, `SELECT state, debug FROM jobs WHERE pandaid = ?`, pandaID).Scan(&state, &debug)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("pandalite: debug %d: %w", pandaID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("pandalite: debug %d: %w", pandaID, err)
		}
		if IsFinal(state) {
			return fmt.Errorf("pandalite: debug %d: job is already %s", pandaID, state)
		}
		offPending := debug != 0 && !on
		_, err = c.ExecContext(ctx, `UPDATE jobs SET debug = ?, debug_off_pending = ?, modified = ? WHERE pandaid = ?`,
			boolInt(on), boolInt(offPending), s.stamp(), pandaID)
		return err
	})
}
