package pilot

import (
	"testing"
	"time"
)

func TestMayFetch(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	min := time.Minute
	cases := []struct {
		name      string
		elapsed   time.Duration
		timefloor time.Duration
		lifetime  time.Duration
		jobs      int
		stopping  bool
		want      bool
	}{
		{"first job always", 0, 0, 90 * time.Hour, 0, false, true},
		{"first job even late in timefloor", 2 * time.Hour, 60 * min, 90 * time.Hour, 0, false, true},
		{"timefloor 0 means one job", min, 0, 90 * time.Hour, 1, false, false},
		{"within timefloor", 50 * min, 60 * min, 90 * time.Hour, 1, false, true},
		{"timefloor passed", 110 * min, 60 * min, 90 * time.Hour, 1, false, false},
		{"exactly at timefloor", 60 * min, 60 * min, 90 * time.Hour, 2, false, false},
		{"lifetime too short for another job", 50 * min, 60 * min, 52 * min, 1, false, false},
		{"lifetime over, first job", 2 * time.Hour, 60 * min, time.Hour, 0, false, false},
		{"stopping", 0, 60 * min, 90 * time.Hour, 0, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := MayFetch(FetchState{Now: t0.Add(c.elapsed), Start: t0, Timefloor: c.timefloor,
				Lifetime: c.lifetime, JobsRun: c.jobs, Stopping: c.stopping})
			if got != c.want {
				t.Fatalf("MayFetch = %v (%s), want %v", got, why, c.want)
			}
			if why == "" {
				t.Fatal("empty reason")
			}
		})
	}
}
