package timedcmd

import (
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// tracker follows the processes of one command's tree through handles.
type tracker struct {
	c  *Cmd
	sr statReader
	hs map[int]*handle
}

func (c *Cmd) newTracker() *tracker {
	return &tracker{c: c, hs: make(map[int]*handle)}
}

// refresh scans /proc, opens handles for members of the tree not tracked
// yet and sends sig (0: none) to those of them outside the command's
// process group (the group is signalled as a whole). It returns how many
// live members it added.
func (t *tracker) refresh(sig unix.Signal) int {
	table, err := scanProcs()
	if err != nil {
		return 0
	}
	added := 0
	for _, st := range t.c.members(table, t) {
		if h, ok := t.hs[st.pid]; ok {
			if h.start == st.start {
				continue
			}
			t.drop(h) // the pid was recycled: the old process is gone
		}
		t.c.r.hold(st.pid)
		h, err := openHandle(st.pid, st.start, &t.sr)
		if err != nil {
			t.c.r.release(st.pid)
			continue
		}
		h.pgid = st.pgid
		t.hs[st.pid] = h
		t.c.remember(st.pid, st.start)
		if st.dead() {
			h.dead = true
			continue
		}
		if sig != 0 && (sig == unix.SIGKILL || st.pgid != t.c.pid) {
			h.signal(sig)
		}
		added++
	}
	return added
}

func (t *tracker) drop(h *handle) {
	h.close()
	delete(t.hs, h.pid)
	t.c.r.release(h.pid)
}

// all returns the handles of the tree, the unreaped leader included.
func (t *tracker) all() []*handle {
	hs := make([]*handle, 0, len(t.hs)+1)
	if l := t.c.leader; l != nil && !t.c.reaped {
		hs = append(hs, l)
	}
	for _, h := range t.hs {
		hs = append(hs, h)
	}
	return hs
}

// signalOutsideGroup sends sig to the tracked processes that are not in
// the command's process group.
func (t *tracker) signalOutsideGroup(sig unix.Signal) {
	for _, h := range t.hs {
		if h.pgid != t.c.pid {
			h.signal(sig)
		}
	}
}

// kill SIGKILLs the tree until nothing of it is left or the deadline
// passes, reaps the members that are children of this process, and returns
// the pids still alive.
func (t *tracker) kill(deadline time.Time) []int {
	c := t.c
	killGroup := func() {
		// One kill(2) reaches every member of the group, and a member
		// forking concurrently cannot escape it; cgroup.kill likewise.
		_ = unix.Kill(-c.pid, unix.SIGKILL)
		if c.cg != nil {
			c.cg.kill()
		}
	}
	for {
		if c.r.isSubreaper() {
			// Orphans come back to this process, so killing before the
			// scan loses nothing, and the group dies while it runs.
			killGroup()
		}
		// Find the tree: without a subreaper this must happen while the
		// tree is intact, since a dying parent's children go to init.
		t.refresh(0)
		killGroup()
		for _, h := range t.all() {
			h.signal(unix.SIGKILL)
		}
		if !waitExit(t.all(), deadline) {
			break
		}
		// Everything seen has exited; members forked before they died show
		// up now.
		if t.refresh(unix.SIGKILL) == 0 {
			break
		}
	}
	var survivors []int
	for _, h := range t.all() {
		if !h.dead {
			survivors = append(survivors, h.pid)
		}
	}
	sort.Ints(survivors)
	t.reap()
	return survivors
}

// reap reaps the exited members that were re-parented to this process and
// adds their usage to the command.
func (t *tracker) reap() {
	for _, h := range t.hs {
		if h.dead {
			if ru, ok := h.reap(); ok {
				t.c.addUsage(ru)
			}
		}
	}
}

func (t *tracker) close() {
	for _, h := range t.hs {
		t.drop(h)
	}
}

// remember records pid as a member of the tree.
func (c *Cmd) remember(pid int, start uint64) {
	c.mu.Lock()
	c.known[pid] = start
	c.mu.Unlock()
}

// members returns the processes of the command's tree in table: the
// descendants of the leader; the members of its process group (and of its
// session, with Spec.NewSession) and their descendants; processes seen in
// the tree before; the processes in its cgroup; and, for a subreaper
// Runner, the orphans re-parented to this process that no other command
// claims and nobody else waits for. Neither this process nor any leader of
// a running command is ever a member.
func (c *Cmd) members(table *procTable, t *tracker) []procStat {
	self := os.Getpid()
	in := make(map[int]bool)
	var queue []int
	add := func(pid int) {
		if pid <= 1 || pid == self || pid == c.pid || in[pid] || c.r.isLiveLeader(pid) {
			return
		}
		if _, ok := table.byPid[pid]; !ok {
			return
		}
		in[pid] = true
		queue = append(queue, pid)
	}
	// Until this Cmd reaps it, the leader's pid cannot name another process.
	if !c.reaped {
		for _, k := range table.children[c.pid] {
			add(k)
		}
	}
	c.mu.Lock()
	known := make(map[int]uint64, len(c.known))
	for pid, start := range c.known {
		known[pid] = start
	}
	c.mu.Unlock()
	var orphans []procStat
	for pid, st := range table.byPid {
		if st.pgid == c.pid || (c.spec.NewSession && st.sid == c.pid) {
			add(pid)
		} else if start, ok := known[pid]; ok && start == st.start {
			add(pid)
		} else if st.ppid == self && c.r.isSubreaper() {
			orphans = append(orphans, st)
		}
	}
	if c.cg != nil {
		if pids, err := c.cg.procs(); err == nil {
			for _, pid := range pids {
				add(pid)
			}
		}
	}
	if len(orphans) > 0 {
		c.addOrphans(orphans, t, add)
	}
	for i := 0; i < len(queue); i++ {
		for _, k := range table.children[queue[i]] {
			add(k)
		}
	}
	out := make([]procStat, 0, len(queue))
	for _, pid := range queue {
		out = append(out, table.byPid[pid])
	}
	return out
}

// addOrphans adds the orphans that belong to no other running command and
// that nobody else holds a pidfd for (os/exec holds one for each child it
// will wait for).
func (c *Cmd) addOrphans(orphans []procStat, t *tracker, add func(int)) {
	var fds map[int]int
	if c.r.pidfdOK {
		var err error
		if fds, err = pidfdTargets(); err != nil {
			return
		}
	}
	for _, st := range orphans {
		if c.r.otherClaims(c, st) {
			continue
		}
		if !c.r.pidfdOK {
			if c.claims(st) {
				add(st.pid)
			}
			continue
		}
		mine := 0
		if h, ok := t.hs[st.pid]; ok && h.fd >= 0 {
			mine = 1
		}
		if fds[st.pid]-mine > 0 {
			continue
		}
		add(st.pid)
	}
}
