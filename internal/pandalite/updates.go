package pandalite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gopilot/gopilot/jobdef"
)

// Update is a normalised updateJob / update_job call. Values use the
// legacy (camelCase) meaning; unset numbers are nil.
type Update struct {
	API            string // "legacy" or "v1"
	JobID          int64  // PandaID; ignored when Null
	Null           bool   // jobId was "NULL": a no-op
	Malformed      string // why the call could not be understood ("" = fine)
	State          string
	AttemptNr      *int64 // nil when not sent
	Node           string
	BatchID        string
	PilotID        string
	PilotErrorCode *int64
	PilotErrorDiag *string
	TransExitCode  *int64
	ExeErrorCode   *int64
	ExeErrorDiag   *string
	XML            string // job output report (JSON despite the name)
	Raw            Object // the call's arguments as received
}

// Outcome says how the store treated an update.
type Outcome string

// Outcomes of an update.
const (
	OutcomeNull         Outcome = "null"         // jobId NULL: nothing done
	OutcomeMalformed    Outcome = "malformed"    // not understood (e.g. no jobId): StatusCode 30
	OutcomeInvalidState Outcome = "invalidstate" // state not valid: ignored
	OutcomeUnknownJob   Outcome = "unknownjob"   // no such PandaID: tobekilled
	OutcomeBadAttempt   Outcome = "badattemptnr" // attemptNr mismatch: tobekilled
	OutcomeAlreadyDone  Outcome = "alreadydone"  // job already final: nothing changed
	OutcomeUpdated      Outcome = "updated"      // job updated
)

// UpdateResult is the store's answer to an update.
type UpdateResult struct {
	Outcome Outcome
	// Command for the pilot: "NULL", "tobekilled", "alreadydone", "debug",
	// "debugoff" or a comma-separated combination; "" when the answer
	// carries no command (Null, InvalidState).
	Command string
	// State is the job's state after the update ("" for an unknown job).
	State string
}

// diag limits as the server applies them.
const (
	maxDiag     = 500
	maxNodeName = 128
	maxBatchID  = 80
	maxPilotID  = 200
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// ApplyUpdate records u in the update history and applies it to its job:
//
//   - jobId NULL: nothing else (OutcomeNull);
//   - a state other than starting, running, holding, transferring,
//     finished, failed: ignored (OutcomeInvalidState);
//   - unknown PandaID, or an attemptNr different from the job's: command
//     "tobekilled", the job is not changed;
//   - a job already finished/failed/cancelled: command "alreadydone",
//     nothing changed;
//   - otherwise the job takes the new state, node, batchID; a final update
//     (finished/failed) also stores the error fields and registers each
//     file of the output report once. A report that cannot be parsed, or
//     whose entry lacks a checksum, makes the job failed with
//     ServerErrorDiag saying why (the real server fails it with a DDM
//     error). The command is the job's pending command (NULL if none).
//
// Negative error codes are stored as their absolute value, diagnostics
// are cut to 500 bytes.
func (s *Store) ApplyUpdate(ctx context.Context, u Update) (UpdateResult, error) {
	var pandaID any = u.JobID
	if u.Null || u.Malformed != "" {
		pandaID = nil
	}
	var attempt any
	if u.AttemptNr != nil {
		attempt = *u.AttemptNr
	}
	raw := u.Raw
	if raw == nil {
		raw = Object{}
	}
	rawJSON := string(EncodeJSON(raw))
	var files []reportFile
	var diag string
	if u.State == StateFinished || u.State == StateFailed {
		files, diag = checkReport(u.XML)
	}
	var res UpdateResult
	err := s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		var err error
		now := s.stamp()
		res, err = s.applyUpdate(ctx, c, now, u, files, diag)
		if err != nil {
			return err
		}
		statusCode := SCSuccess
		if res.Outcome == OutcomeMalformed {
			statusCode = SCFailed
		}
		_, err = s.st.insertUpdate.ExecContext(ctx,
			pandaID, now, u.API, u.State, attempt, string(res.Outcome), statusCode, res.Command, rawJSON)
		if err != nil {
			return fmt.Errorf("pandalite: record update: %w", err)
		}
		return nil
	})
	return res, err
}

