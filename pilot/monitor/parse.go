package monitor

import (
	"bytes"
	"errors"
)

// statInfo holds the fields of /proc/<pid>/stat the monitors use.
type statInfo struct {
	pid, ppid, pgid, sid int
	state                byte
	utime, stime         uint64 // ticks
	cutime, cstime       uint64 // ticks (signed in the kernel's format, never negative in practice)
	start                uint64 // ticks after boot
	rss                  int64  // pages
	comm                 [16]byte
	commLen              uint8
}

// Field positions in /proc/<pid>/stat after the closing parenthesis of the
// command name, counted from 0 (field 3 of proc(5), "state", is 0).
const (
	fState = iota
	fPPID
	fPGID
	fSID
	_ // tty_nr
	_ // tpgid
	_ // flags
	_ // minflt
	_ // cminflt
	_ // majflt
	_ // cmajflt
	fUTime
	fSTime
	fCUTime
	fCSTime
	_ // priority
	_ // nice
	_ // num_threads
	_ // itrealvalue
	fStart
	_ // vsize
	fRSS
	nStatFields
)

var errBadStat = errors.New("malformed stat line")

// parseStat parses the content of /proc/<pid>/stat. The command name may
// hold any byte, spaces and parentheses included; it is taken between the
// first '(' and the last ')'.
func parseStat(b []byte) (statInfo, error) {
	var st statInfo
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return st, errBadStat
	}
	pid, ok := parseInt(bytes.TrimRight(b[:open], " "))
	if !ok || pid <= 0 {
		return st, errBadStat
	}
	st.pid = int(pid)
	st.commLen = uint8(copy(st.comm[:], b[open+1:closing]))

	var f [nStatFields][]byte
	rest := b[closing+1:]
	for n := range f {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return st, errBadStat
		}
		f[n], rest = rest[:end], rest[end:]
	}
	if len(f[fState]) != 1 {
		return st, errBadStat
	}
	st.state = f[fState][0]
	ids := [3]*int{&st.ppid, &st.pgid, &st.sid}
	for k, fi := range [3]int{fPPID, fPGID, fSID} {
		v, ok := parseInt(f[fi])
		if !ok || v < 0 {
			return st, errBadStat
		}
		*ids[k] = int(v)
	}
	times := [5]*uint64{&st.utime, &st.stime, &st.cutime, &st.cstime, &st.start}
	for k, fi := range [5]int{fUTime, fSTime, fCUTime, fCSTime, fStart} {
		v, ok := parseInt(f[fi])
		if !ok {
			return st, errBadStat
		}
		*times[k] = uint64(max(v, 0))
	}
	rss, ok := parseInt(f[fRSS])
	if !ok {
		return st, errBadStat
	}
	st.rss = max(rss, 0)
	return st, nil
}

// parseSmapsRollup returns the Rss and Pss totals (kB) of the content of
// /proc/<pid>/smaps_rollup; ok is false when there is no Pss line.
func parseSmapsRollup(b []byte) (rss, pss int64, ok bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("Rss:")):
			dst, line = &rss, line[4:]
		case bytes.HasPrefix(line, []byte("Pss:")):
			dst, line = &pss, line[4:]
		default:
			continue
		}
		line = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))
		v, good := parseInt(line)
		if !good || v < 0 {
			return 0, 0, false
		}
		*dst = v
		if dst == &pss {
			ok = true
		}
	}
	return rss, pss, ok
}

// parseBootTime returns the "btime" value (seconds since the epoch) of the
// content of /proc/stat.
func parseBootTime(b []byte) (int64, bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if v, found := bytes.CutPrefix(line, []byte("btime ")); found {
			n, ok := parseInt(bytes.TrimSpace(v))
			return n, ok && n > 0
		}
	}
	return 0, false
}

// parsePID parses a /proc directory name that is a process id.
func parsePID(name string) (int, bool) {
	if name == "" || name[0] == '0' || len(name) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0 && n <= 1<<30
}

// parseInt parses an optionally negative decimal integer of at most 18
// digits (so it cannot overflow); anything else is not ok.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
