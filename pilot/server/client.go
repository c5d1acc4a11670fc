// Package server is the PanDA server wire client: one method per endpoint,
// both server APIs (the legacy /server/panda/<method> API of panda-server up to
// 0.8.x and the /api/v1/pilot/<method> API of 1.0+), retries through
// go-retryablehttp, and no business rules.
//
// Legacy requests are sent the way Pilot 3's urllib path sends them: a POST
// with Content-Type application/json and a gzip-compressed JSON body, without
// Accept and Content-Encoding headers, so the server answers urlencoded. With
// Options.FormEncoding the curl path is used instead: a form body with
// Accept: application/json, answered in JSON. Both answer encodings are parsed.
package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/internal/logx"
	"github.com/gopilot/gopilot/jobdef"
)

// API selects the server API.
type API string

// The server APIs.
const (
	Legacy API = "legacy" // /server/panda/getJob, /server/panda/updateJob
	V1     API = "v1"     // /api/v1/pilot/acquire_jobs, /api/v1/pilot/update_job
	Auto   API = "auto"   // try v1, fall back to legacy on 403/404
)

// ParseAPI parses an --api value.
func ParseAPI(s string) (API, error) {
	switch API(strings.ToLower(s)) {
	case Legacy, "":
		return Legacy, nil
	case V1:
		return V1, nil
	case Auto:
		return Auto, nil
	}
	return "", fmt.Errorf("unknown server API %q (want legacy, v1 or auto)", s)
}

// ErrNoJob is returned by GetJob when the server has no job for the pilot.
// It is control flow, not a failure.
var ErrNoJob = errors.New("no job available")

// maxAnswer bounds the size of any answer read from the server.
const maxAnswer = jobdef.MaxBodySize

// Options configures a Client.
type Options struct {
	// BaseURL is the server's scheme://host:port, e.g. https://pandaserver.cern.ch:25443.
	BaseURL string
	// API selects the server API; "" means Legacy.
	API API
	// FormEncoding sends legacy requests as forms with Accept: application/json
	// (Pilot 3's curl path, queue catchall "curlgetjob").
	FormEncoding bool
	// UserAgent is sent with every request.
	UserAgent string
	// Header holds extra headers for every request (OIDC Authorization and Origin).
	Header http.Header
	// HTTPClient is the underlying client (TLS configuration lives here);
	// nil means a fresh pooled client.
	HTTPClient *http.Client
	// Log receives retry and fallback messages; nil discards them.
	Log logrus.FieldLogger
	// RetryMax is the number of retries of idempotent calls (updates, GETs);
	// 0 means the default 4, a negative value no retries at all.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential back-off (with
	// jitter); Retry-After from the server is honoured. Defaults 1 s and 60 s.
	RetryWaitMin, RetryWaitMax time.Duration
	// AttemptTimeout bounds one HTTP attempt; default 120 s (Pilot 3's http_maxtime).
	AttemptTimeout time.Duration
}

// Client talks to one PanDA server. It is safe for concurrent use.
type Client struct {
	opts   Options
	update *retryablehttp.Client // retried: updates and reads
	once   *retryablehttp.Client // getJob: retried only when the request never left
	log    logrus.FieldLogger

	mu       sync.Mutex
	resolved API // for Auto: the API that answered

	// zws holds gzip writers for reuse: a new one costs about 800 kB of
	// allocations, more than the request it compresses.
	zws sync.Pool
}

// New builds a Client.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("server URL is empty")
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("server URL %q is not an http(s) URL", opts.BaseURL)
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.API == "" {
		opts.API = Legacy
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 4
	}
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = time.Second
	}
	if opts.RetryWaitMax == 0 {
		opts.RetryWaitMax = 60 * time.Second
	}
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = 120 * time.Second
	}
	lg := opts.Log
	if lg == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		lg = l
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	mk := func(retries int, policy retryablehttp.CheckRetry) *retryablehttp.Client {
		rc := retryablehttp.NewClient()
		rc.HTTPClient = hc
		rc.Logger = logx.Leveled{L: lg}
		rc.RetryMax = retries
		rc.RetryWaitMin = opts.RetryWaitMin
		rc.RetryWaitMax = opts.RetryWaitMax
		rc.Backoff = jitterBackoff
		rc.CheckRetry = policy
		rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
		return rc
	}
	c := &Client{
		opts:   opts,
		update: mk(opts.RetryMax, retryablehttp.DefaultRetryPolicy),
		once:   mk(opts.RetryMax, retryBeforeSend),
		log:    lg,
	}
	if opts.API != Auto {
		c.resolved = opts.API
	}
	return c, nil
}

