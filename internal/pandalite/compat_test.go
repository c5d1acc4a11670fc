package pandalite

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
)

// fullReport is an update report with every field set.
func fullReport(id int64, state string) *jobdef.UpdateReport {
	meta := `{"files": {}}`
	return &jobdef.UpdateReport{
		JobID: id, State: state, Timestamp: "2026-11-21T21:42:19+00:00", SiteName: "PANDASTUB", Node: "wn",
		AttemptNr: 1, SchedulerID: "unknown", PilotID: "unknown|PR|0.1", BatchID: "42",
		StartTime: 1795297337.0192606, EndTime: 1795297339.5, MetaData: &meta, Stdout: "tail",
		CoreCount: 2, MeanCoreCount: 1.7, NEvents: 10, CPUConsumptionTime: 12, CPUConsumptionUnit: "s+cpu",
		CPUConversionFactor: 1, CPUArchitectureLevel: "x86-64-v3", MaxRSS: 1, MaxVMEM: 2, MaxSWAP: 3, MaxPSS: 4,
		AvgRSS: 5, AvgVMEM: 6, AvgSWAP: 7, AvgPSS: 8, JobMetrics: "coreCount=2", Final: true,
		PilotTiming: "0|0|1|0|0|0", PilotLog: "log", PilotErrorCode: 1305, PilotErrorDiag: "Failed to execute payload",
		TransExitCode: 1, ExeErrorCode: 3, ExeErrorDiag: "x",
		XML:   `{"l.tgz": {"guid": "g", "fsize": 3, "adler32": "01020304", "surl": "s", "endpoint": "E"}}`,
		Extra: map[string]string{"totRCHAR": "100", "rateWBYTES": "5", "source_site": "A", "destination_site": "B"},
	}
}

// TestJobdefReportsAccepted: the reports the Go pilot builds with jobdef
// (legacy gzip JSON, legacy form, v1 JSON) are accepted and stored alike.
func TestJobdefReportsAccepted(t *testing.T) {
	e := newEnv(t, Options{})
	e.submitJSON(t, "PANDASTUB", `[{"PandaID": 1, "logFile": "l.tgz"}, {"PandaID": 2, "logFile": "l.tgz"}, {"PandaID": 3, "logFile": "l.tgz"}]`)
	for i := 0; i < 3; i++ {
		pilotJSON(t, e.url, "getJob", []byte(`{"siteName": "PANDASTUB"}`))
	}

	b := fullReport(1, "failed").LegacyJSON()
	if a := pilotJSON(t, e.url, "updateJob", b); a.body != "StatusCode=0&command=NULL" {
		t.Fatalf("legacy JSON report: %s", a.body)
	}
	form := fullReport(2, "failed").LegacyForm().Encode()
	if a := pilotForm(t, e.url, "updateJob", form); a.body != `{"StatusCode": 0, "command": "NULL"}` {
		t.Fatalf("legacy form report: %s", a.body)
	}
	m := v1Post(t, e.url, "pilot/update_job", fullReport(3, "failed").V1(), true)
	if m["success"] != true || fmt.Sprint(m["data"]) != "map[StatusCode:0 command:NULL]" {
		t.Fatalf("v1 report: %v", m)
	}
	var views []map[string]string
	for id := int64(1); id <= 3; id++ {
		j := mustJob(t, e.store, id)
		if j.State != StateFailed || j.PilotErrorCode != 1305 || j.TransExitCode != 1 || j.ExeErrorCode != 3 ||
			j.PilotErrorDiag != "Failed to execute payload" || j.BatchID != "42" || j.Node != "wn" {
			t.Errorf("job %d: %+v", id, j)
		}
		if f, err := e.store.Files(testCtx(t), id); err != nil || len(f) != 1 || f[0].Kind != "log" {
			t.Errorf("job %d files %+v %v", id, f, err)
		}
		ups, err := e.store.Updates(testCtx(t), id)
		if err != nil || len(ups) != 1 {
			t.Fatalf("job %d updates %v %v", id, ups, err)
		}
		views = append(views, ups[0].LegacyFields())
	}
	for _, k := range []string{"state", "attemptNr", "pilotErrorCode", "transExitCode", "xml", "batchID", "pilotTiming"} {
		if views[0][k] != views[1][k] || views[0][k] != views[2][k] {
			t.Errorf("%s differs: legacy %q, form %q, v1 %q", k, views[0][k], views[1][k], views[2][k])
		}
	}
}

// TestV1ArgsKnownToJobdef: every update_job argument has a legacy name.
func TestV1ArgsKnownToJobdef(t *testing.T) {
	for _, a := range updateJobArgs.args {
		if _, ok := jobdef.V1ToLegacyName(a.name); !ok {
			t.Errorf("update_job argument %s has no legacy name in jobdef", a.name)
		}
	}
	// And every v1 key jobdef can produce is an update_job argument.
	b, _ := json.Marshal(fullReport(1, "running").V1())
	o, err := ParseObject(b)
	if err != nil {
		t.Fatal(err)
	}
	if msg := checkArgs(updateJobArgs, o, false); msg != "" {
		t.Fatal(msg)
	}
}
