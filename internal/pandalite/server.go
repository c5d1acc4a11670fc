package pandalite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// Options configure a Server.
type Options struct {
	// Queues are served under /cache/schedconfig/<nickname>.all.json (flat)
	// and <nickname>.json (CRIC, wrapped by name). A queue's status "test"
	// turns user/managed/unified pilot labels into test for its jobs.
	Queues []*Queue
	// Storage is served as /cache/ddmendpoints.json (404 when nil).
	Storage []byte
	// TrfDir is served under /trf/ (transformations of analysis-style jobs;
	// 404 when empty).
	TrfDir string
	// AnyLabel hands out jobs whatever the pilot's prodSourceLabel.
	AnyLabel bool
	// Log receives one entry per job request and per job update at debug
	// level, and the calls that fail or are refused at warning or error
	// level; nil discards.
	Log logrus.FieldLogger
	// Middleware wraps the whole handler, the first element outermost. It
	// is the place for fault injection (delays, errors, dropped answers).
	Middleware []func(http.Handler) http.Handler
}

// Server is a PanDA-compatible job server over a Store: the legacy
// /server/panda/<method> API used by Pilot 3, the /api/v1 pilot API, and
// the static queue, storage and transformation files a pilot downloads.
type Server struct {
	store   *Store
	opts    Options
	log     logrus.FieldLogger
	queues  map[string]*Queue // by nickname
	handler http.Handler
	gz      gunzipper
}