// jitterBackoff is exponential back-off with full jitter in [d/2, d], where
// d = min * 2^attempt capped at max; a Retry-After header on 429/503 wins.
func jitterBackoff(minW, maxW time.Duration, attempt int, resp *http.Response) time.Duration {
	d := retryablehttp.DefaultBackoff(minW, maxW, attempt, resp)
	if resp != nil && resp.Header.Get("Retry-After") != "" {
		return d
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(time.Now().UnixNano()%int64(half+1))
}

// retryBeforeSend retries only errors that prove the request never reached
// the server (connection refused, DNS failure): a getJob retried after the
// server saw it could hand out a second job.
func retryBeforeSend(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	if err == nil {
		return false, nil
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true, nil
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true, nil
	}
	return false, nil
}

// API returns the API in use (for Auto: the resolved one, or Auto before the
// first call).
func (c *Client) API() API {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolved == "" {
		return Auto
	}
	return c.resolved
}

// HTTPError is a non-2xx answer from the server.
type HTTPError struct {
	URL    string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	b := e.Body
	if len(b) > 200 {
		b = b[:200] + "..."
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.Status, strings.TrimSpace(b))
}

// post sends one POST and returns the answer body. legacy selects the legacy
// encodings; v1 bodies are gzip-JSON with Content-Encoding and Accept.
func (c *Client) post(ctx context.Context, rc *retryablehttp.Client, path string, fields map[string]any, api API) ([]byte, error) {
	u := c.opts.BaseURL + path
	var body []byte
	hdr := http.Header{}
	switch {
	case api == V1:
		js, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		body = c.gzipBytes(js)
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Encoding", "gzip")
		hdr.Set("Accept", "application/json")
	case c.opts.FormEncoding:
		body = []byte(formEncode(fields))
		hdr = formHeader()
	default:
		js, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		body = c.gzipBytes(js)
		hdr = gzipJSONHeader()
	}
	return c.do(ctx, rc, http.MethodPost, u, body, hdr)
}

// send posts an already encoded body.
func (c *Client) send(ctx context.Context, rc *retryablehttp.Client, path string, body []byte, hdr http.Header) ([]byte, error) {
	return c.do(ctx, rc, http.MethodPost, c.opts.BaseURL+path, body, hdr)
}

// gzipJSONHeader is Pilot 3's urllib path: gzip-JSON without Accept and
// Content-Encoding, answered urlencoded.
func gzipJSONHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// formHeader is Pilot 3's curl path: a form answered in JSON.
func formHeader() http.Header {
	return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
}

func (c *Client) do(ctx context.Context, rc *retryablehttp.Client, method, u string, body []byte, hdr http.Header) ([]byte, error) {
	var raw any
	if body != nil {
		raw = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, raw)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.opts.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	// Each attempt gets its own deadline: the pooled client has none.
	rc.HTTPClient.Timeout = c.opts.AttemptTimeout
	resp, err := rc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading answer: %w", method, u, err)
	}
	if int64(len(data)) > maxAnswer {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, u, maxAnswer)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{URL: u, Status: resp.StatusCode, Body: string(data)}
	}
	return data, nil
}

// Get downloads a URL (queue data, storage data, a transformation) with
// retries. Relative paths are resolved against the server's base URL.
func (c *Client) Get(ctx context.Context, u string) ([]byte, error) {
	if strings.HasPrefix(u, "/") {
		u = c.opts.BaseURL + u
	}
	return c.do(ctx, c.update, http.MethodGet, u, nil, nil)
}

// JobRequest holds the getJob fields Pilot 3 sends (PROTOCOL.md §2.1).
// Optional fields are sent only when non-zero.
type JobRequest struct {
	SiteName          string
	ComputingElement  string
	ProdSourceLabel   string
	DiskSpace         int64 // MB
	WorkingGroup      string
	CPU               float64 // MHz
	Mem               float64 // MB
	Node              string
	AllowOtherCountry bool
	JobType           string
	CountryGroup      string
	ProdUserID        string
	TaskID            string
	ResourceType      string
	HarvesterID       string
	WorkerID          string
	// RemainingTime (seconds) is sent to v1 servers only; 0 = not sent.
	RemainingTime int64
}

