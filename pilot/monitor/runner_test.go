package monitor

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/gopilot/gopilot/internal/helperproc"
	"github.com/gopilot/gopilot/jobdef"
)

// runRunner starts r.Run in a goroutine and returns a function that ends it
// and returns Run's result.
func runRunner(t *testing.T, r *Runner, pid int) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, pid) }()
	var once sync.Once
	var res error
	stop = func() error {
		once.Do(func() {
			cancel(errors.New("test over"))
			select {
			case res = <-done:
			case <-time.After(waitLimit):
				t.Fatal("Run did not return after its context ended")
			}
		})
		return res
	}
	t.Cleanup(func() { stop() })
	return stop
}

// killRecorder is a Kill function that records its calls.
type killRecorder struct {
	ch    chan *jobdef.PilotError
	calls atomic.Int32
	then  func()
}

func newKillRecorder(then func()) *killRecorder {
	return &killRecorder{ch: make(chan *jobdef.PilotError, 16), then: then}
}

func (k *killRecorder) kill(pe *jobdef.PilotError) {
	k.calls.Add(1)
	k.ch <- pe
	if k.then != nil {
		k.then()
	}
}

func (k *killRecorder) wait(t *testing.T) *jobdef.PilotError {
	t.Helper()
	select {
	case pe := <-k.ch:
		return pe
	case <-time.After(waitLimit):
		t.Fatal("no kill within the wait limit")
		return nil
	}
}

// TestRunnerKillsMemoryHog runs the default-style memory monitor against a
// real process that holds 80 MiB, with a 40 MiB limit.
func TestRunnerKillsMemoryHog(t *testing.T) {
	t.Parallel()
	tr := startTree(t, helperproc.Scenario("alloc", "80"), 1)
	k := newKillRecorder(func() { _ = syscall.Kill(-tr.root, syscall.SIGKILL) })
	const limit = 40 << 10
	r := &Runner{Monitors: []Monitor{&Memory{LimitKB: limit, Every: 20 * time.Millisecond}}, Kill: k.kill, Tick: 20 * time.Millisecond}
	stop := runRunner(t, r, tr.root)
	pe := k.wait(t)
	if pe.Code != jobdef.PayloadExceedMaxMem {
		t.Fatalf("kill with %v", pe)
	}
	err := stop()
	if jobdef.CodeOf(err) != jobdef.PayloadExceedMaxMem {
		t.Errorf("Run returned %v", err)
	}
	if n := k.calls.Load(); n != 1 {
		t.Errorf("kill called %d times", n)
	}
	st := r.Stats()
	if st.MaxPSS <= limit || st.MaxRSS <= limit || st.MaxProcesses != 1 || st.Samples < 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRunnerKillsLoopingJob runs the looping monitor on a stale directory
// while a real payload process sleeps.
func TestRunnerKillsLoopingJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touch(t, filepath.Join(dir, "payload.stdout"), 3*time.Hour)
	touch(t, filepath.Join(dir, "work", "events.dat"), 2*time.Hour)
	ageDirs(t, dir, 3*time.Hour)
	tr := startTree(t, helperproc.Script("report", "sleep", "forever"), 1)
	k := newKillRecorder(nil)
	log, hook := test.NewNullLogger()
	ms := []Monitor{
		&Looping{Dir: dir, Limit: time.Hour, Every: 20 * time.Millisecond, Start: time.Now().Add(-4 * time.Hour), Ignore: DefaultLoopingIgnore()},
		&Memory{LimitKB: 1 << 40, Every: 20 * time.Millisecond},
	}
	r := &Runner{Monitors: ms, Kill: k.kill, Tick: 20 * time.Millisecond, Log: log}
	stop := runRunner(t, r, tr.root)
	if pe := k.wait(t); pe.Code != jobdef.LoopingJob {
		t.Fatalf("kill with %v", pe)
	}
	if err := stop(); jobdef.CodeOf(err) != jobdef.LoopingJob {
		t.Errorf("Run returned %v", err)
	}
	var logged bool
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Data["monitor"] == "looping" && e.Data["code"] == int(jobdef.LoopingJob) {
			logged = true
		}
	}
	if !logged {
		t.Error("the failure was not logged")
	}
	if st := r.Stats(); st.MaxProcesses != 1 || st.Samples < 1 || st.MaxRSS <= 0 {
		t.Errorf("stats %+v", st)
	}
}

