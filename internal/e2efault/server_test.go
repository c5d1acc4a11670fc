package e2efault

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fp "github.com/gopilot/gopilot/internal/faultproxy"
	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/pilot/journal"
)

// Server faults during a job: every one leaves the job finished once, its
// output and log registered once, and the pilot ending normally.
func TestServerFaultsDuringJob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		match fp.Match
		fault fp.Fault
		fires int // how often the fault must have fired
		args  []string
	}{
		{"final update dropped before reaching the server", fp.Match{Final: true, Times: 2}, fp.Fault{Kind: fp.Drop}, 2, nil},
		{"final update dropped after the server applied it", fp.Match{Final: true, Times: 2}, fp.Fault{Kind: fp.Drop, After: true}, 2, nil},
		{"final update answered 500", fp.Match{Final: true, Times: 2}, fp.Fault{Kind: fp.Status, Code: 500}, 2, nil},
		{"final update applied, then answered 502", fp.Match{Final: true, Times: 1}, fp.Fault{Kind: fp.Status, Code: 502, After: true}, 1, nil},
		{"final update answered 503 with Retry-After", fp.Match{Final: true, Times: 2}, fp.Fault{Kind: fp.Status, Code: 503, RetryAfter: "2"}, 2, nil},
		{"final update answered 503 for longer than one round of retries", fp.Match{Final: true, Times: 7}, fp.Fault{Kind: fp.Status, Code: 503}, 7, nil},
		{"starting update applied, answer lost", fp.Match{State: "starting", Times: 1}, fp.Fault{Kind: fp.Drop, After: true}, 1, nil},
		{"every update refused three times", fp.Match{Method: "updateJob", Times: 3}, fp.Fault{Kind: fp.Status, Code: 503}, 3, nil},
		{"server gone for 3 s right after applying the final update", fp.Match{Final: true, Times: 1}, fp.Fault{Kind: fp.Restart, After: true, Down: 3 * time.Second}, 1, nil},
		{"server gone for 3 s before the final update", fp.Match{Final: true, Times: 1}, fp.Fault{Kind: fp.Restart, Down: 3 * time.Second}, 1, nil},
		{"queue data answered 503 once", fp.Match{Method: "/cache/schedconfig/E2E.all.json", Times: 1}, fp.Fault{Kind: fp.Status, Code: 503}, 1, nil},
		{"v1 API: final update dropped after the server applied it", fp.Match{Method: "update_job", Final: true, Times: 2}, fp.Fault{Kind: fp.Drop, After: true}, 2, []string{"--api", "v1"}},
		{"v1 API: updates answered 503 with Retry-After", fp.Match{Method: "update_job", Times: 3}, fp.Fault{Kind: fp.Status, Code: 503, RetryAfter: "2"}, 3, []string{"--api", "v1"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := int64(7001 + i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
			p := s.FaultProxy(uint64(id))
			s.Submit(job(id, ""))
			rule := p.Add(tc.match, tc.fault)
			pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p, tc.args...)...))
			if code := pl.Wait(t, waitDeadline); code != 0 {
				t.Errorf("pilot exit %d", code)
			}
			if n := p.Fired(rule); n != tc.fires {
				t.Errorf("the fault fired %d times, want %d", n, tc.fires)
			}
			checkJob(t, s, id, "finished", 0, outLFN(id), sitetest.LogLFN(id))
			checkJournals(t, s.Work)
			checkStorage(t, s)
			if tc.fault.RetryAfter != "" {
				checkRetryAfter(t, p.Seen(), 2*time.Second)
			}
			if t.Failed() {
				t.Logf("pilot log:\n%s\nproxy record:\n%s", pl.Log(), record(p))
			}
		})
	}
}

// checkRetryAfter asserts that each update that followed an answer with
// Retry-After came no earlier than the server asked. This is a lower bound
// set by the protocol, so a slow machine cannot break it.
func checkRetryAfter(t *testing.T, seen []fp.Seen, after time.Duration) {
	t.Helper()
	for i := 1; i < len(seen); i++ {
		prev, cur := seen[i-1], seen[i]
		if prev.Fault == "status-503-retry-after" && cur.Method == prev.Method {
			if gap := cur.Time.Sub(prev.Time); gap < after {
				t.Errorf("request %d came %s after a Retry-After of %s", cur.Seq, gap, after)
			}
		}
	}
}

// count returns how many requests of method the proxy saw.
func count(seen []fp.Seen, method string) int {
	n := 0
	for _, s := range seen {
		if s.Method == method {
			n++
		}
	}
	return n
}

