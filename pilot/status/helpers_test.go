package status

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// waitLimit bounds every wait in the tests; generous for a loaded two-core
// machine, never a timing assertion.
const waitLimit = 60 * time.Second

// t0 is the fixed clock of the tests' servers.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakePilot is a Source and Controller over a settable snapshot.
type fakePilot struct {
	mu     sync.Mutex
	snap   Snapshot
	drains []string
	kills  []string
}

func newFakePilot() *fakePilot {
	return &fakePilot{snap: Snapshot{
		PilotID: "node1:1234|PR|0.1.0", Queue: "TEST_QUEUE", Site: "TEST_SITE", Node: "node1.example.org",
		Version: "0.1.0", Started: t0.Add(-90 * time.Minute), Deadline: t0.Add(2 * time.Hour),
	}}
}

func (f *fakePilot) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	if s.Job != nil {
		j := *s.Job
		s.Job = &j
	}
	return s
}

func (f *fakePilot) setJob(j *JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap.Job = j
}

func (f *fakePilot) Drain(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drains = append(f.drains, reason)
	if !f.snap.Draining {
		f.snap.Draining, f.snap.DrainReason = true, reason
	}
}

func (f *fakePilot) KillJob(reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap.Job == nil {
		return ErrNoJob
	}
	f.kills = append(f.kills, reason)
	return nil
}

func (f *fakePilot) actions() (drains, kills []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.drains...), append([]string(nil), f.kills...)
}

func runningJob() *JobStatus {
	return &JobStatus{PandaID: 4000000042, State: PhaseRunning, Started: t0.Add(-10 * time.Minute),
		PayloadPID: 31337, CPUSeconds: 512, RSSKB: 204800, PSSKB: 150000,
		FilesStagedIn: 2, BytesIn: 3 << 20, FilesStagedOut: 0, BytesOut: 0}
}

// endpoint is a running Server and a client that reaches it.
type endpoint struct {
	srv    *Server
	pilot  *fakePilot
	m      *Metrics
	client *http.Client
	base   string // URL prefix, http://host:port
	hook   *test.Hook
}

// transports lists the ways the tests reach a server: TCP on loopback and a
// unix socket in a temporary directory.
func transports(t *testing.T) map[string]string {
	return map[string]string{
		"tcp":  "127.0.0.1:0",
		"unix": UnixPrefix + filepath.Join(t.TempDir(), "status.sock"),
	}
}

// start runs a Server on addr with a fake pilot and returns a client for it.
// nilCtl starts it without a Controller.
func start(t *testing.T, addr string, nilCtl bool) *endpoint {
	t.Helper()
	lg, hook := test.NewNullLogger()
	lg.SetLevel(logrus.DebugLevel)
	e := &endpoint{pilot: newFakePilot(), m: NewMetrics(), hook: hook}
	var ctl Controller = e.pilot
	if nilCtl {
		ctl = nil
	}
	srv, err := New(addr, e.pilot, ctl, e.m, lg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Now = func() time.Time { return t0 }
	e.srv = srv
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel(errors.New("test over"))
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("Serve did not return")
		}
	})
	e.client, e.base = clientFor(srv.Addr())
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// clientFor returns an HTTP client and URL prefix for a server address.
func clientFor(addr string) (*http.Client, string) {
	tr := &http.Transport{}
	base := "http://" + addr
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		base = "http://pilot"
	}
	return &http.Client{Transport: tr, Timeout: waitLimit}, base
}

// do sends a request and returns the answer's status, headers and body.
func (e *endpoint) do(t *testing.T, method, path, contentType, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
