// Package sitetest is the end-to-end test harness shared by the packages that
// run the built pilot and pandalite binaries: a test site (storage element,
// queue and storage descriptions, a pandalite server, a work directory), job
// submission, pilot runs and queries of what the server recorded.
package sitetest

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

// Binaries locates the pilot and pandalite binaries: $GOPILOT_BIN when set,
// else both are built into a temporary directory, which cleanup removes. Call
// it from TestMain.
func Binaries() (dir string, cleanup func(), err error) {
	if b := os.Getenv("GOPILOT_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		return abs, func() {}, err
	}
	dir, err = os.MkdirTemp("", "gopilot-e2e-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	for _, c := range []string{"pilot", "pandalite"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, c), "github.com/gopilot/gopilot/cmd/"+c).CombinedOutput()
		if err != nil {
			cleanup()
			return "", nil, fmt.Errorf("building %s: %w\n%s", c, err, out)
		}
	}
	return dir, cleanup, nil
}

// Main is a TestMain body: it locates the binaries, stores their directory in
// *bin and runs the tests.
func Main(m *testing.M, bin *string) int {
	dir, cleanup, err := Binaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	*bin = dir
	return m.Run()
}

// Site is one test site: a directory with a storage element, queue and
// storage descriptions, a pandalite server and a work directory.
type Site struct {
	T *testing.T
	// Bin is the directory holding the pilot and pandalite binaries.
	Bin string
	// Dir is the site's root (a t.TempDir).
	Dir string
	// RSE is the storage element E2E_DISK (file://localhost<RSE>).
	RSE string
	// Work is the pilot's work directory.
	Work string
	// DB is pandalite's SQLite file.
	DB string
	// Addr is pandalite's host:port.
	Addr string
	// Queue and Storage are the queue and storage description files.
	Queue, Storage string
	// Trf is the directory pandalite serves transformations from.
	Trf string
	// ServerArgs are extra `pandalite serve` arguments.
	ServerArgs []string
}

// QueueJSON returns a queue description for queue E2E with the given timefloor.
func QueueJSON(timefloor int, extra string) string {
	return fmt.Sprintf(`{"nickname": "E2E", "panda_resource": "E2E", "state": "ACTIVE", "status": "online",
 "timefloor": %d, "maxtime": 3600, "maxwdir": 20000, "corecount": 1, "catchall": "",
 "copytools": {"copy": {"setup": ""}},
 "acopytools": {"pr": ["copy"], "pw": ["copy"], "pl": ["copy"]},
 "astorages": {"read_lan": ["E2E_DISK"], "write_lan": ["E2E_DISK"], "pl": ["E2E_DISK"]},
 "params": {}%s}`, timefloor, extra)
}

// New creates a site with the queue description queue and starts its server.
func New(t *testing.T, bin, queue string) *Site {
	t.Helper()
	return NewWithServerArgs(t, bin, queue)
}

// NewWithServerArgs is New with extra `pandalite serve` arguments (e.g.
// --tls-cert and --tls-key).
func NewWithServerArgs(t *testing.T, bin, queue string, serverArgs ...string) *Site {
	t.Helper()
	s := &Site{T: t, Bin: bin, Dir: t.TempDir(), ServerArgs: serverArgs}
	s.RSE = filepath.Join(s.Dir, "rse")
	s.Work = filepath.Join(s.Dir, "work")
	s.Trf = filepath.Join(s.Dir, "trf")
	s.DB = filepath.Join(s.Dir, "pandalite.db")
	for _, d := range []string{s.RSE, s.Work, s.Trf} {
		Must(t, os.MkdirAll(d, 0o755))
	}
	s.Queue = filepath.Join(s.Dir, "queue.json")
	Must(t, os.WriteFile(s.Queue, []byte(queue), 0o644))
	s.Storage = filepath.Join(s.Dir, "storage.json")
	proto := fmt.Sprintf(`[{"endpoint": "file://localhost", "path": %q, "flavour": "POSIX", "id": 1}]`, s.RSE)
	Must(t, os.WriteFile(s.Storage, []byte(fmt.Sprintf(`{"E2E_DISK": {"id": 1, "name": "E2E_DISK", "type": "DATADISK",
 "site": "E2E", "state": "ACTIVE", "is_deterministic": true, "arprotocols": {"read_lan": %s, "write_lan": %s}}}`, proto, proto)), 0o644))
	s.Start()
	return s
}

// Start runs `pandalite serve` on a free loopback port until the test ends.
func (s *Site) Start() {
	t := s.T
	addrFile := filepath.Join(s.Dir, "addr")
	os.Remove(addrFile)
	args := append([]string{"serve", "--db", s.DB, "--addr", "127.0.0.1:0", "--addr-file", addrFile,
		"--queue", s.Queue, "--storage", s.Storage, "--trf-dir", s.Trf}, s.ServerArgs...)
	cmd := exec.Command(filepath.Join(s.Bin, "pandalite"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	Must(t, cmd.Start())
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
	WaitFor(t, 20*time.Second, "pandalite address file", func() bool {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			s.Addr = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(string(b)), "http://"), "https://")
			return true
		}
		return false
	})
}

