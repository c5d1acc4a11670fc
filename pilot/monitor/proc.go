package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

// userHZ is the unit of the tick counts in /proc/<pid>/stat (the kernel's
// USER_HZ, exported to user space as sysconf(_SC_CLK_TCK)). Linux fixes it at
// 100 on every architecture the pilot runs on (x86_64, aarch64, ppc64le).
const userHZ = 100

// clockTick is one USER_HZ tick as a Duration.
const clockTick = time.Second / userHZ

// Proc is one process of the payload's tree as read from /proc.
type Proc struct {
	PID, PPID, PGID, SID int
	State                byte   // the state letter of /proc/<pid>/stat (R, S, D, Z, T, ...)
	Comm                 string // the command name (at most 15 bytes, as the kernel keeps it)
	// CPU is the user plus system time of the process itself.
	CPU time.Duration
	// ChildCPU is the user plus system time of its children that have
	// exited and been waited for (cutime + cstime).
	ChildCPU time.Duration
	// Start is when the process started (boot time + starttime); zero when
	// the boot time could not be read.
	Start time.Time
	RSS   int64 // resident set size in kB (the "resident" of statm, field 24 of stat)
	// PSS is the proportional set size in kB from smaps_rollup; when that
	// file cannot be read (another user's process, kernel < 4.14, zombie)
	// PSS is RSS and PSSKnown is false.
	PSS      int64
	PSSKnown bool
}

// Snapshot is one sample of the payload's process tree.
//
// The tree of root R holds R, every process whose session id or process
// group id is R (the payload runs in its own session, so processes that
// were re-parented away from R, e.g. daemonised helpers, stay in it), and
// every descendant, by parent links, of those. Only a session or group
// created by R has the id R, so when R is not a session leader nothing
// outside R's descendants is taken in (in particular not the pilot's own
// session).
type Snapshot struct {
	// Time is when the sample was taken. Sample sets it from the wall
	// clock; Runner overwrites it with its own clock so that monitors can
	// be driven by an injected clock.
	Time    time.Time
	RootPID int
	// RootAlive reports that the root itself was found (possibly as a
	// zombie not yet waited for).
	RootAlive bool
	// RootStart is when the root process started; zero when the root is
	// gone or the boot time is unknown.
	RootStart time.Time
	// Procs are the processes of the tree in ascending pid order.
	Procs []Proc
	// CPU is the user plus system time of the tree: each process's own
	// time plus that of its children already waited for. Time of
	// processes that exited without being waited for by a member of the
	// tree is not included.
	CPU time.Duration
	// RSS and PSS are the totals over the tree in kB (PSS counts RSS for
	// processes whose PSS is unknown, so it is never below the true PSS).
	RSS, PSS int64
	// MaxRSS is the largest RSS of a single process in kB, and MaxRSSPID
	// that process (0 when the tree is empty).
	MaxRSS    int64
	MaxRSSPID int
	// Err is set by Runner when sampling failed: the process fields are
	// then empty and only Time and RootPID are meaningful. Sample itself
	// returns its error instead.
	Err error
}

// NumProcs returns the number of processes in the tree.
func (s *Snapshot) NumProcs() int {
	if s == nil {
		return 0
	}
	return len(s.Procs)
}

// PIDs returns the pids of the tree in ascending order (a fresh slice).
func (s *Snapshot) PIDs() []int {
	if s == nil {
		return nil
	}
	out := make([]int, len(s.Procs))
	for i := range s.Procs {
		out[i] = s.Procs[i].PID
	}
	return out
}

// usable reports whether s carries process figures.
func (s *Snapshot) usable() bool { return s != nil && s.Err == nil }

// Sample takes one snapshot of the process tree of rootPID (see Snapshot)
// with a single scan of /proc: the stat file of every process, then
// smaps_rollup of the tree's members. Processes that vanish during the scan
// are skipped. A root that is gone is not an error: the snapshot then holds
// whatever is left of its session and group (possibly nothing). Errors are
// an invalid pid, an unreadable /proc, and the cause of ctx when it ends
// during the scan.
func Sample(ctx context.Context, rootPID int) (*Snapshot, error) {
	return sampleFS(ctx, "/proc", rootPID)
}

// entry is one process of the /proc scan, linked to its children.
type entry struct {
	st         statInfo
	firstChild int32
	nextSib    int32
	member     bool
}

