// Package e2eharvester runs the built pilot in Harvester mode against
// pandalite and a test playing Harvester's shared-file messenger: job files
// placed (PUSH) or fed on request (PULL), the report files Harvester reads,
// kill_worker, and the worker status calls the server records.
package e2eharvester

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/internal/sitetest"
)

// bin is the directory holding the pilot and pandalite binaries.
var bin string

func TestMain(m *testing.M) {
	os.Exit(sitetest.Main(m, &bin))
}

// mvQueue is queue E2E with the mv copytool, as Harvester sites configure
// it: outputs and the log are moved into the access point (the pilot's
// work directory) for Harvester to stage out.
func mvQueue(timefloor int) string {
	return fmt.Sprintf(`{"nickname": "E2E", "panda_resource": "E2E", "state": "ACTIVE", "status": "online",
 "timefloor": %d, "maxtime": 3600, "maxwdir": 20000, "corecount": 1, "catchall": "",
 "copytools": {"mv": {"setup": ""}},
 "acopytools": {"pr": ["mv"], "pw": ["mv"], "pl": ["mv"]},
 "astorages": {"read_lan": ["E2E_DISK"], "write_lan": ["E2E_DISK"], "pl": ["E2E_DISK"]},
 "params": {}}`, timefloor)
}

// payload writes the job's output e2e.$PANDAID.out and a job report with a
// logfileReport Harvester's copy must not carry.
const payload = `#!/bin/sh
echo "payload output of $PANDAID" > "e2e.$PANDAID.out"
cat > jobReport.json <<'EOF'
{"name": "e2e_tf", "exitCode": 0, "exitMsg": "OK", "executor": [{"name": "step", "logfileReport": {"countSummary": {"ERROR": 0}, "details": {"big": "x"}}}]}
EOF
`

func writePayload(t *testing.T, s *sitetest.Site) string {
	t.Helper()
	p := filepath.Join(s.Dir, "payload.sh")
	sitetest.Must(t, os.WriteFile(p, []byte(payload), 0o755))
	return p
}

func harvesterJob(t *testing.T, s *sitetest.Site, id int64) map[string]any {
	t.Helper()
	return sitetest.WithOutput(sitetest.BaseJob(id, writePayload(t, s), ""), fmt.Sprintf("e2e.%d.out", id))
}

// jobFile renders Harvester's job file: {"<PandaID>": {job}}.
func jobFile(t *testing.T, job map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{fmt.Sprint(job["PandaID"]): job})
	sitetest.Must(t, err)
	return b
}

// pilotCmd is a pilot command launched in the access point s.Work, with
// the environment cleared of Harvester variables and extra env added.
func pilotCmd(s *sitetest.Site, env []string, args ...string) *exec.Cmd {
	cmd := s.PilotCmd(args...)
	cmd.Dir = s.Work
	var clean []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "HARVESTER_") && !strings.HasPrefix(kv, "PILOT_HARVESTER_") {
			clean = append(clean, kv)
		}
	}
	cmd.Env = append(clean, env...)
	return cmd
}

func run(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("pilot: %v", err)
		}
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	sitetest.Must(t, err)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return m
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// checkFinalFiles asserts what Harvester reads after job id finished in
// the access point ap.
func checkFinalFiles(t *testing.T, ap string, job map[string]any, log string) {
	t.Helper()
	id := fmt.Sprint(job["PandaID"])
	attrs := readJSON(t, filepath.Join(ap, "worker_attributes.json"))
	for k, want := range map[string]any{"jobStatus": "finished", "state": "finished", "jobId": id, "pilotErrorCode": 0.0, "siteName": "E2E"} {
		if attrs[k] != want {
			t.Errorf("worker_attributes.json %s = %#v, want %#v\n%s", k, attrs[k], want, log)
		}
	}
	for _, k := range []string{"xml", "inputfiles", "outputfiles"} {
		if _, ok := attrs[k]; ok {
			t.Errorf("worker_attributes.json carries %s", k)
		}
	}
	if ts, _ := attrs["timestamp"].(string); len(ts) != len("2006-01-02T15:04:05-07:00") {
		t.Errorf("timestamp %q", attrs["timestamp"])
	}

	es := readJSON(t, filepath.Join(ap, "event_status.dump.json"))
	list, _ := es[id].([]any)
	if len(es) != 1 || len(list) != 2 {
		t.Fatalf("event_status.dump.json: %v\n%s", es, log)
	}
	logLFN, outLFN := job["logFile"].(string), "e2e."+id+".out"
	for i, want := range []struct{ typ, lfn, guid string }{{"log", logLFN, job["logGUID"].(string)}, {"output", outLFN, ""}} {
		e := list[i].(map[string]any)
		path := filepath.Join(ap, want.lfn)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s not in the access point: %v", want.lfn, err)
		}
		ck, err := sitetest.ChecksumOf(path)
		sitetest.Must(t, err)
		if e["type"] != want.typ || e["path"] != path || e["fsize"] != float64(fi.Size()) || e["chksum"] != ck {
			t.Errorf("entry %d = %v, want %s %s size %d chksum %s", i, e, want.typ, path, fi.Size(), ck)
		}
		if g, _ := e["guid"].(string); g == "" || (want.guid != "" && g != want.guid) {
			t.Errorf("entry %d guid %q", i, g)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ap, outLFN)); string(b) != "payload output of "+id+"\n" {
		t.Errorf("output content %q", b)
	}

	jr := readJSON(t, filepath.Join(ap, "jobReport.json"))
	ex, _ := jr["executor"].([]any)
	if jr["exitMsg"] != "OK" || len(ex) != 1 || !reflect.DeepEqual(ex[0].(map[string]any)["logfileReport"], map[string]any{}) {
		t.Errorf("jobReport.json %v", jr)
	}
}