// countingMonitor counts its checks and fails from check number failAt on
// (0: never).
type countingMonitor struct {
	name   string
	every  time.Duration
	failAt int32
	code   jobdef.ErrorCode
	plain  bool // fail with a plain error instead
	panics bool
	n      atomic.Int32
}

func (m *countingMonitor) Name() string            { return m.name }
func (m *countingMonitor) Interval() time.Duration { return m.every }
func (m *countingMonitor) Check(context.Context, *Snapshot) error {
	n := m.n.Add(1)
	switch {
	case m.panics:
		panic("broken check")
	case m.failAt == 0 || n < m.failAt:
		return nil
	case m.plain:
		return errors.New("cannot tell")
	}
	return jobdef.NewError(m.code, m.name, nil)
}

// fakeClock returns a clock that advances by step at each call and ends
// ctx (through cancel) at call number stopAt.
func fakeClock(base time.Time, step time.Duration, stopAt int, cancel func()) func() time.Time {
	var mu sync.Mutex
	calls := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := base.Add(time.Duration(calls) * step)
		calls++
		if calls == stopAt {
			cancel()
		}
		return now
	}
}

// staticSample returns a sampler that hands out synthetic snapshots.
func staticSample(seq []*Snapshot, fail error) func(context.Context, int) (*Snapshot, error) {
	var mu sync.Mutex
	i := 0
	return func(ctx context.Context, pid int) (*Snapshot, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if fail != nil {
			return nil, fail
		}
		s := *seq[min(i, len(seq)-1)]
		i++
		return &s, nil
	}
}

// TestRunnerSchedule drives the Runner with a fake clock advancing ten
// minutes per tick and counts how often each monitor runs in 13 ticks
// (two hours).
func TestRunnerSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		monitors  []*countingMonitor
		wantRuns  []int32
		wantKill  jobdef.ErrorCode
		wantWarns int
	}{
		{
			name:     "intervals",
			monitors: []*countingMonitor{{name: "hourly", every: time.Hour}, {name: "20min", every: 20 * time.Minute}, {name: "always", every: 0}},
			wantRuns: []int32{3, 7, 13},
		},
		{
			name: "first failure kills once, then no more checks",
			monitors: []*countingMonitor{
				{name: "a", every: 10 * time.Minute, failAt: 3, code: jobdef.ReachedMaxTime},
				{name: "b", every: 10 * time.Minute, failAt: 3, code: jobdef.LoopingJob},
			},
			wantRuns: []int32{3, 2},
			wantKill: jobdef.ReachedMaxTime,
		},
		{
			name: "plain errors and panics are logged, not kills",
			monitors: []*countingMonitor{
				{name: "unsure", every: time.Hour, failAt: 1, plain: true},
				{name: "broken", every: time.Hour, panics: true},
			},
			wantRuns:  []int32{3, 3},
			wantWarns: 6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var ms []Monitor
			for _, m := range tc.monitors {
				ms = append(ms, m)
			}
			log, hook := test.NewNullLogger()
			k := newKillRecorder(nil)
			r := &Runner{
				Monitors: ms, Kill: k.kill, Log: log, Tick: time.Millisecond,
				Now:    fakeClock(time.Unix(1e9, 0), 10*time.Minute, 14, cancel),
				Sample: staticSample([]*Snapshot{{Procs: []Proc{{PID: 1}}}}, nil),
			}
			err := r.Run(ctx, 1)
			for i, m := range tc.monitors {
				if got := m.n.Load(); got != tc.wantRuns[i] {
					t.Errorf("%s ran %d times, want %d", m.name, got, tc.wantRuns[i])
				}
			}
			if got := jobdef.CodeOf(err); got != tc.wantKill {
				t.Errorf("Run returned %v, want code %v", err, tc.wantKill)
			}
			wantCalls := int32(0)
			if tc.wantKill != 0 {
				wantCalls = 1
			}
			if got := k.calls.Load(); got != wantCalls {
				t.Errorf("kill called %d times, want %d", got, wantCalls)
			}
			warns := 0
			for _, e := range hook.AllEntries() {
				if e.Level == logrus.WarnLevel {
					warns++
				}
			}
			if warns != tc.wantWarns {
				t.Errorf("%d warnings, want %d", warns, tc.wantWarns)
			}
			if st := r.Stats(); st.Samples != 13 {
				t.Errorf("%d samples, want 13", st.Samples)
			}
		})
	}
}

