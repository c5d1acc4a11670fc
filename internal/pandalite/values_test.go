package pandalite

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestPyStr(t *testing.T) {
	tests := []struct {
		json string // a JSON value
		want string // Python str() of json.loads(value)
	}{
		{`"abc"`, "abc"},
		{`null`, "None"},
		{`true`, "True"},
		{`false`, "False"},
		{`0`, "0"},
		{`-0`, "0"},
		{`4000000001`, "4000000001"},
		{`123456789012345678901234567890`, "123456789012345678901234567890"},
		{`2000.0`, "2000.0"},
		{`2000.00`, "2000.0"},
		{`24105.55`, "24105.55"},
		{`1795297337.0192606`, "1795297337.0192606"},
		{`1e5`, "100000.0"},
		{`1E16`, "1e+16"},
		{`0.0001`, "0.0001"},
		{`0.00001`, "1e-05"},
		{`-1.5`, "-1.5"},
		{`1e400`, "inf"},
		{`[1, "a", null, true]`, "[1, 'a', None, True]"},
		{`{"k": "it's", "n": [1.0]}`, `{'k': "it's", 'n': [1.0]}`},
		{`["a\nb\\"]`, `['a\nb\\']`},
	}
	for _, tc := range tests {
		v, err := parseValue([]byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if got := pyStr(v); got != tc.want {
			t.Errorf("pyStr(%s) = %q, want %q", tc.json, got, tc.want)
		}
	}
}

func TestEncodeJSONPythonStyle(t *testing.T) {
	o, err := ParseObject([]byte(`{"b":1,"a":[1.50,null,true],"c":{"x":"é\u2028😀/<>&"},"d":"q\"\\"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b": 1, "a": [1.5, null, true], "c": {"x": "\u00e9\u2028\ud83d\ude00/<>&"}, "d": "q\"\\"}`
	if got := string(EncodeJSON(o)); got != want {
		t.Fatalf("EncodeJSON\n got %s\nwant %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if back["c"].(map[string]any)["x"] != "é\u2028😀/<>&" {
		t.Fatalf("round trip %v", back)
	}
}

func TestObjectOrderAndDuplicates(t *testing.T) {
	o, err := ParseObject([]byte(`{"z": 1, "a": 2, "z": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, Object{{"z", json.Number("3")}, {"a", json.Number("2")}}) {
		t.Fatalf("%v", o)
	}
	for _, bad := range []string{`{"a": 1} x`, `{"a": }`, `"s"`, `{`, ``} {
		if _, err := ParseObject([]byte(bad)); err == nil {
			t.Errorf("ParseObject(%q) accepted", bad)
		}
	}
	deep := bytes.Repeat([]byte("["), 100)
	if _, err := parseValue(deep); err == nil {
		t.Errorf("deep nesting accepted")
	}
}

func TestEncodeURLEncoded(t *testing.T) {
	o := Object{{"StatusCode", 0}, {"s", "a b/c&d=é"}, {"n", nil}, {"t", true}, {"f", json.Number("2000.0")}, {"e", ""}, {"l", []any{"x"}}}
	want := "StatusCode=0&s=a+b%2Fc%26d%3D%C3%A9&n=None&t=True&f=2000.0&e=&l=%5B%27x%27%5D"
	if got := EncodeURLEncoded(o); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDecodeLegacy(t *testing.T) {
	gz := gzipBytes(t, []byte(`{"a": true, "b": 2000.0, "c": null, "d": "x", "e": [1]}`))
	tests := []struct {
		name, ct, query string
		body            []byte
		want            map[string]string
		err             bool
	}{
		{"gzip json", "application/json", "", gz, map[string]string{"a": "True", "b": "2000.0", "c": "None", "d": "x", "e": "[1]"}, false},
		{"plain json", "application/json", "q=1", []byte(`{"a": false}`), map[string]string{"a": "False"}, false},
		{"empty json", "application/json", "", nil, map[string]string{}, false},
		{"json not object", "application/json", "", []byte(`[1]`), nil, true},
		{"bad gzip", "application/json", "", []byte{0x1f, 0x8b, 0}, nil, true},
		{"form", "application/x-www-form-urlencoded", "q=1&a=0", []byte("a=b+c&a=d&e=%zz&f=%41&&g"), map[string]string{"q": "1", "a": "b c", "e": "%zz", "f": "A", "g": ""}, false},
		{"no content type", "", "", []byte("a=1"), map[string]string{"a": "1"}, false},
		{"other content type", "text/plain", "a=1", []byte("b=2"), map[string]string{"a": "1"}, false},
	}
	for _, tc := range tests {
		got, _, err := DecodeLegacy(tc.ct, tc.body, tc.query)
		if (err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckArgs(t *testing.T) {
	tests := []struct {
		body      string
		fromQuery bool
		want      string
	}{
		{`{"job_id": 1, "job_status": "running"}`, false, ""},
		{`{"job_id": 1, "job_status": "running", "timestamp": "x"}`, false, "Argument error: unexpected argument(s) 'timestamp'"},
		{`{"job_status": "running"}`, false, "Argument error: missing required argument(s) 'job_id'"},
		{`{"job_id": null, "job_status": "running"}`, false, "Argument error: missing required argument(s) 'job_id'"},
		{`{"job_id": 1.0, "job_status": "running"}`, false, "Type error: 'job_id' must be of type int, got float."},
		{`{"job_id": 1, "job_status": "running", "max_rss": 1.5, "cpu_conversion_factor": 1, "pilot_error_diag": null}`, false, ""},
		{`{"job_id": 1, "job_status": "running", "core_count": true}`, false, "Type error: 'core_count' must be of type int, got bool."},
		{`{"job_id": "1", "job_status": "running"}`, true, ""},
		{`{"job_id": "x", "job_status": "running"}`, true, "Type error: 'job_id' could not be casted to type int."},
	}
	for _, tc := range tests {
		o, err := ParseObject([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := checkArgs(updateJobArgs, o, tc.fromQuery); got != tc.want {
			t.Errorf("checkArgs(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestParseJobs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ids  []string // PandaID str() per job, "" when none
		err  bool
	}{
		{"single", `{"jobName": "a"}`, []string{""}, false},
		{"array", `[{"PandaID": 5}, {"jobName": "b"}]`, []string{"5", ""}, false},
		{"harvester", `{"7": {"jobName": "a"}, "8": {"PandaID": 9}}`, []string{"7", "9"}, false},
		{"urlencoded", "StatusCode=0&PandaID=3&jobPars=a+b&inFiles=", []string{"3"}, false},
		{"empty", ``, nil, true},
		{"empty array", `[]`, nil, true},
		{"array of non-objects", `[1]`, nil, true},
		{"garbage", `hello`, nil, true},
	}
	for _, tc := range tests {
		jobs, err := ParseJobs([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var ids []string
		for _, j := range jobs {
			ids = append(ids, fieldStr(j, "PandaID"))
			if _, ok := j.Get("StatusCode"); ok {
				t.Errorf("%s: StatusCode kept", tc.name)
			}
		}
		if !reflect.DeepEqual(ids, tc.ids) {
			t.Errorf("%s: ids %v, want %v", tc.name, ids, tc.ids)
		}
	}
}

func TestSubmitRules(t *testing.T) {
	s := openTestStore(t)
	ctx := testCtx(t)
	ids, err := s.Submit(ctx, "S", Object{{"jobName", "a"}}, Object{{"PandaID", 5}, {"computingSite", "C"}}, Object{{"siteName", "N"}, {"attemptNr", "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []int64{FirstPandaID, 5, FirstPandaID + 1}) {
		t.Fatalf("ids %v", ids)
	}
	j := mustJob(t, s, FirstPandaID)
	if j.Site != "S" || j.AttemptNr != 1 || j.State != StateActivated || j.Fields[0].Key != "PandaID" || j.Fields.Str("attemptNr") != "1" {
		t.Fatalf("job %+v", j)
	}
	if j := mustJob(t, s, 5); j.Site != "C" {
		t.Fatalf("site %q", j.Site)
	}
	if j := mustJob(t, s, FirstPandaID+1); j.Site != "N" || j.AttemptNr != 3 {
		t.Fatalf("job %+v", j)
	}
	ids, err = s.Submit(ctx, "S", Object{{"PandaID", 5}})
	if err == nil || ids != nil {
		t.Fatalf("duplicate PandaID accepted: %v", ids)
	}
	if _, err := s.Submit(ctx, "", Object{{"jobName", "x"}}); err == nil {
		t.Fatal("job without site accepted")
	}
	if _, err := s.Submit(ctx, "S", Object{{"PandaID", "abc"}}); err == nil {
		t.Fatal("bad PandaID accepted")
	}
	if _, err := s.Submit(ctx, "S", Object{{"jobName", "ok"}}, Object{{"attemptNr", -1}}); err == nil {
		t.Fatal("bad attemptNr accepted")
	}
	all, _ := s.Jobs(ctx)
	if len(all) != 3 {
		t.Fatalf("a failed submit stored jobs: %d", len(all))
	}
	// The next automatic id follows the largest known one.
	ids, err = s.Submit(ctx, "S", Object{{"PandaID", 2000000}}, Object{})
	if err != nil || ids[1] != 2000001 {
		t.Fatalf("ids %v %v", ids, err)
	}
}