// Submit loads job definitions (JSON objects) into the server.
func (s *Site) Submit(jobs ...map[string]any) {
	s.T.Helper()
	s.SubmitArgs(nil, jobs...)
}

// SubmitArgs is Submit with extra `pandalite submit` arguments.
func (s *Site) SubmitArgs(extra []string, jobs ...map[string]any) {
	s.T.Helper()
	var files []string
	for i, j := range jobs {
		b, err := json.Marshal(j)
		Must(s.T, err)
		f := filepath.Join(s.Dir, fmt.Sprintf("job-%d-%d.json", time.Now().UnixNano(), i))
		Must(s.T, os.WriteFile(f, b, 0o644))
		files = append(files, f)
	}
	args := append(append([]string{"submit", "--db", s.DB, "--site", "E2E"}, extra...), files...)
	out, err := exec.Command(filepath.Join(s.Bin, "pandalite"), args...).CombinedOutput()
	if err != nil {
		s.T.Fatalf("submit: %v\n%s", err, out)
	}
}

// PilotCmd returns a pull-mode pilot command against the site's server.
func (s *Site) PilotCmd(args ...string) *exec.Cmd {
	base := []string{"-q", "E2E", "--url", "http://" + s.Addr, "-j", "managed", "--workdir", s.Work, "--getjob-wait", "0"}
	cmd := exec.Command(filepath.Join(s.Bin, "pilot"), append(base, args...)...)
	cmd.Env = append(os.Environ(), "PILOT_DEBUG=true")
	return cmd
}

// RunPilot runs the pilot to completion and returns its exit code and log.
func (s *Site) RunPilot(args ...string) (int, string) {
	s.T.Helper()
	return s.RunPilotEnv(nil, args...)
}

// RunPilotEnv is RunPilot with extra environment entries.
func (s *Site) RunPilotEnv(env []string, args ...string) (int, string) {
	s.T.Helper()
	cmd := s.PilotCmd(args...)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.T.Fatalf("pilot: %v", err)
		}
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

// WithOutput adds an output file lfn (scope e2e, on E2E_DISK) to a job definition made by BaseJob.
func WithOutput(j map[string]any, lfn string) map[string]any {
	j["outFiles"] = lfn + "," + j["logFile"].(string)
	j["scopeOut"], j["realDatasets"], j["ddmEndPointOut"] = "e2e", "e2e.out,e2e.log", "E2E_DISK,E2E_DISK"
	return j
}

// ExecCommand returns a pilot command with the given arguments.
func (s *Site) ExecCommand(args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(s.Bin, "pilot"), args...)
}

// Store opens the site's pandalite database (closed when the test ends).
func (s *Site) Store() *pandalite.Store {
	s.T.Helper()
	st, err := pandalite.Open(context.Background(), s.DB)
	Must(s.T, err)
	s.T.Cleanup(func() { st.Close() })
	return st
}

// Job returns what the server recorded for a job.
func (s *Site) Job(id int64) pandalite.JobInfo {
	s.T.Helper()
	j, err := s.Store().Job(context.Background(), id)
	Must(s.T, err)
	return j
}

// States returns the sequence of states the pilot reported for a job.
func (s *Site) States(id int64) []string {
	s.T.Helper()
	ups, err := s.Store().Updates(context.Background(), id)
	Must(s.T, err)
	var out []string
	for _, u := range ups {
		out = append(out, u.State)
	}
	return out
}

// PutInput places a file in the storage element and returns its job fields.
func (s *Site) PutInput(lfn string, content []byte) (size string, checksum string) {
	s.T.Helper()
	src := filepath.Join(s.Dir, lfn)
	Must(s.T, os.WriteFile(src, content, 0o644))
	out, err := exec.Command(filepath.Join(s.Bin, "pandalite"), "put-file", "--storage", s.Storage, "--rse", "E2E_DISK", "--scope", "e2e", src).CombinedOutput()
	if err != nil {
		s.T.Fatalf("put-file: %v\n%s", err, out)
	}
	ck, err := ChecksumOf(src)
	Must(s.T, err)
	return fmt.Sprint(len(content)), "ad:" + ck
}

// ChecksumOf returns the adler32 of a file as 8 hex digits.
func ChecksumOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08x", adler32.Checksum(b)), nil
}

// RSEPath is where a file with this scope and LFN lives in the storage element.
func (s *Site) RsePath(scope, lfn string) string {
	return filepath.Join(s.RSE, filepath.FromSlash(jobdef.RucioPath(scope, lfn)))
}

// BaseJob returns a job definition with a log file and no other files.
func BaseJob(id int64, trf, pars string) map[string]any {
	log := fmt.Sprintf("e2e.%d.log.tgz", id)
	return map[string]any{
		"PandaID": id, "jobsetID": 1, "taskID": 77, "jobName": fmt.Sprintf("e2e.%d", id),
		"prodSourceLabel": "managed", "transformation": trf, "jobPars": pars, "attemptNr": 1,
		"coreCount": 1, "inFiles": "", "outFiles": log, "logFile": log,
		"logGUID": fmt.Sprintf("00000000-0000-4000-8000-%012d", id), "scopeOut": "", "scopeLog": "e2e",
		"realDatasets": "e2e.log", "ddmEndPointOut": "E2E_DISK",
	}
}

// Must fails the test on a non-nil error.
func Must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