func record(p *fp.Proxy) string {
	var out string
	for _, s := range p.Seen() {
		out += fmt.Sprintf("%3d %s %-40s id=%d state=%s fault=%q fwd=%v status=%d cmd=%q disp=%d delivered=%v %s\n",
			s.Seq, s.Time.Format("15:04:05.000"), s.Method, s.PandaID, s.State, s.Fault, s.Forwarded, s.Status, s.Command,
			s.Dispatched, s.Delivered, s.Err)
	}
	return out
}

// getJob faults. A getJob that never reached the server leaves the job to
// the next pilot. A getJob the server answered but whose answer was lost is
// the one fault a pilot cannot repair: the server has handed the job out
// ('sent') and no pilot knows it. What the pilot must not do is retry the
// request and take a second job; the test checks that it does not, and that
// the stranded job is the only one not run.
func TestGetJobFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		fault    fp.Fault
		stranded bool // the first job is handed out and lost in transit
	}{
		{"dropped before reaching the server", fp.Fault{Kind: fp.Drop}, false},
		{"answered 503", fp.Fault{Kind: fp.Status, Code: 503}, false},
		{"answered 503 with Retry-After", fp.Fault{Kind: fp.Status, Code: 503, RetryAfter: "1"}, false},
		{"server restarting", fp.Fault{Kind: fp.Restart, Down: 2 * time.Second}, false},
		{"answer dropped after the server handed out a job", fp.Fault{Kind: fp.Drop, After: true}, true},
		{"answer stalled after the server handed out a job", fp.Fault{Kind: fp.Stall, After: true, For: 2 * time.Second}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := int64(7101 + 10*i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
			p := s.FaultProxy(uint64(first))
			s.Submit(job(first, ""), job(first+1, ""))
			rule := p.Add(fp.Match{Method: "getJob", Times: 1}, tc.fault)

			// The first pilot meets the fault on its first getJob.
			pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
			code1 := pl.Wait(t, waitDeadline)
			if p.Fired(rule) != 1 {
				t.Fatalf("the fault did not fire")
			}
			// One getJob, never repeated: a repeat after a lost answer would
			// have the server hand this pilot slot a second job.
			if n := count(p.Seen(), "getJob"); n != 1 {
				t.Errorf("the first pilot sent %d getJob requests, want 1", n)
			}
			// A second pilot takes what is left.
			pl2 := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
			if code := pl2.Wait(t, waitDeadline); code != 0 {
				t.Errorf("second pilot exit %d", code)
			}
			t.Logf("first pilot exit %d", code1)

			outs, err := sitetest.Outcomes(t.Context(), s.Store())
			sitetest.Must(t, err)
			if tc.stranded {
				o := outs[first]
				if o.State != "sent" || o.Dispatches != 1 || o.Finals != 0 {
					t.Errorf("stranded job %d: state %s, handed out %d times, %d finals", first, o.State, o.Dispatches, o.Finals)
				}
				if _, err := os.Stat(filepath.Join(s.Work, fmt.Sprintf("PanDA_Pilot-%d", first))); err == nil {
					t.Errorf("a pilot worked on job %d whose getJob answer it never received", first)
				}
			} else {
				checkJob(t, s, first, "finished", 0, outLFN(first), sitetest.LogLFN(first))
			}
			checkJob(t, s, first+1, "finished", 0, outLFN(first+1), sitetest.LogLFN(first+1))
			checkJournals(t, s.Work)
			if t.Failed() {
				t.Logf("first pilot:\n%s\nsecond pilot:\n%s\nproxy record:\n%s", pl.Log(), pl2.Log(), record(p))
			}
		})
	}
}

// The server process is killed and a new one started on the same database
// and another port while a job runs; heartbeats fail meanwhile. The job ends
// finished once.
func TestServerRestartMidJob(t *testing.T) {
	t.Parallel()
	const id = 7201
	s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
	sv := s.StartServer()
	p := s.FaultProxy(id)
	p.SetTarget(sv.Addr)
	started, release := filepath.Join(s.Dir, "started"), filepath.Join(s.Dir, "release")
	s.Submit(job(id, fmt.Sprintf("touch %s; until [ -e %s ]; do sleep 0.1; done;", started, release)))
	pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p, "--heartbeat", "1")...))
	sitetest.WaitFor(t, time.Minute, "payload start", func() bool { _, err := os.Stat(started); return err == nil })

	p.Down()
	sv.Kill()
	// Heartbeats now meet a refused connection; wait for some to fail.
	sitetest.WaitFor(t, time.Minute, "a failed heartbeat", func() bool {
		return strings.Contains(pl.Log(), "update failed")
	})
	sv2 := s.StartServer()
	p.SetTarget(sv2.Addr)
	sitetest.Must(t, p.Up())
	sitetest.Must(t, os.WriteFile(release, nil, 0o644))

	if code := pl.Wait(t, waitDeadline); code != 0 {
		t.Errorf("pilot exit %d", code)
	}
	checkJob(t, s, id, "finished", 0, outLFN(id), sitetest.LogLFN(id))
	checkJournals(t, s.Work)
	if t.Failed() {
		t.Logf("pilot log:\n%s\nproxy record:\n%s", pl.Log(), record(p))
	}
}