// applyUpdate applies u (see ApplyUpdate); files and diag are its output
// report as checkReport found it (final updates only).
func (s *Store) applyUpdate(ctx context.Context, c *sql.Conn, now string, u Update, files []reportFile, diag string) (UpdateResult, error) {
	if u.Malformed != "" {
		return UpdateResult{Outcome: OutcomeMalformed}, nil
	}
	if u.Null {
		return UpdateResult{Outcome: OutcomeNull}, nil
	}
	if !validUpdateStates[u.State] {
		return UpdateResult{Outcome: OutcomeInvalidState}, nil
	}

	newState := u.State
	final := u.State == StateFinished || u.State == StateFailed
	// nil keeps the column as it is.
	var attempt, node, batch, pilot, pec, ped, tec, eec, eed, ended, sed any
	if u.AttemptNr != nil {
		attempt = *u.AttemptNr
	}
	if u.Node != "" {
		node = truncate(u.Node, maxNodeName)
	}
	if u.BatchID != "" {
		batch = truncate(u.BatchID, maxBatchID)
	}
	if u.PilotID != "" {
		pilot = truncate(u.PilotID, maxPilotID)
	}
	if final {
		if u.PilotErrorCode != nil {
			pec = absCode(*u.PilotErrorCode)
		}
		if u.PilotErrorDiag != nil {
			ped = truncate(*u.PilotErrorDiag, maxDiag)
		}
		if u.TransExitCode != nil {
			tec = *u.TransExitCode
		}
		if u.ExeErrorCode != nil {
			eec = absCode(*u.ExeErrorCode)
		}
		if u.ExeErrorDiag != nil {
			eed = truncate(*u.ExeErrorDiag, maxDiag)
		}
		ended = now
		if diag != "" {
			newState = StateFailed
			sed = truncate(diag, maxDiag)
		}
	}
	var command, fields string
	var debug, offPending int
	err := s.st.updateJob.QueryRowContext(ctx,
		sql.Named("state", newState), sql.Named("now", now), sql.Named("node", node), sql.Named("batch", batch),
		sql.Named("pilot", pilot), sql.Named("pec", pec), sql.Named("ped", ped), sql.Named("tec", tec),
		sql.Named("eec", eec), sql.Named("eed", eed), sql.Named("ended", ended), sql.Named("sed", sed),
		sql.Named("id", u.JobID), sql.Named("attempt", attempt), sql.Named("final", final && len(files) > 0),
	).Scan(&command, &debug, &offPending, &fields)
	if errors.Is(err, sql.ErrNoRows) {
		return s.notApplied(ctx, u)
	}
	if err != nil {
		return UpdateResult{}, fmt.Errorf("pandalite: update %d: %w", u.JobID, err)
	}

	var cmds []string
	if debug != 0 {
		cmds = append(cmds, "debug")
	} else if offPending != 0 {
		cmds = append(cmds, "debugoff")
	}
	if offPending != 0 {
		if _, err := s.st.clearDebugOff.ExecContext(ctx, u.JobID); err != nil {
			return UpdateResult{}, fmt.Errorf("pandalite: update %d: %w", u.JobID, err)
		}
	}
	if command != "" {
		cmds = append(cmds, command)
	}
	answer := "NULL"
	if len(cmds) > 0 {
		answer = strings.Join(cmds, ",")
	}
	if final && diag == "" && len(files) > 0 {
		if err := s.registerFiles(ctx, now, u.JobID, logFileOf(fields), files); err != nil {
			return UpdateResult{}, err
		}
	}
	return UpdateResult{Outcome: OutcomeUpdated, Command: answer, State: newState}, nil
}

// notApplied tells why an update of a valid state changed no job: unknown
// PandaID, another attemptNr, or a job already final.
func (s *Store) notApplied(ctx context.Context, u Update) (UpdateResult, error) {
	var state string
	var attempt int64
	err := s.st.jobState.QueryRowContext(ctx, u.JobID).Scan(&state, &attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return UpdateResult{Outcome: OutcomeUnknownJob, Command: "tobekilled"}, nil
	}
	if err != nil {
		return UpdateResult{}, fmt.Errorf("pandalite: update %d: %w", u.JobID, err)
	}
	if u.AttemptNr != nil && *u.AttemptNr != attempt {
		return UpdateResult{Outcome: OutcomeBadAttempt, Command: "tobekilled", State: state}, nil
	}
	if IsFinal(state) {
		return UpdateResult{Outcome: OutcomeAlreadyDone, Command: "alreadydone", State: state}, nil
	}
	return UpdateResult{}, fmt.Errorf("pandalite: update %d: job in state %s not updated", u.JobID, state)
}

func absCode(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}

// reportFile is one file of an accepted output report.
type reportFile struct {
	lfn      string
	checksum string // "ad:<adler32>" or "md5:<md5>"
	entry    jobdef.OutputEntry
}

// checkReport parses a final update's output report (the xml field). It
// returns the files to register, in LFN order, or a diagnostic when the
// report is rejected: it does not parse, or an entry has no checksum. No
// report ("" or NULL) is fine and has no files.
func checkReport(xml string) ([]reportFile, string) {
	if strings.TrimSpace(xml) == "" || isUnset(xml) {
		return nil, ""
	}
	report, err := jobdef.ParseOutputReport(xml)
	if err != nil {
		return nil, "output report rejected: " + err.Error()
	}
	files := make([]reportFile, 0, len(report))
	for _, lfn := range sortedKeys(report) {
		e := report[lfn]
		switch {
		case e.Adler32 != "":
			files = append(files, reportFile{lfn, "ad:" + strings.ToLower(e.Adler32), e})
		case e.MD5Sum != "":
			files = append(files, reportFile{lfn, "md5:" + strings.ToLower(e.MD5Sum), e})
		default:
			return nil, fmt.Sprintf("output report rejected: %s has no checksum", lfn)
		}
	}
	return files, ""
}

