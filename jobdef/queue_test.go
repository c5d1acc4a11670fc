package jobdef

import (
	"reflect"
	"testing"
	"time"
)

func TestParseQueueDataDecisions(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		queue string
		code  ErrorCode
		check func(t *testing.T, q *QueueData)
	}{
		{"minimal", `{"nickname": "Q"}`, "Q", 0, func(t *testing.T, q *QueueData) {
			if q.Resource != "Q" || q.CoreCount != 1 || q.Timefloor != 0 || len(q.Copytools) != 0 || q.Params == nil {
				t.Errorf("%+v", q)
			}
		}},
		{"numbers as strings", `{"nickname": "Q", "timefloor": "0.5", "maxtime": "3600", "maxwdir": "1000.0", "maxinputsize": "-1",
			"corecount": "0", "maxrss": null, "direct_access_lan": "True", "direct_access_wan": 0}`, "", 0, func(t *testing.T, q *QueueData) {
			if q.Timefloor != 30*time.Second || q.MaxTime != time.Hour || q.MaxWDir != 1000 || q.MaxInputSize != -1 || q.CoreCount != 1 ||
				q.MaxRSS != 0 || !q.DirectAccessLAN || q.DirectAccessWAN {
				t.Errorf("%+v", q)
			}
		}},
		{"gstat site, lists as text", `{"nickname": "Q", "gstat": "SITE", "copytools": ["mv", "rucio"], "acopytools": {"pr": "mv", "pw": "rucio,mv"},
			"astorages": {"pw": ["RSE_A"]}, "acopytools_schemas": {"pr": {"rucio": ["root", "https"], "mv": ["file", "root"]}, "pw": ["davs"]},
			"container_type": "apptainer:pilot;docker:wrapper"}`, "", 0, func(t *testing.T, q *QueueData) {
			if q.Site != "SITE" || !reflect.DeepEqual(q.Copytools, map[string]CopytoolSetup{"mv": {}, "rucio": {}}) ||
				!reflect.DeepEqual(q.ACopytools, map[string][]string{"pr": {"mv"}, "pw": {"rucio", "mv"}}) ||
				!reflect.DeepEqual(q.ACopytoolsSchemas, map[string][]string{"pr": {"file", "root", "https"}, "pw": {"davs"}}) ||
				!reflect.DeepEqual(q.ContainerType, map[string]string{"pilot": "apptainer", "wrapper": "docker"}) {
				t.Errorf("%+v", q)
			}
		}},
		{"error object", `{"error": "no such queue"}`, "Q", QueueDataError, nil},
		{"wrapped error object", `{"Q": {"error": "x"}}`, "Q", QueueDataError, nil},
		{"not JSON", `<html>`, "Q", QueueDataError, nil},
		{"JSON list", `[]`, "Q", QueueDataError, nil},
		{"no nickname", `{"panda_resource": "Q"}`, "", QueueDataError, nil},
		{"empty nickname", `{"nickname": ""}`, "", QueueDataError, nil},
		{"queue missing from wrapper", `{"A": {"nickname": "A"}, "B": {"nickname": "B"}}`, "C", QueueDataError, nil},
		{"ambiguous wrapper", `{"A": {"nickname": "A"}, "B": {"nickname": "B"}}`, "", QueueDataError, nil},
		{"other queue", `{"nickname": "A"}`, "B", QueueDataNotOK, nil},
		{"negative timefloor", `{"nickname": "Q", "timefloor": -1}`, "", QueueDataNotOK, nil},
		{"bad maxtime", `{"nickname": "Q", "maxtime": "soon"}`, "", QueueDataNotOK, nil},
		{"fractional maxwdir", `{"nickname": "Q", "maxwdir": 1.5}`, "", QueueDataNotOK, nil},
		{"maxinputsize below -1", `{"nickname": "Q", "maxinputsize": -2}`, "", QueueDataNotOK, nil},
		{"negative corecount", `{"nickname": "Q", "corecount": -8}`, "", QueueDataNotOK, nil},
		{"params not a dict", `{"nickname": "Q", "params": [1]}`, "", QueueDataNotOK, nil},
		{"copytools wrong", `{"nickname": "Q", "copytools": 5}`, "", QueueDataNotOK, nil},
		{"acopytools wrong", `{"nickname": "Q", "acopytools": {"pr": {"x": 1}}}`, "", QueueDataNotOK, nil},
		{"bad container_type", `{"nickname": "Q", "container_type": "singularity"}`, "", QueueDataNotOK, nil},
		{"bool as state", `{"nickname": "Q", "state": {"a": 1}}`, "", QueueDataNotOK, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseQueueData([]byte(tc.data), tc.queue)
			if tc.code != 0 {
				if CodeOf(err) != tc.code {
					t.Fatalf("err = %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, q)
		})
	}
}

func TestCopytoolsFor(t *testing.T) {
	tests := []struct {
		name       string
		copytools  map[string]CopytoolSetup
		acopytools map[string][]string
		activities []string
		want       []string
	}{
		{"first activity", nil, map[string][]string{"pw": {"rucio"}, "pl": {"mv"}}, []string{"pl", "pw"}, []string{"mv"}},
		{"second activity", nil, map[string][]string{"pw": {"rucio"}}, []string{"pl", "pw"}, []string{"rucio"}},
		{"empty entry skipped", nil, map[string][]string{"pl": {}, "pw": {"rucio"}}, []string{"pl", "pw"}, []string{"rucio"}},
		{"default", nil, map[string][]string{"default": {"xrdcp"}, "pr": {"rucio"}}, []string{"pw"}, []string{"xrdcp"}},
		{"none matches", nil, map[string][]string{"pr": {"rucio"}}, []string{"pw"}, nil},
		{"no acopytools: sorted copytools", map[string]CopytoolSetup{"xrdcp": {}, "gfal": {}, "mv": {}}, nil, []string{"pw"}, []string{"gfal", "mv", "xrdcp"}},
		{"nothing configured", nil, nil, []string{"pr"}, nil},
		{"no activity asked", nil, map[string][]string{"default": {"mv"}}, nil, []string{"mv"}},
	}
	for _, tc := range tests {
		q := &QueueData{Copytools: tc.copytools, ACopytools: tc.acopytools}
		got := q.CopytoolsFor(tc.activities...)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: CopytoolsFor(%v) = %v, want %v", tc.name, tc.activities, got, tc.want)
		}
		if len(got) > 0 {
			got[0] = "changed"
			if again := q.CopytoolsFor(tc.activities...); again[0] == "changed" {
				t.Errorf("%s: result aliases the queue data", tc.name)
			}
		}
	}
	q := &QueueData{AStorages: map[string][]string{"write_lan": {"A", "B"}, "default": {"D"}}}
	if got := q.StoragesFor("pl", "write_lan"); !reflect.DeepEqual(got, []string{"A", "B"}) {
		t.Errorf("StoragesFor = %v", got)
	}
	if got := q.StoragesFor("pl"); !reflect.DeepEqual(got, []string{"D"}) {
		t.Errorf("StoragesFor default = %v", got)
	}
	if (*QueueData)(nil).CopytoolsFor("x") != nil || (*QueueData)(nil).StoragesFor("x") != nil {
		t.Error("nil queue data")
	}
}

