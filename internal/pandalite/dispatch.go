package pandalite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// JobRequest is a normalised getJob / acquire_jobs request.
type JobRequest struct {
	API             string // "legacy" or "v1", recorded
	Method          string // "getJob" or "acquire_jobs", recorded
	SiteName        string // computingSite of the jobs wanted (required)
	ProdSourceLabel string // the pilot's label; see AllowedLabels
	QueueStatus     string // status of the queue ("test" rewrites user/managed/unified to test)
	AnyLabel        bool   // ignore prodSourceLabel entirely
	TaskID          int64  // > 0: only jobs of this JEDI task
	DiskSpace       int64  // MB; > 0: only jobs with maxDiskCount <= DiskSpace (or unset)
	Mem             int64  // MB; > 0: only jobs with minRamCount <= Mem (or unset)
	ResourceType    string // non-empty: only jobs with this resource_type
	RemainingTime   int64  // s; > 0: only jobs with maxWalltime <= RemainingTime (or unset)
	ProdUserID      string // non-empty: only jobs of this prodUserID
	NJobs           int    // jobs wanted, at least 1
	Node            string // recorded on the job
	Remote, DN      string // client address and certificate subject, recorded
	Raw             Object // the request's arguments, recorded
}

// Dispatched is a job handed out: its fields ready to be sent, with
// PandaID, attemptNr and nSent set by the server.
type Dispatched struct {
	PandaID int64
	Fields  Object
}

// LabelSelection tells which job prodSourceLabels a pilot label may take
// (PROTOCOL.md §2.2): labels lists them, gangarobot means "also jobs whose
// processingType starts with gangarobot". A job stored without
// prodSourceLabel matches every pilot label (a pandalite convenience).
func LabelSelection(label, queueStatus string) (labels []string, gangarobot bool) {
	if queueStatus == "test" && (label == "user" || label == "managed" || label == "unified") {
		label = "test"
	}
	switch label {
	case "user":
		return []string{"user", "panda", "install"}, false
	case "managed", "":
		return []string{"managed", "test", "prod_test", "install"}, false
	case "unified":
		return []string{"managed", "test", "prod_test", "install", "user", "panda"}, false
	case "test":
		return []string{"prod_test", "install", "test"}, true
	default:
		return []string{label}, false
	}
}

