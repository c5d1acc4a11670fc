package loadgen

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/pilot/server"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 5*time.Minute, errors.New("test took over 5 minutes"))
	t.Cleanup(cancel)
	return ctx
}

// startLocal starts a pandalite over a fresh database in t.TempDir().
func startLocal(t *testing.T) *Local {
	t.Helper()
	l, err := StartLocal(testCtx(t), filepath.Join(t.TempDir(), "jobs.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// TestManyPilots runs 20 pilots over 200 jobs through real HTTP, for
// each API and encoding: every job is handed out once, finishes, and has
// exactly the updates sent.
func TestManyPilots(t *testing.T) {
	const pilots, jobs = 20, 200
	tests := []struct {
		name string
		api  server.API
		form bool
	}{
		{"legacy gzip JSON", server.Legacy, false},
		{"legacy form", server.Legacy, true},
		{"v1", server.V1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startLocal(t)
			cfg := Config{URL: l.URL, Site: DefaultSite, Pilots: pilots, API: tc.api, FormEncoding: tc.form}
			r, err := RunRound(testCtx(t), l.Store, cfg, jobs, "test")
			if err != nil {
				t.Fatal(err)
			}
			res, chk := r.Result, r.Check
			if res.Errors != 0 {
				t.Errorf("%d errors: %v", res.Errors, res.FirstErrors)
			}
			if !chk.OK() {
				t.Errorf("check: %+v", chk)
			}
			if res.Cycles != jobs || chk.Dispatched != jobs || chk.DoubleDispatch != 0 || chk.LostUpdates != 0 {
				t.Errorf("cycles %d, dispatched %d, double %d, lost %d; want %d, %d, 0, 0",
					res.Cycles, chk.Dispatched, chk.DoubleDispatch, chk.LostUpdates, jobs, jobs)
			}
			if res.Update.N != 3*jobs || res.GetJob.N != jobs+pilots {
				t.Errorf("%d updates and %d job requests timed, want %d and %d", res.Update.N, res.GetJob.N, 3*jobs, jobs+pilots)
			}
			if !(res.GetJob.P50 <= res.GetJob.P99 && res.GetJob.P99 <= res.GetJob.Max) {
				t.Errorf("getJob latency summary out of order: %+v", res.GetJob)
			}
			// Every pilot did some of the work: the pilots ran at the same time.
			by := map[int]int{}
			for _, tr := range res.Jobs {
				by[tr.Pilots[0]]++
			}
			if len(by) < 2 {
				t.Errorf("only pilots %v got jobs", by)
			}
		})
	}
}

// TestVerifyFindsProblems tampers with the pilots' record of a clean run
// and checks that Verify notices each kind of problem.
func TestVerifyFindsProblems(t *testing.T) {
	l := startLocal(t)
	ctx := testCtx(t)
	ids, err := l.Store.Submit(ctx, DefaultSite, JobDefinitions(6, DefaultSite, "verify")...)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tamper func(r *Result)
		want   func(c Check) bool
	}{
		{"clean", func(*Result) {}, func(c Check) bool { return c.OK() && c.Dispatched == 6 }},
		{"received twice", func(r *Result) { tr := r.Jobs[ids[0]]; tr.Pilots = append(tr.Pilots, 1) },
			func(c Check) bool { return c.DoubleDispatch == 1 && !c.OK() }},
		{"answered update missing from the store", func(r *Result) {
			tr := r.Jobs[ids[1]]
			tr.Updates = append(tr.Updates[:2:2], SentUpdate{State: "holding", Answered: true}, tr.Updates[2])
		}, func(c Check) bool { return c.LostUpdates == 1 && c.ExtraUpdates == 0 }},
		{"unanswered update missing from the store is fine", func(r *Result) {
			tr := r.Jobs[ids[1]]
			tr.Updates = append(tr.Updates[:2:2], SentUpdate{State: "holding"}, tr.Updates[2])
		}, func(c Check) bool { return c.OK() }},
		{"stored update nobody sent", func(r *Result) { tr := r.Jobs[ids[2]]; tr.Updates = tr.Updates[:2] },
			func(c Check) bool { return c.ExtraUpdates == 1 && c.LostUpdates == 0 }},
		{"job nobody received", func(r *Result) { delete(r.Jobs, ids[3]) },
			func(c Check) bool { return c.ExtraUpdates == 3 && c.Dispatched == 6 }},
		{"foreign job", func(r *Result) { r.Jobs[1] = &JobTrace{PandaID: 1, Pilots: []int{0}} },
			func(c Check) bool { return c.Foreign == 1 && !c.OK() }},
	}
	res, err := Run(ctx, Config{URL: l.URL, Site: DefaultSite, Pilots: 3})
	if err != nil || res.Errors != 0 {
		t.Fatalf("run: %v %v", err, res.FirstErrors)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := copyResult(res)
			tc.tamper(r)
			c, err := Verify(ctx, l.Store, ids, r)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Fatalf("check %+v", c)
			}
		})
	}

	// A job left unfinished on the server is reported.
	more, err := l.Store.Submit(ctx, DefaultSite, JobDefinitions(1, DefaultSite, "left")...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(ctx, l.Store, append(ids, more...), res)
	if err != nil {
		t.Fatal(err)
	}
	if c.NotFinished != 1 || c.Dispatched != 6 || c.OK() || len(c.Problems) == 0 {
		t.Fatalf("check %+v", c)
	}
}

