package pandalite

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"testing"
)

func FuzzDecodeLegacy(f *testing.F) {
	for _, s := range []string{
		`{"siteName": "PANDASTUB", "diskSpace": 20000, "cpu": 2000.0, "allowOtherCountry": false}`,
		`{"a": [1, {"b": null}], "c": 1e400}`,
		`siteName=PANDASTUB&workingGroup=&cpu=2000.0&allowOtherCountry=False`,
		`a=%zz&b=%E2%82&&=x`,
	} {
		f.Add("application/json", []byte(s), "")
		f.Add("application/x-www-form-urlencoded", []byte(s), "q=1")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		f.Add("application/json", buf.Bytes(), "")
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte, query string) {
		args, raw, err := DecodeLegacy(ct, body, query)
		if err != nil {
			return
		}
		if len(args) != len(raw) {
			t.Fatalf("%d args, %d raw fields", len(args), len(raw))
		}
		// Answers built from decoded values must encode both ways.
		_ = EncodeURLEncoded(raw)
		if _, err := ParseObject(EncodeJSON(raw)); err != nil {
			t.Fatalf("re-encoded JSON does not parse: %v", err)
		}
		_, _ = LegacyUpdate(raw)
	})
}

func FuzzDecodeV1(f *testing.F) {
	f.Add("POST", "application/json", "", []byte(`{"job_id": 1, "job_status": "running", "max_rss": 1.5}`), "")
	f.Add("GET", "", "", []byte(nil), "job_ids=1,2&timeout=5")
	f.Add("POST", "application/x-www-form-urlencoded", "gzip", []byte("site_name=X"), "")
	f.Fuzz(func(t *testing.T, method, ct, ce string, body []byte, query string) {
		o, err := DecodeV1(method, ct, ce, body, query)
		if err != nil {
			return
		}
		for _, m := range []v1Method{acquireJobsArgs, updateJobArgs, getJobStatusArgs, updateWorkerNodeArgs} {
			c := append(Object(nil), o...)
			if checkArgs(m, c, method == "GET") == "" {
				_ = V1Update(c)
			}
		}
	})
}

func FuzzParseJobs(f *testing.F) {
	f.Add([]byte(`[{"PandaID": 5, "jobName": "a"}]`))
	f.Add([]byte(`{"7": {"jobName": "a"}}`))
	f.Add([]byte(`StatusCode=0&PandaID=3&jobPars=a+b`))
	f.Add([]byte(`{"x": 1.0e3, "y": "\u00e9"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := ParseJobs(data)
		if err != nil {
			return
		}
		for _, j := range jobs {
			back, err := ParseObject(EncodeJSON(j))
			if err != nil {
				t.Fatalf("stored form does not parse: %v", err)
			}
			if !reflect.DeepEqual(back.Strings(), j.Strings()) {
				t.Fatalf("str() changed by storing:\n%v\n%v", j.Strings(), back.Strings())
			}
			_ = EncodeURLEncoded(j)
		}
	})
}
