package journal

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// statLine builds a /proc/<pid>/stat line: fields 7 to 21 are zeros,
// start is field 22, two more fields follow.
func statLine(name string, state byte, pgid int, start string) string {
	return fmt.Sprintf("42 (%s) %c 1 %d %d%s %s 0 0", name, state, pgid, pgid, strings.Repeat(" 0", 15), start)
}

func TestParseStat(t *testing.T) {
	real, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		in    string
		ok    bool
		state byte
		pgid  int
		start uint64
	}{
		{"plain", statLine("bash", 'S', 42, "12345"), true, 'S', 42, 12345},
		{"name with spaces and parens", statLine("a) b (c", 'R', 7, "99"), true, 'R', 7, 99},
		{"zombie", statLine("x", 'Z', 5, "8"), true, 'Z', 5, 8},
		{"this process", string(real), true, 'R', unix.Getpgrp(), 0},
		{"too short", "42 (bash) S 1 42 42 0", false, 0, 0, 0},
		{"no parens", strings.NewReplacer("(", "", ")", "").Replace(statLine("bash", 'S', 1, "8")), false, 0, 0, 0},
		{"bad start", statLine("b", 'S', 1, "-8"), false, 0, 0, 0},
		{"bad pgid", strings.Replace(statLine("b", 'S', 1, "8"), " 1 1 ", " 1 x ", 1), false, 0, 0, 0},
		{"long state", strings.Replace(statLine("b", 'S', 1, "8"), ") S ", ") SS ", 1), false, 0, 0, 0},
		{"empty", "", false, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseStat([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && tc.start != 0 && (s.state != tc.state || s.pgid != tc.pgid || s.start != tc.start) {
				t.Errorf("got %+v", s)
			}
			if tc.ok && tc.start == 0 && (s.pgid != tc.pgid || s.start == 0) {
				t.Errorf("got %+v", s)
			}
		})
	}
}

func TestProcessAlive(t *testing.T) {
	self := os.Getpid()
	ticks, err := ProcessStartTicks(self)
	if err != nil {
		t.Fatal(err)
	}
	hp := startHelper(t, "wait", t.TempDir())
	if got := hp.line(t); got != "ready" {
		t.Fatalf("helper said %q", got)
	}
	child := hp.cmd.Process.Pid
	childTicks, err := ProcessStartTicks(child)
	if err != nil {
		t.Fatal(err)
	}
	if !ProcessAlive(child, childTicks) {
		t.Error("running child reported dead")
	}
	// Let the child exit and wait for it without reaping it: a zombie.
	hp.stdin.Close()
	var si unix.Siginfo
	if err := unix.Waitid(unix.P_PID, child, &si, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	zombie := ProcessAlive(child, childTicks)
	hp.cmd.Wait()

	for _, tc := range []struct {
		name  string
		alive bool
		want  bool
	}{
		{"own pid", ProcessAlive(self, ticks), true},
		{"own pid, wrong start time", ProcessAlive(self, ticks+1), false},
		{"own pid, start time 0", ProcessAlive(self, 0), false},
		{"exited child not yet reaped", zombie, false},
		{"finished child", ProcessAlive(child, childTicks), false},
		{"pid 0", ProcessAlive(0, ticks), false},
		{"negative pid", ProcessAlive(-1, ticks), false},
		{"pid beyond pid_max", ProcessAlive(1<<30, ticks), false},
	} {
		if tc.alive != tc.want {
			t.Errorf("%s: ProcessAlive = %v, want %v", tc.name, tc.alive, tc.want)
		}
	}
}

func TestNewPayloadStarted(t *testing.T) {
	self := os.Getpid()
	ps, err := NewPayloadStarted(self, 0)
	if err != nil {
		t.Fatal(err)
	}
	ticks, _ := ProcessStartTicks(self)
	if ps.PID != self || ps.StartTicks != ticks || ps.Pgid != unix.Getpgrp() {
		t.Errorf("got %+v, want pid %d ticks %d pgid %d", ps, self, ticks, unix.Getpgrp())
	}
	if ps.BootID == "" || ps.BootTime <= 0 {
		t.Errorf("boot unknown: %+v", ps)
	}
	if boot := time.Unix(ps.BootTime, 0); ps.ProcessStart.Before(boot) || ps.ProcessStart.After(time.Now()) {
		t.Errorf("process start %v not between boot %v and now", ps.ProcessStart, boot)
	}
	if !ps.Alive() {
		t.Error("this process reported dead")
	}
	other := ps
	other.BootID = "00000000-0000-0000-0000-000000000000"
	if other.Alive() {
		t.Error("a process of another boot reported alive")
	}
	if (PayloadStarted{}).Alive() {
		t.Error("the zero PayloadStarted reported alive")
	}
	if ps2, _ := NewPayloadStarted(self, 12345); ps2.Pgid != 12345 {
		t.Errorf("pgid %d not taken as given", ps2.Pgid)
	}
	if _, err := NewPayloadStarted(1<<30, 0); err == nil {
		t.Error("NewPayloadStarted of a missing pid succeeded")
	}
	if hz := clockTicks(); hz <= 0 {
		t.Errorf("clock ticks %d", hz)
	}
	if ps.Cgroup != processCgroup(self) {
		t.Errorf("cgroup %q", ps.Cgroup)
	}
}
