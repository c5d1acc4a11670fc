package sitetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/faultproxy"
	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/jobdef"
)

// FaultProxy starts a fault-injecting proxy in front of the site's server;
// it is closed when the test ends. Pilots reach the server through it with
// s.PilotCmd("--url", p.URL(), ...).
func (s *Site) FaultProxy(seed uint64) *faultproxy.Proxy {
	s.T.Helper()
	p, err := faultproxy.New(s.Addr, faultproxy.Options{Seed: seed})
	Must(s.T, err)
	s.T.Cleanup(func() { p.Close() })
	return p
}

// Server is a pandalite process on the site's database that the test may
// stop and start again (a server restart), beside the one Site.Start runs
// for the whole test.
type Server struct {
	// Addr is the server's host:port.
	Addr string

	cmd    *exec.Cmd
	done   chan struct{}
	stderr bytes.Buffer
}

// StartServer starts another pandalite on the site's database, on a new
// loopback port; it is stopped when the test ends.
func (s *Site) StartServer() *Server {
	t := s.T
	t.Helper()
	addrFile := filepath.Join(s.Dir, fmt.Sprintf("addr-%d", time.Now().UnixNano()))
	sv := &Server{done: make(chan struct{})}
	sv.cmd = exec.Command(filepath.Join(s.Bin, "pandalite"), "serve", "--db", s.DB, "--addr", "127.0.0.1:0",
		"--addr-file", addrFile, "--queue", s.Queue, "--storage", s.Storage, "--trf-dir", s.Trf)
	sv.cmd.Stderr = &sv.stderr
	Must(t, sv.cmd.Start())
	go func() { sv.cmd.Wait(); close(sv.done) }()
	t.Cleanup(func() {
		sv.Stop()
		if t.Failed() {
			t.Logf("pandalite (restartable) log:\n%s", sv.stderr.String())
		}
	})
	WaitFor(t, 20*time.Second, "pandalite address file", func() bool {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			sv.Addr = strings.TrimPrefix(strings.TrimSpace(string(b)), "http://")
			return true
		}
		return false
	})
	return sv
}

// Stop ends the server with SIGTERM (SIGKILL after 10 s) and waits for it.
func (sv *Server) Stop() {
	sv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sv.done:
	case <-time.After(10 * time.Second):
		sv.cmd.Process.Kill()
		<-sv.done
	}
}

// Kill ends the server with SIGKILL and waits for it.
func (sv *Server) Kill() {
	sv.cmd.Process.Kill()
	<-sv.done
}