func TestCatchallAndParams(t *testing.T) {
	q := &QueueData{
		Catchall: `curlgetjob singularity_options='-B /a,/b' zip_time_gap=7200,logging=loki;https://l:1 , es_to_zip`,
		Params: map[string]any{"pilot_rss_grace": 50.0, "pilot_maxwdir_grace": "30%", "bad": "x", "neg": -5.0,
			"job_maxwalltime": true, "allow_altstageout": "True", "zero": 0.0, "one": 1.0, "nullv": nil},
	}
	flags := map[string]bool{"curlgetjob": true, "singularity_options": true, "zip_time_gap": true, "logging": true,
		"es_to_zip": true, "setdebugmode": false, "curl": false, "-B": false, "/b'": false}
	for f, want := range flags {
		if q.CatchallHas(f) != want {
			t.Errorf("CatchallHas(%q) != %v", f, want)
		}
	}
	values := map[string]string{"singularity_options": "-B /a,/b", "zip_time_gap": "7200", "logging": "loki;https://l:1", "curlgetjob": ""}
	for k, want := range values {
		if v, ok := q.CatchallValue(k); !ok || v != want {
			t.Errorf("CatchallValue(%q) = %q, %v; want %q", k, v, ok, want)
		}
	}
	percents := []struct {
		name     string
		def, out float64
	}{{"pilot_rss_grace", 100, 50}, {"pilot_maxwdir_grace", 20, 30}, {"bad", 7, 7}, {"neg", 7, 7}, {"missing", 20, 20}, {"nullv", 3, 3}, {"zero", 5, 0}}
	for _, p := range percents {
		if got := q.ParamPercent(p.name, p.def); got != p.out {
			t.Errorf("ParamPercent(%q, %v) = %v, want %v", p.name, p.def, got, p.out)
		}
	}
	bools := map[string]bool{"job_maxwalltime": true, "allow_altstageout": true, "zero": false, "one": true, "bad": false, "missing": false, "nullv": false}
	for k, want := range bools {
		if q.ParamBool(k) != want {
			t.Errorf("ParamBool(%q) != %v", k, want)
		}
	}
}

