// Package faultproxy is an HTTP reverse proxy for tests that stands between
// a pilot and its PanDA server (pandalite) on 127.0.0.1 and breaks requests
// on purpose, following a fault plan the test programs while it runs.
//
// Each request is read whole and classified (API method, PandaID and state
// of job updates, whatever the body encoding: gzip-JSON, JSON or form), then
// the rules are tried in the order they were added; the first rule whose
// Match fires decides the Fault. A request no rule takes is forwarded. The
// faults are those a pilot meets on the grid: a connection dropped before or
// after the server acted, 5xx answers with and without Retry-After, an
// answer that never comes, a request parked until the test says so, and a
// server that goes away for a while and comes back on the same port. The
// proxy records every request it saw and what it did with it.
//
// A Proxy is safe for concurrent use; probabilistic rules draw from one
// generator seeded by Options.Seed.
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// maxBody bounds a request or answer body the proxy reads.
const maxBody = 64 << 20

// Options configures a Proxy.
type Options struct {
	// Seed seeds the generator of probabilistic rules.
	Seed uint64
	// Addr is the address to listen on; "" means 127.0.0.1:0.
	Addr string
}

// Seen is the record of one request.
type Seen struct {
	Seq  int // 1-based arrival order
	Time time.Time
	Request
	// Fault is the applied fault's label ("drop", "drop-after",
	// "status-503", "status-503-retry-after", "stall", "hold-after",
	// "restart", ...); "" when the request was forwarded untouched.
	Fault string
	// Forwarded: the request reached the server and it answered.
	Forwarded bool
	// Status is the server's HTTP status (0 when not forwarded).
	Status int
	// Command is the command of the server's answer to a job update
	// ("NULL", "alreadydone", "tobekilled", ...), "" when none was read.
	Command string
	// Dispatched is the PandaID the server handed out in a getJob or
	// acquire_jobs answer (0 when none).
	Dispatched int64
	// Delivered: the client was sent an answer (the server's or an
	// injected status). False when the connection was dropped or the
	// client was gone.
	Delivered bool
	// Err is the forwarding error, if any.
	Err string
}

// Proxy is a fault-injecting reverse proxy.
type Proxy struct {
	addr   string
	client *http.Client

	upMu sync.Mutex // one Up at a time

	mu      sync.Mutex
	target  string // host:port of the server
	rules   []*Rule
	rng     *rand.Rand
	seen    []Seen
	srv     *http.Server
	down    bool
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup // restarts in progress
}

// New starts a proxy in front of target ("host:port" or "http://host:port").
func New(target string, opts Options) (*Proxy, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{
		addr:    ln.Addr().String(),
		target:  hostPort(target),
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		closing: make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{
			Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 16,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		}},
	}
	p.serve(ln)
	return p, nil
}

func hostPort(target string) string {
	target = strings.TrimPrefix(target, "http://")
	return strings.TrimRight(target, "/")
}

// Addr returns the proxy's "127.0.0.1:PORT"; it stays the same across restarts.
func (p *Proxy) Addr() string { return p.addr }

// URL returns "http://" + Addr().
func (p *Proxy) URL() string { return "http://" + p.addr }

// SetTarget points the proxy at another server (e.g. a restarted one on a
// new port); requests already forwarded are not affected.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = hostPort(target)
	p.mu.Unlock()
}

// Add appends a rule to the plan and returns it.
func (p *Proxy) Add(m Match, f Fault) *Rule {
	if f.Kind == Hold && f.Gate == nil {
		panic("faultproxy: a Hold fault needs a Gate")
	}
	r := &Rule{match: m, fault: f}
	p.mu.Lock()
	p.rules = append(p.rules, r)
	p.mu.Unlock()
	return r
}

// Remove takes a rule out of the plan.
func (p *Proxy) Remove(r *Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r.gone = true
	for i, x := range p.rules {
		if x == r {
			p.rules = append(p.rules[:i], p.rules[i+1:]...)
			return
		}
	}
}

