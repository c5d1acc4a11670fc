// Command soak runs many short jobs through one pandalite and several
// pilots at once, with a share of the server's requests broken by the fault
// proxy, and counts what became of every job: finished, failed, lost,
// duplicated. Pilots are started again, on the same work directory, until no
// job is left to hand out; a pilot that ends leaves its unfinished jobs to
// the next one (automatic recovery). It also reports each pilot process's
// resident memory at its start and end.
//
//	go run ./internal/soak [-jobs 1000] [-pilots 4] [-faults 0.10] [-bin bin]
//
// It exits 1 when a job is lost or duplicated. It is a benchmark (make
// bench), not a test.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	fp "github.com/gopilot/gopilot/internal/faultproxy"
	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/pilot/journal"
)

type config struct {
	jobs, pilots int
	faults       float64
	seed         uint64
	bin          string
	timeout      time.Duration
	keep         bool
	steady       int
}

func main() {
	var c config
	flag.IntVar(&c.jobs, "jobs", 1000, "number of short jobs")
	flag.IntVar(&c.pilots, "pilots", 4, "pilots running at the same time")
	flag.Float64Var(&c.faults, "faults", 0.10, "share of server requests given a fault")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the fault plan")
	flag.StringVar(&c.bin, "bin", "bin", "directory holding the pilot and pandalite binaries")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Minute, "give up after this long")
	flag.IntVar(&c.steady, "steady", 300, "then run this many more jobs through one pilot without faults, to see its memory over a long life (0: skip)")
	flag.BoolVar(&c.keep, "keep", false, "keep the soak's directory (work directories, pilot logs, database)")
	flag.Parse()
	ok, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// faultMix is the plan: each kind gets an equal share of the faulted requests.
func faultMix() []fp.Fault {
	return []fp.Fault{
		{Kind: fp.Drop},
		{Kind: fp.Drop, After: true},
		{Kind: fp.Status, Code: 500},
		{Kind: fp.Status, Code: 502},
		{Kind: fp.Status, Code: 503},
		{Kind: fp.Status, Code: 503, RetryAfter: "1"},
		{Kind: fp.Stall, After: true, For: time.Second},
		{Kind: fp.Restart, Down: time.Second},
	}
}

// pilotRun is one pilot process.
type pilotRun struct {
	slot, n    int
	exit       int
	start, end time.Time
	// rssStart is VmRSS half a second after the start (or the first
	// reading of a shorter life), rssFirst the first reading after the
	// first job's final update was acknowledged (0 if none was), rssEnd
	// and hwmEnd the last readings before the process ended; kB.
	rssStart, rssFirst, rssEnd, hwmEnd int64
	jobs                               int
	// byJobs is VmRSS when the pilot had acknowledged 1, 2, 4, 8, ... jobs.
	byJobs []int64
}

