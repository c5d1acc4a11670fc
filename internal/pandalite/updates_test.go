package pandalite

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// dispatchOne submits one job for PANDASTUB and hands it out.
func dispatchOne(t *testing.T, e *testEnv, job string) int64 {
	t.Helper()
	ids := e.submitJSON(t, "PANDASTUB", job)
	a := pilotJSON(t, e.url, "getJob", []byte(`{"siteName": "PANDASTUB", "node": "wn1"}`))
	if !strings.HasPrefix(a.body, fmt.Sprintf("StatusCode=0&PandaID=%d&", ids[0])) {
		t.Fatalf("getJob answer %s", a.body)
	}
	return ids[0]
}

func legacyUpdate(t *testing.T, e *testEnv, fields string) string {
	t.Helper()
	a := pilotJSON(t, e.url, "updateJob", []byte(fields))
	if a.status != 200 {
		t.Fatalf("updateJob HTTP %d %s", a.status, a.body)
	}
	return a.body
}

func TestLegacyUpdateAnswers(t *testing.T) {
	const logReport = `{\"job.log.tgz\": {\"guid\": \"g1\", \"fsize\": 12, \"adler32\": \"0a0b0c0d\", \"surl\": \"file:///x/job.log.tgz\", \"endpoint\": \"RSE\"}}`
	tests := []struct {
		name      string
		kill      bool
		updates   []string // %d = PandaID
		answers   []string
		state     string
		errorCode int
		diag      string
	}{
		{name: "unknown job", updates: []string{`{"jobId": "999", "state": "running"}`}, answers: []string{"StatusCode=0&command=tobekilled"}, state: StateSent},
		{name: "wrong attemptNr", updates: []string{`{"jobId": "%d", "state": "running", "attemptNr": 2}`}, answers: []string{"StatusCode=0&command=tobekilled"}, state: StateSent},
		{name: "jobId NULL", updates: []string{`{"jobId": "NULL", "state": "running"}`}, answers: []string{"StatusCode=0"}, state: StateSent},
		{name: "invalid state", updates: []string{`{"jobId": "%d", "state": "sleeping"}`}, answers: []string{"StatusCode=0"}, state: StateSent},
		{name: "no jobId", updates: []string{`{"state": "running"}`}, answers: []string{"StatusCode=30"}, state: StateSent},
		{name: "holding then transferring", updates: []string{`{"jobId": "%d", "state": "holding"}`, `{"jobId": "%d", "state": "transferring", "attemptNr": "1"}`},
			answers: []string{"StatusCode=0&command=NULL", "StatusCode=0&command=NULL"}, state: StateTransferring},
		{name: "alreadydone", updates: []string{
			`{"jobId": "%d", "state": "failed", "pilotErrorCode": -1305, "pilotErrorDiag": "Failed to execute payload", "transExitCode": 1, "xml": "` + logReport + `"}`,
			`{"jobId": "%d", "state": "finished", "pilotErrorCode": 0, "transExitCode": 0}`,
			`{"jobId": "%d", "state": "running"}`},
			answers: []string{"StatusCode=0&command=NULL", "StatusCode=0&command=alreadydone", "StatusCode=0&command=alreadydone"},
			state:   StateFailed, errorCode: 1305, diag: "Failed to execute payload"},
		{name: "kill", kill: true, updates: []string{
			`{"jobId": "%d", "state": "running", "attemptNr": 1}`,
			`{"jobId": "%d", "state": "failed", "attemptNr": 1, "pilotErrorCode": 1144, "pilotErrorDiag": "Job killed by panda server"}`},
			answers: []string{"StatusCode=0&command=tobekilled", "StatusCode=0&command=tobekilled"},
			state:   StateFailed, errorCode: 1144, diag: "Job killed by panda server"},
		{name: "bad output report", updates: []string{`{"jobId": "%d", "state": "finished", "xml": "{\"a.root\": {\"fsize\": 1}}"}`},
			answers: []string{"StatusCode=0&command=NULL"}, state: StateFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{})
			id := dispatchOne(t, e, `{"jobName": "j", "logFile": "job.log.tgz", "outFiles": "job.log.tgz"}`)
			if tc.kill {
				if st, err := e.store.Kill(testCtx(t), id); err != nil || st != StateSent {
					t.Fatalf("kill: %s %v", st, err)
				}
			}
			for i, u := range tc.updates {
				if strings.Contains(u, "%d") {
					u = strings.ReplaceAll(u, "%d", fmt.Sprint(id))
				}
				if got := legacyUpdate(t, e, u); got != tc.answers[i] {
					t.Fatalf("update %d answered %q, want %q", i, got, tc.answers[i])
				}
			}
			j := mustJob(t, e.store, id)
			if j.State != tc.state || j.PilotErrorCode != tc.errorCode || j.PilotErrorDiag != tc.diag {
				t.Fatalf("job: state %s code %d diag %q", j.State, j.PilotErrorCode, j.PilotErrorDiag)
			}
			all, err := e.store.Updates(testCtx(t), -1)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(tc.updates) {
				t.Fatalf("%d updates recorded, want %d", len(all), len(tc.updates))
			}
		})
	}
}

