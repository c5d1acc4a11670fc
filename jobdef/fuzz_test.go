package jobdef

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func addSamples(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := readFileForFuzz(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func readFileForFuzz(name string) ([]byte, error) {
	if name == "yoda" {
		b, err := readFileForFuzz("harvester_jobspecfile_yoda_docstring.txt")
		return []byte(rejoinYoda(string(b))), err
	}
	return readTestdataNoT(name)
}

var jobSamples = []string{"getjob_response_urlencoded_aCT.txt", "getjob_job_json_harvester_arc_submitter.json", "yoda"}

// checkJobInvariants: a decoded job validates and re-decodes from its Fields to the same job.
func checkJobInvariants(t *testing.T, j *Job) {
	if err := j.Validate(); err != nil {
		t.Fatalf("decoded job does not validate: %v", err)
	}
	again, err := JobFromFields(j.Fields())
	if err != nil {
		t.Fatalf("Fields() does not decode: %v", err)
	}
	if !reflect.DeepEqual(again, j) {
		t.Fatalf("Fields() decodes to a different job:\n%+v\n%+v", again, j)
	}
}

func FuzzParseGetJobResponse(f *testing.F) {
	addSamples(f, jobSamples...)
	for _, s := range []string{observedAnswer, "StatusCode=20", "Succeeded", `{"success": false, "message": "No jobs in PanDA"}`,
		`{"success": true, "data": {"StatusCode": 0, "jobs": [{"PandaID": 1}]}}`, `{"StatusCode": 0, "jobs": "[{\"PandaID\": 2}]"}`,
		"PandaID=3&jobPars=--overwriteQueueData%3D%7B%27a%27%3A+1%7D+x&outFiles=a,l&logFile=l&scopeOut=s"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseGetJobResponse(body)
		if err != nil {
			if _, ok := err.(*PilotError); !ok {
				t.Fatalf("error is %T, not *PilotError", err)
			}
			return
		}
		for _, j := range r.Jobs {
			checkJobInvariants(t, j)
		}
	})
}

func FuzzParseJobFile(f *testing.F) {
	addSamples(f, jobSamples...)
	f.Add([]byte(`{"7": {"jobPars": "x"}, "3": {"PandaID": 3}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ParseJobFile(data)
		if err != nil {
			if _, ok := err.(*PilotError); !ok {
				t.Fatalf("error is %T, not *PilotError", err)
			}
			return
		}
		checkJobInvariants(t, j)
	})
}

func FuzzParseQueueData(f *testing.F) {
	b, _ := readTestdataNoT("queuedata_CERN_pilot3_commit_f0f358fa.json")
	f.Add(b, "CERN")
	f.Add([]byte(`{"Q": {"nickname": "Q", "timefloor": "1.5", "acopytools_schemas": {"pr": {"a": ["x"]}}}}`), "")
	f.Add([]byte(`{"nickname": "Q", "catchall": "a='b c',d=1", "params": {"p": "20%"}, "container_type": "x:pilot"}`), "Q")
	f.Fuzz(func(t *testing.T, data []byte, queue string) {
		q, err := ParseQueueData(data, queue)
		if err != nil {
			if _, ok := err.(*PilotError); !ok {
				t.Fatalf("error is %T, not *PilotError", err)
			}
			return
		}
		if q.Name == "" || q.CoreCount < 1 || q.Timefloor < 0 || q.MaxTime < 0 || (queue != "" && q.Name != queue) {
			t.Fatalf("invariants broken: %+v", q)
		}
		_ = q.CopytoolsFor("pw", "write_lan")
		_ = q.StoragesFor("pr")
		_ = q.CatchallHas("curlgetjob")
		_ = q.ParamPercent("pilot_rss_grace", 100)
		_ = q.ParamBool("job_maxwalltime")
		nq := q.Apply(map[string]any{"timefloor": int64(0)})
		if nq == nil || nq.Timefloor != 0 {
			t.Fatalf("Apply(timefloor 0) = %+v", nq)
		}
	})
}

func FuzzParseStorageData(f *testing.F) {
	f.Add([]byte(storageJSON))
	f.Add([]byte(`{"A": {"id": "1", "is_deterministic": "True", "arprotocols": {"w": [{"endpoint": "file://", "path": "/"}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := ParseStorageData(data)
		if err != nil {
			if _, ok := err.(*PilotError); !ok {
				t.Fatalf("error is %T, not *PilotError", err)
			}
			return
		}
		for _, e := range sd {
			for act := range e.ARProtocols {
				if u, err := e.SURL(act, "scope.x", "file.root"); err == nil && !strings.HasSuffix(u, "/scope/x/"+RucioPath("scope.x", "file.root")[8:]) {
					t.Fatalf("SURL %q does not end with the Rucio path", u)
				}
			}
		}
	})
}

func FuzzParseChecksum(f *testing.F) {
	for _, s := range []string{"ad:0a1b2c3d", "md5:d41d8cd98f00b204e9800998ecf8427e", "md:D41D8CD98F00B204E9800998ECF8427E", "1234abcd", "ad:1", "x:y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChecksum(s)
		if err != nil {
			if CodeOf(err) != UnknownChecksumType {
				t.Fatalf("code %d", CodeOf(err))
			}
			return
		}
		if (c.Type == Adler32 && len(c.Value) != 8) || (c.Type == MD5 && len(c.Value) != 32) || strings.ToLower(c.Value) != c.Value || !isHex(c.Value) {
			t.Fatalf("bad checksum %+v from %q", c, s)
		}
		again, err := ParseChecksum(c.String())
		if err != nil || again != c {
			t.Fatalf("String() round trip: %+v %v", again, err)
		}
	})
}

func FuzzParsePythonLiteral(f *testing.F) {
	for _, s := range []string{`{'a': [1, 2.5, None, True], "b": ('x',)}`, `'\x41\u00e9\n'`, `-1e-3`, `[[[[]]]]`, `u'a' 'b'`, `{'k': {'n': -0}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParsePythonLiteral(s)
		if err != nil {
			if CodeOf(err) != ConversionFailure {
				t.Fatalf("code %d", CodeOf(err))
			}
			return
		}
		// Whatever parses is plain data that JSON can encode (after int conversion).
		if _, err := json.Marshal(jsonLike(v)); err != nil && !strings.Contains(err.Error(), "unsupported value") {
			t.Fatalf("parsed value not encodable: %v", err)
		}
	})
}

func FuzzParseOutputReport(f *testing.F) {
	f.Add(observedXML)
	f.Add(`{"a": {"fsize": "1", "md5sum": "D41D8CD98F00B204E9800998ECF8427E", "guid": "g"}}`)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseOutputReport(s)
		if err != nil {
			if CodeOf(err) != BadXML {
				t.Fatalf("code %d: %v", CodeOf(err), err)
			}
			return
		}
		back, err := ParseOutputReport(r.JSON())
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("JSON() round trip: %v\n%+v\n%+v", err, back, r)
		}
	})
}

func FuzzParseLegacyUpdate(f *testing.F) {
	starting, finished, failed := observedReports()
	for _, r := range []*UpdateReport{starting, finished, failed, fullReport()} {
		f.Add(r.LegacyForm().Encode())
	}
	f.Add("jobId=NULL&state=running&startTime=2024-05-01+10%3A40%3A00")
	f.Fuzz(func(t *testing.T, form string) {
		fields, err := parseForm(form)
		if err != nil {
			return
		}
		r, err := ParseLegacyUpdate(fields)
		if err != nil {
			if CodeOf(err) != ConversionFailure {
				t.Fatalf("code %d: %v", CodeOf(err), err)
			}
			return
		}
		_ = r.Legacy()
		_ = r.V1()
		if _, err := json.Marshal(r.V1()); err != nil {
			t.Fatalf("V1 not encodable: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(r.LegacyJSON(), &m); err != nil {
			t.Fatalf("LegacyJSON invalid: %v", err)
		}
	})
}

func FuzzParseV1Update(f *testing.F) {
	f.Add(mustJSONF(fullReport().V1()))
	f.Add([]byte(`{"job_id": "NULL", "job_status": "starting", "start_time": "2024-05-01 10:40:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if d.Decode(&m) != nil || m == nil {
			return
		}
		r, err := ParseV1Update(m)
		if err != nil {
			if CodeOf(err) != ConversionFailure {
				t.Fatalf("code %d: %v", CodeOf(err), err)
			}
			return
		}
		if _, err := json.Marshal(r.V1()); err != nil {
			t.Fatalf("V1 not encodable: %v", err)
		}
	})
}

func FuzzParseJobReport(f *testing.F) {
	addSamples(f, "jobreport_successful_pilot3_test.json", "jobreport_failed_pilot3_test.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseJobReport(data)
		if err != nil {
			if CodeOf(err) != NoPayloadMetadata {
				t.Fatalf("code %d: %v", CodeOf(err), err)
			}
			return
		}
		_ = r.NEvents()
	})
}

func FuzzValidateLFN(f *testing.F) {
	for _, s := range []string{"a.root", "../x", "a/b", strings.Repeat("x", 256), "n\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateLFN(s) == nil && (strings.ContainsAny(s, "/\x00") || strings.Contains(s, "..") || len(s) > MaxLFNLength || s == "") {
			t.Fatalf("ValidateLFN accepted %q", s)
		}
	})
}

func mustJSONF(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
