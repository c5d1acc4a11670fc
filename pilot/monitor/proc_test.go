package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/helperproc"
)

// fakeProc describes one process of a fabricated /proc.
type fakeProc struct {
	pid, ppid, pgid, sid int
	state                byte
	comm                 string
	utime, stime         int64 // ticks
	cutime, cstime       int64
	start                int64 // ticks after boot
	rss                  int64 // pages
	pss                  int64 // kB; < 0: no smaps_rollup
}

func (p fakeProc) stat() string {
	st := p.state
	if st == 0 {
		st = 'S'
	}
	return fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 4194304 10 0 0 0 %d %d %d %d 20 0 1 0 %d 1234567 %d 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		p.pid, p.comm, st, p.ppid, p.pgid, p.sid, p.utime, p.stime, p.cutime, p.cstime, p.start, p.rss)
}

// writeFakeProc builds a /proc look-alike with the given processes and boot
// time, plus some entries that are not processes.
func writeFakeProc(t *testing.T, btime int64, procs []fakeProc) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "stat"), fmt.Appendf(nil, "cpu  1 2 3\nintr 5\nbtime %d\nprocesses 9\n", btime), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "sys", "kernel"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "777"), 0o755)) // vanished process: no stat file
	for _, p := range procs {
		pd := filepath.Join(dir, strconv.Itoa(p.pid))
		must(os.MkdirAll(pd, 0o755))
		must(os.WriteFile(filepath.Join(pd, "stat"), []byte(p.stat()), 0o644))
		if p.pss >= 0 {
			must(os.WriteFile(filepath.Join(pd, "smaps_rollup"), fmt.Appendf(nil,
				"00400000-7ffd0000 ---p 00000000 00:00 0    [rollup]\nRss:  %d kB\nPss:  %d kB\nPss_Anon:  1 kB\n", p.rss*4, p.pss), 0o644))
		}
	}
	return dir
}