func run(c config) (bool, error) {
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "gopilot-soak-")
	if err != nil {
		return false, err
	}
	if c.keep {
		fmt.Fprintln(os.Stderr, "soak: directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	rse := filepath.Join(dir, "rse")
	if err := os.MkdirAll(rse, 0o755); err != nil {
		return false, err
	}
	queue, storage := filepath.Join(dir, "queue.json"), filepath.Join(dir, "storage.json")
	if err := os.WriteFile(queue, []byte(`{"nickname": "SOAK", "panda_resource": "SOAK", "state": "ACTIVE", "status": "online",
 "timefloor": 36000, "maxtime": 360000, "maxwdir": 20000, "copytools": {"copy": {"setup": ""}},
 "acopytools": {"pl": ["copy"], "pw": ["copy"]}, "astorages": {"pl": ["SOAK_DISK"], "write_lan": ["SOAK_DISK"]}}`), 0o644); err != nil {
		return false, err
	}
	proto := fmt.Sprintf(`[{"endpoint": "file://localhost", "path": %q, "id": 1}]`, rse)
	if err := os.WriteFile(storage, []byte(fmt.Sprintf(`{"SOAK_DISK": {"id": 1, "name": "SOAK_DISK", "is_deterministic": true, "arprotocols": {"write_lan": %s}}}`, proto)), 0o644); err != nil {
		return false, err
	}
	ctx := context.Background()
	db := filepath.Join(dir, "db.sqlite")
	st, err := pandalite.Open(ctx, db)
	if err != nil {
		return false, err
	}
	defer st.Close()
	if err := submit(ctx, st, c.jobs); err != nil {
		return false, err
	}

	addr, stopServer, err := startServer(bin, dir, db, queue, storage)
	if err != nil {
		return false, err
	}
	defer stopServer()
	proxy, err := fp.New(addr, fp.Options{Seed: c.seed})
	if err != nil {
		return false, err
	}
	defer proxy.Close()
	mix := faultMix()
	share := c.faults / float64(len(mix))
	for i, f := range mix {
		// Rules are tried in order: each one's probability is conditional
		// on the ones before it not firing, so every kind gets `share`.
		proxy.Add(fp.Match{Prob: share / (1 - float64(i)*share)}, f)
	}

	t0 := time.Now()
	deadline := t0.Add(c.timeout)
	var mu sync.Mutex
	var runs []*pilotRun
	var wg sync.WaitGroup
	for slot := 0; slot < c.pilots; slot++ {
		work := filepath.Join(dir, fmt.Sprintf("slot%d", slot))
		if err := os.MkdirAll(work, 0o755); err != nil {
			return false, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; time.Now().Before(deadline); n++ {
				left, err := activated(ctx, st)
				if err != nil || (left == 0 && !unfinished(work)) {
					return
				}
				r := runPilot(bin, proxy.URL(), work, slot, n, deadline)
				mu.Lock()
				runs = append(runs, r)
				mu.Unlock()
				if r.exit != 0 && r.jobs == 0 {
					time.Sleep(200 * time.Millisecond) // do not spin on a pilot that cannot start
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	ok, err := report(ctx, c, st, proxy, runs, wall, dir)
	if err != nil || c.steady <= 0 {
		return ok, err
	}
	return ok, steady(ctx, c, st, bin, proxy, dir)
}

// steady runs c.steady jobs through one pilot with no faults and prints its
// memory after the first job and at the end.
func steady(ctx context.Context, c config, st *pandalite.Store, bin string, proxy *fp.Proxy, dir string) error {
	proxy.Clear()
	if err := submitFrom(ctx, st, 9500001, c.steady); err != nil {
		return err
	}
	work := filepath.Join(dir, "steady")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	r := runPilot(bin, proxy.URL(), work, -1, 1, time.Now().Add(c.timeout))
	fmt.Printf("One pilot, %d jobs, no faults: exit %d, %d jobs in %s; VmRSS 0.5 s after start %d kB, at the end %d kB, VmHWM %d kB.\n\n",
		c.steady, r.exit, r.jobs, r.end.Sub(r.start).Round(time.Second), r.rssStart, r.rssEnd, r.hwmEnd)
	fmt.Println("| jobs done | VmRSS kB |")
	fmt.Println("|---|---|")
	for i, rss := range r.byJobs {
		fmt.Printf("| %d | %d |\n", 1<<i, rss)
	}
	fmt.Printf("| %d (exit) | %d |\n", r.jobs, r.rssEnd)
	return nil
}

// submit loads n jobs that each write one output file.
func submit(ctx context.Context, st *pandalite.Store, n int) error {
	return submitFrom(ctx, st, 9000001, n)
}

// submitFrom loads n jobs with PandaIDs from first on.
func submitFrom(ctx context.Context, st *pandalite.Store, first, n int) error {
	var jobs []pandalite.Object
	for i := 0; i < n; i++ {
		id := first + i
		logf, out := fmt.Sprintf("soak.%d.log.tgz", id), fmt.Sprintf("soak.%d.out", id)
		b, _ := json.Marshal(map[string]any{"PandaID": id, "taskID": 9, "prodSourceLabel": "managed", "transformation": "echo",
			"jobPars": fmt.Sprintf("soak %d > %s", id, out), "attemptNr": 1, "outFiles": out + "," + logf, "logFile": logf,
			"logGUID": fmt.Sprintf("00000000-0000-4000-8000-%012d", id), "scopeOut": "soak", "scopeLog": "soak",
			"realDatasets": "soak.out,soak.log", "ddmEndPointOut": "SOAK_DISK,SOAK_DISK"})
		o, err := pandalite.ParseObject(b)
		if err != nil {
			return err
		}
		jobs = append(jobs, o)
	}
	_, err := st.Submit(ctx, "SOAK", jobs...)
	return err
}

func startServer(bin, dir, db, queue, storage string) (string, func(), error) {
	addrFile := filepath.Join(dir, "addr")
	logf, err := os.Create(filepath.Join(dir, "pandalite.log"))
	if err != nil {
		return "", nil, err
	}
	srv := exec.Command(filepath.Join(bin, "pandalite"), "serve", "--db", db, "--addr", "127.0.0.1:0", "--addr-file", addrFile,
		"--queue", queue, "--storage", storage)
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		logf.Close()
		return "", nil, err
	}
	stop := func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait(); logf.Close() }
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimPrefix(strings.TrimSpace(string(b)), "http://"), stop, nil
		}
	}
	stop()
	return "", nil, errors.New("pandalite did not start")
}

// activated counts the jobs not yet handed out.
func activated(ctx context.Context, st *pandalite.Store) (int, error) {
	jobs, err := st.Jobs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if j.State == pandalite.StateActivated {
			n++
		}
	}
	return n, nil
}

