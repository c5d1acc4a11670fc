package jobdef

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The updateJob bodies Pilot 3 sent in OBSERVED.md (the failed one is the finished one with
// the differences listed there).
const (
	observedStarting = `{"jobId": "4000000001", "state": "starting", "timestamp": "2026-11-21T21:42:17+00:00", "siteName": "PANDASTUB", "node": "vm", "attemptNr": 1, "schedulerID": "unknown", "pilotID": "unknown|PR|3.11.5.1", "startTime": 1795297337.0192606, "xml": "", "metaData": "", "coreCount": 1, "cpuConsumptionUnit": "s+Intel(R) Xeon(R) 2-Core Processor 107520 KB 1-Socket+AVX2"}`
	observedFinished = `{"jobId": "4000000001", "state": "finished", "timestamp": "2026-11-21T21:42:19+00:00", "siteName": "PANDASTUB", "node": "vm", "attemptNr": 1, "schedulerID": "unknown", "pilotID": "unknown|PR|3.11.5.1", "startTime": 1795297337.0192606, "xml": "{\"pandastub.40000001._000001.log.tgz\": {\"guid\": \"7256910f-f363-44fe-a672-91fe2e0c7680\", \"fsize\": 9527, \"adler32\": \"39127286\", \"surl\": \"file://localhost<run>/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz\", \"endpoint\": \"PANDASTUB_LOCALDISK\"}}", "coreCount": 1, "meanCoreCount": 1.0, "cpuConsumptionUnit": "s+Intel(R) Xeon(R) 2-Core Processor 107520 KB 1-Socket+AVX2", "pilotTiming": "0|0|1|0|0|0", "pilotLog": "", "endTime": 1795297339.1045613, "pilotErrorCode": 0, "pilotErrorDiag": "", "transExitCode": 0, "exeErrorCode": 0, "exeErrorDiag": ""}`
	observedFailed   = `{"jobId": "4000000001", "state": "failed", "timestamp": "2026-11-21T21:42:19+00:00", "siteName": "PANDASTUB", "node": "vm", "attemptNr": 1, "schedulerID": "unknown", "pilotID": "unknown|PR|3.11.5.1", "startTime": 1795297337.0192606, "xml": "{\"pandastub.40000001._000001.log.tgz\": {\"guid\": \"7256910f-f363-44fe-a672-91fe2e0c7680\", \"fsize\": 9527, \"adler32\": \"39127286\", \"surl\": \"file://localhost<run>/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz\", \"endpoint\": \"PANDASTUB_LOCALDISK\"}}", "coreCount": 1, "cpuConsumptionUnit": "s+Intel(R) Xeon(R) 2-Core Processor 107520 KB 1-Socket+AVX2", "pilotTiming": "0|0|0|0|0|0", "pilotLog": "- Log from pilotlog.txt -\n2026-11-21 21:34:02,918 | WARNING  | making sure that job.state is set to failed since a pilot error code is set\n...", "endTime": 1795297339.1045613, "pilotErrorCode": 1305, "pilotErrorDiag": "Failed to execute payload", "transExitCode": 1, "exeErrorCode": 0, "exeErrorDiag": ""}`
)

const observedXML = `{"pandastub.40000001._000001.log.tgz": {"guid": "7256910f-f363-44fe-a672-91fe2e0c7680", "fsize": 9527, "adler32": "39127286", "surl": "file://localhost<run>/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz", "endpoint": "PANDASTUB_LOCALDISK"}}`

func observedReports() (starting, finished, failed *UpdateReport) {
	empty := ""
	starting = &UpdateReport{JobID: 4000000001, State: "starting", Timestamp: "2026-11-21T21:42:17+00:00", SiteName: "PANDASTUB",
		Node: "vm", AttemptNr: 1, SchedulerID: "unknown", PilotID: "unknown|PR|3.11.5.1", StartTime: 1795297337.0192606,
		MetaData: &empty, CoreCount: 1, CPUConsumptionUnit: "s+Intel(R) Xeon(R) 2-Core Processor 107520 KB 1-Socket+AVX2"}
	logFile := FileSpec{Kind: Log, LFN: "pandastub.40000001._000001.log.tgz", GUID: "7256910f-f363-44fe-a672-91fe2e0c7680", Size: 9527,
		Checksum: Checksum{Adler32, "39127286"}, DDMEndpoint: "PANDASTUB_LOCALDISK", Status: StatusTransferred,
		SURL: "file://localhost<run>/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz"}
	f := *starting
	f.State, f.Timestamp, f.MetaData = "finished", "2026-11-21T21:42:19+00:00", nil
	f.XML = BuildOutputReport([]FileSpec{logFile}).JSON()
	f.MeanCoreCount, f.PilotTiming, f.EndTime, f.Final = 1.0, "0|0|1|0|0|0", 1795297339.1045613, true
	finished = &f
	x := f
	x.State, x.MeanCoreCount, x.PilotTiming = "failed", 0, "0|0|0|0|0|0"
	x.PilotLog = "- Log from pilotlog.txt -\n2026-11-21 21:34:02,918 | WARNING  | making sure that job.state is set to failed since a pilot error code is set\n..."
	x.PilotErrorCode, x.PilotErrorDiag, x.TransExitCode = 1305, "Failed to execute payload", 1
	failed = &x
	return
}

// jsonKind classifies a raw JSON value: string, int (number without fraction/exponent),
// float, bool, null, object, array.
func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	switch t[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	if bytes.ContainsAny(t, ".eE") {
		return "float"
	}
	return "int"
}

func TestLegacyMatchesObserved(t *testing.T) {
	starting, finished, failed := observedReports()
	for _, tc := range []struct {
		name     string
		r        *UpdateReport
		observed string
	}{{"starting", starting, observedStarting}, {"finished", finished, observedFinished}, {"failed", failed, observedFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.observed), &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(tc.r.LegacyJSON(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sortedKeys(got), sortedKeys(want)) {
				t.Fatalf("key set\n got %v\nwant %v", sortedKeys(got), sortedKeys(want))
			}
			for k, w := range want {
				if jsonKind(got[k]) != jsonKind(w) {
					t.Errorf("%s: JSON type %s, observed %s", k, jsonKind(got[k]), jsonKind(w))
				}
				var gv, wv any
				_ = json.Unmarshal(got[k], &gv)
				_ = json.Unmarshal(w, &wv)
				if k == "xml" {
					// Same report, different white space.
					gr, err1 := ParseOutputReport(gv.(string))
					wr, err2 := ParseOutputReport(wv.(string))
					if err1 != nil || err2 != nil || !reflect.DeepEqual(gr, wr) {
						t.Errorf("xml: %v / %v\n%v\n%v", err1, err2, gr, wr)
					}
					continue
				}
				if !reflect.DeepEqual(gv, wv) {
					t.Errorf("%s = %#v, observed %#v", k, gv, wv)
				}
			}
			// The typed map agrees with the JSON encoding.
			m := tc.r.Legacy()
			if _, ok := m["jobId"].(string); !ok {
				t.Error("jobId is not a string")
			}
			if _, ok := m["attemptNr"].(int); !ok {
				t.Error("attemptNr is not an int")
			}
			if _, ok := m["startTime"].(float64); !ok {
				t.Error("startTime is not a float64")
			}
		})
	}
}