// NewServer returns the server for store. It does not own store.
func NewServer(store *Store, opts Options) *Server {
	log := opts.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	s := &Server{store: store, opts: opts, log: log, queues: map[string]*Queue{}}
	for _, q := range opts.Queues {
		s.queues[q.Name] = q
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/server/panda/{method}", s.serveLegacy)
	mux.HandleFunc("/api/{version}/{module}/{method}", s.serveV1)
	mux.HandleFunc("GET /cache/schedconfig/{file}", s.serveQueue)
	mux.HandleFunc("GET /cache/ddmendpoints.json", s.serveStorage)
	if opts.TrfDir != "" {
		mux.Handle("GET /trf/", http.StripPrefix("/trf/", http.FileServer(http.Dir(opts.TrfDir))))
	}
	var h http.Handler = mux
	for i := len(opts.Middleware) - 1; i >= 0; i-- {
		h = opts.Middleware[i](h)
	}
	s.handler = h
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// queueFor finds the queue whose nickname or panda_resource is site.
func (s *Server) queueFor(site string) *Queue {
	if q, ok := s.queues[site]; ok {
		return q
	}
	for _, q := range s.opts.Queues {
		if q.Resource == site {
			return q
		}
	}
	return nil
}

func (s *Server) serveQueue(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	var name string
	cric := false
	switch {
	case strings.HasSuffix(file, ".all.json"):
		name = strings.TrimSuffix(file, ".all.json")
	case strings.HasSuffix(file, ".json"):
		name, cric = strings.TrimSuffix(file, ".json"), true
	}
	q, ok := s.queues[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	body := q.Raw
	if cric {
		body = q.cricJSON()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	if s.opts.Storage == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.opts.Storage)
}

// clientDN is the subject of the client certificate, "" without one.
func clientDN(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].Subject.String()
}

// ---- legacy API ----

func (s *Server) serveLegacy(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	var h func(w http.ResponseWriter, r *http.Request, args map[string]string, raw Object)
	switch method {
	case "getJob":
		h = s.legacyGetJob
	case "updateJob":
		h = s.legacyUpdateJob
	case "updateWorkerPilotStatus":
		h = s.legacyWorkerStatus
	case "getResourceTypes":
		h = s.legacyResourceTypes
	case "getStatus":
		h = s.legacyGetStatus
	case "setDebugMode":
		h = s.legacySetDebugMode
	default:
		writeForbidden(w, method)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, "ERROR : "+err.Error())
		return
	}
	args, raw, err := decodeLegacy(&s.gz, r.Header.Get("Content-Type"), body, r.URL.RawQuery)
	if err != nil {
		s.log.WithFields(logrus.Fields{"method": method, "remote": r.RemoteAddr}).WithError(err).Warn("undecodable request")
		writeText(w, http.StatusBadRequest, "ERROR : cannot decode request: "+err.Error())
		return
	}
	h(w, r, args, raw)
}

func (s *Server) legacyGetJob(w http.ResponseWriter, r *http.Request, args map[string]string, raw Object) {
	site := args["siteName"]
	if isUnset(site) {
		writeLegacy(w, r, legacyStatus(r, SCFailed, "siteName is missing"))
		return
	}
	req := JobRequest{
		API: "legacy", Method: "getJob", SiteName: site, ProdSourceLabel: args["prodSourceLabel"],
		AnyLabel: s.opts.AnyLabel, ResourceType: unsetToEmpty(args["resourceType"]),
		ProdUserID: unsetToEmpty(args["prodUserID"]), Node: args["node"], Remote: r.RemoteAddr,
		DN: clientDN(r), Raw: raw, NJobs: 1,
	}
	if isUnset(req.ProdSourceLabel) {
		req.ProdSourceLabel = ""
	}
	if q := s.queueFor(site); q != nil {
		req.QueueStatus = q.Status
	}
	req.TaskID, _ = lenientInt(args["taskID"])
	req.DiskSpace, _ = lenientInt(args["diskSpace"])
	req.Mem, _ = lenientInt(args["mem"])
	req.RemainingTime, _ = lenientInt(args["remaining_time"])
	nJobs, bulk := lenientInt(args["nJobs"])
	if bulk && nJobs > 1 {
		req.NJobs = int(min(nJobs, 1000))
	}
	jobs, err := s.store.Acquire(r.Context(), req)
	if err != nil {
		s.logDispatch(req, nil, err)
		writeLegacy(w, r, legacyStatus(r, SCFailed, "database error"))
		return
	}
	s.logDispatch(req, jobs, nil)
	if len(jobs) == 0 {
		writeLegacy(w, r, legacyStatus(r, SCNoJobs, "no jobs in PanDA"))
		return
	}
	if bulk {
		list := make([]Object, len(jobs))
		for i, j := range jobs {
			list[i] = append(Object{{"StatusCode", SCSuccess}}, j.Fields...)
		}
		ans := Object{{"StatusCode", SCSuccess}}
		if AcceptsJSON(r) {
			ans = append(ans, Field{"jobs", list})
		} else {
			ans = append(ans, Field{"jobs", string(EncodeJSON(list))})
		}
		writeLegacy(w, r, ans)
		return
	}
	writeLegacy(w, r, append(Object{{"StatusCode", SCSuccess}}, jobs[0].Fields...))
}

func unsetToEmpty(v string) string {
	if isUnset(v) {
		return ""
	}
	return v
}

func (s *Server) legacyUpdateJob(w http.ResponseWriter, r *http.Request, _ map[string]string, raw Object) {
	u, err := LegacyUpdate(raw)
	if err != nil {
		u.Malformed = err.Error()
	}
	res, aerr := s.store.ApplyUpdate(r.Context(), u)
	s.logUpdate(u, res, aerr)
	switch {
	case aerr != nil:
		writeLegacy(w, r, legacyStatus(r, SCFailed, "database error"))
	case res.Outcome == OutcomeMalformed:
		writeLegacy(w, r, legacyStatus(r, SCFailed, u.Malformed))
	case res.Command == "":
		writeLegacy(w, r, Object{{"StatusCode", SCSuccess}})
	default:
		writeLegacy(w, r, Object{{"StatusCode", SCSuccess}, {"command", res.Command}})
	}
}

// logEnabled reports whether log writes entries at level (true when it
// cannot tell), so that the fields of an entry nobody reads are not built.
func logEnabled(log logrus.FieldLogger, level logrus.Level) bool {
	switch l := log.(type) {
	case *logrus.Logger:
		return l.IsLevelEnabled(level)
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(level)
	}
	return true
}

// logDispatch logs a job request's outcome: a failure at error level,
// the jobs handed out (or none) at debug level.
func (s *Server) logDispatch(req JobRequest, jobs []Dispatched, err error) {
	level := logrus.DebugLevel
	if err != nil {
		level = logrus.ErrorLevel
	}
	if !logEnabled(s.log, level) {
		return
	}
	log := s.log.WithFields(logrus.Fields{"method": req.Method, "site": req.SiteName, "node": req.Node, "label": req.ProdSourceLabel})
	switch {
	case err != nil:
		log.WithError(err).Error("dispatch failed")
	case len(jobs) == 0:
		log.Debug("no job")
	default:
		ids := make([]int64, len(jobs))
		for i, j := range jobs {
			ids[i] = j.PandaID
		}
		log.WithField("pandaids", ids).Debug("jobs dispatched")
	}
}

// logUpdate logs an update's outcome: a failure at error level, an update
// not applied at warning level, an applied one at debug level.
func (s *Server) logUpdate(u Update, res UpdateResult, err error) {
	level := logrus.WarnLevel
	switch {
	case err != nil:
		level = logrus.ErrorLevel
	case res.Outcome == OutcomeUpdated:
		level = logrus.DebugLevel
	}
	if !logEnabled(s.log, level) {
		return
	}
	log := s.log.WithFields(logrus.Fields{"api": u.API, "pandaid": u.JobID, "state": u.State, "outcome": res.Outcome, "command": res.Command})
	switch {
	case err != nil:
		log.WithError(err).Error("update failed")
	case res.Outcome == OutcomeUpdated:
		log.Debug("job updated")
	default:
		log.Warn("update not applied")
	}
}

func (s *Server) legacyWorkerStatus(w http.ResponseWriter, r *http.Request, args map[string]string, raw Object) {
	if err := s.store.RecordRequest(r.Context(), "legacy", "updateWorkerPilotStatus", args["site"], args["node_id"], r.RemoteAddr, clientDN(r), raw); err != nil {
		s.log.WithError(err).Error("recording worker status failed")
		writeLegacy(w, r, legacyStatus(r, SCFailed, ""))
		return
	}
	writeLegacy(w, r, Object{{"StatusCode", SCSuccess}})
}

func (s *Server) legacyResourceTypes(w http.ResponseWriter, r *http.Request, _ map[string]string, _ Object) {
	writeLegacy(w, r, Object{{"StatusCode", SCSuccess}, {"Returns", 0}, {"ResourceTypes", []any{}}})
}

func (s *Server) legacyGetStatus(w http.ResponseWriter, r *http.Request, args map[string]string, _ Object) {
	var ids []int64
	for _, f := range strings.FieldsFunc(args["ids"], func(r rune) bool { return r == ' ' || r == ',' || r == '+' }) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			id = -1
		}
		ids = append(ids, id)
	}
	sts, err := s.store.Statuses(r.Context(), ids)
	if err != nil {
		writeLegacy(w, r, legacyStatus(r, SCFailed, "database error"))
		return
	}
	var status, attempts []string
	for _, st := range sts {
		if st.Found {
			status = append(status, st.State)
			attempts = append(attempts, strconv.Itoa(st.AttemptNr))
		} else {
			status = append(status, "notfound")
			attempts = append(attempts, "0")
		}
	}
	writeLegacy(w, r, Object{{"StatusCode", SCSuccess}, {"status", strings.Join(status, "+")}, {"attemptNr", strings.Join(attempts, "+")}})
}

