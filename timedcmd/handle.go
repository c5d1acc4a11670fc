package timedcmd

import (
	"errors"
	"math"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errGone means a process no longer exists (or its pid now names another
// process).
var errGone = errors.New("timedcmd: process gone")

// handle is a pidfd for one process identified by pid and start time.
// Signals sent through it can never hit a process that recycled the pid.
type handle struct {
	pid   int
	start uint64
	fd    int
	pgid  int  // process group when first seen
	dead  bool // seen exited
}

// openHandle opens a pidfd for the process pid whose start time is start.
//
// The pidfd is opened first and the start time checked after: if the pid
// still names the process with that start time, that process has held it
// since before pidfd_open, so the pidfd refers to it.
func openHandle(pid int, start uint64, sr *statReader) (*handle, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	switch err {
	case nil:
	case unix.ESRCH:
		return nil, errGone
	case unix.ENOSYS, unix.EPERM:
		// No pidfds (Linux before 5.3, or a seccomp filter): fall back to
		// the pid, checked against the start time before each use.
		fd = -1
	default:
		return nil, err
	}
	st, err := sr.read(pid)
	if err != nil || st.start != start {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, errGone
	}
	return &handle{pid: pid, start: start, fd: fd}, nil
}

// same reports whether the pid still names this process, alive or not
// reaped yet. Only for handles without a pidfd.
func (h *handle) same() (procStat, bool) {
	var sr statReader
	st, err := sr.read(h.pid)
	return st, err == nil && st.start == h.start
}

func (h *handle) signal(sig unix.Signal) {
	if h.dead {
		return
	}
	if h.fd >= 0 {
		_ = unix.PidfdSendSignal(h.fd, sig, nil, 0)
		return
	}
	if _, ok := h.same(); ok {
		_ = unix.Kill(h.pid, sig)
	}
}

// checkExited marks a handle without a pidfd dead once its process has
// exited or its pid has gone.
func (h *handle) checkExited() {
	if st, ok := h.same(); !ok || st.dead() {
		h.dead = true
	}
}

func (h *handle) close() {
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// reap reaps the process if it is an exited child of this process,
// returning its resource usage. ok is false when it is not (yet) waitable
// by this process.
func (h *handle) reap() (ru unix.Rusage, ok bool) {
	if h.fd < 0 {
		st, same := h.same()
		if !same || !st.dead() || st.ppid != os.Getpid() {
			return ru, false
		}
		var ws unix.WaitStatus
		pid, err := unix.Wait4(h.pid, &ws, unix.WNOHANG, &ru)
		return ru, err == nil && pid == h.pid
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PIDFD, h.fd, &info, unix.WEXITED|unix.WNOHANG, &ru)
		if err == unix.EINTR {
			continue
		}
		return ru, err == nil && siginfoPid(&info) != 0
	}
}

// siginfoPid returns si_pid, which waitid with WNOHANG leaves zero when no
// child was waitable. The pid follows three int32 fields, aligned to a
// pointer.
func siginfoPid(si *unix.Siginfo) int32 {
	off := uintptr(12)
	if unsafe.Sizeof(uintptr(0)) == 8 {
		off = 16
	}
	return *(*int32)(unsafe.Add(unsafe.Pointer(si), off))
}

// waitExit blocks until every handle in hs has exited or the deadline
// passes, and marks those that exited. It reports whether all did. A pidfd
// becomes readable when its process exits, zombie or not, so this needs
// no polling loop; only handles without a pidfd are looked at again with
// a growing interval.
func waitExit(hs []*handle, deadline time.Time) bool {
	fds := make([]unix.PollFd, 0, len(hs))
	idx := make([]int, 0, len(hs))
	backoff := time.Millisecond
	for {
		fds, idx = fds[:0], idx[:0]
		polling := false
		for i, h := range hs {
			if h.dead {
				continue
			}
			if h.fd < 0 {
				if h.checkExited(); !h.dead {
					polling = true
				}
				continue
			}
			fds = append(fds, unix.PollFd{Fd: int32(h.fd), Events: unix.POLLIN})
			idx = append(idx, i)
		}
		if len(fds) == 0 && !polling {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			// One last look without blocking.
			left = 0
		}
		if polling && left > backoff {
			left = backoff
			backoff = min(2*backoff, 32*time.Millisecond)
		}
		ms := int(math.Ceil(float64(left) / float64(time.Millisecond)))
		n, err := unix.Poll(fds, ms)
		if err != nil && err != unix.EINTR {
			return false
		}
		for j := range fds {
			if fds[j].Revents != 0 {
				hs[idx[j]].dead = true
			}
		}
		if n == 0 && left == 0 && !time.Now().Before(deadline) {
			for _, h := range hs {
				if !h.dead && h.fd < 0 {
					h.checkExited()
				}
			}
			for _, h := range hs {
				if !h.dead {
					return false
				}
			}
			return true
		}
	}
}