// Clear empties the plan: every later request is forwarded.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		r.gone = true
	}
	p.rules = nil
}

// Fired returns how often the rule has fired.
func (p *Proxy) Fired(r *Rule) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return r.fired
}

// Seen returns the record of every request so far, in arrival order.
func (p *Proxy) Seen() []Seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Seen(nil), p.seen...)
}

// Down stops accepting connections and closes every open client
// connection (requests being handled go on, but their answers are lost).
// New connections are refused until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	srv := p.srv
	p.srv, p.down = nil, true
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the proxy's address after Down. It retries for up to
// 10 s while the port is still busy.
func (p *Proxy) Up() error {
	p.upMu.Lock()
	defer p.upMu.Unlock()
	p.mu.Lock()
	if p.closed || !p.down {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", p.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("faultproxy: listening again on %s: %w", p.addr, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ln.Close()
	}
	p.down = false
	p.mu.Unlock()
	p.serve(ln)
	return nil
}

// Restart is Down, a pause of d, then Up, in the background.
func (p *Proxy) Restart(d time.Duration) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	p.Down()
	go func() {
		defer p.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			_ = p.Up()
		case <-p.closing:
		}
	}()
}

// Close stops the proxy: the listener and every connection are closed and
// parked or stalled requests are dropped.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	p.wg.Wait()
	p.client.CloseIdleConnections()
	return err
}

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 30 * time.Second}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = ln.Close()
		return
	}
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// decide records the arrival of req and picks its rule. It returns the
// fault, whether one applies, and the index of the record.
func (p *Proxy) decide(req Request) (Fault, bool, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := len(p.seen)
	p.seen = append(p.seen, Seen{Seq: idx + 1, Time: time.Now(), Request: req})
	for _, r := range p.rules {
		m := r.match
		if !m.meets(req) {
			continue
		}
		r.seen++
		if m.Nth > 0 && r.seen != m.Nth {
			continue
		}
		if m.Times > 0 && r.fired >= m.Times {
			continue
		}
		if m.Prob > 0 && p.rng.Float64() >= m.Prob {
			continue
		}
		r.fired++
		if r.fault.Kind == Forward {
			return Fault{}, false, idx
		}
		p.seen[idx].Fault = r.fault.label()
		return r.fault, true, idx
	}
	return Fault{}, false, idx
}

func (p *Proxy) update(idx int, fn func(s *Seen)) {
	p.mu.Lock()
	fn(&p.seen[idx])
	p.mu.Unlock()
}

// answer is a server answer read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		drop(w)
		return
	}
	req := Classify(r.Method, r.URL.Path, r.URL.RawQuery, r.Header, body)
	f, faulty, idx := p.decide(req)

	if faulty && !f.After {
		switch f.Kind {
		case Drop, Restart:
			drop(w)
			if f.Kind == Restart {
				p.Restart(f.Down)
			}
			return
		case Status:
			p.inject(w, f, idx)
			return
		case Stall:
			p.stall(r.Context(), f)
			drop(w)
			return
		case Hold:
			if p.hold(f, idx) {
				drop(w)
				return
			}
		}
	}

	ans, err := p.forward(r, body)
	if err != nil {
		p.update(idx, func(s *Seen) { s.Err = err.Error() })
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	p.update(idx, func(s *Seen) {
		s.Forwarded, s.Status = true, ans.status
		s.Command, s.Dispatched = readAnswer(req, ans)
	})

	if faulty && f.After {
		switch f.Kind {
		case Drop, Restart:
			drop(w)
			if f.Kind == Restart {
				p.Restart(f.Down)
			}
			return
		case Status:
			p.inject(w, f, idx)
			return
		case Stall:
			p.stall(r.Context(), f)
			drop(w)
			return
		case Hold:
			if p.hold(f, idx) {
				drop(w)
				return
			}
		}
	}
	for k, vs := range ans.header {
		if hopByHop(k) {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(ans.status)
	_, werr := w.Write(ans.body)
	if werr == nil && r.Context().Err() == nil {
		p.update(idx, func(s *Seen) { s.Delivered = true })
	}
}

// inject answers the injected status.
func (p *Proxy) inject(w http.ResponseWriter, f Fault, idx int) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.code())
	if _, err := io.WriteString(w, "injected fault\n"); err == nil {
		p.update(idx, func(s *Seen) { s.Delivered = true })
	}
}