// The final update's answer never comes: the server applied it, and the
// pilot's attempt times out (120 s, the pilot's fixed per-attempt timeout)
// before it retries and is told the job is already done.
func TestFinalUpdateStalledPastClientTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the pilot's 120 s HTTP timeout")
	}
	t.Parallel()
	const id = 7301
	s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
	p := s.FaultProxy(id)
	s.Submit(job(id, ""))
	rule := p.Add(fp.Match{Final: true, Times: 1}, fp.Fault{Kind: fp.Stall, After: true})
	pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p, "--final-update-timeout", "400")...))
	if code := pl.Wait(t, waitDeadline); code != 0 {
		t.Errorf("pilot exit %d", code)
	}
	if p.Fired(rule) != 1 {
		t.Errorf("the stall did not fire")
	}
	checkJob(t, s, id, "finished", 0, outLFN(id), sitetest.LogLFN(id))
	checkJournals(t, s.Work)
	if t.Failed() {
		t.Logf("pilot log:\n%s\nproxy record:\n%s", pl.Log(), record(p))
	}
}

// The server stays unreachable for longer than the pilot keeps retrying its
// final update (--final-update-timeout): the pilot gives up and ends with the
// report journaled, and the next pilot on the work directory delivers it,
// whether or not the server had applied an earlier attempt.
func TestFinalUpdateOutlivesPilot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fault   fp.Fault
		applied bool // the server applied the first attempt
	}{
		{"server answers 503", fp.Fault{Kind: fp.Status, Code: 503}, false},
		{"every answer lost after the server applied the update", fp.Fault{Kind: fp.Drop, After: true}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := int64(7601 + i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
			p := s.FaultProxy(uint64(id))
			s.Submit(job(id, ""))
			rule := p.Add(fp.Match{Final: true}, tc.fault)
			pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p, "--final-update-timeout", "5")...))
			code := pl.Wait(t, waitDeadline)
			t.Logf("the pilot that gave up exited %d", code)
			if got := phaseOf(t, s.Work, id); got != journal.PhaseUnacked {
				t.Fatalf("journal phase %s after the pilot gave up, want %s", got, journal.PhaseUnacked)
			}
			if st := s.Job(id).State; (st == "finished") != tc.applied {
				t.Errorf("server state %s while the pilot could not get an answer", st)
			}
			p.Remove(rule)
			next := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
			if code := next.Wait(t, waitDeadline); code != 0 {
				t.Errorf("next pilot exit %d", code)
			}
			checkJob(t, s, id, "finished", 0, outLFN(id), sitetest.LogLFN(id))
			checkJournals(t, s.Work)
			checkStorage(t, s)
			if t.Failed() {
				t.Logf("first pilot:\n%s\nnext pilot:\n%s\nproxy record:\n%s", pl.Log(), next.Log(), record(p))
			}
		})
	}
}

// A getJob the server answers with 5xx dispatched nothing: within its
// --getjobfailures budget the pilot asks again and takes the job.
func TestGetJobServerErrorRetried(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		name  string
		fault fp.Fault
	}{
		{"503", fp.Fault{Kind: fp.Status, Code: 503}},
		{"500 twice", fp.Fault{Kind: fp.Status, Code: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := int64(7301 + 10*i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
			p := s.FaultProxy(uint64(id))
			s.Submit(job(id, ""))
			times := 1
			if strings.Contains(tc.name, "twice") {
				times = 2
			}
			rule := p.Add(fp.Match{Method: "getJob", Times: times}, tc.fault)
			pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p, "-x", "3", "-v", "5", "--getjob-wait", "0")...))
			if code := pl.Wait(t, waitDeadline); code != 0 {
				t.Errorf("pilot exit %d", code)
			}
			if p.Fired(rule) != times {
				t.Fatalf("the fault fired %d times, want %d", p.Fired(rule), times)
			}
			checkJob(t, s, id, "finished", 0, outLFN(id), sitetest.LogLFN(id))
			if t.Failed() {
				t.Logf("pilot:\n%s\nproxy record:\n%s", pl.Log(), record(p))
			}
		})
	}
}