func TestLegacyFormPython(t *testing.T) {
	_, finished, _ := observedReports()
	f := finished.LegacyForm()
	want := map[string]string{"jobId": "4000000001", "attemptNr": "1", "startTime": "1795297337.0192606", "meanCoreCount": "1.0",
		"endTime": "1795297339.1045613", "pilotErrorCode": "0", "coreCount": "1", "pilotLog": ""}
	for k, v := range want {
		if got, ok := f[k]; !ok || got[0] != v {
			t.Errorf("form %s = %v, want %q", k, got, v)
		}
	}
	if (&UpdateReport{}).LegacyForm().Get("jobId") != "NULL" {
		t.Error("JobID 0 is not sent as NULL")
	}
}

func TestPyStr(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "None"}, {true, "True"}, {false, "False"}, {"s", "s"}, {3, "3"}, {int64(-4), "-4"},
		{2000.0, "2000.0"}, {24105.55, "24105.55"}, {1795297337.0192606, "1795297337.0192606"}, {0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {0.0001, "0.0001"},
		{0.00001, "1e-05"}, {1.5e-7, "1.5e-07"}, {-2.5, "-2.5"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {math.NaN(), "nan"}, {[]int{1}, "[1]"},
	}
	for _, tc := range tests {
		if got := PyStr(tc.in); got != tc.want {
			t.Errorf("PyStr(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// fullReport sets every field to a value that survives both encodings.
func fullReport() *UpdateReport {
	md := `{"exitCode": 0}`
	return &UpdateReport{JobID: 3487584273, State: "finished", Timestamp: "2024-05-01T12:34:56+02:00", SiteName: "CERN",
		Node: "slot1@wn123", AttemptNr: 2, SchedulerID: "harvester-CERN", PilotID: "https://x/1.out|Condor|PR|3.11.5.1670",
		BatchID: "schedd#12345.6#1714567890", StartTime: 1714560000, EndTime: 1714567890, XML: observedXML, MetaData: &md,
		Stdout: "tail of log", CoreCount: 8, MeanCoreCount: 8, NEvents: 50, CPUConsumptionTime: 28000,
		CPUConsumptionUnit: "s+AMD EPYC 7B12+AVX2", CPUConversionFactor: 1.0, CPUArchitectureLevel: "x86-64-v3",
		MaxRSS: 1, MaxVMEM: 2, MaxSWAP: 3, MaxPSS: 4, AvgRSS: 5, AvgVMEM: 6, AvgSWAP: 7, AvgPSS: 8,
		JobMetrics: "coreCount=8 nEvents=50", Final: true, PilotTiming: "3|120|3400|90|25|60", PilotLog: "log",
		PilotErrorCode: -1137, PilotErrorDiag: "diag", TransExitCode: 65, ExeErrorCode: 66, ExeErrorDiag: "exe",
		Extra: map[string]string{"totRCHAR": "123", "rateWBYTES": "1.5", "source_site": "SRC"}}
}

func firstValues(v url.Values) map[string]string {
	m := map[string]string{}
	for k, l := range v {
		m[k] = l[0]
	}
	return m
}

func TestReportRoundTrips(t *testing.T) {
	starting, finished, failed := observedReports()
	full := fullReport()
	for _, r := range []*UpdateReport{starting, finished, failed, full, {JobID: 7, State: "running"}} {
		back, err := ParseLegacyUpdate(firstValues(r.LegacyForm()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("form round trip\n got %+v\nwant %+v", back, r)
		}
		fields, err := FieldsFromJSON(r.LegacyJSON())
		if err != nil {
			t.Fatal(err)
		}
		back, err = ParseLegacyUpdate(fields)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("JSON round trip\n got %+v\nwant %+v", back, r)
		}
	}
	// V1: timestamp is not sent; times have 1-s resolution; mean core count is an integer.
	for _, r := range []*UpdateReport{full, {JobID: 7, State: "running", AttemptNr: 1}} {
		b, err := json.Marshal(r.V1())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		back, err := ParseV1Update(m)
		if err != nil {
			t.Fatal(err)
		}
		want := *r
		want.Timestamp = ""
		if !reflect.DeepEqual(back, &want) {
			t.Errorf("v1 round trip\n got %+v\nwant %+v", back, &want)
		}
	}
}

func TestV1Types(t *testing.T) {
	r := fullReport()
	r.MeanCoreCount = 7.6
	r.StartTime = 1714560000.9
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(mustJSON(t, r.V1()), &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"job_id": "int", "job_status": "string", "attempt_nr": "int", "mean_core_count": "int",
		"core_count": "int", "n_events": "int", "cpu_consumption_time": "int",
		"start_time": "string", "end_time": "string", "pilot_error_code": "int", "trans_exit_code": "int", "max_rss": "int",
		"tot_rchar": "int", "rate_wbytes": "float", "source_site": "string", "job_output_report": "string", "meta_data": "string"}
	for k, kind := range want {
		if v, ok := raw[k]; !ok || jsonKind(v) != kind {
			t.Errorf("%s: %s, want %s", k, v, kind)
		}
	}
	if _, ok := raw["timestamp"]; ok {
		t.Error("v1 report has a timestamp")
	}
	if string(raw["mean_core_count"]) != "8" || string(raw["start_time"]) != `"2024-05-01 10:40:00"` || string(raw["end_time"]) != `"2024-05-01 12:51:30"` {
		t.Errorf("mean_core_count %s start_time %s end_time %s", raw["mean_core_count"], raw["start_time"], raw["end_time"])
	}
	for k := range raw {
		if strings.ToLower(k) != k {
			t.Errorf("v1 key %q is not snake_case", k)
		}
	}
	// Non-final reports omit the final fields in both schemes.
	nr := &UpdateReport{JobID: 1, State: "running", CPUConsumptionTime: 2e9}
	for _, m := range []map[string]any{nr.Legacy(), nr.V1()} {
		for _, k := range []string{"pilotErrorCode", "pilot_error_code", "pilotTiming", "endTime", "cpuConsumptionTime", "cpu_consumption_time"} {
			if _, ok := m[k]; ok {
				t.Errorf("non-final report has %s", k)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLegacyToV1Name(t *testing.T) {
	tests := map[string]string{"jobId": "job_id", "state": "job_status", "xml": "job_output_report", "metaData": "meta_data",
		"siteName": "site_name", "attemptNr": "attempt_nr", "startTime": "start_time", "meanCoreCount": "mean_core_count",
		"cpu_architecture_level": "cpu_architecture_level", "maxRSS": "max_rss", "avgPSS": "avg_pss", "rateWBYTES": "rate_wbytes",
		"pilotErrorDiag": "pilot_error_diag", "source_site": "source_site"}
	for legacy, v1 := range tests {
		if got, ok := LegacyToV1Name(legacy); !ok || got != v1 {
			t.Errorf("LegacyToV1Name(%q) = %q, %v", legacy, got, ok)
		}
		if back, ok := V1ToLegacyName(v1); !ok || back != legacy {
			t.Errorf("V1ToLegacyName(%q) = %q, %v", v1, back, ok)
		}
	}
	for _, k := range []string{"timestamp", "jobStatus", ""} {
		if _, ok := LegacyToV1Name(k); ok {
			t.Errorf("LegacyToV1Name(%q) mapped", k)
		}
	}
	// Every key Legacy() can produce has a v1 name except timestamp.
	for k := range fullReport().Legacy() {
		if _, ok := LegacyToV1Name(k); !ok && k != "timestamp" {
			t.Errorf("legacy key %q has no v1 name", k)
		}
	}
}

func TestParseLegacyUpdateDecisions(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		code   ErrorCode
		field  string
		check  func(t *testing.T, r *UpdateReport)
	}{
		{"jobId NULL", map[string]string{"jobId": "NULL", "state": "running"}, 0, "", func(t *testing.T, r *UpdateReport) {
			if r.JobID != 0 || r.Final || r.MetaData != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"python form values", map[string]string{"jobId": "5", "state": "failed", "startTime": "1795297337.0192606", "meanCoreCount": "1.0",
			"avgRSS": "123.6", "cpuConsumptionTime": "None", "coreCount": "", "metaData": "", "unknownKey": "x", "totRCHAR": "9"}, 0, "",
			func(t *testing.T, r *UpdateReport) {
				if r.StartTime != 1795297337.0192606 || r.MeanCoreCount != 1 || r.AvgRSS != 124 || r.CPUConsumptionTime != 0 ||
					r.MetaData == nil || !r.Final || r.Extra["unknownKey"] != "x" || r.Extra["totRCHAR"] != "9" {
					t.Errorf("%+v", r)
				}
			}},
		{"datetime times", map[string]string{"jobId": "5", "startTime": "2024-05-01 10:40:00", "endTime": "2024-05-01T12:51:30Z"}, 0, "",
			func(t *testing.T, r *UpdateReport) {
				if r.StartTime != 1714560000 || r.EndTime != 1714567890 || !r.Final {
					t.Errorf("%+v", r)
				}
			}},
		{"missing jobId", map[string]string{"state": "running"}, ConversionFailure, "jobId", nil},
		{"bad jobId", map[string]string{"jobId": "abc"}, ConversionFailure, "jobId", nil},
		{"negative jobId", map[string]string{"jobId": "-3"}, ConversionFailure, "jobId", nil},
		{"bad attemptNr", map[string]string{"jobId": "1", "attemptNr": "x"}, ConversionFailure, "attemptNr", nil},
		{"bad startTime", map[string]string{"jobId": "1", "startTime": "2024-13-45 99:00:00"}, ConversionFailure, "startTime", nil},
		{"NaN", map[string]string{"jobId": "1", "meanCoreCount": "NaN"}, ConversionFailure, "meanCoreCount", nil},
		{"huge", map[string]string{"jobId": "1", "maxRSS": "1e300"}, ConversionFailure, "maxRSS", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseLegacyUpdate(tc.fields)
			if tc.code != 0 {
				if CodeOf(err) != tc.code || !strings.Contains(err.Error(), `"`+tc.field+`"`) {
					t.Fatalf("err = %v, want code %d naming %q", err, tc.code, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
	r, err := ParseV1Update(map[string]any{"job_id": "NULL", "job_status": "starting", "mean_core_count": 3.0, "tot_wchar": 5.0, "junk": 1.0})
	if err != nil || r.JobID != 0 || r.MeanCoreCount != 3 || r.Extra["totWCHAR"] != "5" || len(r.Extra) != 1 {
		t.Errorf("ParseV1Update = %+v, %v", r, err)
	}
	if _, err := ParseV1Update(map[string]any{"job_status": "x"}); CodeOf(err) != ConversionFailure {
		t.Errorf("missing job_id: %v", err)
	}
	if _, err := ParseV1Update(map[string]any{"job_id": 1.0, "attempt_nr": []any{}}); CodeOf(err) != ConversionFailure {
		t.Errorf("list attempt_nr: %v", err)
	}
	for s, want := range map[string]bool{"starting": true, "running": true, "holding": true, "transferring": true, "finished": true,
		"failed": true, "sent": false, "": false} {
		if ValidState(s) != want {
			t.Errorf("ValidState(%q) != %v", s, want)
		}
	}
}

func TestOutputReport(t *testing.T) {
	files := []FileSpec{
		{Kind: Output, LFN: "a.root", GUID: "ga", Size: 10, Checksum: Checksum{Adler32, "0000000a"}, SURL: "root://h/a", DDMEndpoint: "RSE", Status: StatusTransferred},
		{Kind: Output, LFN: "b.root", GUID: "gb", Size: 20, Checksum: Checksum{MD5, "d41d8cd98f00b204e9800998ecf8427e"}, SURL: "davs://h/b", DDMEndpoint: "RSE2", Status: StatusTransferred},
		{Kind: Output, LFN: "c.root", Status: StatusFailed},
		{Kind: Log, LFN: "l.tgz", Status: StatusNone},
	}
	r := BuildOutputReport(files)
	want := OutputReport{
		"a.root": {GUID: "ga", FSize: 10, Adler32: "0000000a", SURL: "root://h/a", Endpoint: "RSE"},
		"b.root": {GUID: "gb", FSize: 20, MD5Sum: "d41d8cd98f00b204e9800998ecf8427e", SURL: "davs://h/b", Endpoint: "RSE2"},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("BuildOutputReport = %+v", r)
	}
	js := r.JSON()
	if js != `{"a.root":{"guid":"ga","fsize":10,"adler32":"0000000a","surl":"root://h/a","endpoint":"RSE"},"b.root":{"guid":"gb","fsize":20,"md5sum":"d41d8cd98f00b204e9800998ecf8427e","surl":"davs://h/b","endpoint":"RSE2"}}` {
		t.Errorf("JSON() = %s", js)
	}
	back, err := ParseOutputReport(js)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if (OutputReport{}).JSON() != "{}" {
		t.Error("empty report JSON")
	}
	obs, err := ParseOutputReport(observedXML)
	if err != nil || obs["pandastub.40000001._000001.log.tgz"].FSize != 9527 || obs["pandastub.40000001._000001.log.tgz"].Adler32 != "39127286" {
		t.Errorf("observed xml: %v %+v", err, obs)
	}
	good := []struct {
		in   string
		want OutputReport
	}{
		{"", OutputReport{}},
		{"{}", OutputReport{}},
		{`{"f": {"fsize": "12", "adler32": "ABC", "full_lfn": "/x/f"}}`, OutputReport{"f": {FSize: 12, Adler32: "00000abc"}}},
	}
	for _, tc := range good {
		got, err := ParseOutputReport(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOutputReport(%q) = %+v, %v", tc.in, got, err)
		}
	}
	bad := map[string]string{
		"not JSON":        `<xml/>`,
		"list":            `[]`,
		"no fsize":        `{"f": {"adler32": "00000001"}}`,
		"null fsize":      `{"f": {"fsize": null, "adler32": "00000001"}}`,
		"negative fsize":  `{"f": {"fsize": -1, "adler32": "00000001"}}`,
		"huge fsize":      `{"f": {"fsize": 1e300, "adler32": "00000001"}}`,
		"no checksum":     `{"f": {"fsize": 1}}`,
		"bad adler":       `{"f": {"fsize": 1, "adler32": "xyz"}}`,
		"bad md5":         `{"f": {"fsize": 1, "md5sum": "abc"}}`,
		"path lfn":        `{"../f": {"fsize": 1, "adler32": "00000001"}}`,
		"entry not obj":   `{"f": 1}`,
		"guid not string": `{"f": {"fsize": 1, "adler32": "00000001", "guid": {}}}`,
	}
	for name, in := range bad {
		if _, err := ParseOutputReport(in); CodeOf(err) != BadXML {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestReportKeysSorted(t *testing.T) {
	// LegacyJSON writes sorted keys (deterministic bodies).
	b := fullReport().LegacyJSON()
	var keys []string
	d := json.NewDecoder(bytes.NewReader(b))
	_, _ = d.Token()
	for d.More() {
		k, _ := d.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		_ = d.Decode(&skip)
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("keys not sorted: %v", keys)
	}
}