func TestAlreadyDoneKeepsFiles(t *testing.T) {
	e := newEnv(t, Options{})
	id := dispatchOne(t, e, `{"logFile": "l.tgz"}`)
	rep := func(size int) string {
		return fmt.Sprintf(`{\"l.tgz\": {\"guid\": \"g\", \"fsize\": %d, \"adler32\": \"00000001\", \"surl\": \"s\", \"endpoint\": \"E\"}, \"o.root\": {\"guid\": \"h\", \"fsize\": 5, \"md5sum\": \"0123456789ABCDEF0123456789ABCDEF\", \"surl\": \"t\", \"endpoint\": \"E\"}}`, size)
	}
	legacyUpdate(t, e, fmt.Sprintf(`{"jobId": "%d", "state": "finished", "xml": "%s"}`, id, rep(10)))
	if got := legacyUpdate(t, e, fmt.Sprintf(`{"jobId": "%d", "state": "finished", "xml": "%s"}`, id, rep(99))); got != "StatusCode=0&command=alreadydone" {
		t.Fatal(got)
	}
	files, err := e.store.Files(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].LFN != "l.tgz" || files[0].FSize != 10 || files[0].Kind != "log" ||
		files[1].Checksum != "md5:0123456789abcdef0123456789abcdef" || files[1].Kind != "output" {
		t.Fatalf("files %+v (job %+v)", files, mustJob(t, e.store, id))
	}
	ups, _ := e.store.Updates(testCtx(t), id)
	if len(ups) != 2 || ups[1].Outcome != OutcomeAlreadyDone || ups[1].Command != "alreadydone" {
		t.Fatalf("history %+v", ups)
	}
}