// Acquire hands out up to req.NJobs activated jobs of req.SiteName that
// pass the request's filters, highest currentPriority first, then lowest
// PandaID. Each job moves activated -> sent in one atomic UPDATE, so a job
// is handed out at most once however many pilots ask at the same time;
// its nSent counter is incremented (the answer carries the count before
// this dispatch). The request itself is recorded with the PandaIDs it got.
// No job: an empty slice and no error.
func (s *Store) Acquire(ctx context.Context, req JobRequest) ([]Dispatched, error) {
	n := req.NJobs
	if n < 1 {
		n = 1
	}
	where := []string{"site = ?", "state = 'activated'"}
	args := []any{req.SiteName}
	if !req.AnyLabel {
		labels, gr := LabelSelection(req.ProdSourceLabel, req.QueueStatus)
		cond := "prod_source_label = '' OR prod_source_label IN (" + strings.TrimSuffix(strings.Repeat("?,", len(labels)), ",") + ")"
		for _, l := range labels {
			args = append(args, l)
		}
		if gr {
			cond += " OR processing_type LIKE 'gangarobot%'"
		}
		where = append(where, "("+cond+")")
	}
	if req.TaskID > 0 {
		where = append(where, "task_id = ?")
		args = append(args, req.TaskID)
	}
	if req.DiskSpace > 0 {
		where = append(where, "max_disk <= ?")
		args = append(args, req.DiskSpace)
	}
	if req.Mem > 0 {
		where = append(where, "min_ram <= ?")
		args = append(args, req.Mem)
	}
	if req.ResourceType != "" {
		where = append(where, "resource_type = ?")
		args = append(args, req.ResourceType)
	}
	if req.RemainingTime > 0 {
		where = append(where, "max_walltime <= ?")
		args = append(args, req.RemainingTime)
	}
	if req.ProdUserID != "" {
		where = append(where, "prod_user_id = ?")
		args = append(args, req.ProdUserID)
	}
	now := s.stamp()
	query := `UPDATE jobs SET state = 'sent', n_sent = n_sent + 1, node = ?, modified = ?, dispatched = ?
		WHERE state = 'activated' AND pandaid IN (SELECT pandaid FROM jobs WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY priority DESC, pandaid LIMIT ?)
		RETURNING pandaid, attempt_nr, n_sent, debug, priority, fields`
	qargs := append([]any{req.Node, now, now}, args...)
	qargs = append(qargs, n)

	type row struct {
		id, prio     int64
		attempt, nst int
		debug        int
		fields       string
	}
	var got []row
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, qargs...)
		if err != nil {
			return fmt.Errorf("pandalite: dispatch: %w", err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.attempt, &r.nst, &r.debug, &r.prio, &r.fields); err != nil {
				rows.Close()
				return fmt.Errorf("pandalite: dispatch: %w", err)
			}
			got = append(got, r)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("pandalite: dispatch: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("pandalite: dispatch: %w", err)
		}
		ids := make([]string, len(got))
		for i, r := range got {
			ids[i] = strconv.FormatInt(r.id, 10)
		}
		return s.recordRequest(ctx, tx, req.API, req.Method, req.SiteName, req.Node, req.Remote, req.DN,
			strings.Join(ids, ","), req.Raw)
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(got, func(i, j int) bool {
		if got[i].prio != got[j].prio {
			return got[i].prio > got[j].prio
		}
		return got[i].id < got[j].id
	})
	out := make([]Dispatched, 0, len(got))
	for _, r := range got {
		f, err := ParseObject([]byte(r.fields))
		if err != nil {
			return nil, fmt.Errorf("pandalite: job %d: stored fields: %w", r.id, err)
		}
		f.Set("PandaID", r.id)
		f.Set("attemptNr", r.attempt)
		f.Set("nSent", r.nst-1)
		if r.debug != 0 {
			f.Set("debug", "True")
		}
		out = append(out, Dispatched{PandaID: r.id, Fields: f})
	}
	return out, nil
}

// recordRequest stores one API call in the requests table.
func (s *Store) recordRequest(ctx context.Context, tx *sql.Tx, api, method, site, node, remote, dn, pandaIDs string, raw Object) error {
	if raw == nil {
		raw = Object{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO requests (time, api, method, site, node, remote, dn, pandaids, fields)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.stamp(), api, method, site, node, remote, dn, pandaIDs, string(EncodeJSON(raw)))
	if err != nil {
		return fmt.Errorf("pandalite: record request: %w", err)
	}
	return nil
}

// RecordRequest stores one API call that is not a job request (e.g.
// update_worker_node) in the requests table.
func (s *Store) RecordRequest(ctx context.Context, api, method, site, node, remote, dn string, raw Object) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		return s.recordRequest(ctx, tx, api, method, site, node, remote, dn, "", raw)
	})
}

// RequestRecord is one recorded API call.
type RequestRecord struct {
	ID       int64
	Time     string // UTC, "2006-01-02T15:04:05.000000Z"
	API      string
	Method   string
	Site     string
	Node     string
	Remote   string
	DN       string
	PandaIDs []int64 // jobs handed out by this call
	Fields   Object  // the call's arguments as received
}

// Requests lists the recorded API calls in arrival order.
func (s *Store) Requests(ctx context.Context) ([]RequestRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, api, method, site, node, remote, dn, pandaids, fields
		FROM requests ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pandalite: list requests: %w", err)
	}
	defer rows.Close()
	var out []RequestRecord
	for rows.Next() {
		var r RequestRecord
		var ids, fields string
		if err := rows.Scan(&r.ID, &r.Time, &r.API, &r.Method, &r.Site, &r.Node, &r.Remote, &r.DN, &ids, &fields); err != nil {
			return nil, fmt.Errorf("pandalite: list requests: %w", err)
		}
		for _, s := range strings.Split(ids, ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				r.PandaIDs = append(r.PandaIDs, id)
			}
		}
		if r.Fields, err = ParseObject([]byte(fields)); err != nil {
			return nil, fmt.Errorf("pandalite: request %d: stored fields: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
