package faultproxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// env is a pandalite server on 127.0.0.1 with a proxy in front of it.
type env struct {
	store *Store
	proxy *Proxy
	srv   *httptest.Server
}

// Store is the pandalite store (a type alias keeps the helpers short).
type Store = pandalite.Store

func newEnv(t *testing.T, seed uint64) *env {
	t.Helper()
	ctx := context.Background()
	st, err := pandalite.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, err := pandalite.ParseQueue([]byte(`{"nickname": "FP", "status": "online"}`))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pandalite.NewServer(st, pandalite.Options{Queues: []*pandalite.Queue{q}}))
	t.Cleanup(srv.Close)
	p, err := New(srv.URL, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &env{store: st, proxy: p, srv: srv}
}

// submit adds jobs first..first+n-1 and returns their PandaIDs.
func (e *env) submit(t *testing.T, first int64, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := int64(0); i < int64(n); i++ {
		id := first + i
		o, err := pandalite.ParseObject([]byte(fmt.Sprintf(`{"PandaID": %d, "attemptNr": 1, "prodSourceLabel": "managed",
			"transformation": "true", "jobPars": "", "logFile": "l.%d.tgz", "outFiles": "l.%d.tgz", "scopeLog": "s",
			"realDatasets": "d", "ddmEndPointOut": "X", "logGUID": "00000000-0000-4000-8000-000000000001"}`, id, id, id)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Submit(context.Background(), "FP", o); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// client returns a pilot wire client through the proxy with short waits and
// the given number of retries.
func (e *env) client(t *testing.T, api server.API, form bool, retries int) *server.Client {
	t.Helper()
	if retries == 0 {
		retries = -1 // server.Options: 0 means the default
	}
	c, err := server.New(server.Options{
		BaseURL: e.proxy.URL(), API: api, FormEncoding: form, RetryMax: retries,
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond,
		AttemptTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) job(t *testing.T, id int64) pandalite.JobInfo {
	t.Helper()
	j, err := e.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func final(id int64, state string) *jobdef.UpdateReport {
	return &jobdef.UpdateReport{JobID: id, State: state, AttemptNr: 1, Final: true, SiteName: "FP", Node: "n"}
}

func request() server.JobRequest {
	return server.JobRequest{SiteName: "FP", ComputingElement: "FP", ProdSourceLabel: "managed", Node: "n"}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// labels returns the fault labels of the records of method, "" for clean ones.
func labels(seen []Seen, method string) []string {
	var out []string
	for _, s := range seen {
		if s.Method == method {
			out = append(out, s.Fault)
		}
	}
	return out
}

func TestUpdateFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault Fault
		// want: the record of the two attempts, and the command of the forwarded ones
		labels   []string
		commands []string
	}{
		{"drop before forwarding", Fault{Kind: Drop}, []string{"drop", ""}, []string{"", "NULL"}},
		{"drop after forwarding", Fault{Kind: Drop, After: true}, []string{"drop-after", ""}, []string{"NULL", "alreadydone"}},
		{"503 with Retry-After", Fault{Kind: Status, Code: 503, RetryAfter: "0"}, []string{"status-503-retry-after", ""}, []string{"", "NULL"}},
		{"502", Fault{Kind: Status, Code: 502}, []string{"status-502", ""}, []string{"", "NULL"}},
		{"500 after forwarding", Fault{Kind: Status, Code: 500, After: true}, []string{"status-500-after", ""}, []string{"NULL", "alreadydone"}},
		{"stall before forwarding", Fault{Kind: Stall, For: 20 * time.Millisecond}, []string{"stall", ""}, []string{"", "NULL"}},
		{"stall after forwarding", Fault{Kind: Stall, After: true, For: 20 * time.Millisecond}, []string{"stall-after", ""}, []string{"NULL", "alreadydone"}},
	}
	for i, tc := range cases {
		for _, enc := range []struct {
			name string
			api  server.API
			form bool
		}{{"gzip-json", server.Legacy, false}, {"form", server.Legacy, true}, {"v1", server.V1, false}} {
			t.Run(tc.name+"/"+enc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, 1)
				id := e.submit(t, int64(100+i), 1)[0]
				c := e.client(t, enc.api, enc.form, 1)
				ctx := testCtx(t)
				if _, err := c.GetJob(ctx, request()); err != nil {
					t.Fatal(err)
				}
				method := "updateJob"
				if enc.api == server.V1 {
					method = "update_job"
				}
				r := e.proxy.Add(Match{Method: method, Final: true, Times: 1}, tc.fault)
				// One retry carries the update through the fault.
				rep, err := c.UpdateJob(ctx, final(id, "finished"))
				if err != nil {
					t.Fatalf("update: %v", err)
				}
				if j := e.job(t, id); j.State != "finished" {
					t.Errorf("state %s", j.State)
				}
				seen := e.proxy.Seen()
				if got := labels(seen, method); fmt.Sprint(got) != fmt.Sprint(tc.labels) {
					t.Errorf("labels %q, want %q", got, tc.labels)
				}
				var cmds []string
				for _, s := range seen {
					if s.Method == method {
						cmds = append(cmds, s.Command)
						if s.PandaID != id || s.State != "finished" || !s.Final() {
							t.Errorf("record %+v", s)
						}
					}
				}
				if fmt.Sprint(cmds) != fmt.Sprint(tc.commands) {
					t.Errorf("commands %q, want %q", cmds, tc.commands)
				}
				if want := tc.commands[1]; rep.Command != strings.TrimPrefix(want, "NULL") {
					t.Errorf("client saw command %q, want %q", rep.Command, want)
				}
				if e.proxy.Fired(r) != 1 {
					t.Errorf("fired %d", e.proxy.Fired(r))
				}
			})
		}
	}
}

// A getJob whose answer is lost after the server dispatched: the client
// gets an error, the job is the server's "sent", and the record names it.
func TestGetJobFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		fault     Fault
		wantState string
	}{
		{"drop before forwarding", Fault{Kind: Drop}, "activated"},
		{"drop after forwarding", Fault{Kind: Drop, After: true}, "sent"},
		{"503 before forwarding", Fault{Kind: Status}, "activated"},
		{"stall after forwarding", Fault{Kind: Stall, After: true, For: 10 * time.Millisecond}, "sent"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 1)
			id := e.submit(t, int64(200+i), 1)[0]
			e.proxy.Add(Match{Method: "getJob"}, tc.fault)
			c := e.client(t, server.Legacy, false, 3)
			if _, err := c.GetJob(testCtx(t), request()); err == nil {
				t.Fatal("getJob succeeded through the fault")
			}
			if j := e.job(t, id); j.State != tc.wantState {
				t.Errorf("state %s, want %s", j.State, tc.wantState)
			}
			seen := e.proxy.Seen()
			if len(seen) != 1 {
				t.Fatalf("%d requests seen (getJob must not be retried once sent): %+v", len(seen), seen)
			}
			if want := tc.wantState == "sent"; seen[0].Forwarded != want || (seen[0].Dispatched == id) != want {
				t.Errorf("record %+v", seen[0])
			}
			if want := tc.fault.Kind == Status; seen[0].Delivered != want {
				t.Errorf("delivered %v, want %v: %+v", seen[0].Delivered, want, seen[0])
			}
		})
	}
}