func TestQueueApply(t *testing.T) {
	q, err := ParseQueueData(readTestdata(t, "queuedata_CERN_pilot3_commit_f0f358fa.json"), "CERN")
	if err != nil {
		t.Fatal(err)
	}
	overrides, err := ParsePythonLiteral(`{'timefloor': 0, 'maxwdir': 5000, 'catchall': 'curlgetjob', 'params': {'pilot_rss_grace': 150},
		'acopytools': {'pw': ['mv']}}`)
	if err != nil {
		t.Fatal(err)
	}
	nq, err := q.ApplyChecked(overrides.(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	if nq.Timefloor != 0 || nq.MaxWDir != 5000 || !nq.CatchallHas("curlgetjob") || nq.ParamPercent("pilot_rss_grace", 100) != 150 ||
		!reflect.DeepEqual(nq.CopytoolsFor("pw"), []string{"mv"}) || !reflect.DeepEqual(nq.CopytoolsFor("pr"), []string{"rucio"}) {
		t.Errorf("overrides not applied: %+v", nq)
	}
	if v, _ := nq.Param("maxNewWorkersPerCycle"); v != 400.0 {
		t.Error("params not merged recursively")
	}
	// q is unchanged.
	if q.Timefloor != time.Hour || q.MaxWDir != 160000 || q.ParamPercent("pilot_rss_grace", 100) != 100 || len(q.ACopytools["pw"]) != 1 || q.ACopytools["pw"][0] != "rucio" {
		t.Errorf("Apply modified the original: %+v", q)
	}
	// A bad key is skipped, the rest applies.
	nq, err = q.ApplyChecked(map[string]any{"maxtime": "soon", "timefloor": int64(5)})
	if CodeOf(err) != QueueDataNotOK || nq.MaxTime != q.MaxTime || nq.Timefloor != 5*time.Minute {
		t.Errorf("partial apply: err %v maxtime %v timefloor %v", err, nq.MaxTime, nq.Timefloor)
	}
	if got := q.Apply(map[string]any{"maxtime": "soon"}); got == nil || got.MaxTime != q.MaxTime {
		t.Error("Apply with only bad keys")
	}
	// Hand-built queue data (no Raw) uses its typed fields as the base.
	hand := &QueueData{Name: "H", Resource: "H", CoreCount: 2, Timefloor: 10 * time.Minute, ACopytools: map[string][]string{"pr": {"mv"}},
		Copytools: map[string]CopytoolSetup{"mv": {}}, Params: map[string]any{}, ContainerType: map[string]string{"pilot": "apptainer"}}
	hq := hand.Apply(map[string]any{"corecount": int64(4)})
	if hq.Name != "H" || hq.CoreCount != 4 || hq.Timefloor != 10*time.Minute || !reflect.DeepEqual(hq.CopytoolsFor("pr"), []string{"mv"}) ||
		hq.ContainerType["pilot"] != "apptainer" {
		t.Errorf("hand-built apply: %+v", hq)
	}
}
