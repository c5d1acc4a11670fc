package harvester

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

var testNow = time.Date(2024, 5, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600))

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return m
}

func runningReport() *jobdef.UpdateReport {
	meta := ""
	return &jobdef.UpdateReport{JobID: 4100, State: "running", Timestamp: "2024-05-01T10:00:00+00:00", SiteName: "E2E",
		Node: "wn01", AttemptNr: 2, SchedulerID: "sched", PilotID: "pid", StartTime: 1714557600.25, MetaData: &meta,
		CoreCount: 1, CPUConsumptionTime: 12, CPUConversionFactor: 1, CPUConsumptionUnit: "s+cpu", MaxRSS: 2048}
}

func TestWorkerAttributes(t *testing.T) {
	t.Parallel()
	rep := runningReport()
	rep.XML = `{"x": {}}`
	rep.Extra = map[string]string{"inputfiles": "a", "outputfiles": "b", "nInputFiles": "3"}
	b, err := WorkerAttributes(rep, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"jobStatus": `"running"`, "state": `"running"`, "timestamp": `"2024-05-01T12:30:00+02:00"`, "jobId": `"4100"`,
		"attemptNr": "2", "startTime": "1714557600.25", "cpuConversionFactor": "1.0", "cpuConsumptionTime": "12",
		"maxRSS": "2048", "siteName": `"E2E"`, "node": `"wn01"`, "nInputFiles": `"3"`, "metaData": `""`,
	}
	for k, v := range want {
		if string(m[k]) != v {
			t.Errorf("%s = %s, want %s", k, m[k], v)
		}
	}
	for _, k := range []string{"xml", "inputfiles", "outputfiles"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s must be removed", k)
		}
	}
}

// accessPoint builds an access point with the job's files moved out of
// the job directory, as the mv copytool leaves them.
func accessPoint(t *testing.T) string {
	t.Helper()
	ap := t.TempDir()
	writeFile(t, filepath.Join(ap, "log.4100.tgz"), "log")
	writeFile(t, filepath.Join(ap, "sub", "out.root"), "output")
	writeFile(t, filepath.Join(ap, "renamed.root"), "other")
	return ap
}

func finalReport(xml, meta string) *jobdef.UpdateReport {
	rep := runningReport()
	rep.State, rep.Final, rep.XML, rep.EndTime = "finished", true, xml, 1714557700
	rep.MetaData = &meta
	return rep
}

const finalXML = `{"log.4100.tgz": {"guid": "00000000-0000-4000-8000-000000004100", "fsize": 3, "adler32": "0269014a", "surl": "file://localhost/ap/log.4100.tgz"},
 "out.root": {"guid": "g-out", "fsize": 6, "adler32": "08b10281", "surl": "file://localhost/ap/out.root"},
 "md5.root": {"guid": "g-md5", "fsize": 5, "md5sum": "0123456789abcdef0123456789abcdef", "surl": "davs://se/x/renamed.root?x=1"},
 "gone.root": {"guid": "g-gone", "fsize": 1, "adler32": "1", "surl": "file://localhost/ap/gone.root"}}`

func TestBuildEventStatus(t *testing.T) {
	t.Parallel()
	ap := accessPoint(t)
	log := func(p string) EventStatusEntry {
		return EventStatusEntry{Type: "log", Path: filepath.Join(ap, p), GUID: "00000000-0000-4000-8000-000000004100", FSize: 3, Chksum: "0269014a"}
	}
	out := EventStatusEntry{Type: "output", Path: filepath.Join(ap, "sub", "out.root"), GUID: "g-out", FSize: 6, Chksum: "08b10281"}
	md5 := EventStatusEntry{Type: "output", Path: filepath.Join(ap, "renamed.root"), GUID: "g-md5", FSize: 5, Chksum: "0123456789abcdef0123456789abcdef"}
	cases := []struct {
		name        string
		xml, logLFN string
		want        []EventStatusEntry
		missing     []string
		wantErr     bool
	}{
		{"log by job, outputs by name, SURL fallback", finalXML, "log.4100.tgz", []EventStatusEntry{log("log.4100.tgz"), md5, out}, []string{"gone.root"}, false},
		{"log by suffix", finalXML, "", []EventStatusEntry{log("log.4100.tgz"), md5, out}, []string{"gone.root"}, false},
		{"log named by the job is another file", finalXML, "out.root", []EventStatusEntry{
			{Type: "log", Path: out.Path, GUID: "g-out", FSize: 6, Chksum: "08b10281"},
			{Type: "output", Path: filepath.Join(ap, "log.4100.tgz"), GUID: "00000000-0000-4000-8000-000000004100", FSize: 3, Chksum: "0269014a"},
			md5}, []string{"gone.root"}, false},
		{"nothing transferred", "", "", nil, nil, false},
		{"nothing found", `{"gone.root": {"fsize": 1, "adler32": "1"}}`, "", nil, []string{"gone.root"}, false},
		{"bad report", `{"../x": {"fsize": 1}}`, "", nil, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, missing, err := BuildEventStatus(finalReport(c.xml, ""), c.logLFN, ap)
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v", err)
			}
			if !reflect.DeepEqual(missing, c.missing) {
				t.Fatalf("missing %q, want %q", missing, c.missing)
			}
			if c.want == nil {
				if es != nil {
					t.Fatalf("want no dump, got %+v", es)
				}
				return
			}
			if len(es) != 1 || !reflect.DeepEqual(es["4100"], c.want) {
				t.Fatalf("got %+v\nwant %+v", es, c.want)
			}
		})
	}
}

