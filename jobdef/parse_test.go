package jobdef

import (
	"encoding/json"
	"strings"
	"testing"
)

// observedAnswer is the urlencoded getJob answer of OBSERVED.md (legacy server, urllib path).
const observedAnswer = `StatusCode=0&PandaID=4000000001&jobsetID=1&taskID=40000001&jobDefinitionID=1&jobName=pandastub.40000001.000001&prodSourceLabel=managed&processingType=pandastub&transformation=http%3A%2F%2F127.0.0.1%3A38727%2Ftrf%2Fuser%2Fruncmd.sh&jobPars=sleep+2&homepackage=NULL&swRelease=NULL&cmtConfig=NULL&coreCount=1&minRamCount=0&maxDiskCount=0&maxCpuCount=0&maxWalltime=3600&resource_type=SCORE&attemptNr=1&currentPriority=1000&cloud=NULL&nucleus=NULL&destinationSE=NULL&sourceSite=NULL&transferType=NULL&prodUserID=pandastub&reqID=1&nSent=0&ioIntensity=None&ioIntensityUnit=None&inFiles=&GUID=&fsize=&checksum=&scopeIn=&realDatasetsIn=&prodDBlocks=&prodDBlockToken=&dispatchDblock=&dispatchDBlockToken=&ddmEndPointIn=&outFiles=pandastub.40000001._000001.log.tgz&logFile=pandastub.40000001._000001.log.tgz&logGUID=fc6efed6-40cb-4211-90af-8fc2eaed0958&scopeOut=&scopeLog=pandastub&realDatasets=pandastub.40000001.log%2F&destinationDblock=pandastub.40000001.log_sub0001&destinationDBlockToken=NULL&fileDestinationSE=PANDASTUB_LOCALDISK&dispatchDBlockTokenForOut=NULL&prodDBlockTokenForOutput=NULL&ddmEndPointOut=PANDASTUB_LOCALDISK`

func checkObservedJob(t *testing.T, j *Job) {
	t.Helper()
	if j.PandaID != 4000000001 || j.TaskID != 40000001 || j.AttemptNr != 1 || j.MaxWalltime != 3600 || j.CurrentPriority != 1000 ||
		j.JobPars != "sleep 2" || j.Transformation != "http://127.0.0.1:38727/trf/user/runcmd.sh" || j.ResourceType != "SCORE" ||
		j.HomePackage != "" || j.CmtConfig != "" || len(j.Inputs) != 0 || len(j.Outputs) != 0 ||
		j.Log.LFN != "pandastub.40000001._000001.log.tgz" || j.Log.Scope != "pandastub" || j.Log.DDMEndpoint != "PANDASTUB_LOCALDISK" ||
		j.Log.GUID != "fc6efed6-40cb-4211-90af-8fc2eaed0958" || j.Log.Dataset != "pandastub.40000001.log/" {
		t.Errorf("observed job decoded as %+v", j)
	}
}