func (s *Server) legacySetDebugMode(w http.ResponseWriter, r *http.Request, args map[string]string, _ Object) {
	id, err := strconv.ParseInt(strings.TrimSpace(args["pandaID"]), 10, 64)
	if err != nil {
		writeText(w, http.StatusOK, "ERROR: invalid pandaID")
		return
	}
	if err := s.store.SetDebug(r.Context(), id, args["modeOn"] == "True"); err != nil {
		writeText(w, http.StatusOK, "ERROR: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "Succeeded")
}

// ---- v1 API ----

type v1Handler func(ctx context.Context, r *http.Request, args Object) (success bool, message string, data any)

func (s *Server) serveV1(w http.ResponseWriter, r *http.Request) {
	version, module, method := r.PathValue("version"), r.PathValue("module"), r.PathValue("method")
	if version != "v1" && version != "latest" {
		writeForbidden(w, method)
		return
	}
	var spec *v1Method
	var h v1Handler
	switch module + "/" + method {
	case "pilot/acquire_jobs":
		spec, h = &acquireJobsArgs, s.v1AcquireJobs
	case "pilot/update_job":
		spec, h = &updateJobArgs, s.v1UpdateJob
	case "pilot/update_jobs_bulk":
		spec, h = &updateJobsBulkArgs, s.v1UpdateJobsBulk
	case "pilot/get_job_status":
		spec, h = &getJobStatusArgs, s.v1GetJobStatus
	case "pilot/update_worker_status":
		spec, h = &updateWorkerStatusArgs, s.v1WorkerStatus
	case "pilot/update_worker_node":
		spec, h = &updateWorkerNodeArgs, s.v1Record("update_worker_node")
	case "pilot/update_worker_node_gpu":
		spec, h = &updateWorkerNodeGPUArgs, s.v1Record("update_worker_node_gpu")
	case "system/is_alive":
		spec, h = &v1Method{}, func(context.Context, *http.Request, Object) (bool, string, any) { return true, "", nil }
	case "metaconfig/get_resource_types":
		spec, h = &v1Method{}, func(context.Context, *http.Request, Object) (bool, string, any) { return true, "", []any{} }
	default:
		writeForbidden(w, method)
		return
	}
	want := http.MethodGet
	if spec.post {
		want = http.MethodPost
	}
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		writeV1(w, false, fmt.Sprintf("expecting %s, received %s", want, r.Method), nil)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeV1(w, false, err.Error(), nil)
		return
	}
	args, err := decodeV1Request(&s.gz, r.Method, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), body, r.URL.RawQuery)
	if err != nil {
		writeV1(w, false, "failed to load JSON", nil)
		return
	}
	if msg := checkArgs(*spec, args, !spec.post); msg != "" {
		s.log.WithFields(logrus.Fields{"method": method, "remote": r.RemoteAddr}).Warn(msg)
		writeV1(w, false, msg, nil)
		return
	}
	ok, msg, data := h(r.Context(), r, args)
	writeV1(w, ok, msg, data)
}