func TestShrinkJobReport(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"logfileReport emptied, numbers kept",
			`{"exitCode": 0, "big": 12345678901234567890, "f": 1.50, "executor": [{"name": "a", "logfileReport": {"countSummary": {"ERROR": 2}}}, {"name": "b"}, 5]}`,
			`{"big":12345678901234567890,"executor":[{"logfileReport":{},"name":"a"},{"name":"b"},5],"exitCode":0,"f":1.50}`, false},
		{"no executor", `{"a": [1, 2]}`, `{"a":[1,2]}`, false},
		{"executor not a list", `{"executor": {"logfileReport": 1}}`, `{"executor":{"logfileReport":1}}`, false},
		{"not an object", `[1]`, "", true},
		{"null", `null`, "", true},
		{"trailing data", `{} {}`, "", true},
		{"trailing brace", `{}}`, "", true},
		{"not UTF-8", "{\"a\": \"\xff\"}", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := ShrinkJobReport([]byte(c.in))
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v", err)
			}
			if c.wantErr {
				return
			}
			var compact strings.Builder
			var v any
			d := json.NewDecoder(strings.NewReader(string(b)))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			e := json.NewEncoder(&compact)
			e.Encode(v)
			if got := strings.TrimSpace(compact.String()); got != c.want {
				t.Fatalf("got %s\nwant %s", got, c.want)
			}
		})
	}
}

// lite starts pandalite in-process with one dispatched job 4100 and returns
// a client and the store.
func lite(t *testing.T) (*server.Client, *pandalite.Store) {
	t.Helper()
	ctx := testCtx(t)
	st, err := pandalite.Open(ctx, filepath.Join(t.TempDir(), "lite.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	job := pandalite.Object{{Key: "PandaID", Value: 4100}, {Key: "attemptNr", Value: 2}, {Key: "transformation", Value: "run.sh"},
		{Key: "jobPars", Value: ""}, {Key: "prodSourceLabel", Value: "managed"}, {Key: "outFiles", Value: "log.4100.tgz"},
		{Key: "logFile", Value: "log.4100.tgz"}, {Key: "logGUID", Value: "00000000-0000-4000-8000-000000004100"},
		{Key: "scopeLog", Value: "s"}, {Key: "realDatasets", Value: "d.log"}, {Key: "ddmEndPointOut", Value: "DISK"}}
	if _, err := st.Submit(ctx, "E2E", job); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pandalite.NewServer(st, pandalite.Options{AnyLabel: true}))
	t.Cleanup(srv.Close)
	cl, err := server.New(server.Options{BaseURL: srv.URL, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetJob(ctx, server.JobRequest{SiteName: "E2E", ComputingElement: "E2E", ProdSourceLabel: "managed", Node: "wn01"}); err != nil {
		t.Fatal(err)
	}
	return cl, st
}

func TestReporter(t *testing.T) {
	t.Parallel()
	const report = `{"exitCode": 0, "executor": [{"name": "x", "logfileReport": {"details": [1, 2, 3]}}]}`
	cases := []struct {
		name    string
		forward bool
		custom  bool // --harvester-workerattributes / --harvester-eventstatusdump given
	}{{"files only", false, false}, {"files and server", true, false}, {"named files", false, true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ap := accessPoint(t)
			w := &Reporter{Dir: ap, Now: func() time.Time { return testNow }}
			attrs, events := filepath.Join(ap, WorkerAttributesFile), filepath.Join(ap, EventStatusFile)
			if c.custom {
				attrs = ReportPath("attrs.json", ap, WorkerAttributesFile)
				events = ReportPath("/"+filepath.Join(ap, "sub", "es.json")[1:], ap, EventStatusFile)
				w.WorkerAttributes, w.EventStatus = attrs, events
			}
			var st *pandalite.Store
			if c.forward {
				var cl *server.Client
				cl, st = lite(t)
				w.Server = cl
			}
			ctx := testCtx(t)
			if _, err := w.UpdateJob(ctx, runningReport()); err != nil {
				t.Fatal(err)
			}
			if m := readJSON(t, attrs); m["jobStatus"] != "running" || m["timestamp"] != "2024-05-01T12:30:00+02:00" {
				t.Fatalf("attributes %v", m)
			}
			if exists(events) || exists(filepath.Join(ap, JobReportFile)) {
				t.Fatal("final files written at a heartbeat")
			}
			reply, err := w.UpdateJob(ctx, finalReport(finalXML, report))
			if err != nil || reply == nil {
				t.Fatal(reply, err)
			}
			if m := readJSON(t, attrs); m["jobStatus"] != "finished" || m["xml"] != nil || m["state"] != "finished" {
				t.Fatalf("final attributes %v", m)
			}
			es := readJSON(t, events)
			list, _ := es["4100"].([]any)
			if len(es) != 1 || len(list) == 0 {
				t.Fatalf("event status %v", es)
			}
			wantFirst := "log"
			if c.custom {
				// Searched under the dump's own directory: only sub/out.root.
				wantFirst = "output"
			}
			if first, _ := list[0].(map[string]any); first["type"] != wantFirst {
				t.Fatalf("event status %v", es)
			}
			jr := readJSON(t, filepath.Join(ap, JobReportFile))
			if ex := jr["executor"].([]any)[0].(map[string]any); !reflect.DeepEqual(ex["logfileReport"], map[string]any{}) {
				t.Fatalf("job report not shrunk: %v", jr)
			}
			if c.forward {
				ups, err := st.Updates(ctx, 4100)
				if err != nil {
					t.Fatal(err)
				}
				var states []string
				for _, u := range ups {
					states = append(states, u.State)
				}
				if !reflect.DeepEqual(states, []string{"running", "finished"}) {
					t.Fatalf("server recorded %q", states)
				}
			}
			ents, _ := os.ReadDir(ap)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") {
					t.Fatalf("temporary file %s left", e.Name())
				}
			}
		})
	}
}