func TestKillAndDebug(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := testCtx(t)
	id := dispatchOne(t, e, `{"jobName": "a"}`)
	up := func() string { return legacyUpdate(t, e, fmt.Sprintf(`{"jobId": "%d", "state": "running"}`, id)) }

	if err := e.store.SetDebug(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if got := up(); got != "StatusCode=0&command=debug" {
		t.Fatal(got)
	}
	if _, err := e.store.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := up(); got != "StatusCode=0&command=debug%2Ctobekilled" {
		t.Fatal(got)
	}
	if err := e.store.SetDebug(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if got := up(); got != "StatusCode=0&command=debugoff%2Ctobekilled" {
		t.Fatal(got)
	}
	if got := up(); got != "StatusCode=0&command=tobekilled" {
		t.Fatal(got)
	}
	legacyUpdate(t, e, fmt.Sprintf(`{"jobId": "%d", "state": "failed", "pilotErrorCode": 1144}`, id))
	if _, err := e.store.Kill(ctx, id); err == nil || !strings.Contains(err.Error(), "already failed") {
		t.Fatalf("kill of a final job: %v", err)
	}

	// A job killed before dispatch is cancelled and never handed out.
	ids := e.submitJSON(t, "PANDASTUB", `{"jobName": "b"}`)
	if st, err := e.store.Kill(ctx, ids[0]); err != nil || st != StateCancelled {
		t.Fatalf("kill activated: %s %v", st, err)
	}
	if a := pilotJSON(t, e.url, "getJob", []byte(`{"siteName": "PANDASTUB"}`)); a.body != "StatusCode=20" {
		t.Fatalf("cancelled job dispatched: %s", a.body)
	}
	if _, err := e.store.Kill(ctx, 424242); err == nil {
		t.Fatal("kill of an unknown job succeeded")
	}

	// A debug job is dispatched with debug=True.
	ids = e.submitJSON(t, "PANDASTUB", `{"jobName": "c"}`)
	if err := e.store.SetDebug(ctx, ids[0], true); err != nil {
		t.Fatal(err)
	}
	if a := pilotJSON(t, e.url, "getJob", []byte(`{"siteName": "PANDASTUB"}`)); !strings.HasSuffix(a.body, "&debug=True") {
		t.Fatalf("debug job answer %s", a.body)
	}
}

func TestV1(t *testing.T) {
	e := newEnv(t, Options{})
	e.submitJSON(t, "PANDASTUB", `[{"PandaID": 7, "jobName": "long", "maxWalltime": 3600, "logFile": "l.tgz", "taskID": 3}]`)

	m := v1Post(t, e.url, "pilot/acquire_jobs", map[string]any{"site_name": "PANDASTUB", "remaining_time": 100}, true)
	if m["success"] != false || m["message"] != "No jobs in PanDA" || m["data"] != nil {
		t.Fatalf("remaining_time filter: %v", m)
	}
	m = v1Post(t, e.url, "pilot/acquire_jobs", map[string]any{"site_name": "PANDASTUB", "remaining_time": 7200, "memory": 4000, "disk_space": 1000, "task_id": 3, "node": "wn"}, false)
	data := m["data"].(map[string]any)
	jobs := data["jobs"].([]any)
	if m["success"] != true || data["StatusCode"] != json.Number("0") || len(jobs) != 1 {
		t.Fatalf("acquire: %v", m)
	}
	job := jobs[0].(map[string]any)
	if job["PandaID"] != json.Number("7") || job["StatusCode"] != json.Number("0") || job["nSent"] != json.Number("0") || job["attemptNr"] != json.Number("1") {
		t.Fatalf("job %v", job)
	}

	type upd struct {
		body    map[string]any
		success bool
		message string
		data    map[string]any
	}
	report := `{"l.tgz": {"guid": "g", "fsize": 3, "adler32": "01020304", "surl": "file:///r/l.tgz", "endpoint": "E"}}`
	steps := []upd{
		{map[string]any{"job_id": 7, "job_status": "starting", "attempt_nr": 1, "node": "wn"}, true, "", map[string]any{"StatusCode": json.Number("0"), "command": "NULL"}},
		{map[string]any{"job_id": 7, "job_status": "running", "mean_core_count": 1.5}, false, "Type error: 'mean_core_count' must be of type int, got float.", nil},
		{map[string]any{"job_id": 7, "job_status": "running", "bogus": 1}, false, "Argument error: unexpected argument(s) 'bogus'", nil},
		{map[string]any{"job_status": "running"}, false, "Argument error: missing required argument(s) 'job_id'", nil},
		{map[string]any{"job_id": "7", "job_status": "running"}, false, "Type error: 'job_id' must be of type int, got str.", nil},
		{map[string]any{"job_id": 7, "job_status": "sleeping"}, false, "Invalid job status: sleeping", map[string]any{"StatusCode": json.Number("50")}},
		{map[string]any{"job_id": 7, "job_status": "running", "cpu_conversion_factor": 1, "max_rss": 10.5}, true, "", map[string]any{"StatusCode": json.Number("0"), "command": "NULL"}},
		{map[string]any{"job_id": 7, "job_status": "finished", "attempt_nr": 1, "pilot_error_code": 0, "trans_exit_code": 0, "job_output_report": report}, true, "", map[string]any{"StatusCode": json.Number("0"), "command": "NULL"}},
		{map[string]any{"job_id": 7, "job_status": "finished"}, true, "", map[string]any{"StatusCode": json.Number("0"), "command": "alreadydone"}},
		{map[string]any{"job_id": 8, "job_status": "running"}, true, "", map[string]any{"StatusCode": json.Number("0"), "command": "tobekilled"}},
	}
	for i, st := range steps {
		m := v1Post(t, e.url, "pilot/update_job", st.body, i%2 == 0)
		var d map[string]any
		if m["data"] != nil {
			d = m["data"].(map[string]any)
		}
		if m["success"] != st.success || m["message"] != st.message || !reflect.DeepEqual(d, st.data) {
			t.Errorf("update_job %v: %v", st.body, m)
		}
	}
	if got := updateStates(t, e.store, 7); !reflect.DeepEqual(got, []string{"starting", "sleeping", "running", "finished", "finished"}) {
		t.Fatalf("history %v", got)
	}
	ups, _ := e.store.Updates(testCtx(t), 7)
	if lf := ups[0].LegacyFields(); lf["jobId"] != "7" || lf["state"] != "starting" || lf["attemptNr"] != "1" {
		t.Fatalf("legacy view of a v1 update: %v", lf)
	}
	files, _ := e.store.Files(testCtx(t), 7)
	if len(files) != 1 || files[0].Checksum != "ad:01020304" || files[0].Kind != "log" {
		t.Fatalf("files %+v", files)
	}

	m = v1Get(t, e.url, "pilot/get_job_status?job_ids=7,8")
	want := []any{
		map[string]any{"job_id": json.Number("7"), "status": "finished", "attempt_number": json.Number("1")},
		map[string]any{"job_id": json.Number("8"), "status": "not found", "attempt_number": json.Number("0")},
	}
	if m["success"] != true || !reflect.DeepEqual(m["data"], want) {
		t.Fatalf("get_job_status %v", m)
	}
	for _, tc := range []struct {
		path    string
		body    map[string]any
		success bool
	}{
		{"pilot/update_worker_status", map[string]any{"worker_id": 1, "harvester_id": "h", "status": "started"}, true},
		{"pilot/update_worker_status", map[string]any{"worker_id": 1, "harvester_id": "h", "status": "gone"}, false},
		{"pilot/update_worker_node", map[string]any{"site": "S", "host_name": "wn", "cpu_model": "X", "n_logical_cpus": 2, "clock_speed": 2000.0, "total_memory": 4000}, true},
		{"pilot/update_worker_node", map[string]any{"site": "S", "host_name": "wn"}, false},
		{"pilot/update_worker_node_gpu", map[string]any{"site": "S", "host_name": "wn", "vendor": "NVIDIA", "model": "A100", "count": 1}, true},
		{"pilot/update_jobs_bulk", map[string]any{"job_list": []any{map[string]any{"job_id": 9, "job_status": "running"}}}, true},
	} {
		m := v1Post(t, e.url, tc.path, tc.body, false)
		if m["success"] != tc.success {
			t.Errorf("%s %v: %v", tc.path, tc.body, m)
		}
	}
	if m := v1Get(t, e.url, "system/is_alive"); m["success"] != true {
		t.Fatalf("is_alive %v", m)
	}
	if m := v1Get(t, e.url, "pilot/acquire_jobs?site_name=PANDASTUB"); m["success"] != false || m["message"] != "expecting POST, received GET" {
		t.Fatalf("GET acquire_jobs %v", m)
	}
	reqs, _ := e.store.Requests(testCtx(t))
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.Method)
	}
	if !reflect.DeepEqual(methods, []string{"acquire_jobs", "acquire_jobs", "update_worker_status", "update_worker_node", "update_worker_node_gpu"}) {
		t.Fatalf("recorded %v", methods)
	}
}
