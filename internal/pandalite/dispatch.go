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
	labels, gangarobot := LabelSelection(req.ProdSourceLabel, req.QueueStatus)
	labelsJSON := string(EncodeJSON(stringsToAny(labels)))
	raw := req.Raw
	if raw == nil {
		raw = Object{}
	}
	rawJSON := string(EncodeJSON(raw))
	type row struct {
		id, prio     int64
		attempt, nst int
		debug        int
		fields       string
	}
	var got []row
	err := s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		got = got[:0]
		now := s.stamp()
		rows, err := s.st.acquire.QueryContext(ctx,
			sql.Named("node", req.Node), sql.Named("now", now), sql.Named("site", req.SiteName),
			sql.Named("anylabel", req.AnyLabel), sql.Named("labels", labelsJSON), sql.Named("gangarobot", gangarobot),
			sql.Named("task", req.TaskID), sql.Named("disk", req.DiskSpace), sql.Named("mem", req.Mem),
			sql.Named("rtype", req.ResourceType), sql.Named("rtime", req.RemainingTime),
			sql.Named("user", req.ProdUserID), sql.Named("n", n))
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
		return s.recordRequest(ctx, c, now, req.API, req.Method, req.SiteName, req.Node, req.Remote, req.DN,
			strings.Join(ids, ","), rawJSON)
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

// recordRequest stores one API call in the requests table; rawJSON is
// its arguments as EncodeJSON renders them.
func (s *Store) recordRequest(ctx context.Context, c *sql.Conn, now, api, method, site, node, remote, dn, pandaIDs, rawJSON string) error {
	_, err := s.st.insertRequest.ExecContext(ctx, now, api, method, site, node, remote, dn, pandaIDs, rawJSON)
	if err != nil {
		return fmt.Errorf("pandalite: record request: %w", err)
	}
	return nil
}

// RecordRequest stores one API call that is not a job request (e.g.
// update_worker_node) in the requests table.
func (s *Store) RecordRequest(ctx context.Context, api, method, site, node, remote, dn string, raw Object) error {
	if raw == nil {
		raw = Object{}
	}
	rawJSON := string(EncodeJSON(raw))
	return s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		return s.recordRequest(ctx, c, s.stamp(), api, method, site, node, remote, dn, "", rawJSON)
	})
}

// stringsToAny converts for EncodeJSON.
func stringsToAny(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
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
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, api, method, site, node, remote, dn, pandaids, fields
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
