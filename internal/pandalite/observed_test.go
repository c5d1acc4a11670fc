package pandalite

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestObservedPilot3Session replays, byte for byte, what a real Pilot 3
// sent on its default (urllib, gzip-JSON) path for one job, and checks the
// answers it would parse and what the server recorded.
func TestObservedPilot3Session(t *testing.T) {
	e := newEnv(t, Options{AnyLabel: true}) // the observed job is "managed", the pilot asks with "ptest"
	ids := e.submitJSON(t, "PANDASTUB", string(readTestdata(t, "observed_job.json")))
	if !reflect.DeepEqual(ids, []int64{4000000001}) {
		t.Fatalf("submitted %v", ids)
	}
	// The job names no computingSite, so the submit site is its site.
	if j := mustJob(t, e.store, 4000000001); j.Site != "PANDASTUB" {
		t.Fatalf("site %q", j.Site)
	}

	a := pilotJSON(t, e.url, "getJob", readTestdata(t, "observed_getjob_first.json"))
	want := string(readTestdata(t, "observed_getjob_answer.txt"))
	if a.status != 200 || a.contentType != "text/plain" || a.body != want {
		t.Fatalf("getJob answer HTTP %d %q\n got: %s\nwant: %s", a.status, a.contentType, a.body, want)
	}
	qs := parseQS(a.body)
	for k, v := range map[string]string{"StatusCode": "0", "PandaID": "4000000001", "taskID": "40000001",
		"attemptNr": "1", "ioIntensity": "None", "transformation": "http://127.0.0.1:38727/trf/user/runcmd.sh",
		"jobPars": "sleep 2", "realDatasets": "pandastub.40000001.log/"} {
		if got := qs1(t, qs, k); got != v {
			t.Errorf("parse_qs %s = %q, want %q", k, got, v)
		}
	}
	if _, ok := qs["inFiles"]; ok {
		t.Errorf("parse_qs keeps blank inFiles")
	}

	for _, name := range []string{"observed_update_starting.json", "observed_update_running.json", "observed_update_finished.json"} {
		a := pilotJSON(t, e.url, "updateJob", readTestdata(t, name))
		if a.status != 200 || a.contentType != "text/plain" || a.body != "StatusCode=0&command=NULL" {
			t.Fatalf("%s: HTTP %d %q %q", name, a.status, a.contentType, a.body)
		}
	}

	a = pilotJSON(t, e.url, "getJob", readTestdata(t, "observed_getjob_followup.json"))
	if a.body != "StatusCode=20" {
		t.Fatalf("follow-up getJob answer %q", a.body)
	}

	if got := updateStates(t, e.store, 4000000001); !reflect.DeepEqual(got, []string{"starting", "running", "finished"}) {
		t.Fatalf("update states %v", got)
	}
	ups, err := e.store.Updates(testCtx(t), 4000000001)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ups[0].Fields.Get("startTime"); pyStr(v) != "1795297337.0192606" {
		t.Errorf("raw startTime kept as %v", v)
	}
	if ups[2].LegacyFields()["pilotTiming"] != "0|0|1|0|0|0" {
		t.Errorf("raw finished fields %v", ups[2].LegacyFields())
	}
	j := mustJob(t, e.store, 4000000001)
	if j.State != StateFinished || j.PilotErrorCode != 0 || j.NUpdates != 3 || j.NSent != 1 || j.Node != "vm" || j.Ended.IsZero() {
		t.Fatalf("job after the session: %+v", j)
	}
	files, err := e.store.Files(testCtx(t), 4000000001)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []FileRecord{{PandaID: 4000000001, LFN: "pandastub.40000001._000001.log.tgz",
		GUID: "7256910f-f363-44fe-a672-91fe2e0c7680", FSize: 9527, Checksum: "ad:39127286",
		SURL:     "file://localhost<run>/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz",
		Endpoint: "PANDASTUB_LOCALDISK", Kind: "log"}}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Fatalf("files %+v", files)
	}

	reqs, err := e.store.Requests(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Method != "getJob" || reqs[0].Node != "vm" || reqs[0].Site != "PANDASTUB" ||
		!reflect.DeepEqual(reqs[0].PandaIDs, []int64{4000000001}) || len(reqs[1].PandaIDs) != 0 {
		t.Fatalf("requests %+v", reqs)
	}
	if v, _ := reqs[0].Fields.Get("allowOtherCountry"); v != false {
		t.Errorf("recorded allowOtherCountry %v", v)
	}
	if v, _ := reqs[1].Fields.Get("taskID"); v != "40000001" {
		t.Errorf("recorded taskID %v", v)
	}
}

// TestObservedCurlPath replays the curl-path getJob (form body, Accept:
// application/json) and checks the JSON answer keeps native types.
func TestObservedCurlPath(t *testing.T) {
	e := newEnv(t, Options{})
	// Without --any-label a job stored without prodSourceLabel serves any pilot label.
	var job Object
	job, err := ParseObject(readTestdata(t, "observed_job.json"))
	if err != nil {
		t.Fatal(err)
	}
	job.Delete("prodSourceLabel")
	job.Set("PandaID", 4000000002)
	if _, err := e.store.Submit(testCtx(t), "PANDASTUB", job); err != nil {
		t.Fatal(err)
	}
	a := pilotForm(t, e.url, "getJob", string(readTestdata(t, "observed_getjob_curl.form")))
	if a.status != 200 || a.contentType != "application/json" {
		t.Fatalf("HTTP %d %q %s", a.status, a.contentType, a.body)
	}
	prefix := `{"StatusCode": 0, "PandaID": 4000000002, "jobsetID": 1, "taskID": 40000001, `
	if !strings.HasPrefix(a.body, prefix) || !strings.Contains(a.body, `"ioIntensity": null,`) ||
		!strings.HasSuffix(a.body, `"ddmEndPointOut": "PANDASTUB_LOCALDISK"}`) {
		t.Fatalf("JSON answer %s", a.body)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(a.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["StatusCode"] != json.Number("0") || m["maxWalltime"] != json.Number("3600") || m["nSent"] != json.Number("0") ||
		m["inFiles"] != "" || m["ioIntensity"] != nil {
		t.Fatalf("JSON types: %v", m)
	}
	a = pilotForm(t, e.url, "getJob", string(readTestdata(t, "observed_getjob_curl.form")))
	if a.body != `{"StatusCode": 20, "errorDialog": "no jobs in PanDA"}` {
		t.Fatalf("no-job JSON answer %s", a.body)
	}
	reqs, err := e.store.Requests(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := reqs[0].Fields.Get("allowOtherCountry"); v != "False" {
		t.Fatalf("form field recorded as %v", v)
	}
}