// Legacy returns the legacy getJob fields with the JSON types Pilot 3 uses.
func (r JobRequest) Legacy() map[string]any {
	m := map[string]any{
		"siteName":          r.SiteName,
		"computingElement":  r.ComputingElement,
		"prodSourceLabel":   r.ProdSourceLabel,
		"diskSpace":         r.DiskSpace,
		"workingGroup":      r.WorkingGroup,
		"cpu":               pyFloat(r.CPU),
		"mem":               pyFloat(r.Mem),
		"node":              r.Node,
		"allowOtherCountry": r.AllowOtherCountry,
	}
	opt := map[string]string{
		"jobType": r.JobType, "countryGroup": r.CountryGroup, "prodUserID": r.ProdUserID,
		"taskID": r.TaskID, "resourceType": r.ResourceType, "harvester_id": r.HarvesterID,
		"worker_id": r.WorkerID,
	}
	for k, v := range opt {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// V1 returns the acquire_jobs arguments (PROTOCOL.md §9.2).
func (r JobRequest) V1() map[string]any {
	m := map[string]any{
		"site_name":         r.SiteName,
		"computing_element": r.ComputingElement,
		"prod_source_label": r.ProdSourceLabel,
		"disk_space":        r.DiskSpace,
		"memory":            int64(r.Mem),
		"node":              r.Node,
		"n_jobs":            1,
	}
	if r.TaskID != "" {
		if id, err := strconv.ParseInt(r.TaskID, 10, 64); err == nil {
			m["task_id"] = id
		}
	}
	if r.WorkerID != "" {
		if id, err := strconv.ParseInt(r.WorkerID, 10, 64); err == nil {
			m["worker_id"] = id
		}
	}
	opt := map[string]string{
		"job_type": r.JobType, "prod_user_id": r.ProdUserID, "resource_type": r.ResourceType,
		"harvester_id": r.HarvesterID,
	}
	for k, v := range opt {
		if v != "" {
			m[k] = v
		}
	}
	if r.RemainingTime > 0 {
		m["remaining_time"] = r.RemainingTime
	}
	return m
}

// GetJob asks the server for one job. It returns ErrNoJob when the server has
// none. The request is retried only while it provably never reached the
// server.
func (c *Client) GetJob(ctx context.Context, req JobRequest) (*jobdef.Job, error) {
	return c.getJob(ctx, req, c.API())
}

func (c *Client) getJob(ctx context.Context, req JobRequest, api API) (*jobdef.Job, error) {
	if api == Auto {
		job, err := c.getJob(ctx, req, V1)
		var he *HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusForbidden || he.Status == http.StatusNotFound) {
			c.log.WithField("status", he.Status).Info("server does not offer the v1 pilot API; using the legacy API")
			c.setResolved(Legacy)
			return c.getJob(ctx, req, Legacy)
		}
		if err == nil || errors.Is(err, ErrNoJob) {
			c.setResolved(V1)
		}
		return job, err
	}
	var body []byte
	var err error
	if api == V1 {
		body, err = c.post(ctx, c.once, "/api/v1/pilot/acquire_jobs", req.V1(), V1)
	} else {
		body, err = c.post(ctx, c.once, "/server/panda/getJob", req.Legacy(), Legacy)
	}
	if err != nil {
		return nil, err
	}
	resp, err := jobdef.ParseGetJobResponse(body)
	if err != nil {
		if id, attempt, ok := jobdef.JobIdentity(body); ok {
			return nil, &BadJobError{PandaID: id, AttemptNr: attempt, Err: err}
		}
		return nil, fmt.Errorf("getJob answer: %w", err)
	}
	if resp.StatusCode != 0 || len(resp.Jobs) == 0 {
		if resp.ErrorDialog != "" {
			return nil, fmt.Errorf("%w (StatusCode %d: %s)", ErrNoJob, resp.StatusCode, resp.ErrorDialog)
		}
		return nil, fmt.Errorf("%w (StatusCode %d)", ErrNoJob, resp.StatusCode)
	}
	return resp.Jobs[0], nil
}

// BadJobError is returned by GetJob when the server handed out a job whose
// definition is malformed or hostile. The job is the pilot's now: it must be
// reported failed (with the code in Err) so that nothing is lost.
type BadJobError struct {
	PandaID   int64
	AttemptNr int
	Err       error
}

func (e *BadJobError) Error() string {
	return fmt.Sprintf("job %d (attempt %d) is malformed: %v", e.PandaID, e.AttemptNr, e.Err)
}

func (e *BadJobError) Unwrap() error { return e.Err }

func (c *Client) setResolved(a API) {
	c.mu.Lock()
	c.resolved = a
	c.mu.Unlock()
}

// Reply is the server's answer to an update.
type Reply struct {
	// StatusCode is PanDA's StatusCode (0 = success).
	StatusCode int
	// Command is the back-channel command, "" when the server sent NULL.
	Command string
	// PilotSecrets is passed through when present.
	PilotSecrets string
}

// Commands splits Command into its comma-separated parts ("debug,tobekilled").
func (r *Reply) Commands() []string {
	if r == nil || r.Command == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(r.Command, ",") {
		if p = strings.TrimSpace(p); p != "" && p != "NULL" {
			out = append(out, p)
		}
	}
	return out
}

// Has reports whether the reply carries the command.
func (r *Reply) Has(cmd string) bool {
	for _, c := range r.Commands() {
		if c == cmd {
			return true
		}
	}
	return false
}

// UpdateJob sends one job update (heartbeat or final) with retries and
// back-off (honouring Retry-After). A StatusCode other than 0 is returned in
// the Reply, not as an error.
func (c *Client) UpdateJob(ctx context.Context, rep *jobdef.UpdateReport) (*Reply, error) {
	api := c.API()
	if api == Auto {
		r, err := c.updateJob(ctx, rep, V1)
		var he *HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusForbidden || he.Status == http.StatusNotFound) {
			c.setResolved(Legacy)
			return c.updateJob(ctx, rep, Legacy)
		}
		if err == nil {
			c.setResolved(V1)
		}
		return r, err
	}
	return c.updateJob(ctx, rep, api)
}

