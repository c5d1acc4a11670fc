package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
)

// DefaultTick is the Runner's tick when it has no monitors, and MinTick the
// shortest tick it derives from its monitors' intervals.
const (
	DefaultTick = 10 * time.Second
	MinTick     = time.Second
)

// Stats are the figures of the payload's process tree that the job reports
// to the server (updateJob fields of the same names). Memory is in kB.
type Stats struct {
	MaxRSS, MaxPSS int64 // largest tree total seen
	AvgRSS, AvgPSS int64 // mean tree total over the samples that found processes
	// CPUSeconds is the largest tree CPU time (user + system) seen,
	// rounded to whole seconds (cpuConsumptionTime).
	CPUSeconds   int64
	MaxProcesses int       // largest number of processes in the tree
	Samples      int       // samples that found processes
	Last         time.Time // time of the last sample, successful or not
}

// Runner runs monitors against one payload. Set the fields, then call Run
// in its own goroutine; Stats and Err may be called from any goroutine.
type Runner struct {
	// Monitors are the checks to run, e.g. from Defaults.
	Monitors []Monitor
	// Kill is called once, from Run's goroutine, with the first failure
	// of a monitor. It should act quickly (e.g. cancel the payload's
	// context with the error as cause); after it the Runner keeps
	// sampling for Stats but runs no more checks. Nil: only Err reports
	// the failure.
	Kill func(*jobdef.PilotError)
	// Log receives one line per failure and per check that could not be
	// made; nil discards.
	Log logrus.FieldLogger
	// Now is the clock for Snapshot.Time and for deciding which checks
	// are due; nil means time.Now. Ticks themselves come from a real
	// ticker.
	Now func() time.Time
	// Tick is the time between samples; 0 means the greatest common
	// divisor of the monitors' intervals (at least MinTick), or
	// DefaultTick without monitors.
	Tick time.Duration
	// Sample takes the snapshots; nil means the package's Sample.
	Sample func(ctx context.Context, rootPID int) (*Snapshot, error)

	mu      sync.Mutex
	stats   Stats
	sumRSS  int64
	sumPSS  int64
	maxCPU  time.Duration
	last    *Snapshot
	failure *jobdef.PilotError
}

// TickFor returns the tick a Runner uses for monitors ms when Tick is 0:
// the greatest common divisor of their intervals, at least MinTick, or
// DefaultTick when there are none. A monitor with a non-positive interval
// runs at every tick and does not change the tick.
func TickFor(ms []Monitor) time.Duration {
	var g time.Duration
	for _, m := range ms {
		if d := m.Interval(); d > 0 {
			g = gcd(g, d)
		}
	}
	if g == 0 {
		return DefaultTick
	}
	return max(g, MinTick)
}

func gcd(a, b time.Duration) time.Duration {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Run samples the process tree of rootPID once at once and then once per
// tick, runs the monitors that are due on each sample (all of them on the
// first), and returns when ctx ends, with the first failure (a
// *jobdef.PilotError) or nil. Start it after the payload has started and
// end ctx when the payload has ended. Run must not be called twice at the
// same time on one Runner.
func (r *Runner) Run(ctx context.Context, rootPID int) error {
	tick := r.Tick
	if tick <= 0 {
		tick = TickFor(r.Monitors)
	}
	log := r.logger()
	names := make([]string, len(r.Monitors))
	for i, m := range r.Monitors {
		names[i] = m.Name()
	}
	log.WithFields(logrus.Fields{"pid": rootPID, "tick": tick, "monitors": strings.Join(names, ",")}).Info("payload monitoring started")
	next := make([]time.Time, len(r.Monitors))
	t := time.NewTicker(tick)
	defer t.Stop()
	for ctx.Err() == nil {
		r.step(ctx, log, rootPID, next, tick/2)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return r.Err()
}

// Err returns the first failure reported by a monitor, or nil.
func (r *Runner) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure == nil {
		return nil
	}
	return r.failure
}

// Stats returns the figures gathered so far.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	if st.Samples > 0 {
		st.AvgRSS = r.sumRSS / int64(st.Samples)
		st.AvgPSS = r.sumPSS / int64(st.Samples)
	}
	st.CPUSeconds = int64(math.Round(r.maxCPU.Seconds()))
	return st
}

// Last returns the latest snapshot (nil before the first); callers must
// not modify it.
func (r *Runner) Last() *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *Runner) logger() logrus.FieldLogger {
	if r.Log != nil {
		return r.Log
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// step takes one sample and runs the due monitors. A monitor is due when
// it has never run or its next run time is less than tol away.
func (r *Runner) step(ctx context.Context, log logrus.FieldLogger, rootPID int, next []time.Time, tol time.Duration) {
	sample := r.Sample
	if sample == nil {
		sample = Sample
	}
	now := r.now()
	s, err := sample(ctx, rootPID)
	if err != nil || s == nil {
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("no snapshot")
		}
		log.WithError(err).Warn("sampling the payload's processes failed")
		s = &Snapshot{RootPID: rootPID, Err: err}
	}
	s.Time = now
	if !r.record(s) {
		return
	}
	for i, m := range r.Monitors {
		if !next[i].IsZero() && now.Before(next[i].Add(-tol)) {
			continue
		}
		next[i] = now.Add(m.Interval())
		err := r.check(ctx, m, s)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return // the payload ended during the check: not a finding
		}
		var pe *jobdef.PilotError
		if errors.As(err, &pe) && pe != nil {
			log.WithFields(logrus.Fields{"monitor": m.Name(), "code": int(pe.Code)}).Error("payload to be killed: " + pe.Diag)
			r.mu.Lock()
			r.failure = pe
			r.mu.Unlock()
			if r.Kill != nil {
				r.Kill(pe)
			}
			return
		}
		log.WithField("monitor", m.Name()).WithError(err).Warn("check not made")
	}
}

// check runs one monitor, turning a panic into an error (a broken check
// must not take the pilot down, nor kill the payload).
func (r *Runner) check(ctx context.Context, m Monitor, s *Snapshot) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("monitor %s panicked: %v", m.Name(), v)
		}
	}()
	return m.Check(ctx, s)
}

// record folds s into the statistics and reports whether checks should
// still run (no failure yet).
func (r *Runner) record(s *Snapshot) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = s
	r.stats.Last = s.Time
	if s.usable() && len(s.Procs) > 0 {
		r.stats.Samples++
		r.sumRSS += s.RSS
		r.sumPSS += s.PSS
		r.stats.MaxRSS = max(r.stats.MaxRSS, s.RSS)
		r.stats.MaxPSS = max(r.stats.MaxPSS, s.PSS)
		r.stats.MaxProcesses = max(r.stats.MaxProcesses, len(s.Procs))
		r.maxCPU = max(r.maxCPU, s.CPU)
	}
	return r.failure == nil
}