func TestHold(t *testing.T) {
	t.Parallel()
	for _, after := range []bool{false, true} {
		for _, release := range []bool{false, true} {
			t.Run(fmt.Sprintf("after=%v/release=%v", after, release), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, 1)
				id := e.submit(t, 300, 1)[0]
				c := e.client(t, server.Legacy, false, 0)
				ctx := testCtx(t)
				if _, err := c.GetJob(ctx, request()); err != nil {
					t.Fatal(err)
				}
				g := NewGate()
				e.proxy.Add(Match{Final: true}, Fault{Kind: Hold, After: after, Gate: g})
				errc := make(chan error, 1)
				go func() {
					_, err := c.UpdateJob(ctx, final(id, "failed"))
					errc <- err
				}()
				h, err := g.Wait(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if h.Seen.PandaID != id || h.Seen.Forwarded != after {
					t.Errorf("held %+v", h.Seen)
				}
				// While held, the server has (after) or has not (before) acted.
				want := "sent"
				if after {
					want = "failed"
				}
				if j := e.job(t, id); j.State != want {
					t.Errorf("while held: state %s, want %s", j.State, want)
				}
				if release {
					h.Release()
				} else {
					h.Drop()
				}
				h.Drop() // no effect after the first
				err = <-errc
				if (err == nil) != release {
					t.Errorf("client error %v with release=%v", err, release)
				}
				want = "sent"
				if after || release {
					want = "failed"
				}
				if j := e.job(t, id); j.State != want {
					t.Errorf("after: state %s, want %s", j.State, want)
				}
			})
		}
	}
}

