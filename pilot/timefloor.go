package pilot

import (
	"fmt"
	"time"
)

// FetchState is what the fetch decision looks at.
type FetchState struct {
	Now, Start time.Time
	// Timefloor is the queue's timefloor (converted from minutes).
	Timefloor time.Duration
	// Lifetime is the pilot's maximum running time.
	Lifetime time.Duration
	// JobsRun counts the jobs this pilot has taken so far.
	JobsRun int
	// Stopping is set once the pilot was asked to stop (signal, drain, fatal error).
	Stopping bool
}

// MinJobSlot is the least remaining lifetime for which a follow-up job is
// still requested; below it a job could not even be set up and reported.
// It equals Pilot 3's max-time grace.
const MinJobSlot = 180 * time.Second

// MayFetch is the pilot's rule for asking for another job. The first job is
// always requested (unless the pilot is stopping or its lifetime is over);
// after that, timefloor 0 means one job per pilot, and otherwise another job
// is requested only while the time since the pilot started is below the
// timefloor and the remaining lifetime still leaves at least MinJobSlot.
// The reason is meant for the log.
func MayFetch(s FetchState) (bool, string) {
	elapsed := s.Now.Sub(s.Start)
	remaining := s.Lifetime - elapsed
	switch {
	case s.Stopping:
		return false, "the pilot is stopping"
	case remaining <= 0:
		return false, fmt.Sprintf("lifetime of %s is over", s.Lifetime)
	case s.JobsRun == 0:
		return true, "first job"
	case s.Timefloor <= 0:
		return false, "timefloor is 0: one job per pilot"
	case elapsed >= s.Timefloor:
		return false, fmt.Sprintf("timefloor of %s has passed (%s since start)", s.Timefloor, elapsed.Round(time.Second))
	case remaining < MinJobSlot:
		return false, fmt.Sprintf("only %s of lifetime left", remaining.Round(time.Second))
	}
	return true, fmt.Sprintf("within timefloor (%s of %s used)", elapsed.Round(time.Second), s.Timefloor)
}