// unfinished reports whether a work directory holds a journal without an
// acknowledged final report.
func unfinished(work string) bool {
	paths, _ := journal.Find(work)
	for _, p := range paths {
		if h, err := journal.Replay(p); err == nil && h.Phase() != journal.PhaseDone {
			return true
		}
	}
	return false
}

// runPilot runs one pilot in work to its end (or kills it at the
// deadline), sampling its memory.
func runPilot(bin, url, work string, slot, n int, deadline time.Time) *pilotRun {
	r := &pilotRun{slot: slot, n: n, start: time.Now(), exit: -1}
	logf, err := os.Create(filepath.Join(work, fmt.Sprintf("pilot-%03d.log", n)))
	if err != nil {
		return r
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "pilot"), "-q", "SOAK", "--url", url, "-j", "managed", "--workdir", work,
		"--getjob-wait", "0", "--final-update-timeout", "600", "--heartbeat", "60")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return r
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(time.Until(deadline))
	defer limit.Stop()
	pid := cmd.Process.Pid
	counter := &logCounter{path: logf.Name(), needle: "final update acknowledged"}
loop:
	for {
		select {
		case <-done:
			break loop
		case <-limit.C:
			cmd.Process.Signal(syscall.SIGKILL)
		case <-tick.C:
			rss, hwm, ok := memory(pid)
			if !ok {
				continue
			}
			if r.rssStart == 0 || time.Since(r.start) < 500*time.Millisecond {
				r.rssStart = rss
			}
			acked := counter.count()
			if r.rssFirst == 0 && acked > 0 {
				r.rssFirst = rss
			}
			for acked >= 1<<len(r.byJobs) {
				r.byJobs = append(r.byJobs, rss)
			}
			r.rssEnd, r.hwmEnd = rss, hwm
		}
	}
	r.end = time.Now()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		r.exit = ws.ExitStatus()
		if ws.Signaled() {
			r.exit = 128 + int(ws.Signal())
		}
	}
	r.jobs = jobsIn(logf.Name())
	return r
}

// memory reads VmRSS and VmHWM (kB) of a process.
func memory(pid int) (rss, hwm int64, ok bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, rss > 0
}

// logCounter counts the occurrences of needle in a growing log file,
// reading each byte once.
type logCounter struct {
	path, needle string
	off          int64
	carry        string
	n            int
}

func (c *logCounter) count() int {
	f, err := os.Open(c.path)
	if err != nil {
		return c.n
	}
	defer f.Close()
	buf := make([]byte, 1<<16)
	for {
		k, err := f.ReadAt(buf, c.off)
		if k > 0 {
			c.off += int64(k)
			chunk := c.carry + string(buf[:k])
			c.n += strings.Count(chunk, c.needle)
			// Keep a tail too short to hold a whole needle, so that one
			// split across reads is counted once.
			keep := min(len(chunk), len(c.needle)-1)
			c.carry = chunk[len(chunk)-keep:]
		}
		if err != nil || k == 0 {
			return c.n
		}
	}
}

// jobsIn counts the jobs a pilot received, from its log.
func jobsIn(logFile string) int {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "job received")
}