func TestSampleTreeRules(t *testing.T) {
	t.Parallel()
	// The pilot (pid 50, session 40) started the payload root 100 in its
	// own session; 102 was daemonised (re-parented to 1) but stays in the
	// session; 103 is a child of 102 that made its own session; 60 is
	// another child of the pilot.
	host := []fakeProc{
		{pid: 1, ppid: 0, pgid: 1, sid: 1, comm: "init", rss: 100, pss: -1},
		{pid: 40, ppid: 1, pgid: 40, sid: 40, comm: "bash", rss: 10, pss: -1},
		{pid: 50, ppid: 40, pgid: 50, sid: 40, comm: "pilot", rss: 1000, pss: 900},
		{pid: 60, ppid: 50, pgid: 50, sid: 40, comm: "helper", rss: 10, pss: 10},
	}
	payload := []fakeProc{
		{pid: 100, ppid: 50, pgid: 100, sid: 100, comm: "bash", utime: 100, stime: 50, cutime: 30, cstime: 20, start: 500, rss: 256, pss: 800},
		{pid: 101, ppid: 100, pgid: 100, sid: 100, comm: "python (x) y", utime: 1000, stime: 0, rss: 2560, pss: 9000},
		{pid: 102, ppid: 1, pgid: 100, sid: 100, comm: "daemon", utime: 7, stime: 3, rss: 25, pss: -1},
		{pid: 103, ppid: 102, pgid: 103, sid: 103, comm: "escaped", rss: 1, pss: 4},
		{pid: 104, ppid: 101, pgid: 100, sid: 100, state: 'Z', comm: "zombie", utime: 5, pss: -1},
	}
	// A root that is not a session leader: 200 runs in the pilot's
	// session and group; only its descendants belong to it.
	plain := []fakeProc{
		{pid: 200, ppid: 50, pgid: 50, sid: 40, comm: "sh", rss: 1, pss: 4},
		{pid: 201, ppid: 200, pgid: 50, sid: 40, comm: "sleep", rss: 1, pss: 4},
	}
	all := slices.Concat(host, payload, plain)
	const btime = 1_700_000_000
	pageKB := int64(os.Getpagesize() / 1024)
	tests := []struct {
		name      string
		procs     []fakeProc
		root      int
		pids      []int
		alive     bool
		cpu       time.Duration
		rss, pss  int64
		maxRSSPID int
	}{
		{
			name: "session leader with daemon and escaped grandchild", procs: all, root: 100,
			pids: []int{100, 101, 102, 103, 104}, alive: true,
			cpu: (100 + 50 + 30 + 20 + 1000 + 7 + 3 + 5) * clockTick,
			rss: (256 + 2560 + 25 + 1) * pageKB, pss: 800 + 9000 + 25*pageKB + 4, maxRSSPID: 101,
		},
		{
			name: "root gone, session survivors", procs: slices.Concat(host, payload[1:]), root: 100,
			pids: []int{101, 102, 103, 104}, alive: false,
			cpu: (1000 + 7 + 3 + 5) * clockTick,
			rss: (2560 + 25 + 1) * pageKB, pss: 9000 + 25*pageKB + 4, maxRSSPID: 101,
		},
		{
			name: "root in the pilot's session takes only its descendants", procs: all, root: 200,
			pids: []int{200, 201}, alive: true, rss: 2 * pageKB, pss: 8, maxRSSPID: 200,
		},
		{
			name: "nothing left", procs: host, root: 100, pids: []int{}, alive: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFakeProc(t, btime, tc.procs)
			s, err := sampleFS(context.Background(), dir, tc.root)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.PIDs(); !slices.Equal(got, tc.pids) {
				t.Errorf("pids %v, want %v", got, tc.pids)
			}
			if s.NumProcs() != len(tc.pids) || s.RootAlive != tc.alive || s.RootPID != tc.root {
				t.Errorf("procs %d alive %v root %d", s.NumProcs(), s.RootAlive, s.RootPID)
			}
			if s.CPU != tc.cpu || s.RSS != tc.rss || s.PSS != tc.pss || s.MaxRSSPID != tc.maxRSSPID {
				t.Errorf("cpu %v rss %d pss %d maxpid %d, want %v %d %d %d", s.CPU, s.RSS, s.PSS, s.MaxRSSPID, tc.cpu, tc.rss, tc.pss, tc.maxRSSPID)
			}
			if tc.root == 100 && tc.alive {
				want := time.Unix(btime, 0).Add(5 * time.Second)
				if !s.RootStart.Equal(want) {
					t.Errorf("root start %v, want %v", s.RootStart, want)
				}
				p := s.Procs[1]
				if p.Comm != "python (x) y" || !p.PSSKnown || p.PSS != 9000 || p.PPID != 100 || p.CPU != 10*time.Second {
					t.Errorf("proc 101 = %+v", p)
				}
				if d := s.Procs[2]; d.PSSKnown || d.PSS != d.RSS {
					t.Errorf("proc 102 without smaps_rollup = %+v", d)
				}
			}
			if !tc.alive && !s.RootStart.IsZero() {
				t.Errorf("root start %v for a gone root", s.RootStart)
			}
		})
	}
}