func (s *Server) v1AcquireJobs(ctx context.Context, r *http.Request, args Object) (bool, string, any) {
	site := argStr(args, "site_name")
	req := JobRequest{
		API: "v1", Method: "acquire_jobs", SiteName: site, ProdSourceLabel: argStr(args, "prod_source_label"),
		AnyLabel: s.opts.AnyLabel, ResourceType: argStr(args, "resource_type"), ProdUserID: argStr(args, "prod_user_id"),
		Node: argStr(args, "node"), Remote: r.RemoteAddr, DN: clientDN(r), Raw: args, NJobs: 1,
	}
	if q := s.queueFor(site); q != nil {
		req.QueueStatus = q.Status
	}
	if v := argInt(args, "task_id"); v != nil {
		req.TaskID = *v
	}
	if v := argInt(args, "disk_space"); v != nil {
		req.DiskSpace = *v
	}
	if v := argInt(args, "memory"); v != nil {
		req.Mem = *v
	}
	if v := argInt(args, "remaining_time"); v != nil {
		req.RemainingTime = *v
	}
	if v := argInt(args, "n_jobs"); v != nil && *v > 1 {
		req.NJobs = int(min(*v, 1000))
	}
	jobs, err := s.store.Acquire(ctx, req)
	s.logDispatch(req, jobs, err)
	if err != nil {
		return false, "database error in the PanDA server", nil
	}
	if len(jobs) == 0 {
		return false, "No jobs in PanDA", nil
	}
	list := make([]Object, len(jobs))
	for i, j := range jobs {
		list[i] = append(Object{{"StatusCode", SCSuccess}}, j.Fields...)
	}
	return true, "", Object{{"StatusCode", SCSuccess}, {"jobs", list}}
}