func TestParseGetJobResponseForms(t *testing.T) {
	stub, err := ParseGetJobResponse([]byte(observedAnswer))
	if err != nil {
		t.Fatal(err)
	}
	checkObservedJob(t, stub.Jobs[0])
	if _, ok := stub.Jobs[0].Raw["inFiles"]; !ok {
		t.Error("empty urlencoded values are not kept")
	}
	stubJSON, _ := json.Marshal(stub.Jobs[0].Raw)

	jsonJob := `{"StatusCode": 0, "PandaID": 4000000002, "jobsetID": 1, "taskID": 40000001, "attemptNr": 1, "coreCount": 2,
		"ioIntensity": null, "debug": true, "jobPars": "sleep 1", "transformation": "runcmd.sh", "maxWalltime": null,
		"outFiles": "l.tgz", "logFile": "l.tgz", "scopeLog": "s", "scopeOut": ""}`
	tests := []struct {
		name   string
		body   string
		status int
		dialog string
		njobs  int
		code   ErrorCode
		check  func(t *testing.T, r *GetJobResponse)
	}{
		{"observed urlencoded", observedAnswer, 0, "", 1, 0, nil},
		{"no jobs urlencoded", "StatusCode=20", 20, "", 0, 0, nil},
		{"no jobs JSON", `{"StatusCode": 20, "errorDialog": "no jobs in PanDA"}`, 20, "no jobs in PanDA", 0, 0, nil},
		{"status as string", `{"StatusCode": "60", "errorDialog": "no production/pilot role in VOMS FQANs or non pilot owner"}`, 60,
			"no production/pilot role in VOMS FQANs or non pilot owner", 0, 0, nil},
		{"Succeeded", "Succeeded\n", 0, "", 0, 0, nil},
		{"legacy JSON native types", jsonJob, 0, "", 1, 0, func(t *testing.T, r *GetJobResponse) {
			j := r.Jobs[0]
			if j.PandaID != 4000000002 || j.CoreCount != 2 || !j.Debug || j.Raw["ioIntensity"] != "None" || j.Raw["debug"] != "True" ||
				j.Raw["coreCount"] != "2" || j.MaxWalltime != 0 {
				t.Errorf("job %+v raw %v", j, j.Raw)
			}
		}},
		{"legacy JSON from the observed fields", string(stubJSON), 0, "", 1, 0, func(t *testing.T, r *GetJobResponse) {
			checkObservedJob(t, r.Jobs[0])
		}},
		{"jobs list", `{"StatusCode": 0, "jobs": [` + jsonJob + `, ` + strings.Replace(jsonJob, "4000000002", "4000000003", 1) + `]}`, 0, "", 2, 0,
			func(t *testing.T, r *GetJobResponse) {
				if r.Jobs[1].PandaID != 4000000003 {
					t.Errorf("second job %d", r.Jobs[1].PandaID)
				}
			}},
		{"jobs as JSON string", `{"StatusCode": 0, "jobs": ` + strconvQuote(`[`+jsonJob+`]`) + `}`, 0, "", 1, 0, nil},
		{"jobs in urlencoded", "StatusCode=0&jobs=" + urlEscape(`[`+jsonJob+`]`), 0, "", 1, 0, nil},
		{"v1 jobs", `{"success": true, "message": "", "data": {"StatusCode": 0, "jobs": [` + jsonJob + `]}}`, 0, "", 1, 0, nil},
		{"v1 no jobs", `{"success": false, "message": "No jobs in PanDA", "data": null}`, 20, "No jobs in PanDA", 0, 0, nil},
		{"v1 empty jobs", `{"success": true, "message": "", "data": {"StatusCode": 0, "jobs": []}}`, 20, "", 0, 0, nil},
		{"v1 timeout", `{"success": true, "message": "", "data": {"StatusCode": 10, "errorDialog": "database timeout"}}`, 10, "database timeout", 0, 0, nil},
		{"v1 refused", `{"success": false, "message": "Argument error: bad", "data": null}`, 0, "", 0, CommunicationFailure, nil},
		{"v1 success not bool", `{"success": "yes"}`, 0, "", 0, CommunicationFailure, nil},
		{"forbidden text", "ERROR : method getJob is forbidden", 0, "", 0, CommunicationFailure, nil},
		{"empty", "  \n", 0, "", 0, CommunicationFailure, nil},
		{"bad JSON", `{"StatusCode": 0,`, 0, "", 0, CommunicationFailure, nil},
		{"JSON without status or job", `{"foo": 1}`, 0, "", 0, CommunicationFailure, nil},
		{"bad status", "StatusCode=abc", 0, "", 0, CommunicationFailure, nil},
		{"bad escape", "StatusCode=0&PandaID=%zz", 0, "", 0, CommunicationFailure, nil},
		{"invalid job", `{"StatusCode": 0, "PandaID": 1, "inFiles": "a,b", "GUID": "g"}`, 0, "", 0, NotSameLength, nil},
		{"non-UTF-8 body", "StatusCode=0&PandaID=1&jobName=\xff", 0, "", 0, CommunicationFailure, nil},
		{"non-UTF-8 escaped", "StatusCode=0&PandaID=1&jobName=%ff", 0, "", 0, CommunicationFailure, nil},
		{"jobs not a list", `{"StatusCode": 0, "jobs": {"a": 1}}`, 0, "", 0, CommunicationFailure, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseGetJobResponse([]byte(tc.body))
			if tc.code != 0 {
				if CodeOf(err) != tc.code {
					t.Fatalf("err = %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != tc.status || r.ErrorDialog != tc.dialog || len(r.Jobs) != tc.njobs {
				t.Errorf("got status %d dialog %q %d jobs", r.StatusCode, r.ErrorDialog, len(r.Jobs))
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	big := make([]byte, MaxBodySize+1)
	if _, err := ParseGetJobResponse(big); CodeOf(err) != CommunicationFailure || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("oversized body: %v", err)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func urlEscape(s string) string { return EncodeURLEncoded(map[string]string{"x": s})[2:] }

func TestParseJobFile(t *testing.T) {
	job := func(id string) string {
		return `{"PandaID": ` + id + `, "outFiles": "l.tgz", "logFile": "l.tgz", "scopeLog": "s", "jobPars": "x"}`
	}
	tests := []struct {
		name string
		data string
		id   int64
		code ErrorCode
	}{
		{"harvester", `{"12": ` + job("12") + `}`, 12, 0},
		{"harvester smallest key first", `{"30": ` + job("30") + `, "4": ` + job("4") + `, "100": ` + job("100") + `}`, 4, 0},
		{"harvester PandaID from key", `{"77": {"jobPars": "x"}}`, 77, 0},
		{"harvester PandaID mismatch", `{"77": ` + job("78") + `}`, 0, ConversionFailure},
		{"plain object", job("9"), 9, 0},
		{"getJob JSON answer", `{"StatusCode": 0, "jobs": [` + job("10") + `]}`, 10, 0},
		{"v1 answer", `{"success": true, "data": {"StatusCode": 0, "jobs": [` + job("11") + `]}}`, 11, 0},
		{"urlencoded line", "PandaID=13&jobPars=x\n", 13, 0},
		{"no job answer", "StatusCode=20", 0, ConversionFailure},
		{"empty", "\n", 0, ConversionFailure},
		{"non-UTF-8", "PandaID=13&jobName=\xc3\x28", 0, ConversionFailure},
		{"not a job", "hello", 0, ConversionFailure},
		{"harvester non-object", `{"12": 5}`, 0, ConversionFailure},
		{"bad json", `{"12": {`, 0, ConversionFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := ParseJobFile([]byte(tc.data))
			if tc.code != 0 {
				if CodeOf(err) != tc.code {
					t.Fatalf("err = %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.PandaID != tc.id {
				t.Errorf("PandaID = %d, want %d", j.PandaID, tc.id)
			}
		})
	}
	if _, err := ParseJobFile(make([]byte, MaxBodySize+1)); err == nil {
		t.Error("oversized job file accepted")
	}
}

func TestEncodeURLEncoded(t *testing.T) {
	got := EncodeURLEncoded(map[string]string{"b": "x y", "a": "", "c": "1/2&3"})
	if got != "a=&b=x+y&c=1%2F2%263" {
		t.Errorf("EncodeURLEncoded = %q", got)
	}
}