// registerFiles registers each file of a job's output report once; the
// one named logFile is the log.
func (s *Store) registerFiles(ctx context.Context, now string, pandaID int64, logFile string, files []reportFile) error {
	for _, f := range files {
		kind := "output"
		if f.lfn == logFile {
			kind = "log"
		}
		_, err := s.st.insertFile.ExecContext(ctx, pandaID, f.lfn, f.entry.GUID, f.entry.FSize, f.checksum,
			f.entry.SURL, f.entry.Endpoint, kind, now)
		if err != nil {
			return fmt.Errorf("pandalite: register %s of job %d: %w", f.lfn, pandaID, err)
		}
	}
	return nil
}

// logFileOf returns the logFile field of a stored job definition.
func logFileOf(fields string) string {
	j, err := ParseObject([]byte(fields))
	if err != nil {
		return ""
	}
	return fieldStr(j, "logFile")
}

// UpdateRecord is one update in a job's history.
type UpdateRecord struct {
	ID        int64
	PandaID   int64 // 0 for a jobId=NULL update
	Time      string
	API       string
	State     string
	AttemptNr *int64
	Outcome   Outcome
	Command   string // the command answered
	Fields    Object // the update's arguments as received
}

// LegacyFields returns the update's arguments in str() form under their
// legacy updateJob names (v1 names are mapped back, PROTOCOL.md §9.3), so
// legacy and v1 updates compare alike.
func (r UpdateRecord) LegacyFields() map[string]string {
	m := r.Fields.Strings()
	if r.API != "v1" {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if l, ok := jobdef.V1ToLegacyName(k); ok {
			k = l
		}
		out[k] = v
	}
	return out
}

// Updates lists the updates received for pandaID in arrival order;
// pandaID 0 lists the jobId=NULL ones, a negative pandaID lists all.
func (s *Store) Updates(ctx context.Context, pandaID int64) ([]UpdateRecord, error) {
	q := `SELECT id, COALESCE(pandaid, 0), time, api, state, attempt_nr, outcome, command, fields FROM updates`
	var args []any
	switch {
	case pandaID == 0:
		q += ` WHERE pandaid IS NULL`
	case pandaID > 0:
		q += ` WHERE pandaid = ?`
		args = append(args, pandaID)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("pandalite: list updates: %w", err)
	}
	defer rows.Close()
	var out []UpdateRecord
	for rows.Next() {
		var r UpdateRecord
		var attempt sql.NullInt64
		var outcome, fields string
		if err := rows.Scan(&r.ID, &r.PandaID, &r.Time, &r.API, &r.State, &attempt, &outcome, &r.Command, &fields); err != nil {
			return nil, fmt.Errorf("pandalite: list updates: %w", err)
		}
		if attempt.Valid {
			v := attempt.Int64
			r.AttemptNr = &v
		}
		r.Outcome = Outcome(outcome)
		if r.Fields, err = ParseObject([]byte(fields)); err != nil {
			return nil, fmt.Errorf("pandalite: update %d: stored fields: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FileRecord is one registered output or log file.
type FileRecord struct {
	PandaID  int64
	LFN      string
	GUID     string
	FSize    int64
	Checksum string // "ad:<adler32>" or "md5:<md5>"
	SURL     string
	Endpoint string
	Kind     string // "log" or "output"
}

// Files lists the files registered for pandaID (all jobs when pandaID <= 0).
func (s *Store) Files(ctx context.Context, pandaID int64) ([]FileRecord, error) {
	q := `SELECT pandaid, lfn, guid, fsize, checksum, surl, endpoint, kind FROM files`
	var args []any
	if pandaID > 0 {
		q += ` WHERE pandaid = ?`
		args = append(args, pandaID)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY pandaid, lfn`, args...)
	if err != nil {
		return nil, fmt.Errorf("pandalite: list files: %w", err)
	}
	defer rows.Close()
	var out []FileRecord
	for rows.Next() {
		var f FileRecord
		if err := rows.Scan(&f.PandaID, &f.LFN, &f.GUID, &f.FSize, &f.Checksum, &f.SURL, &f.Endpoint, &f.Kind); err != nil {
			return nil, fmt.Errorf("pandalite: list files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// JobStatus is the state and attempt of one job, for getStatus /
// get_job_status; Found is false for an unknown PandaID.
type JobStatus struct {
	PandaID   int64
	Found     bool
	State     string
	AttemptNr int
}

// Statuses returns the status of each PandaID, in order.
func (s *Store) Statuses(ctx context.Context, ids []int64) ([]JobStatus, error) {
	out := make([]JobStatus, 0, len(ids))
	for _, id := range ids {
		st := JobStatus{PandaID: id}
		err := s.r.QueryRowContext(ctx, `SELECT state, attempt_nr FROM jobs WHERE pandaid = ?`, id).Scan(&st.State, &st.AttemptNr)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("pandalite: job status: %w", err)
		default:
			st.Found = true
		}
		out = append(out, st)
	}
	return out, nil
}
