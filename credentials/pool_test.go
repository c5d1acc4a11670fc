package credentials

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func poolCandidates(n int) []string {
	var c []string
	for i := 1; i <= n; i++ {
		c = append(c, fmt.Sprintf("atlasprd%03d", i))
	}
	return c
}

func TestPoolLeasesBasic(t *testing.T) {
	t.Parallel()
	p, err := NewPoolLeases(filepath.Join(t.TempDir(), "leases"))
	if err != nil {
		t.Fatal(err)
	}
	cands := append(poolCandidates(2), "atlasprd", "cms001", "atlasprd0x1", "../atlasprd9")
	a1, rel1, err := p.Acquire("atlasprd", cands, "job 1")
	if err != nil || a1 != "atlasprd001" {
		t.Fatalf("%q %v", a1, err)
	}
	a2, rel2, err := p.Acquire("atlasprd", cands, "job 2")
	if err != nil || a2 != "atlasprd002" {
		t.Fatalf("%q %v", a2, err)
	}
	if _, _, err := p.Acquire("atlasprd", cands, "job 3"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("third acquire: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(p.dir, "atlasprd001.lease"))
	if err != nil {
		t.Fatal(err)
	}
	var rec leaseRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Holder != "job 1" || rec.PID != os.Getpid() || rec.Start == "" {
		t.Fatalf("lease record %s: %v", data, err)
	}
	if err := rel1(); err != nil {
		t.Fatal(err)
	}
	if err := rel1(); err != nil {
		t.Fatal("second release:", err)
	}
	a3, rel3, err := p.Acquire("atlasprd", cands, "job 3")
	if err != nil || a3 != "atlasprd001" {
		t.Fatalf("after release: %q %v", a3, err)
	}
	for _, r := range []func() error{rel2, rel3} {
		if err := r(); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := p.Acquire("atlasprd", []string{"cms001"}, "x"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("no valid candidates: %v", err)
	}
}

func TestPoolLeasesStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := NewPoolLeases(dir)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	write := func(acct string, rec leaseRecord) {
		t.Helper()
		rec.Account = acct
		if err := writeFileAtomic(filepath.Join(dir, acct+".lease"), rec); err != nil {
			t.Fatal(err)
		}
	}
	myStart, _ := processStart(os.Getpid())
	write("pool001", leaseRecord{Holder: "live", PID: os.Getpid(), Start: myStart, Host: host})
	write("pool002", leaseRecord{Holder: "other host", PID: 1 << 22, Host: host + ".elsewhere"})
	if err := os.WriteFile(filepath.Join(dir, "pool003.lease"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("pool004", leaseRecord{Holder: "reused pid", PID: os.Getpid(), Start: "1", Host: host})
	write("pool005", leaseRecord{Holder: "dead pid", PID: 1 << 22, Host: host})
	cands := []string{"pool001", "pool002", "pool003", "pool004", "pool005"}
	got, rel, err := p.Acquire("pool", cands, "new")
	if err != nil || got != "pool004" {
		t.Fatalf("reclaim: %q %v", got, err)
	}
	got2, rel2, err := p.Acquire("pool", cands, "new2")
	if err != nil || got2 != "pool005" {
		t.Fatalf("reclaim dead pid: %q %v", got2, err)
	}
	if _, _, err := p.Acquire("pool", cands, "new3"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("live, foreign and undecodable leases must count as held: %v", err)
	}
	// A lease reclaimed by someone else is not removed by the old holder's release.
	write("pool004", leaseRecord{Holder: "thief", PID: os.Getpid(), Start: myStart, Host: host, Nonce: "other"})
	if err := rel(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pool004.lease")); err != nil {
		t.Fatalf("foreign lease removed: %v", err)
	}
	if err := rel2(); err != nil {
		t.Fatal(err)
	}
}

func TestPoolLeasesConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	p, err := NewPoolLeases(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds, accounts = 8, 25, 3
	cands := poolCandidates(accounts)
	var (
		mu     sync.Mutex
		inUse  = map[string]string{}
		failed []string
		wg     sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				holder := fmt.Sprintf("w%d-r%d", w, r)
				acct, release, err := p.Acquire("atlasprd", cands, holder)
				if errors.Is(err, ErrPoolExhausted) {
					continue
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					return
				}
				mu.Lock()
				if other, busy := inUse[acct]; busy {
					failed = append(failed, fmt.Sprintf("%s given to %s while %s holds it", acct, holder, other))
				}
				inUse[acct] = holder
				mu.Unlock()
				for i := 0; i < 20; i++ { // hold the account while others try
					runtime.Gosched()
				}
				mu.Lock()
				delete(inUse, acct)
				mu.Unlock()
				if err := release(); err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatal(strings.Join(failed, "\n"))
	}
}

// TestPoolLeasesTwoProcesses: a second pilot process (the test binary re-executed) holds a
// lease; this process must get another account; once the child is killed without
// releasing, its lease is reclaimed.
func TestPoolLeasesTwoProcesses(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cands := poolCandidates(2)
	child := helperCommand(t, exe, "lease", append([]string{dir, "atlasprd", "child job"}, cands...)...)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill() // our own child only
		_ = child.Wait()
	})
	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LEASED ") {
		t.Fatalf("child: %q %v", line, err)
	}
	childAcct := strings.TrimSpace(strings.TrimPrefix(line, "LEASED "))

	p, err := NewPoolLeases(dir)
	if err != nil {
		t.Fatal(err)
	}
	mine, release, err := p.Acquire("atlasprd", cands, "parent job")
	if err != nil || mine == childAcct {
		t.Fatalf("parent got %q (child holds %q): %v", mine, childAcct, err)
	}
	if _, _, err := p.Acquire("atlasprd", cands, "third"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("both accounts should be held: %v", err)
	}

	// Kill the child without letting it release: the lease must be reclaimed.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	_ = stdin.Close()
	got, release2, err := p.Acquire("atlasprd", cands, "after the crash")
	if err != nil || got != childAcct {
		t.Fatalf("reclaim after child death: %q %v", got, err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release2(); err != nil {
		t.Fatal(err)
	}

	// A child that releases properly.
	child2 := helperCommand(t, exe, "lease", append([]string{dir, "atlasprd", "child 2"}, cands...)...)
	in2, _ := child2.StdinPipe()
	out2, _ := child2.StdoutPipe()
	if err := child2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child2.Process.Kill(); _ = child2.Wait() })
	r2 := bufio.NewReader(out2)
	if line, err := r2.ReadString('\n'); err != nil || !strings.HasPrefix(line, "LEASED atlasprd001") {
		t.Fatalf("child 2: %q %v", line, err)
	}
	if _, err := io.WriteString(in2, "release\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := r2.ReadString('\n'); err != nil || strings.TrimSpace(line) != "RELEASED" {
		t.Fatalf("child 2 release: %q %v", line, err)
	}
	if err := child2.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "atlasprd001.lease")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lease left behind: %v", err)
	}
}