func report(ctx context.Context, c config, st *pandalite.Store, proxy *fp.Proxy, runs []*pilotRun, wall time.Duration, dir string) (bool, error) {
	outs, err := sitetest.Outcomes(ctx, st)
	if err != nil {
		return false, err
	}
	seen := proxy.Seen()
	// Jobs whose getJob answer the proxy did not deliver: handed out by the
	// server, never seen by a pilot.
	undelivered := map[int64]bool{}
	faults := map[string]int{}
	for _, s := range seen {
		if s.Dispatched != 0 && !s.Delivered {
			undelivered[s.Dispatched] = true
		}
		if s.Fault != "" {
			faults[s.Fault]++
		}
	}
	var finished, failed, stranded, lost, dup, left int
	codes := map[int]int{}
	var lostIDs, dupIDs []string
	for _, o := range outs {
		switch {
		case o.State == pandalite.StateFinished:
			finished++
		case o.State == pandalite.StateFailed:
			failed++
			codes[o.Code]++
		case o.State == pandalite.StateActivated:
			left++
		case undelivered[o.PandaID] && o.Finals == 0:
			stranded++
		default:
			lost++
			lostIDs = append(lostIDs, fmt.Sprintf("%d(%s)", o.PandaID, o.State))
		}
		d := o.Dispatches > 1 || o.Finals > 1
		for _, n := range o.Registered {
			d = d || n > 1
		}
		if d {
			dup++
			dupIDs = append(dupIDs, fmt.Sprintf("%d(dispatched %d, finals %d)", o.PandaID, o.Dispatches, o.Finals))
		}
	}
	running := 0
	for slot := 0; slot < c.pilots; slot++ {
		running += len(sitetest.LiveProcesses(filepath.Join(dir, fmt.Sprintf("slot%d", slot)), ""))
	}

	faulted := 0
	for _, n := range faults {
		faulted += n
	}
	fmt.Printf("%d short jobs (echo into one output file, output and log staged out to a file:// RSE), %d pilots at a time, %.0f%% of server requests faulted (seed %d); wall %s, %d pilot processes.\n\n",
		c.jobs, c.pilots, 100*c.faults, c.seed, wall.Round(time.Second), len(runs))
	fmt.Println("| jobs | count |")
	fmt.Println("|---|---|")
	fmt.Printf("| finished | %d |\n", finished)
	fmt.Printf("| failed | %d %s|\n", failed, codeList(codes))
	fmt.Printf("| lost (handed to a pilot, no final state) | %d %s|\n", lost, idList(lostIDs))
	fmt.Printf("| duplicated (handed out, finalised or registered twice) | %d %s|\n", dup, idList(dupIDs))
	fmt.Printf("| stranded in 'sent' (getJob answer lost in transit; no pilot ever saw the job) | %d |\n", stranded)
	fmt.Printf("| never handed out | %d |\n", left)
	fmt.Printf("| payload processes left running | %d |\n", running)
	fmt.Println()
	kinds := make([]string, 0, len(faults))
	for k := range faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var fl []string
	for _, k := range kinds {
		fl = append(fl, fmt.Sprintf("%s %d", k, faults[k]))
	}
	fmt.Printf("Requests: %d, faulted %d (%.1f%%): %s.\n\n", len(seen), faulted, 100*float64(faulted)/float64(max(len(seen), 1)), strings.Join(fl, ", "))
	memoryTable(runs, c.pilots)
	return lost == 0 && dup == 0 && running == 0, nil
}

func codeList(codes map[int]int) string {
	if len(codes) == 0 {
		return ""
	}
	var ks []int
	for k := range codes {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	var p []string
	for _, k := range ks {
		p = append(p, fmt.Sprintf("%d×%d", codes[k], k))
	}
	return "(codes: " + strings.Join(p, ", ") + ") "
}

func idList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	sort.Strings(ids)
	if len(ids) > 10 {
		ids = append(ids[:10], "...")
	}
	return "(" + strings.Join(ids, ", ") + ") "
}

// memoryTable prints, per slot, the pilot processes' resident memory at
// start, after their first job and at the end, and for the pilot that ran
// the most jobs the growth per job after the first.
func memoryTable(runs []*pilotRun, slots int) {
	fmt.Println("Pilot memory (kB, /proc/<pid>/status VmRSS): 0.5 s after start, after the first job's final update, just before exit; VmHWM at exit.")
	fmt.Println()
	fmt.Println("| slot | pilots | jobs | RSS at start (median) | after 1st job (median) | at end (median, max) | VmHWM max | longest pilot: jobs, RSS after 1st job → end, per job |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for slot := 0; slot < slots; slot++ {
		var starts, firsts, ends []int64
		var hwm int64
		jobs := 0
		var longest *pilotRun
		for _, r := range runs {
			if r.slot != slot || r.rssStart == 0 {
				continue
			}
			starts, ends = append(starts, r.rssStart), append(ends, r.rssEnd)
			if r.rssFirst > 0 {
				firsts = append(firsts, r.rssFirst)
			}
			hwm = max(hwm, r.hwmEnd)
			jobs += r.jobs
			if longest == nil || r.jobs > longest.jobs {
				longest = r
			}
		}
		if longest == nil || len(firsts) == 0 {
			fmt.Printf("| %d | %d | %d | | | | | |\n", slot, len(starts), jobs)
			continue
		}
		perJob := 0.0
		if longest.jobs > 1 && longest.rssFirst > 0 {
			perJob = float64(longest.rssEnd-longest.rssFirst) / float64(longest.jobs-1)
		}
		fmt.Printf("| %d | %d | %d | %d | %d | %d, %d | %d | %d jobs, %d → %d, %+.1f kB/job |\n", slot, len(starts), jobs,
			median(starts), median(firsts), median(ends), maxOf(ends), hwm,
			longest.jobs, longest.rssFirst, longest.rssEnd, perJob)
	}
	fmt.Println()
}

func median(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(v []int64) int64 {
	m := int64(math.MinInt64)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
