// Command benchpilot measures the pilot's own cost on the node: it starts
// pandalite on loopback with N trivial jobs, runs one pilot that takes them
// all, and prints a Markdown table from the server's timestamps and the
// pilot's rusage, next to the figures measured for PanDA Pilot 3 on the same
// kind of machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/pilot/journal"
)

func main() {
	n := flag.Int("n", 100, "number of trivial jobs")
	bin := flag.String("bin", "bin", "directory holding the pilot and pandalite binaries")
	flag.Parse()
	if err := run(*n, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "benchpilot:", err)
		os.Exit(1)
	}
}

func run(n int, bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gopilot-benchpilot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rse, work := filepath.Join(dir, "rse"), filepath.Join(dir, "work")
	for _, d := range []string{rse, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	queue := filepath.Join(dir, "queue.json")
	storage := filepath.Join(dir, "storage.json")
	if err := os.WriteFile(queue, []byte(`{"nickname": "BENCH", "panda_resource": "BENCH", "state": "ACTIVE", "status": "online",
 "timefloor": 600, "maxtime": 36000, "acopytools": {"pl": ["copy"], "pw": ["copy"]}, "astorages": {"pl": ["BENCH_DISK"], "write_lan": ["BENCH_DISK"]}}`), 0o644); err != nil {
		return err
	}
	proto := fmt.Sprintf(`[{"endpoint": "file://localhost", "path": %q, "id": 1}]`, rse)
	if err := os.WriteFile(storage, []byte(fmt.Sprintf(`{"BENCH_DISK": {"id": 1, "name": "BENCH_DISK", "is_deterministic": true, "arprotocols": {"write_lan": %s}}}`, proto)), 0o644); err != nil {
		return err
	}
	db := filepath.Join(dir, "db.sqlite")
	ctx := context.Background()
	st, err := pandalite.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	var jobs []pandalite.Object
	for i := 0; i < n; i++ {
		id := 5000001 + i
		lfn := fmt.Sprintf("bench.%d.log.tgz", id)
		b, _ := json.Marshal(map[string]any{"PandaID": id, "taskID": 9, "prodSourceLabel": "managed", "transformation": "true",
			"jobPars": "", "attemptNr": 1, "outFiles": lfn, "logFile": lfn, "logGUID": fmt.Sprintf("00000000-0000-4000-8000-%012d", id),
			"scopeOut": "", "scopeLog": "bench", "realDatasets": "bench.log", "ddmEndPointOut": "BENCH_DISK"})
		o, err := pandalite.ParseObject(b)
		if err != nil {
			return err
		}
		jobs = append(jobs, o)
	}
	if _, err := st.Submit(ctx, "BENCH", jobs...); err != nil {
		return err
	}

	addrFile := filepath.Join(dir, "addr")
	srv := exec.Command(filepath.Join(bin, "pandalite"), "serve", "--db", db, "--addr", "127.0.0.1:0", "--addr-file", addrFile,
		"--queue", queue, "--storage", storage)
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	var addr string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addr = strings.TrimSpace(string(b))
			break
		}
	}
	if addr == "" {
		return fmt.Errorf("pandalite did not start")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}

	pilot := exec.Command(filepath.Join(bin, "pilot"), "-q", "BENCH", "--url", addr, "-j", "managed", "--workdir", work, "--getjob-wait", "0", "--cleanup=false")
	pilot.Stdout, pilot.Stderr = nil, nil
	t0 := time.Now()
	if err := pilot.Start(); err != nil {
		return fmt.Errorf("pilot: %w", err)
	}
	// The pilot's own peak RSS (VmHWM), read while it runs: the rusage of
	// a waited-for child also counts its descendants (payloads, tools).
	hwm := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pilot.Process.Pid))
			if err != nil || !strings.Contains(string(b), "VmHWM") {
				hwm <- peak
				return
			}
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					var kb int64
					fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
					peak = max(peak, kb)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := pilot.Wait(); err != nil {
		return fmt.Errorf("pilot: %w", err)
	}
	tEnd := time.Now()
	ownPeak := <-hwm
	ru, _ := pilot.ProcessState.SysUsage().(*syscall.Rusage)

	reqs, err := st.Requests(ctx)
	if err != nil {
		return err
	}
	getJob := map[int64]time.Time{}
	var first time.Time
	for _, r := range reqs {
		t := stamp(r.Time)
		if first.IsZero() || t.Before(first) {
			first = t
		}
		for _, id := range r.PandaIDs {
			getJob[id] = t
		}
	}
	var cycles, overheads, toFinal []time.Duration
	var last time.Time
	done := 0
	infos, err := st.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range infos {
		if j.State == "finished" {
			done++
		}
		ups, err := st.Updates(ctx, j.PandaID)
		if err != nil {
			return err
		}
		for _, u := range ups {
			if u.State == "finished" || u.State == "failed" {
				t := stamp(u.Time)
				cycles = append(cycles, t.Sub(getJob[j.PandaID]))
				if h, err := journal.Replay(filepath.Join(work, journal.JobDirPrefix+strconv.FormatInt(j.PandaID, 10), journal.FileName)); err == nil && len(h.Runs) > 0 && h.Runs[0].Ended != nil {
					run := h.Runs[0]
					overheads = append(overheads, t.Sub(getJob[j.PandaID])-time.Duration(run.Ended.WallSeconds*float64(time.Second)))
					toFinal = append(toFinal, t.Sub(run.EndedAt))
				}
				if t.After(last) {
					last = t
				}
			}
		}
	}
	if done != n {
		return fmt.Errorf("%d of %d jobs finished", done, n)
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i] < cycles[j] })
	var sum time.Duration
	for _, c := range cycles {
		sum += c
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("%d trivial jobs (`true`, log tarball staged out to a file:// RSE, 3 updates each) in one pilot, wall %s:\n\n", n, tEnd.Sub(t0).Round(time.Millisecond))
	fmt.Println("| measure | gopilot | Pilot 3 (OBSERVED.md) |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| start-up to first getJob | %s | 0.89-1.06 s |\n", ms(first.Sub(t0)))
	fmt.Printf("| getJob -> final update, per job (incl. the payload) mean | %s | 3.3-4.2 s overhead |\n", ms(sum/time.Duration(len(cycles))))
	fmt.Printf("| getJob -> final update p50 / p99 | %s / %s | |\n", ms(cycles[len(cycles)/2]), ms(cycles[(len(cycles)*99)/100]))
	if len(overheads) == len(cycles) {
		slices.Sort(overheads)
		slices.Sort(toFinal)
		fmt.Printf("| per-job overhead (getJob -> final update minus payload wall) p50 / p99 | %s / %s | 3.3-4.2 s |\n", ms(overheads[len(overheads)/2]), ms(overheads[(len(overheads)*99)/100]))
		fmt.Printf("| payload end -> final update p50 / p99 | %s / %s | 1-7 s |\n", ms(toFinal[len(toFinal)/2]), ms(toFinal[(len(toFinal)*99)/100]))
	}
	fmt.Printf("| last final update -> pilot exit | %s | 33-67 s |\n", ms(tEnd.Sub(last)))
	fmt.Printf("| peak RSS of the pilot process (VmHWM) | %.1f MB | 44 MB |\n", float64(ownPeak)/1024)
	fmt.Printf("| peak RSS of the pilot and its children (rusage) | %.1f MB | |\n", float64(ru.Maxrss)/1024)
	fmt.Printf("| pilot CPU per job (user+sys, incl. payload) | %s | |\n", ms(cpu/time.Duration(n)))
	return nil
}

func stamp(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05.000000Z", s)
	return t
}