func TestSampleErrors(t *testing.T) {
	t.Parallel()
	if _, err := Sample(context.Background(), 0); err == nil {
		t.Error("pid 0 accepted")
	}
	if _, err := sampleFS(context.Background(), filepath.Join(t.TempDir(), "none"), 1); err == nil {
		t.Error("missing proc dir accepted")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := fmt.Errorf("payload ended")
	cancel(cause)
	if _, err := Sample(ctx, os.Getpid()); err != cause {
		t.Errorf("cancelled sample: %v, want the cause", err)
	}
}

// TestSampleRealTree samples a real tree: a root that starts three sleeping
// children and one child holding 50 MiB.
func TestSampleRealTree(t *testing.T) {
	t.Parallel()
	const mb = 50
	tr := startTree(t, helperproc.Scenario("parent", "3", strconv.Itoa(mb)), 5)
	s, err := Sample(context.Background(), tr.root)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(tr.pids))
	if got := s.PIDs(); !slices.Equal(got, want) {
		t.Fatalf("pids %v, want %v", got, want)
	}
	if !s.RootAlive || s.RootStart.IsZero() || time.Since(s.RootStart) > time.Hour || time.Until(s.RootStart) > time.Minute {
		t.Errorf("root alive %v start %v", s.RootAlive, s.RootStart)
	}
	// The allocating child is the one started as "<exe> <MB>" (the
	// others run "<exe> report sleep forever", the root "<exe> 3 <MB>").
	alloc := 0
	for _, pid := range tr.pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Count(string(cmdline), "\x00") == 2 && strings.HasSuffix(string(cmdline), "\x00"+strconv.Itoa(mb)+"\x00") {
			alloc = pid
		}
	}
	var found bool
	for _, p := range s.Procs {
		if p.PID != tr.root && p.PPID != tr.root {
			t.Errorf("pid %d has parent %d, not the root", p.PID, p.PPID)
		}
		if p.SID != tr.root {
			t.Errorf("pid %d in session %d", p.PID, p.SID)
		}
		if p.PID == alloc {
			found = true
			if p.RSS < mb<<10 || !p.PSSKnown || p.PSS < mb<<10 {
				t.Errorf("allocating child: RSS %d kB PSS %d kB (known %v), want >= %d kB", p.RSS, p.PSS, p.PSSKnown, mb<<10)
			}
		}
	}
	if !found {
		t.Fatalf("allocating child %d not in %v", alloc, s.PIDs())
	}
	if s.RSS < mb<<10 || s.PSS < mb<<10 || s.MaxRSS < mb<<10 || s.MaxRSSPID != alloc {
		t.Errorf("totals RSS %d PSS %d max %d (pid %d)", s.RSS, s.PSS, s.MaxRSS, s.MaxRSSPID)
	}
}

// TestSampleDaemonised checks that a grandchild whose parent exited (and
// which is therefore no longer a descendant of the root) is still found by
// its session.
func TestSampleDaemonised(t *testing.T) {
	t.Parallel()
	tr := startTree(t, helperproc.Script("run", "[", "spawn", "[", "report", "sleep", "forever", "]", "]", "report", "sleep", "forever"), 2)
	// The root reports after its "run" step, so the intermediate process
	// has exited by then and the grandchild has been re-parented.
	orphan := tr.pids[0]
	if orphan == tr.root {
		orphan = tr.pids[1]
	}
	s, err := Sample(context.Background(), tr.root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.PIDs(), slices.Sorted(slices.Values(tr.pids)); !slices.Equal(got, want) {
		t.Fatalf("pids %v, want %v", got, want)
	}
	for _, p := range s.Procs {
		if p.PID == orphan && p.PPID == tr.root {
			t.Errorf("the grandchild %d is still a child of the root", orphan)
		}
	}
}

// BenchmarkSample measures one Sample of a real tree of 1000 processes (a
// root and 999 sleep children), PSS included, plus the fixed cost of the
// scan with a one-process tree.
func BenchmarkSample(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) {
			tr := startTree(b, helperproc.Scenario("sleepers", strconv.Itoa(n)), n)
			ctx := context.Background()
			s, err := Sample(ctx, tr.root)
			if err != nil {
				b.Fatal(err)
			}
			if s.NumProcs() != n {
				b.Fatalf("found %d processes, want %d", s.NumProcs(), n)
			}
			// CPU time (user + system, the kernel's /proc work included)
			// is reported beside the wall time, which a loaded machine
			// inflates.
			cpu0 := processCPU(b)
			n := 0
			for b.Loop() {
				if _, err := Sample(ctx, tr.root); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(n), "cpu-ns/op")
			b.ReportMetric(float64(s.PSS), "treePSS_kB")
		})
	}
}

// processCPU returns the user plus system CPU time of this process.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
