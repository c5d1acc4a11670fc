package timedcmd

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStat is what timedcmd needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgid, sid int
	state                byte
	start                uint64 // start time in clock ticks after boot: with pid, a process identity
}

// dead reports whether the process has exited (it may still await reaping).
func (p procStat) dead() bool { return p.state == 'Z' || p.state == 'X' || p.state == 'x' }

var errStatFormat = errors.New("timedcmd: malformed /proc stat line")

// parseStat parses the contents of /proc/<pid>/stat. The command name may
// hold any byte, parentheses and spaces included, so fields are counted
// from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var p procStat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return p, errStatFormat
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return p, errStatFormat
	}
	p.pid = pid
	// Fields after the name: 3 state, 4 ppid, 5 pgrp, 6 session, ... 22 starttime.
	fields := bytes.Fields(b[closing+1:])
	if len(fields) < 20 || len(fields[0]) != 1 {
		return p, errStatFormat
	}
	p.state = fields[0][0]
	ints := [3]*int{&p.ppid, &p.pgid, &p.sid}
	for i, dst := range ints {
		v, err := strconv.Atoi(string(fields[1+i]))
		if err != nil || v < 0 {
			return p, errStatFormat
		}
		*dst = v
	}
	p.start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return p, errStatFormat
	}
	return p, nil
}

// statReader reads /proc/<pid>/stat files through one reusable buffer.
type statReader struct{ buf []byte }

// read returns the stat of pid; an error means the process is gone (or
// /proc is unreadable).
func (r *statReader) read(pid int) (procStat, error) {
	if r.buf == nil {
		r.buf = make([]byte, 1024)
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procStat{}, err
	}
	defer unix.Close(fd)
	n, err := readFull(fd, r.buf)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(r.buf[:n])
}

func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// procTable is one scan of /proc.
type procTable struct {
	byPid    map[int]procStat
	children map[int][]int // ppid -> pids
}

// scanProcs reads the stat of every process once.
func scanProcs() (*procTable, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	t := &procTable{byPid: make(map[int]procStat, len(names)), children: make(map[int][]int, len(names))}
	var r statReader
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		st, err := r.read(pid)
		if err != nil {
			continue // gone since the directory was read
		}
		t.byPid[pid] = st
		t.children[st.ppid] = append(t.children[st.ppid], pid)
	}
	return t, nil
}

// selfChildren returns the pids of this process's children, from
// /proc/self/task/*/children (a child belongs to the thread that forked it
// or that it was re-parented to). ok is false when the kernel does not
// provide these files.
func selfChildren() (pids []int, ok bool) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, false
	}
	defer d.Close()
	tids, err := d.Readdirnames(-1)
	if err != nil {
		return nil, false
	}
	for _, tid := range tids {
		b, err := os.ReadFile("/proc/self/task/" + tid + "/children")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				if _, serr := os.Stat("/proc/self/task/" + tid); serr == nil {
					return nil, false // the thread exists, the file does not
				}
			}
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, true
}

// pidfdTargets returns, for every pidfd open in this process, the pid it
// refers to, with a count. os/exec holds a pidfd for every child it started
// and has not yet waited for; timedcmd holds them for processes it tracks.
func pidfdTargets() (map[int]int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int)
	for _, name := range names {
		link, err := os.Readlink("/proc/self/fd/" + name)
		if err != nil || link != "anon_inode:[pidfd]" {
			continue
		}
		b, err := os.ReadFile("/proc/self/fdinfo/" + name)
		if err != nil {
			continue
		}
		if pid, ok := fdinfoPid(b); ok {
			out[pid]++
		}
	}
	return out, nil
}

// fdinfoPid extracts the "Pid:" field of a pidfd's fdinfo. A pidfd of a
// reaped process shows -1, which is not reported.
func fdinfoPid(b []byte) (int, bool) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("Pid:"))
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(string(bytes.TrimSpace(rest)))
		return pid, err == nil && pid > 0
	}
	return 0, false
}