// sampleFS is Sample over the proc file system mounted at procDir.
func sampleFS(ctx context.Context, procDir string, rootPID int) (*Snapshot, error) {
	if rootPID <= 0 {
		return nil, fmt.Errorf("monitor: invalid root pid %d", rootPID)
	}
	d, err := os.Open(procDir)
	if err != nil {
		return nil, fmt.Errorf("monitor: scanning processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("monitor: scanning processes: %w", err)
	}
	all := make([]entry, 0, len(names))
	buf := make([]byte, 0, 1024)
	for i, name := range names {
		if i&127 == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		pid, ok := parsePID(name)
		if !ok {
			continue
		}
		buf, err = readFile(procDir+"/"+name+"/stat", buf[:0])
		if err != nil {
			continue // gone, or not ours to read: skip, as for a process that exited
		}
		st, err := parseStat(buf)
		if err != nil || st.pid != pid {
			continue
		}
		all = append(all, entry{st: st, firstChild: -1, nextSib: -1})
	}

	// Link children to parents and seed the tree.
	index := make(map[int]int32, len(all))
	for i := range all {
		index[all[i].st.pid] = int32(i)
	}
	var stack []int32
	rootIdx := int32(-1)
	for i := range all {
		st := &all[i].st
		if p, ok := index[st.ppid]; ok && st.ppid != st.pid {
			all[i].nextSib = all[p].firstChild
			all[p].firstChild = int32(i)
		}
		if st.pid == rootPID {
			rootIdx = int32(i)
		}
		if st.pid == rootPID || st.sid == rootPID || st.pgid == rootPID {
			all[i].member = true
			stack = append(stack, int32(i))
		}
	}
	var members []int32
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		members = append(members, i)
		for c := all[i].firstChild; c >= 0; c = all[c].nextSib {
			if !all[c].member {
				all[c].member = true
				stack = append(stack, c)
			}
		}
	}
	slices.SortFunc(members, func(a, b int32) int { return all[a].st.pid - all[b].st.pid })

	s := &Snapshot{Time: time.Now(), RootPID: rootPID, RootAlive: rootIdx >= 0, Procs: make([]Proc, 0, len(members))}
	var boot time.Time
	if len(members) > 0 {
		if b, err := readFile(procDir+"/stat", buf[:0]); err == nil {
			buf = b
			if secs, ok := parseBootTime(b); ok {
				boot = time.Unix(secs, 0)
			}
		}
	}
	pageKB := int64(os.Getpagesize() / 1024)
	for n, i := range members {
		if n&63 == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		st := &all[i].st
		p := Proc{
			PID: st.pid, PPID: st.ppid, PGID: st.pgid, SID: st.sid, State: st.state,
			Comm:     string(st.comm[:st.commLen]),
			CPU:      ticks(st.utime + st.stime),
			ChildCPU: ticks(st.cutime + st.cstime),
			RSS:      max(st.rss, 0) * pageKB,
		}
		if !boot.IsZero() {
			p.Start = boot.Add(ticks(st.start))
		}
		p.PSS = p.RSS
		if st.state != 'Z' && st.state != 'X' {
			if b, err := readFile(fmt.Sprintf("%s/%d/smaps_rollup", procDir, st.pid), buf[:0]); err == nil {
				buf = b
				if _, pss, ok := parseSmapsRollup(b); ok {
					p.PSS, p.PSSKnown = pss, true
				}
			}
		}
		s.Procs = append(s.Procs, p)
		s.CPU += p.CPU + p.ChildCPU
		s.RSS += p.RSS
		s.PSS += p.PSS
		if p.RSS > s.MaxRSS || s.MaxRSSPID == 0 {
			s.MaxRSS, s.MaxRSSPID = p.RSS, p.PID
		}
		if p.PID == rootPID {
			s.RootStart = p.Start
		}
	}
	return s, nil
}

// ticks converts a USER_HZ tick count to a Duration, saturating.
func ticks(n uint64) time.Duration {
	const maxTicks = uint64(1<<63-1) / uint64(clockTick)
	if n > maxTicks {
		n = maxTicks
	}
	return time.Duration(n) * clockTick
}

// readFile reads the whole file at path into buf (appending) with plain
// system calls: files under /proc are small, and an *os.File per read would
// cost more than the read itself on a large tree.
func readFile(path string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for errors.Is(err, syscall.EINTR) {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return buf, err
	}
	defer syscall.Close(fd)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(cap(buf), 512))
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return buf, err
		}
		if n <= 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > 1<<22 {
			return buf, errors.New("monitor: " + path + " is unexpectedly large")
		}
	}
}