func copyResult(r *Result) *Result {
	out := *r
	out.Jobs = map[int64]*JobTrace{}
	for id, tr := range r.Jobs {
		c := *tr
		c.Pilots = append([]int(nil), tr.Pilots...)
		c.Updates = append([]SentUpdate(nil), tr.Updates...)
		out.Jobs[id] = &c
	}
	return &out
}

// TestRunErrors: a server that refuses the calls gives errors, not a
// hang, and configuration mistakes are reported.
func TestRunErrors(t *testing.T) {
	l := startLocal(t)
	ctx := testCtx(t)
	if _, err := Run(ctx, Config{URL: l.URL, Site: DefaultSite}); err == nil {
		t.Error("zero pilots accepted")
	}
	if _, err := Run(ctx, Config{URL: l.URL, Pilots: 1}); err == nil {
		t.Error("no site accepted")
	}
	if _, err := Run(ctx, Config{URL: l.URL, Site: DefaultSite, Pilots: 1, API: server.Auto}); err == nil {
		t.Error("API auto accepted")
	}
	// Nothing listens at this URL any more: every call fails at once.
	dead, err := StartLocal(ctx, filepath.Join(t.TempDir(), "dead.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	url := dead.URL
	if err := dead.Close(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Config{URL: url, Site: DefaultSite, Pilots: 2, MaxErrors: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 6 || res.Cycles != 0 || len(res.FirstErrors) != 6 || !strings.Contains(res.FirstErrors[0], "getJob") {
		t.Fatalf("result %+v", res)
	}
}

// TestWriteTable: one aligned row per round, with the verdict.
func TestWriteTable(t *testing.T) {
	rounds := []*Round{
		{Result: &Result{Pilots: 10, API: server.Legacy, Cycles: 100, Elapsed: time.Second, CPU: 100 * time.Millisecond},
			Check: Check{Jobs: 100, Dispatched: 100}, ServerCPU: 50 * time.Millisecond},
		{Result: &Result{Pilots: 500, API: server.V1, Cycles: 99, Elapsed: time.Second}, Check: Check{Jobs: 100, Dispatched: 100, NotFinished: 1}},
	}
	var b strings.Builder
	if err := WriteTable(&b, rounds); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", b.String())
	}
	for i, want := range []string{"check", "ok", "FAIL"} {
		if !strings.HasSuffix(strings.TrimSpace(lines[i]), want) {
			t.Errorf("line %d %q does not end with %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[1], fmt.Sprintf("%.2fms", 0.5)) || !strings.Contains(lines[1], "1.00ms") {
		t.Errorf("CPU per cycle missing: %q", lines[1])
	}
	if len(lines[0]) != len(lines[1]) || len(lines[1]) != len(lines[2]) {
		t.Errorf("table not aligned:\n%s", b.String())
	}
}

// TestSummarise checks the percentile picks.
func TestSummarise(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarise(d)
	if got.N != 100 || got.P50 != 50*time.Millisecond || got.P99 != 99*time.Millisecond || got.Max != 100*time.Millisecond {
		t.Fatalf("%+v", got)
	}
	if (summarise(nil) != Latency{}) {
		t.Fatal("empty summary not zero")
	}
	one := summarise([]time.Duration{time.Second})
	if one.P50 != time.Second || one.P99 != time.Second {
		t.Fatalf("%+v", one)
	}
}

// Compile-time check: the store implements what a round needs.
var _ SubmitStore = (*pandalite.Store)(nil)
