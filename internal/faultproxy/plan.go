package faultproxy

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Kind is what the proxy does with a request a rule matched.
type Kind int

// The kinds of fault.
const (
	// Forward passes the request on and its answer back (no fault; useful
	// as a rule that shields requests from later rules).
	Forward Kind = iota
	// Drop closes the client's connection without an answer.
	Drop
	// Status answers Fault.Code (default 503) with the body "injected
	// fault", and with Retry-After: Fault.RetryAfter when that is set.
	Status
	// Stall answers nothing and keeps the connection open until the client
	// closes it, the proxy closes, or Fault.For (when > 0) has passed; the
	// connection is then closed.
	Stall
	// Hold parks the request until the test releases it through
	// Fault.Gate (Held.Release or Held.Drop); Proxy.Close drops it.
	Hold
	// Restart drops the connection, then stops accepting: the listener and
	// every open client connection are closed, so new connections are
	// refused, and after Fault.Down the proxy listens again on the same
	// address.
	Restart
)

func (k Kind) String() string {
	switch k {
	case Forward:
		return "forward"
	case Drop:
		return "drop"
	case Status:
		return "status"
	case Stall:
		return "stall"
	case Hold:
		return "hold"
	case Restart:
		return "restart"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Fault is what happens to a matched request.
type Fault struct {
	Kind Kind
	// After forwards the request first, so that the server acts on it, and
	// applies the fault in place of delivering the answer: the server did
	// the work, the client sees a failure (Drop, Status, Stall, Restart),
	// or waits (Hold). Ignored for Forward.
	After bool
	// Code is the HTTP status of a Status fault; 0 means 503.
	Code int
	// RetryAfter is the Retry-After header of a Status fault ("" = none),
	// e.g. "2" or an HTTP date.
	RetryAfter string
	// For bounds a Stall; 0 means until the client or the proxy closes.
	For time.Duration
	// Down is how long a Restart refuses connections.
	Down time.Duration
	// Gate receives the requests of a Hold; it must be set for Hold.
	Gate *Gate
}

// label names the fault in the record, e.g. "drop", "drop-after",
// "status-503", "status-503-after".
func (f Fault) label() string {
	s := f.Kind.String()
	if f.Kind == Status {
		s = fmt.Sprintf("status-%d", f.code())
		if f.RetryAfter != "" {
			s += "-retry-after"
		}
	}
	if f.After && f.Kind != Forward {
		s += "-after"
	}
	return s
}

func (f Fault) code() int {
	if f.Code == 0 {
		return 503
	}
	return f.Code
}

// Match selects requests. Every condition that is set must hold; the zero
// Match matches every request.
type Match struct {
	// Method is the API method: the last path element of /server/panda/<m>
	// or /api/v1/<module>/<m> (getJob, updateJob, acquire_jobs, update_job,
	// ...); for any other path the path itself. "" matches any.
	Method string
	// Final matches only job updates whose state is finished or failed.
	Final bool
	// State matches only job updates with this state.
	State string
	// PandaID matches only updates of this job.
	PandaID int64
	// Nth matches only the Nth request (1-based) that meets the conditions
	// above; 0 matches each.
	Nth int
	// Times bounds how often the rule fires; 0 = no bound.
	Times int
	// Prob is the probability that the rule fires for a request meeting the
	// conditions above, drawn from the proxy's seeded generator; 0 = always.
	Prob float64
}

// Rule is one entry of a proxy's fault plan.
type Rule struct {
	match Match
	fault Fault

	// guarded by the proxy's mutex
	seen  int // requests that met the conditions
	fired int
	gone  bool
}

// Request is what the proxy knows about a request when it decides.
type Request struct {
	Method  string
	Path    string
	PandaID int64  // jobId / job_id of an update, 0 otherwise
	State   string // state / job_status of an update
}

// Final reports whether the request is a job update with a final state.
func (r Request) Final() bool { return r.State == "finished" || r.State == "failed" }

// meets reports whether r meets m's conditions other than Nth, Times and Prob.
func (m Match) meets(r Request) bool {
	switch {
	case m.Method != "" && m.Method != r.Method:
		return false
	case m.Final && !r.Final():
		return false
	case m.State != "" && m.State != r.State:
		return false
	case m.PandaID != 0 && m.PandaID != r.PandaID:
		return false
	}
	return true
}

// Gate collects the requests a Hold fault parks, in arrival order.
type Gate struct {
	held chan *Held
}

// NewGate returns a gate that can park up to 1024 requests at a time.
func NewGate() *Gate { return &Gate{held: make(chan *Held, 1024)} }

// Held is one parked request. Exactly one of Release and Drop takes
// effect; later calls do nothing.
type Held struct {
	// Seen is the request as recorded so far (Forwarded and Status are set
	// when the fault holds the answer, Fault.After).
	Seen Seen

	once sync.Once
	done chan bool // true: drop
}

// Release lets the request go on: a request held before forwarding is
// forwarded and answered, a held answer is delivered.
func (h *Held) Release() { h.finish(false) }

// Drop closes the client's connection instead; a request held before
// forwarding never reaches the server.
func (h *Held) Drop() { h.finish(true) }

func (h *Held) finish(drop bool) {
	h.once.Do(func() { h.done <- drop })
}

// Wait returns the next parked request, waiting for one until ctx ends.
func (g *Gate) Wait(ctx context.Context) (*Held, error) {
	select {
	case h := <-g.held:
		return h, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("faultproxy: no request was held: %w", context.Cause(ctx))
	}
}