func (c *Client) updateJob(ctx context.Context, rep *jobdef.UpdateReport, api API) (*Reply, error) {
	var body []byte
	var err error
	switch {
	case api == V1:
		body, err = c.post(ctx, c.update, "/api/v1/pilot/update_job", rep.V1(), V1)
	case c.opts.FormEncoding:
		body, err = c.send(ctx, c.update, "/server/panda/updateJob", []byte(rep.LegacyForm().Encode()), formHeader())
	default:
		// LegacyJSON keeps floats as floats (1.0), as Python's json.dumps does.
		body, err = c.send(ctx, c.update, "/server/panda/updateJob", c.gzipBytes(rep.LegacyJSON()), gzipJSONHeader())
	}
	if err != nil {
		return nil, err
	}
	return ParseReply(body)
}

// ParseReply decodes an updateJob answer in any encoding: legacy urlencoded,
// legacy JSON, the plain text "Succeeded", or the v1 envelope.
func ParseReply(body []byte) (*Reply, error) {
	s := strings.TrimSpace(string(body))
	if s == "Succeeded" {
		return &Reply{}, nil
	}
	fields := map[string]any{}
	if strings.HasPrefix(s, "{") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			return nil, fmt.Errorf("update answer is not JSON: %w", err)
		}
		if _, ok := fields["success"]; ok {
			ok, _ := fields["success"].(bool)
			data, _ := fields["data"].(map[string]any)
			if !ok && data == nil {
				msg, _ := fields["message"].(string)
				return nil, fmt.Errorf("server refused the update: %s", msg)
			}
			if data == nil {
				data = map[string]any{}
			}
			fields = data
		}
	} else {
		v, err := url.ParseQuery(s)
		if err != nil {
			return nil, fmt.Errorf("update answer %q: %w", clip(s, 80), err)
		}
		for k := range v {
			fields[k] = v.Get(k)
		}
	}
	r := &Reply{}
	sc, ok := fields["StatusCode"]
	if !ok {
		return nil, fmt.Errorf("update answer has no StatusCode: %q", clip(s, 80))
	}
	n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(sc)))
	if err != nil {
		return nil, fmt.Errorf("update answer StatusCode %v: %w", sc, err)
	}
	r.StatusCode = n
	if cmd, ok := fields["command"]; ok && cmd != nil {
		s := strings.TrimSpace(fmt.Sprint(cmd))
		if s != "NULL" && s != "None" {
			r.Command = s
		}
	}
	if ps, ok := fields["pilotSecrets"]; ok && ps != nil {
		r.PilotSecrets = fmt.Sprint(ps)
	}
	return r, nil
}

