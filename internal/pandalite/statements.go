package pandalite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The statements of the write path, prepared once on the writer
// connection. Optional filters and optional columns are parameters (0, ”
// or NULL meaning "not given"), so that each statement has one text.
const (
	sqlBegin    = `BEGIN IMMEDIATE`
	sqlCommit   = `COMMIT`
	sqlRollback = `ROLLBACK`

	// sqlAcquire hands out up to :n activated jobs of :site (see Acquire).
	// :labels is a JSON array of the job labels a pilot's label takes;
	// :anylabel turns the label filter off, :gangarobot adds the jobs whose
	// processingType starts with gangarobot. The numeric limits filter only
	// when positive, the text ones only when not empty.
	sqlAcquire = `UPDATE jobs SET state = 'sent', n_sent = n_sent + 1, node = :node, modified = :now, dispatched = :now
		WHERE state = 'activated' AND pandaid IN (
			SELECT pandaid FROM jobs
			WHERE site = :site AND state = 'activated'
			AND (:anylabel OR prod_source_label = '' OR prod_source_label IN (SELECT value FROM json_each(:labels))
				OR (:gangarobot AND processing_type LIKE 'gangarobot%'))
			AND (:task <= 0 OR task_id = :task)
			AND (:disk <= 0 OR max_disk <= :disk)
			AND (:mem <= 0 OR min_ram <= :mem)
			AND (:rtype = '' OR resource_type = :rtype)
			AND (:rtime <= 0 OR max_walltime <= :rtime)
			AND (:user = '' OR prod_user_id = :user)
			ORDER BY priority DESC, pandaid LIMIT :n)
		RETURNING pandaid, attempt_nr, n_sent, debug, priority, fields`

	sqlInsertRequest = `INSERT INTO requests (time, api, method, site, node, remote, dn, pandaids, fields)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

	sqlJobState = `SELECT state, attempt_nr FROM jobs WHERE pandaid = ?`

	// sqlUpdateJob applies an update to a job that is not final and has
	// the update's attemptNr (when given); a NULL parameter keeps the
	// column. It returns what the answer needs, and the job definition
	// when :final (to tell the log file among the files to register).
	sqlUpdateJob = `UPDATE jobs SET state = :state, n_updates = n_updates + 1, last_update = :now, modified = :now,
		node = COALESCE(:node, node), batch_id = COALESCE(:batch, batch_id), pilot_id = COALESCE(:pilot, pilot_id),
		pilot_error_code = COALESCE(:pec, pilot_error_code), pilot_error_diag = COALESCE(:ped, pilot_error_diag),
		trans_exit_code = COALESCE(:tec, trans_exit_code), exe_error_code = COALESCE(:eec, exe_error_code),
		exe_error_diag = COALESCE(:eed, exe_error_diag), ended = COALESCE(:ended, ended),
		server_error_diag = COALESCE(:sed, server_error_diag)
		WHERE pandaid = :id AND state NOT IN ('finished', 'failed', 'cancelled')
		AND (:attempt IS NULL OR attempt_nr = :attempt)
		RETURNING command, debug, debug_off_pending, CASE WHEN :final THEN fields ELSE '' END`

	sqlClearDebugOff = `UPDATE jobs SET debug_off_pending = 0 WHERE pandaid = ?`

	sqlInsertUpdate = `INSERT INTO updates (pandaid, time, api, state, attempt_nr, outcome, status_code, command, fields)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

	sqlInsertFile = `INSERT INTO files (pandaid, lfn, guid, fsize, checksum, surl, endpoint, kind, time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pandaid, lfn) DO NOTHING`

	sqlMaxPandaID = `SELECT MAX(pandaid) FROM jobs`

	sqlInsertJob = `INSERT INTO jobs (pandaid, attempt_nr, state, site, job_name, prod_source_label, processing_type,
		task_id, resource_type, prod_user_id, max_disk, min_ram, max_walltime, priority, fields, debug, created, modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// statements are the prepared statements of the write path, bound to the
// writer connection.
type statements struct {
	begin, commit, rollback  *sql.Stmt
	acquire, insertRequest   *sql.Stmt
	jobState, clearDebugOff  *sql.Stmt
	updateJob                *sql.Stmt
	insertUpdate, insertFile *sql.Stmt
	maxPandaID, insertJob    *sql.Stmt
}

func prepareStatements(ctx context.Context, c *sql.Conn) (*statements, error) {
	st := &statements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.begin, sqlBegin}, {&st.commit, sqlCommit}, {&st.rollback, sqlRollback},
		{&st.acquire, sqlAcquire}, {&st.insertRequest, sqlInsertRequest},
		{&st.jobState, sqlJobState}, {&st.clearDebugOff, sqlClearDebugOff}, {&st.updateJob, sqlUpdateJob},
		{&st.insertUpdate, sqlInsertUpdate}, {&st.insertFile, sqlInsertFile},
		{&st.maxPandaID, sqlMaxPandaID}, {&st.insertJob, sqlInsertJob},
	} {
		stmt, err := c.PrepareContext(ctx, p.query)
		if err != nil {
			_ = st.close()
			return nil, fmt.Errorf("prepare %.40q: %w", p.query, err)
		}
		*p.dst = stmt
	}
	return st, nil
}

func (st *statements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.begin, st.commit, st.rollback, st.acquire, st.insertRequest,
		st.jobState, st.clearDebugOff, st.updateJob, st.insertUpdate, st.insertFile, st.maxPandaID, st.insertJob} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