func TestReporterErrors(t *testing.T) {
	t.Parallel()
	ap := accessPoint(t)
	// A job report that is not JSON is skipped; the update still succeeds.
	w := &Reporter{Dir: ap}
	if _, err := w.UpdateJob(testCtx(t), finalReport(finalXML, "not json")); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(ap, JobReportFile)) {
		t.Fatal("a job report that is not JSON was copied")
	}
	// An access point that is gone is an error (the pilot retries).
	w = &Reporter{Dir: filepath.Join(ap, "gone")}
	if _, err := w.UpdateJob(testCtx(t), runningReport()); err == nil {
		t.Fatal("no error for a missing access point")
	}
	// The server's failure is returned after the files are written.
	cl, err := server.New(server.Options{BaseURL: "http://127.0.0.1:1", RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w = &Reporter{Dir: ap, Server: cl}
	os.Remove(filepath.Join(ap, WorkerAttributesFile))
	if _, err := w.UpdateJob(testCtx(t), runningReport()); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server error not returned: %v", err)
	}
	if !exists(filepath.Join(ap, WorkerAttributesFile)) {
		t.Fatal("attributes not written before the server was asked")
	}
}

func TestReporterLogFromSource(t *testing.T) {
	t.Parallel()
	ap := accessPoint(t)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, JobDataFile), harvesterJob)
	src := &Source{Mode: Push, Home: work, Candidates: []string{filepath.Join(work, JobDataFile)}}
	if _, err := src.GetJob(testCtx(t), server.JobRequest{}); err != nil {
		t.Fatal(err)
	}
	// The job's log is log.4100.tgz; call the other file a log by name only.
	xml := `{"log.4100.tgz": {"guid": "g", "fsize": 3, "adler32": "0269014a"}, "out.root": {"guid": "o", "fsize": 6, "adler32": "1"}}`
	w := &Reporter{Dir: ap, Jobs: src}
	if _, err := w.UpdateJob(testCtx(t), finalReport(xml, "")); err != nil {
		t.Fatal(err)
	}
	list := readJSON(t, filepath.Join(ap, EventStatusFile))["4100"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["type"] != "log" || list[1].(map[string]any)["type"] != "output" {
		t.Fatalf("event status %v", list)
	}
}

func TestLooksLikeLog(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"log.12345678._000123.job.log.tgz.1": true, "e2e.5001.log.tgz": true, "x.log.tar.gz": true, "log.4100.tgz": true,
		"EVNT.123._000001.pool.root.1": false, "catalog.tgz": false, "blog.txt": false,
	}
	for name, want := range cases {
		if got := looksLikeLog(name); got != want {
			t.Errorf("looksLikeLog(%q) = %v", name, got)
		}
	}
}