func TestRunnerStats(t *testing.T) {
	t.Parallel()
	seq := []*Snapshot{
		{Procs: make([]Proc, 2), RSS: 1000, PSS: 600, CPU: 1500 * time.Millisecond},
		{Procs: make([]Proc, 5), RSS: 3000, PSS: 2000, CPU: 10400 * time.Millisecond},
		{Procs: make([]Proc, 3), RSS: 2000, PSS: 1000, CPU: 9 * time.Second}, // a child exited unreaped
		{}, // everything gone: not averaged
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := time.Unix(2e9, 0)
	r := &Runner{Tick: time.Millisecond, Now: fakeClock(base, time.Second, 6, cancel), Sample: staticSample(seq, nil)}
	if err := r.Run(ctx, 1); err != nil {
		t.Fatal(err)
	}
	want := Stats{MaxRSS: 3000, MaxPSS: 2000, AvgRSS: 2000, AvgPSS: 1200, CPUSeconds: 10, MaxProcesses: 5, Samples: 3, Last: base.Add(4 * time.Second)}
	if got := r.Stats(); got != want {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
	if last := r.Last(); last == nil || last.NumProcs() != 0 || !last.Time.Equal(want.Last) {
		t.Errorf("last snapshot %+v", last)
	}

	// A sampler that fails still lets the checks run, on a snapshot that
	// says so.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan *Snapshot, 16)
	probe := &probeMonitor{seen: seen}
	r = &Runner{Monitors: []Monitor{probe}, Tick: time.Millisecond, Now: fakeClock(base, time.Second, 3, cancel), Sample: staticSample(nil, errors.New("no /proc"))}
	if err := r.Run(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s := <-seen
	if s == nil || s.Err == nil || s.RootPID != 1 || !s.Time.Equal(base) {
		t.Errorf("snapshot after a failed sample: %+v", s)
	}
	if st := r.Stats(); st.Samples != 0 || !st.Last.Equal(base.Add(time.Second)) {
		t.Errorf("stats after failed samples %+v", st)
	}
}

type probeMonitor struct{ seen chan *Snapshot }

func (p *probeMonitor) Name() string            { return "probe" }
func (p *probeMonitor) Interval() time.Duration { return time.Nanosecond }
func (p *probeMonitor) Check(_ context.Context, s *Snapshot) error {
	select {
	case p.seen <- s:
	default:
	}
	return nil
}

func TestTickFor(t *testing.T) {
	t.Parallel()
	mon := func(ds ...time.Duration) []Monitor {
		var ms []Monitor
		for _, d := range ds {
			ms = append(ms, &countingMonitor{every: d})
		}
		return ms
	}
	tests := []struct {
		name string
		ms   []Monitor
		want time.Duration
	}{
		{"none", nil, DefaultTick},
		{"pilot 3 set", mon(10*time.Second, 60*time.Second, 900*time.Second), 10 * time.Second},
		{"gcd", mon(90*time.Second, 60*time.Second), 30 * time.Second},
		{"at least MinTick", mon(1500*time.Millisecond, time.Second), MinTick},
		{"zero intervals ignored", mon(0, 2*time.Minute), 2 * time.Minute},
	}
	for _, tc := range tests {
		if got := TickFor(tc.ms); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