// Close drops what is parked and stalled, and a stall ends when the client
// gives up.
func TestCloseAndClientTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	g := NewGate()
	e.proxy.Add(Match{Method: "getJob"}, Fault{Kind: Hold, Gate: g})
	e.proxy.Add(Match{Method: "updateJob"}, Fault{Kind: Stall})
	c, err := server.New(server.Options{BaseURL: e.proxy.URL(), RetryMax: -1, AttemptTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	// The stall outlasts the client's attempt timeout.
	if _, err := c.UpdateJob(ctx, final(1, "finished")); err == nil {
		t.Fatal("stalled update succeeded")
	}
	long, err := server.New(server.Options{BaseURL: e.proxy.URL(), RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := long.GetJob(ctx, request()); errc <- err }()
	if _, err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	e.proxy.Close()
	if err := <-errc; err == nil {
		t.Fatal("held getJob succeeded after Close")
	}
	if _, err := net.Dial("tcp", e.proxy.Addr()); err == nil {
		t.Error("closed proxy accepts connections")
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	ids := e.submit(t, 400, 2)
	c := e.client(t, server.Legacy, false, 0)
	ctx := testCtx(t)

	e.proxy.Down()
	_, err := c.GetJob(ctx, request())
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("getJob while down: %v, want a refused connection", err)
	}
	if err := e.proxy.Up(); err != nil {
		t.Fatal(err)
	}
	job, err := c.GetJob(ctx, request())
	if err != nil || job.PandaID != ids[0] {
		t.Fatalf("getJob after Up: %v %v", job, err)
	}

	// A Restart fault drops the request and refuses connections for a while;
	// the client's retries of a refused connection carry it through.
	e.proxy.Add(Match{Final: true, Times: 1}, Fault{Kind: Restart, After: true, Down: 200 * time.Millisecond})
	if _, err := c.UpdateJob(ctx, final(ids[0], "finished")); err == nil {
		t.Fatal("update through a restart succeeded")
	}
	patient, err := server.New(server.Options{BaseURL: e.proxy.URL(), RetryMax: 100,
		RetryWaitMin: 20 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := patient.UpdateJob(ctx, final(ids[0], "finished"))
	if err != nil || rep.Command != "alreadydone" {
		t.Fatalf("update after restart: %+v %v", rep, err)
	}
	// The same port, the same server, after the restart.
	job, err = patient.GetJob(ctx, request())
	if err != nil || job.PandaID != ids[1] {
		t.Fatalf("getJob after restart: %v %v", job, err)
	}
}

// SetTarget moves the proxy to another server.
func TestSetTarget(t *testing.T) {
	t.Parallel()
	a, b := newEnv(t, 1), newEnv(t, 1)
	b.submit(t, 500, 1)
	c := a.client(t, server.Legacy, false, 0)
	ctx := testCtx(t)
	if _, err := c.GetJob(ctx, request()); !errors.Is(err, server.ErrNoJob) {
		t.Fatalf("first server: %v", err)
	}
	a.proxy.SetTarget(b.srv.URL)
	if j, err := c.GetJob(ctx, request()); err != nil || j.PandaID != 500 {
		t.Fatalf("second server: %v %v", j, err)
	}
}

// Nth, Times, Prob and the first-match order, with a fixed seed.
func TestMatching(t *testing.T) {
	t.Parallel()
	count := func(seed uint64, plan func(p *Proxy)) []string {
		e := newEnv(t, seed)
		plan(e.proxy)
		c := e.client(t, server.Legacy, false, 0)
		ctx := testCtx(t)
		for i := 0; i < 40; i++ {
			_, _ = c.UpdateJob(ctx, &jobdef.UpdateReport{JobID: 9, State: "running", AttemptNr: 1})
		}
		return labels(e.proxy.Seen(), "updateJob")
	}
	nth := count(1, func(p *Proxy) { p.Add(Match{State: "running", Nth: 3}, Fault{Kind: Status, Code: 500}) })
	for i, l := range nth {
		if (l != "") != (i == 2) {
			t.Errorf("Nth=3: request %d labelled %q", i+1, l)
		}
	}
	times := count(1, func(p *Proxy) { p.Add(Match{Times: 2}, Fault{Kind: Status, Code: 502}) })
	if n := nonEmpty(times); n != 2 || times[0] == "" || times[1] == "" {
		t.Errorf("Times=2: %q", times)
	}
	shield := count(1, func(p *Proxy) {
		p.Add(Match{Nth: 1}, Fault{Kind: Forward})
		p.Add(Match{}, Fault{Kind: Status})
	})
	if shield[0] != "" || nonEmpty(shield) != 39 {
		t.Errorf("a Forward rule shields its request: %q", shield)
	}
	prob := func(seed uint64) []string {
		return count(seed, func(p *Proxy) { p.Add(Match{Prob: 0.5}, Fault{Kind: Status}) })
	}
	a, b := prob(7), prob(7)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different draws:\n%q\n%q", a, b)
	}
	if n := nonEmpty(a); n == 0 || n == len(a) {
		t.Errorf("Prob=0.5 fired %d of %d", n, len(a))
	}
	none := count(1, func(p *Proxy) { p.Add(Match{Method: "getJob"}, Fault{Kind: Drop}) })
	if nonEmpty(none) != 0 {
		t.Errorf("a getJob rule fired on updates: %q", none)
	}
}

func nonEmpty(l []string) int {
	n := 0
	for _, s := range l {
		if s != "" {
			n++
		}
	}
	return n
}

// Many clients at once through a probabilistic plan: every request is
// recorded once, and what the server saw matches the record.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	ids := e.submit(t, 1000, 40)
	e.proxy.Add(Match{Method: "getJob", Prob: 0.2}, Fault{Kind: Status, Code: 503})
	e.proxy.Add(Match{Final: true, Prob: 0.2}, Fault{Kind: Drop, After: true})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		c := e.client(t, server.Legacy, false, 8)
		go func() {
			defer wg.Done()
			for {
				job, err := c.GetJob(ctx, request())
				if errors.Is(err, server.ErrNoJob) {
					return
				}
				if err != nil {
					continue
				}
				if _, err := c.UpdateJob(ctx, final(job.PandaID, "finished")); err != nil {
					t.Errorf("job %d: %v", job.PandaID, err)
				}
			}
		}()
	}
	wg.Wait()
	seen := e.proxy.Seen()
	dispatched := map[int64]int{}
	for i, s := range seen {
		if s.Seq != i+1 {
			t.Fatalf("record %d has Seq %d", i, s.Seq)
		}
		if s.Dispatched != 0 {
			dispatched[s.Dispatched]++
		}
	}
	for _, id := range ids {
		if j := e.job(t, id); j.State != "finished" || dispatched[id] != 1 {
			t.Errorf("job %d: %s, dispatched %d times", id, j.State, dispatched[id])
		}
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestClassify(t *testing.T) {
	t.Parallel()
	js := http.Header{"Content-Type": {"application/json"}}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	v1 := http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}
	cases := []struct {
		name, path, query string
		h                 http.Header
		body              []byte
		want              Request
	}{
		{"legacy gzip-JSON final", "/server/panda/updateJob", "", js, gz([]byte(`{"jobId": "12", "state": "failed"}`)),
			Request{Method: "updateJob", PandaID: 12, State: "failed"}},
		{"legacy plain JSON", "/server/panda/updateJob", "", js, []byte(`{"jobId": 13, "state": "running"}`),
			Request{Method: "updateJob", PandaID: 13, State: "running"}},
		{"legacy form", "/server/panda/updateJob", "", form, []byte(`jobId=14&state=finished`),
			Request{Method: "updateJob", PandaID: 14, State: "finished"}},
		{"legacy query", "/server/panda/updateJob", "jobId=15&state=starting", http.Header{}, nil,
			Request{Method: "updateJob", PandaID: 15, State: "starting"}},
		{"v1 update", "/api/v1/pilot/update_job", "", v1, gz([]byte(`{"job_id": 16, "job_status": "finished"}`)),
			Request{Method: "update_job", PandaID: 16, State: "finished"}},
		{"getJob", "/server/panda/getJob", "", js, gz([]byte(`{"siteName": "X"}`)), Request{Method: "getJob"}},
		{"static file", "/cache/schedconfig/X.all.json", "", http.Header{}, nil, Request{Method: "/cache/schedconfig/X.all.json"}},
		{"truncated gzip", "/server/panda/updateJob", "", js, gz([]byte(`{"jobId": 1, "state": "finished"}`))[:12],
			Request{Method: "updateJob"}},
		{"NULL jobId", "/server/panda/updateJob", "", form, []byte(`jobId=NULL&state=running`),
			Request{Method: "updateJob", State: "running"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify("POST", tc.path, tc.query, tc.h, tc.body)
			tc.want.Path = tc.path
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("/server/panda/updateJob", "application/json", "", gz([]byte(`{"jobId": "1", "state": "finished"}`)))
	f.Add("/server/panda/updateJob", "application/x-www-form-urlencoded", "", []byte("jobId=1&state=failed"))
	f.Add("/api/v1/pilot/update_job", "application/json", "gzip", gz([]byte(`{"job_id": 1, "job_status": "finished"}`)))
	f.Add("/api/", "", "", []byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, path, ct, ce string, body []byte) {
		h := http.Header{"Content-Type": {ct}, "Content-Encoding": {ce}}
		r := Classify("POST", path, "", h, body)
		if r.PandaID < 0 {
			t.Fatalf("negative PandaID %d", r.PandaID)
		}
	})
}