func (s *Server) v1UpdateJob(ctx context.Context, _ *http.Request, args Object) (bool, string, any) {
	u := V1Update(args)
	res, err := s.store.ApplyUpdate(ctx, u)
	s.logUpdate(u, res, err)
	switch {
	case err != nil:
		return true, "Database error", Object{{"StatusCode", SCFailed}}
	case res.Outcome == OutcomeInvalidState:
		return false, "Invalid job status: " + u.State, Object{{"StatusCode", SCInvalid}}
	}
	return true, "", Object{{"StatusCode", SCSuccess}, {"command", res.Command}}
}

func (s *Server) v1UpdateJobsBulk(ctx context.Context, r *http.Request, args Object) (bool, string, any) {
	v, _ := args.Get("job_list")
	list, ok := v.([]any)
	if !ok {
		return false, fmt.Sprintf("Type error: 'job_list' must be of type list, got %s.", pyTypeName(v)), nil
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		o, ok := e.(Object)
		if !ok {
			return false, "Type error: All elements in 'job_list' must be dict.", nil
		}
		if msg := checkArgs(updateJobArgs, o, false); msg != "" {
			out = append(out, Object{{"success", false}, {"message", msg}, {"data", nil}})
			continue
		}
		ok2, msg, data := s.v1UpdateJob(ctx, r, o)
		out = append(out, Object{{"success", ok2}, {"message", msg}, {"data", data}})
	}
	return true, "", out
}

func (s *Server) v1GetJobStatus(ctx context.Context, _ *http.Request, args Object) (bool, string, any) {
	v, _ := args.Get("job_ids")
	var ids []int64
	for _, e := range v.([]any) {
		n, _ := lenientInt(pyStr(e))
		ids = append(ids, n)
	}
	sts, err := s.store.Statuses(ctx, ids)
	if err != nil {
		return false, "Database error", nil
	}
	out := make([]any, len(sts))
	for i, st := range sts {
		if st.Found {
			out[i] = Object{{"job_id", st.PandaID}, {"status", st.State}, {"attempt_number", st.AttemptNr}}
		} else {
			out[i] = Object{{"job_id", st.PandaID}, {"status", "not found"}, {"attempt_number", 0}}
		}
	}
	return true, "", out
}

func (s *Server) v1WorkerStatus(ctx context.Context, r *http.Request, args Object) (bool, string, any) {
	switch argStr(args, "status") {
	case "started", "finished":
	default:
		return false, "Invalid worker state. The worker state has to be in ('started', 'finished')", nil
	}
	if err := s.store.RecordRequest(ctx, "v1", "update_worker_status", "", argStr(args, "node_id"), r.RemoteAddr, clientDN(r), args); err != nil {
		return false, "Failed to update worker status", nil
	}
	return true, "", nil
}

// v1Record answers a call that is only recorded (worker node maps).
func (s *Server) v1Record(method string) v1Handler {
	return func(ctx context.Context, r *http.Request, args Object) (bool, string, any) {
		if err := s.store.RecordRequest(ctx, "v1", method, argStr(args, "site"), argStr(args, "host_name"), r.RemoteAddr, clientDN(r), args); err != nil {
			return false, "database error in the PanDA server", nil
		}
		return true, "", nil
	}
}