// Worker states sent with UpdateWorkerStatus.
const (
	WorkerStarted  = "started"
	WorkerFinished = "finished"
)

// WorkerStatus is one worker-status report of a Harvester-managed pilot
// (PROTOCOL.md §4): the Harvester instance and worker (env HARVESTER_ID and
// HARVESTER_WORKER_ID), the state (WorkerStarted or WorkerFinished), the
// queue name and the worker node.
type WorkerStatus struct {
	HarvesterID string
	WorkerID    string
	Status      string
	Site        string
	Node        string
}

// Legacy returns the updateWorkerPilotStatus fields.
func (w WorkerStatus) Legacy() map[string]any {
	return map[string]any{
		"workerID": w.WorkerID, "harvesterID": w.HarvesterID, "status": w.Status,
		"site": w.Site, "node_id": w.Node,
	}
}

// V1 returns the update_worker_status arguments. worker_id is an integer
// when WorkerID is one (the server's annotation), else it is sent as given
// and the server rejects it.
func (w WorkerStatus) V1() map[string]any {
	m := map[string]any{"harvester_id": w.HarvesterID, "status": w.Status, "node_id": w.Node}
	if id, err := strconv.ParseInt(strings.TrimSpace(w.WorkerID), 10, 64); err == nil {
		m["worker_id"] = id
	} else {
		m["worker_id"] = w.WorkerID
	}
	return m
}

// UpdateWorkerStatus sends updateWorkerPilotStatus (legacy) or
// /api/v1/pilot/update_worker_status (v1; with Auto, v1 first and legacy on
// 403/404), with the retries of updates. The legacy answer is not looked at
// (Pilot 3 ignores it); a v1 answer with success=false is an error naming the
// server's message. Transport failures and non-2xx answers are errors.
func (c *Client) UpdateWorkerStatus(ctx context.Context, ws WorkerStatus) error {
	api := c.API()
	if api == Auto {
		err := c.updateWorkerStatus(ctx, ws, V1)
		var he *HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusForbidden || he.Status == http.StatusNotFound) {
			c.log.WithField("status", he.Status).Info("server does not offer the v1 pilot API; using the legacy API")
			c.setResolved(Legacy)
			return c.updateWorkerStatus(ctx, ws, Legacy)
		}
		var re *RefusedError
		if err == nil || errors.As(err, &re) {
			c.setResolved(V1)
		}
		return err
	}
	return c.updateWorkerStatus(ctx, ws, api)
}

func (c *Client) updateWorkerStatus(ctx context.Context, ws WorkerStatus, api API) error {
	if api != V1 {
		_, err := c.post(ctx, c.update, "/server/panda/updateWorkerPilotStatus", ws.Legacy(), Legacy)
		return err
	}
	body, err := c.post(ctx, c.update, "/api/v1/pilot/update_worker_status", ws.V1(), V1)
	if err != nil {
		return err
	}
	var env struct {
		Success *bool  `json:"success"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Success == nil {
		return fmt.Errorf("update_worker_status answer is not a v1 envelope: %q", clip(strings.TrimSpace(string(body)), 80))
	}
	if !*env.Success {
		return &RefusedError{Method: "update_worker_status", Message: env.Message}
	}
	return nil
}

// RefusedError is a v1 answer with success=false.
type RefusedError struct {
	Method  string
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("server refused %s: %s", e.Method, clip(e.Message, 200))
}

func (c *Client) gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := c.zws.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(&buf)
	} else {
		zw.Reset(&buf)
	}
	_, _ = zw.Write(b)
	_ = zw.Close()
	c.zws.Put(zw)
	return buf.Bytes()
}

// formEncode renders fields as a form the way Pilot 3's curl path does:
// values are Python str() of the value (True/False, 2000.0).
func formEncode(fields map[string]any) string {
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, PyStr(x))
	}
	return v.Encode()
}

// pyFloat marks a float so JSON renders it with a decimal point, as Python does.
type pyFloat float64

func (f pyFloat) MarshalJSON() ([]byte, error) {
	return []byte(PyStr(float64(f))), nil
}

// PyStr renders a value as Python's str() would (jobdef.PyStr, which also
// knows the float marker of the getJob request).
func PyStr(x any) string {
	if f, ok := x.(pyFloat); ok {
		x = float64(f)
	}
	return jobdef.PyStr(x)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
