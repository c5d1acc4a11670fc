// Package e2e runs the built pilot and pandalite binaries against each other
// over real HTTP on 127.0.0.1, with real payload processes, and checks what
// the server recorded.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/adler32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/jobdef"
)

// bin is the directory holding the pilot and pandalite binaries.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin = os.Getenv("GOPILOT_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "gopilot-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		for _, c := range []string{"pilot", "pandalite"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, c), "github.com/gopilot/gopilot/cmd/"+c).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n%s", c, err, out)
				return 1
			}
		}
		bin = dir
	}
	return m.Run()
}

// site is one test site: a directory with a storage element, queue and
// storage descriptions, a pandalite server and a work directory.
type site struct {
	t       *testing.T
	dir     string
	rse     string
	work    string
	db      string
	addr    string
	queue   string
	storage string
	trf     string
}

// queueJSON returns a queue description for queue E2E with the given timefloor.
func queueJSON(timefloor int, extra string) string {
	return fmt.Sprintf(`{"nickname": "E2E", "panda_resource": "E2E", "state": "ACTIVE", "status": "online",
 "timefloor": %d, "maxtime": 3600, "maxwdir": 20000, "corecount": 1, "catchall": "",
 "copytools": {"copy": {"setup": ""}},
 "acopytools": {"pr": ["copy"], "pw": ["copy"], "pl": ["copy"]},
 "astorages": {"read_lan": ["E2E_DISK"], "write_lan": ["E2E_DISK"], "pl": ["E2E_DISK"]},
 "params": {}%s}`, timefloor, extra)
}

func newSite(t *testing.T, queue string) *site {
	t.Helper()
	s := &site{t: t, dir: t.TempDir()}
	s.rse = filepath.Join(s.dir, "rse")
	s.work = filepath.Join(s.dir, "work")
	s.trf = filepath.Join(s.dir, "trf")
	s.db = filepath.Join(s.dir, "pandalite.db")
	for _, d := range []string{s.rse, s.work, s.trf} {
		must(t, os.MkdirAll(d, 0o755))
	}
	s.queue = filepath.Join(s.dir, "queue.json")
	must(t, os.WriteFile(s.queue, []byte(queue), 0o644))
	s.storage = filepath.Join(s.dir, "storage.json")
	proto := fmt.Sprintf(`[{"endpoint": "file://localhost", "path": %q, "flavour": "POSIX", "id": 1}]`, s.rse)
	must(t, os.WriteFile(s.storage, []byte(fmt.Sprintf(`{"E2E_DISK": {"id": 1, "name": "E2E_DISK", "type": "DATADISK",
 "site": "E2E", "state": "ACTIVE", "is_deterministic": true, "arprotocols": {"read_lan": %s, "write_lan": %s}}}`, proto, proto)), 0o644))
	s.start()
	return s
}

// start runs `pandalite serve` on a free loopback port until the test ends.
func (s *site) start() {
	t := s.t
	addrFile := filepath.Join(s.dir, "addr")
	os.Remove(addrFile)
	cmd := exec.Command(filepath.Join(bin, "pandalite"), "serve", "--db", s.db, "--addr", "127.0.0.1:0",
		"--addr-file", addrFile, "--queue", s.queue, "--storage", s.storage, "--trf-dir", s.trf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pandalite log:\n%s", stderr.String())
		}
	})
	waitFor(t, 20*time.Second, "pandalite address file", func() bool {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			s.addr = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(string(b)), "http://"), "https://")
			return true
		}
		return false
	})
}

// submit loads job definitions (JSON objects) into the server.
func (s *site) submit(jobs ...map[string]any) {
	s.t.Helper()
	s.submitArgs(nil, jobs...)
}

// submitArgs is submit with extra `pandalite submit` arguments.
func (s *site) submitArgs(extra []string, jobs ...map[string]any) {
	s.t.Helper()
	var files []string
	for i, j := range jobs {
		b, err := json.Marshal(j)
		must(s.t, err)
		f := filepath.Join(s.dir, fmt.Sprintf("job-%d-%d.json", time.Now().UnixNano(), i))
		must(s.t, os.WriteFile(f, b, 0o644))
		files = append(files, f)
	}
	args := append(append([]string{"submit", "--db", s.db, "--site", "E2E"}, extra...), files...)
	out, err := exec.Command(filepath.Join(bin, "pandalite"), args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("submit: %v\n%s", err, out)
	}
}

// pilotCmd returns a pull-mode pilot command against the site's server.
func (s *site) pilotCmd(args ...string) *exec.Cmd {
	base := []string{"-q", "E2E", "--url", "http://" + s.addr, "-j", "managed", "--workdir", s.work, "--getjob-wait", "0"}
	cmd := exec.Command(filepath.Join(bin, "pilot"), append(base, args...)...)
	cmd.Env = append(os.Environ(), "PILOT_DEBUG=true")
	return cmd
}

// runPilot runs the pilot to completion and returns its exit code and log.
func (s *site) runPilot(args ...string) (int, string) {
	s.t.Helper()
	cmd := s.pilotCmd(args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatalf("pilot: %v", err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// execCommand returns a pilot command with the given arguments.
func execCommand(args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(bin, "pilot"), args...)
}

func (s *site) store() *pandalite.Store {
	s.t.Helper()
	st, err := pandalite.Open(context.Background(), s.db)
	must(s.t, err)
	s.t.Cleanup(func() { st.Close() })
	return st
}

func (s *site) job(id int64) pandalite.JobInfo {
	s.t.Helper()
	j, err := s.store().Job(context.Background(), id)
	must(s.t, err)
	return j
}

// states returns the sequence of states the pilot reported for a job.
func (s *site) states(id int64) []string {
	s.t.Helper()
	ups, err := s.store().Updates(context.Background(), id)
	must(s.t, err)
	var out []string
	for _, u := range ups {
		out = append(out, u.State)
	}
	return out
}

// putInput places a file in the storage element and returns its job fields.
func (s *site) putInput(lfn string, content []byte) (size string, checksum string) {
	s.t.Helper()
	src := filepath.Join(s.dir, lfn)
	must(s.t, os.WriteFile(src, content, 0o644))
	out, err := exec.Command(filepath.Join(bin, "pandalite"), "put-file", "--storage", s.storage, "--rse", "E2E_DISK", "--scope", "e2e", src).CombinedOutput()
	if err != nil {
		s.t.Fatalf("put-file: %v\n%s", err, out)
	}
	ck, err := checksumOf(src)
	must(s.t, err)
	return fmt.Sprint(len(content)), "ad:" + ck
}

func checksumOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08x", adler32.Checksum(b)), nil
}

// rsePath is where a file with this scope and LFN lives in the storage element.
func (s *site) rsePath(scope, lfn string) string {
	return filepath.Join(s.rse, filepath.FromSlash(jobdef.RucioPath(scope, lfn)))
}

// baseJob returns a job definition with a log file and no other files.
func baseJob(id int64, trf, pars string) map[string]any {
	log := fmt.Sprintf("e2e.%d.log.tgz", id)
	return map[string]any{
		"PandaID": id, "jobsetID": 1, "taskID": 77, "jobName": fmt.Sprintf("e2e.%d", id),
		"prodSourceLabel": "managed", "transformation": trf, "jobPars": pars, "attemptNr": 1,
		"coreCount": 1, "inFiles": "", "outFiles": log, "logFile": log,
		"logGUID": fmt.Sprintf("00000000-0000-4000-8000-%012d", id), "scopeOut": "", "scopeLog": "e2e",
		"realDatasets": "e2e.log", "ddmEndPointOut": "E2E_DISK",
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