// Pilot is a pilot process started by StartPilot, with its output kept.
type Pilot struct {
	Cmd *exec.Cmd

	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// lockedWriter appends to the pilot's output under its lock.
type lockedWriter struct{ p *Pilot }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// StartPilot starts cmd (e.g. from Site.PilotCmd) with its stdout and
// stderr captured. A pilot still running when the test ends is killed.
func StartPilot(t *testing.T, cmd *exec.Cmd) *Pilot {
	t.Helper()
	p := &Pilot{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	Must(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Log returns what the pilot wrote so far.
func (p *Pilot) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Exited reports whether the pilot has ended.
func (p *Pilot) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitLog waits until the pilot's output contains s.
func (p *Pilot) WaitLog(t *testing.T, d time.Duration, s string) {
	t.Helper()
	WaitFor(t, d, fmt.Sprintf("pilot log line %q", s), func() bool {
		if p.Exited() && !strings.Contains(p.Log(), s) {
			t.Fatalf("the pilot ended before logging %q:\n%s", s, p.Log())
		}
		return strings.Contains(p.Log(), s)
	})
}

// Kill sends SIGKILL to the pilot (only the pilot: its payloads live on, as
// they do when a batch system kills a pilot) and waits for it to end.
func (p *Pilot) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits up to d for the pilot to end and returns its exit code; a
// pilot still running then is killed and the test fails.
func (p *Pilot) Wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.Kill()
		t.Fatalf("the pilot did not end within %s:\n%s", d, p.Log())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("pilot: %v", p.err)
	return -1
}

// LiveProcesses returns the pids of the processes that are not zombies and
// whose command line contains marker or whose working directory is a job
// directory (PanDA_Pilot-*) under workdir: the payloads of that work
// directory, found without looking at any other process.
func LiveProcesses(workdir, marker string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	jobDirs := filepath.Join(workdir, "PanDA_Pilot-")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if (marker != "" && bytes.Contains(cmdline, []byte(marker))) || strings.HasPrefix(cwd, jobDirs) {
			out = append(out, pid)
		}
	}
	return out
}

// KillProcesses sends SIGKILL to pids (from LiveProcesses): a safety net for
// test clean-up, after the assertions.
func KillProcesses(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Outcome is what the server recorded for one job, the facts the fault
// tests judge: one final state, one dispatch, one registration per file.
type Outcome struct {
	PandaID int64
	State   string
	Code    int
	Diag    string
	// Dispatches counts the job requests whose answer named the job.
	Dispatches int
	// Finals counts the final updates the server applied (outcome
	// "updated" with state finished or failed); AlreadyDone the final
	// updates it refused as already done.
	Finals, AlreadyDone int
	// Registered maps each LFN in an applied final update's output report
	// to the number of applied final updates that named it; Files holds
	// the registered files.
	Registered map[string]int
	Files      []pandalite.FileRecord
}

// Outcomes reads every job's Outcome from a store.
func Outcomes(ctx context.Context, st *pandalite.Store) (map[int64]*Outcome, error) {
	jobs, err := st.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]*Outcome{}
	for _, j := range jobs {
		o := &Outcome{PandaID: j.PandaID, State: j.State, Code: int(j.PilotErrorCode), Diag: j.PilotErrorDiag, Registered: map[string]int{}}
		ups, err := st.Updates(ctx, j.PandaID)
		if err != nil {
			return nil, err
		}
		for _, u := range ups {
			if u.State != "finished" && u.State != "failed" {
				continue
			}
			switch u.Outcome {
			case pandalite.OutcomeUpdated:
				o.Finals++
				xml := u.Fields.Str("xml")
				if xml == "" {
					xml = u.Fields.Str("job_output_report")
				}
				if rep, err := jobdef.ParseOutputReport(xml); err == nil {
					for lfn := range rep {
						o.Registered[lfn]++
					}
				}
			case pandalite.OutcomeAlreadyDone:
				o.AlreadyDone++
			}
		}
		out[j.PandaID] = o
	}
	files, err := st.Files(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if o := out[f.PandaID]; o != nil {
			o.Files = append(o.Files, f)
		}
	}
	reqs, err := st.Requests(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		for _, id := range r.PandaIDs {
			if o := out[id]; o != nil {
				o.Dispatches++
			}
		}
	}
	return out, nil
}

// Problems lists how o departs from a job that ended once in state with
// pilot error code (code < 0: any code), handed out once, with exactly the
// given LFNs registered once each; nil when it does not.
func (o *Outcome) Problems(state string, code int, lfns ...string) []string {
	var p []string
	if o.State != state || (code >= 0 && o.Code != code) {
		p = append(p, fmt.Sprintf("state %s code %d (%s), want %s code %d", o.State, o.Code, o.Diag, state, code))
	}
	if o.Finals != 1 {
		p = append(p, fmt.Sprintf("%d final updates applied, want 1", o.Finals))
	}
	if o.Dispatches != 1 {
		p = append(p, fmt.Sprintf("handed out %d times", o.Dispatches))
	}
	want := append([]string(nil), lfns...)
	sort.Strings(want)
	var got []string
	for _, f := range o.Files {
		got = append(got, f.LFN)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		p = append(p, fmt.Sprintf("registered files %v, want %v", got, want))
	}
	for lfn, n := range o.Registered {
		if n != 1 {
			p = append(p, fmt.Sprintf("%s registered by %d final updates", lfn, n))
		}
	}
	return p
}