// stall waits until the client goes away, the proxy closes, or f.For passes.
func (p *Proxy) stall(ctx context.Context, f Fault) {
	var limit <-chan time.Time
	if f.For > 0 {
		t := time.NewTimer(f.For)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-ctx.Done():
	case <-p.closing:
	case <-limit:
	}
}

// hold parks the request on the fault's gate and reports whether it is to
// be dropped.
func (p *Proxy) hold(f Fault, idx int) bool {
	p.mu.Lock()
	h := &Held{Seen: p.seen[idx], done: make(chan bool, 1)}
	p.mu.Unlock()
	select {
	case f.Gate.held <- h:
	default:
		return true // the gate is full: drop
	}
	select {
	case d := <-h.done:
		return d
	case <-p.closing:
		return true
	}
}

// forward sends the request to the server and reads the whole answer.
func (p *Proxy) forward(r *http.Request, body []byte) (answer, error) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	u := "http://" + target + r.URL.RequestURI()
	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, u, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			out.Header[k] = vs
		}
	}
	out.Host = r.Host
	resp, err := p.client.Do(out)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return answer{}, err
	}
	if len(b) > maxBody {
		return answer{}, errors.New("answer too large")
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset, not an orderly close
	}
	_ = conn.Close()
}

func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}

// Classify reads what the proxy matches on from a request: the API method
// (last path element under /server/panda/ and /api/v1/<module>/, else the
// path), and for job updates the PandaID and state, from a gzip-JSON, JSON
// or form body or the query string. It never fails: what it cannot read is
// left empty.
func Classify(method, path, query string, h http.Header, body []byte) Request {
	req := Request{Path: path, Method: path}
	var api string
	switch {
	case strings.HasPrefix(path, "/server/panda/"):
		api, req.Method = "legacy", strings.TrimPrefix(path, "/server/panda/")
	case strings.HasPrefix(path, "/api/"):
		parts := strings.Split(strings.Trim(path, "/"), "/")
		api, req.Method = "v1", parts[len(parts)-1]
	}
	var args map[string]string
	switch api {
	case "legacy":
		a, _, err := pandalite.DecodeLegacy(h.Get("Content-Type"), body, query)
		if err != nil {
			return req
		}
		args = a
		req.State = args["state"]
		req.PandaID = parseID(args["jobId"])
	case "v1":
		o, err := pandalite.DecodeV1(method, h.Get("Content-Type"), h.Get("Content-Encoding"), body, query)
		if err != nil {
			return req
		}
		args = o.Strings()
		req.State = args["job_status"]
		req.PandaID = parseID(args["job_id"])
	}
	return req
}

func parseID(s string) int64 {
	var id int64
	if _, err := fmt.Sscan(strings.TrimSpace(s), &id); err != nil || id < 0 {
		return 0
	}
	return id
}

// readAnswer extracts the command of an update answer and the PandaID of a
// job request's answer.
func readAnswer(req Request, ans answer) (command string, dispatched int64) {
	if ans.status < 200 || ans.status > 299 {
		return "", 0
	}
	switch req.Method {
	case "updateJob", "update_job":
		if rep, err := server.ParseReply(ans.body); err == nil {
			command = rep.Command
			if command == "" {
				command = "NULL"
			}
		}
	case "getJob", "acquire_jobs":
		if resp, err := jobdef.ParseGetJobResponse(ans.body); err == nil && len(resp.Jobs) > 0 {
			dispatched = resp.Jobs[0].PandaID
		}
	}
	return command, dispatched
}
