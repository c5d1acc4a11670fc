package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStat is what the journal reads from /proc/<pid>/stat.
type procStat struct {
	state byte
	pgid  int
	start uint64 // field 22: start time in clock ticks after boot
}

var errStat = errors.New("malformed /proc/<pid>/stat")

// parseStat parses /proc/<pid>/stat. The command name (field 2) may hold
// any byte, so the fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var s procStat
	closing := bytes.LastIndexByte(b, ')')
	if closing < 0 || bytes.IndexByte(b, '(') < 0 {
		return s, errStat
	}
	f := bytes.Fields(b[closing+1:])
	// f[0] is field 3 (state), f[2] field 5 (pgrp), f[19] field 22 (starttime).
	if len(f) < 20 || len(f[0]) != 1 {
		return s, errStat
	}
	s.state = f[0][0]
	pgid, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return s, errStat
	}
	s.pgid = pgid
	if s.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return s, errStat
	}
	return s, nil
}

func readStat(pid int) (procStat, error) {
	if pid <= 0 {
		return procStat{}, fmt.Errorf("pid %d", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// ProcessStartTicks returns the start time of process pid in clock ticks
// after boot (field 22 of /proc/<pid>/stat).
func ProcessStartTicks(pid int) (uint64, error) {
	s, err := readStat(pid)
	if err != nil {
		return 0, fmt.Errorf("journal: start time of pid %d: %w", pid, err)
	}
	return s.start, nil
}

// ProcessAlive reports whether process pid exists, has not exited (a zombie
// awaiting its parent's wait counts as ended) and started startTicks clock
// ticks after boot. A recycled pid has another start time, so the answer is
// false for it. Only meaningful within the boot the ticks come from; see
// PayloadStarted.Alive.
func ProcessAlive(pid int, startTicks uint64) bool {
	s, err := readStat(pid)
	if err != nil {
		return false
	}
	return s.start == startTicks && s.state != 'Z' && s.state != 'X' && s.state != 'x'
}

// NewPayloadStarted reads from /proc what identifies the running process
// pid (start ticks, boot time and boot id, cgroup v2 path) and returns the
// PayloadStarted record for it. Call it right after the process was
// started and before it can have been reaped. pgid is recorded as given
// (0: read from /proc).
func NewPayloadStarted(pid, pgid int) (PayloadStarted, error) {
	s, err := readStat(pid)
	if err != nil {
		return PayloadStarted{}, fmt.Errorf("journal: reading pid %d: %w", pid, err)
	}
	if pgid == 0 {
		pgid = s.pgid
	}
	ps := PayloadStarted{PID: pid, Pgid: pgid, StartTicks: s.start, BootID: bootID(), Cgroup: processCgroup(pid)}
	if bt, err := bootTime(); err == nil {
		ps.BootTime = bt
		hz := int64(clockTicks())
		ps.ProcessStart = time.Unix(bt, 0).Add(time.Duration(s.start/uint64(hz))*time.Second +
			time.Duration(s.start%uint64(hz))*time.Second/time.Duration(hz)).UTC()
	}
	return ps, nil
}

// Alive reports whether the process still runs: the boot is the same
// (BootID, when both are known) and ProcessAlive(PID, StartTicks).
func (p PayloadStarted) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	if id := bootID(); p.BootID != "" && id != "" && id != p.BootID {
		return false
	}
	return ProcessAlive(p.PID, p.StartTicks)
}

// bootID returns the kernel's boot_id, "" if unreadable.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// bootTime returns btime from /proc/stat: the boot time in seconds since
// the epoch.
func bootTime() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(l, []byte("btime ")); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, errors.New("no btime in /proc/stat")
}

// clockTicks returns the clock ticks per second of /proc times: AT_CLKTCK
// from the process's auxiliary vector, else 100 (USER_HZ on Linux).
func clockTicks() int {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	word := strconv.IntSize / 8
	for i := 0; i+2*word <= len(b); i += 2 * word {
		var k, v uint64
		if word == 8 {
			k, v = binary.NativeEndian.Uint64(b[i:]), binary.NativeEndian.Uint64(b[i+8:])
		} else {
			k, v = uint64(binary.NativeEndian.Uint32(b[i:])), uint64(binary.NativeEndian.Uint32(b[i+4:]))
		}
		if k == atClkTck && v > 0 && v < 1<<20 {
			return int(v)
		}
		if k == 0 {
			break
		}
	}
	return 100
}

// processCgroup returns the cgroup v2 path of pid ("0::<path>" in
// /proc/<pid>/cgroup), "" if none.
func processCgroup(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}