// checkKillWorker asserts the pilot touched kill_worker at its end.
func checkKillWorker(t *testing.T, dir string) {
	t.Helper()
	if fi, err := os.Stat(filepath.Join(dir, "kill_worker")); err != nil || fi.Size() != 0 {
		t.Errorf("kill_worker: %v %v", fi, err)
	}
}

func requests(t *testing.T, s *sitetest.Site) []pandalite.RequestRecord {
	t.Helper()
	st, err := pandalite.Open(testCtx(t), s.DB)
	sitetest.Must(t, err)
	defer st.Close()
	reqs, err := st.Requests(testCtx(t))
	sitetest.Must(t, err)
	return reqs
}

func methods(reqs []pandalite.RequestRecord) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Method)
	}
	return out
}

// PUSH without server updates: the pre-placed job runs, Harvester's files
// are written, the server hears nothing.
func TestPushNoServerUpdate(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, mvQueue(0))
	job := harvesterJob(t, s, 5001)
	placed := jobFile(t, job)
	sitetest.Must(t, os.WriteFile(filepath.Join(s.Work, "pandaJobData.out"), placed, 0o644))

	code, log := run(t, pilotCmd(s, nil, "-z", "--harvester-workdir", s.Work, "--harvester-submit-mode", "PUSH"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	checkFinalFiles(t, s.Work, job, log)
	checkKillWorker(t, s.Work)
	if exists(filepath.Join(s.Work, "pandaJobData.out")) {
		t.Error("pandaJobData.out was not consumed")
	}
	if b, _ := os.ReadFile(filepath.Join(s.Work, "job_definition.json")); string(b) != string(placed) {
		t.Errorf("job_definition.json = %q", b)
	}
	if exists(filepath.Join(s.Work, "worker_requestjob.json")) {
		t.Error("timefloor 0: no further job may be requested")
	}
	if !exists(filepath.Join(s.Work, "output.list")) {
		t.Error("the mv copytool wrote no output.list")
	}
	if m := methods(requests(t, s)); len(m) != 0 {
		t.Errorf("the server was called: %v", m)
	}
	if !strings.Contains(log, "Harvester mode") {
		t.Errorf("no Harvester mode in the log\n%s", log)
	}
}

// PUSH without a job file: the pilot looks (here twice, -x 2), never asks
// the server or Harvester, and ends with kill_worker.
func TestPushNoJobFile(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, mvQueue(0))
	code, log := run(t, pilotCmd(s, nil, "-z", "--harvester-workdir", s.Work, "--harvester-submit-mode", "push", "-x", "2"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	if n := strings.Count(log, "no job from the server"); n != 2 {
		t.Errorf("%d looks, want 2\n%s", n, log)
	}
	if exists(filepath.Join(s.Work, "worker_requestjob.json")) {
		t.Error("PUSH asked Harvester for a job")
	}
	checkKillWorker(t, s.Work)
	if m := methods(requests(t, s)); len(m) != 0 {
		t.Errorf("the server was called: %v", m)
	}
}

// PULL: the test plays Harvester. It answers the pilot's job requests with
// two jobs, then twice with no job ({}); the pilot (-x 2) ends.
func TestPullRequestsJobs(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, mvQueue(60))
	ap := s.Work
	jobs := []map[string]any{harvesterJob(t, s, 5201), harvesterJob(t, s, 5202)}
	cmd := pilotCmd(s, nil, "-z", "--harvester-workdir", ap, "-x", "2")
	out := &sitetest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	sitetest.Must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})
	req := filepath.Join(ap, "worker_requestjob.json")
	answers := [][]byte{jobFile(t, jobs[0]), jobFile(t, jobs[1]), []byte("{}"), []byte("{}")}
	for i, answer := range answers {
		sitetest.WaitFor(t, 2*time.Minute, fmt.Sprintf("job request %d", i+1), func() bool {
			select {
			case err := <-done:
				t.Fatalf("pilot ended early: %v\n%s", err, out.String())
			default:
			}
			return exists(req)
		})
		b, err := os.ReadFile(req)
		if err != nil || string(b) != "{\"nJobs\": 1}\n" {
			t.Fatalf("request %d = %q, %v", i+1, b, err)
		}
		if i == 1 {
			// The first job is over before the second is asked for.
			checkFinalFiles(t, ap, jobs[0], out.String())
		}
		// As Harvester's feed_jobs: write the job file in place, then
		// remove the request.
		f, err := os.Create(filepath.Join(ap, "pandaJobData.out"))
		sitetest.Must(t, err)
		f.Write(answer)
		f.Close()
		os.Remove(req)
	}
	var err error
	sitetest.WaitFor(t, 2*time.Minute, "pilot exit", func() bool {
		select {
		case err = <-done:
			done <- err
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatalf("pilot: %v\n%s", err, out.String())
	}
	log := out.String()
	checkFinalFiles(t, ap, jobs[1], log)
	checkKillWorker(t, ap)
	if exists(req) || exists(filepath.Join(ap, "pandaJobData.out")) {
		t.Error("request or job file left")
	}
	if m := methods(requests(t, s)); len(m) != 0 {
		t.Errorf("the server was called: %v", m)
	}
}

// Worker status calls of a Harvester-managed pilot in normal pull mode,
// legacy and v1, recorded by pandalite around the job's getJob.
func TestWorkerStatusCalls(t *testing.T) {
	t.Parallel()
	cases := []struct {
		api, method, getJob string
		fields              map[string]string
	}{
		{"legacy", "updateWorkerPilotStatus", "getJob", map[string]string{"harvesterID": "harv-e2e", "workerID": "777", "site": "E2E"}},
		{"v1", "update_worker_status", "acquire_jobs", map[string]string{"harvester_id": "harv-e2e", "worker_id": "777"}},
	}
	for _, c := range cases {
		t.Run(c.api, func(t *testing.T) {
			t.Parallel()
			s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
			s.Submit(sitetest.BaseJob(5301, "true", ""))
			env := []string{"HARVESTER_ID=harv-e2e", "HARVESTER_WORKER_ID=777", "PANDA_HOSTNAME=wn-e2e"}
			code, log := run(t, pilotCmd(s, env, "--api", c.api))
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, log)
			}
			if j := s.Job(5301); j.State != "finished" {
				t.Fatalf("job state %s\n%s", j.State, log)
			}
			reqs := requests(t, s)
			m := methods(reqs)
			if len(m) < 3 || m[0] != c.method || m[len(m)-1] != c.method || !contains(m, c.getJob) {
				t.Fatalf("requests %v\n%s", m, log)
			}
			for i, status := range map[int]string{0: "started", len(reqs) - 1: "finished"} {
				r := reqs[i]
				if r.API != c.api || r.Node != "wn-e2e" || r.Fields.Str("status") != status || r.Fields.Str("node_id") != "wn-e2e" {
					t.Errorf("request %d: %+v", i, r)
				}
				for k, v := range c.fields {
					if got := r.Fields.Str(k); got != v {
						t.Errorf("request %d %s = %q, want %q", i, k, got, v)
					}
				}
			}
			if exists(filepath.Join(s.Work, "kill_worker")) || exists(filepath.Join(s.Work, "worker_attributes.json")) {
				t.Error("Harvester files written outside Harvester mode")
			}
		})
	}
}

// Without server updates (-z) a Harvester-managed pilot makes no worker
// status calls.
func TestNoWorkerStatusWithoutServerUpdates(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
	s.Submit(sitetest.BaseJob(5401, "true", ""))
	code, log := run(t, pilotCmd(s, []string{"HARVESTER_ID=h", "HARVESTER_WORKER_ID=1"}, "-z"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	if m := methods(requests(t, s)); contains(m, "updateWorkerPilotStatus") || !contains(m, "getJob") {
		t.Fatalf("requests %v", m)
	}
}

// PUSH detected from the environment with server updates on: the job comes
// from the file (no getJob), updates go to the server and to Harvester's
// files, and the worker status calls are made.
func TestPushWithServerUpdates(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, mvQueue(0))
	job := harvesterJob(t, s, 5501)
	s.Submit(job)
	sitetest.Must(t, os.WriteFile(filepath.Join(s.Work, "pandaJobData.out"), jobFile(t, job), 0o644))
	env := []string{"HARVESTER_ID=harv-e2e", "HARVESTER_WORKER_ID=778"}
	code, log := run(t, pilotCmd(s, env, "--harvester-submit-mode", "PUSH"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	checkFinalFiles(t, s.Work, job, log)
	checkKillWorker(t, s.Work)
	if got := s.States(5501); !reflect.DeepEqual(got, []string{"starting", "running", "finished"}) {
		t.Errorf("server states %v\n%s", got, log)
	}
	if j := s.Job(5501); j.State != "finished" {
		t.Errorf("job state %s", j.State)
	}
	m := methods(requests(t, s))
	if !reflect.DeepEqual(m, []string{"updateWorkerPilotStatus", "updateWorkerPilotStatus"}) {
		t.Errorf("requests %v (no getJob in PUSH mode)", m)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
