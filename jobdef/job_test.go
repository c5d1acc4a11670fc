package jobdef

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseChecksum(t *testing.T) {
	tests := []struct {
		in      string
		want    Checksum
		wantErr bool
	}{
		{"ad:0a1b2c3d", Checksum{Adler32, "0a1b2c3d"}, false},
		{"AD:0A1B2C3D", Checksum{Adler32, "0a1b2c3d"}, false},
		{" ad:fd1c3aac ", Checksum{Adler32, "fd1c3aac"}, false},
		{"adler32:12345678", Checksum{Adler32, "12345678"}, false},
		{"ad:1234567", Checksum{Adler32, "01234567"}, false}, // leading zero dropped by the producer
		{"ad:1", Checksum{Adler32, "00000001"}, false},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", Checksum{MD5, "d41d8cd98f00b204e9800998ecf8427e"}, false},
		{"md:D41D8CD98F00B204E9800998ECF8427E", Checksum{MD5, "d41d8cd98f00b204e9800998ecf8427e"}, false},
		{"0a1b2c3d", Checksum{Adler32, "0a1b2c3d"}, false},
		{"d41d8cd98f00b204e9800998ecf8427e", Checksum{MD5, "d41d8cd98f00b204e9800998ecf8427e"}, false},
		{"", Checksum{}, true},
		{"ad:", Checksum{}, true},
		{"ad:123456789", Checksum{}, true},
		{"ad:0a1b2c3g", Checksum{}, true},
		{"md5:abc", Checksum{}, true},
		{"sha1:0a1b2c3d", Checksum{}, true},
		{"1234", Checksum{}, true},
		{"NULL", Checksum{}, true},
		{"ad:+1234567", Checksum{}, true},
	}
	for _, tc := range tests {
		got, err := ParseChecksum(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseChecksum(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			if CodeOf(err) != UnknownChecksumType || !strings.Contains(err.Error(), "\""+tc.in+"\"") {
				t.Errorf("ParseChecksum(%q) error %v: want code 1314 quoting the value", tc.in, err)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("ParseChecksum(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if again, err := ParseChecksum(got.String()); err != nil || again != got {
			t.Errorf("String() round trip of %+v: %+v, %v", got, again, err)
		}
	}
	if (Checksum{}).String() != "" || !(Checksum{}).IsZero() || (Checksum{Adler32, "00000001"}).IsZero() {
		t.Error("zero checksum")
	}
}

func TestValidateLFN(t *testing.T) {
	tests := []struct {
		lfn  string
		code ErrorCode
	}{
		{"EVNT.11329621._001079.pool.root.1", 0},
		{"log.10919503._000051.job.log.tgz.1.3298217817", 0},
		{"a", 0},
		{"file with space.root", 0},
		{"ünïcode.root", 0},
		{strings.Repeat("x", 255), 0},
		{strings.Repeat("x", 256), LFNTooLong},
		{strings.Repeat("/", 300), LFNTooLong},
		{"", BadOutputFileName},
		{".", BadOutputFileName},
		{"..", BadOutputFileName},
		{"a..b", BadOutputFileName},
		{"../etc/passwd", BadOutputFileName},
		{"dir/file", BadOutputFileName},
		{"/abs", BadOutputFileName},
		{"nul\x00byte", BadOutputFileName},
		{"new\nline", BadOutputFileName},
		{"tab\there", BadOutputFileName},
		{"del\x7f", BadOutputFileName},
		{"bad\xffutf8", BadOutputFileName},
	}
	for _, tc := range tests {
		err := ValidateLFN(tc.lfn)
		if got := CodeOf(err); got != tc.code {
			t.Errorf("ValidateLFN(%q) = %v, want code %d", tc.lfn, err, tc.code)
			continue
		}
		if q := strconv.Quote(tc.lfn); err != nil && !strings.Contains(err.Error(), q[:min(20, len(q))]) {
			t.Errorf("ValidateLFN(%q) error %q does not quote the name", tc.lfn, err)
		}
	}
}

// minimalJob returns the fields of a small valid job with two inputs, one output and a log.
func minimalJob() map[string]string {
	return map[string]string{
		"StatusCode":     "0",
		"PandaID":        "4000000001",
		"transformation": "Sim_tf.py",
		"jobPars":        "--maxEvents=10",
		"inFiles":        "in1.root,in2.root",
		"GUID":           "g1,g2",
		"fsize":          "100,200",
		"checksum":       "ad:00000001,md5:d41d8cd98f00b204e9800998ecf8427e",
		"scopeIn":        "mc16,mc16",
		"ddmEndPointIn":  "RSE_A,RSE_B",
		"outFiles":       "out.root,job.log.tgz",
		"logFile":        "job.log.tgz",
		"logGUID":        "lg",
		"scopeOut":       "mc16",
		"scopeLog":       "mc16log",
		"realDatasets":   "ds.out,ds.log",
		"ddmEndPointOut": "RSE_OUT,RSE_LOG",
	}
}

func with(f map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range f {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestJobFromFieldsDecisions(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		code   ErrorCode // 0 = success
		field  string    // must appear in the error
		check  func(t *testing.T, j *Job)
	}{
		{"minimal", minimalJob(), 0, "", func(t *testing.T, j *Job) {
			if len(j.Inputs) != 2 || len(j.Outputs) != 1 || j.Log.LFN != "job.log.tgz" || j.Log.Scope != "mc16log" ||
				j.Log.DDMEndpoint != "RSE_LOG" || j.Log.Dataset != "ds.log" || j.Log.GUID != "lg" || j.Outputs[0].Scope != "mc16" ||
				j.Outputs[0].DDMEndpoint != "RSE_OUT" || j.Inputs[1].Checksum.Type != MD5 || j.Inputs[1].Size != 200 {
				t.Errorf("files: %+v %+v %+v", j.Inputs, j.Outputs, j.Log)
			}
			if j.CoreCount != 1 || !j.LoopingCheck {
				t.Errorf("defaults: coreCount %d loopingCheck %v", j.CoreCount, j.LoopingCheck)
			}
		}},
		{"unset spellings", with(minimalJob(), "taskID", "NULL", "jobsetID", "None", "maxWalltime", "null", "reqID", "",
			"cloud", "NULL", "nucleus", "None", "coreCount", "NULL"), 0, "", func(t *testing.T, j *Job) {
			if j.TaskID != 0 || j.JobsetID != 0 || j.MaxWalltime != 0 || j.ReqID != 0 || j.Cloud != "" || j.Nucleus != "" || j.CoreCount != 1 {
				t.Errorf("unset values: %+v", j)
			}
		}},
		{"integral float", with(minimalJob(), "minRamCount", "2000.0", "coreCount", "8"), 0, "", func(t *testing.T, j *Job) {
			if j.MinRamCount != 2000 || j.CoreCount != 8 {
				t.Errorf("minRamCount %d coreCount %d", j.MinRamCount, j.CoreCount)
			}
		}},
		{"negative priority allowed", with(minimalJob(), "currentPriority", "-1000"), 0, "", func(t *testing.T, j *Job) {
			if j.CurrentPriority != -1000 {
				t.Errorf("currentPriority %d", j.CurrentPriority)
			}
		}},
		{"flags", with(minimalJob(), "debug", "True", "eventService", "true", "loopingCheck", "False", "useVP", "True", "isHPO", "False",
			"noExecStrCnv", "True", "allowNoOutput", "a.root,b.root"), 0, "", func(t *testing.T, j *Job) {
			if !j.Debug || !j.EventService || j.LoopingCheck || !j.UseVP || j.IsHPO || !j.NoExecStrCnv ||
				!reflect.DeepEqual(j.AllowNoOutput, []string{"a.root", "b.root"}) {
				t.Errorf("flags: %+v", j)
			}
		}},
		{"multi-step keys as JSON and Python dicts", with(minimalJob(), "preprocess", `{"command": "echo", "args": "hi"}`,
			"postprocess", `{'command': 'true', 'args': ''}`), 0, "", func(t *testing.T, j *Job) {
			if j.MultiStep["preprocess"]["command"] != "echo" || j.MultiStep["postprocess"]["command"] != "true" {
				t.Errorf("MultiStep = %v", j.MultiStep)
			}
		}},
		{"input duplicates and NULL skipped", with(minimalJob(), "inFiles", "in1.root,NULL,in1.root", "GUID", "g1,g2,g3",
			"fsize", "1,2,3", "checksum", "ad:1,ad:2,ad:3", "scopeIn", "s,s,s", "ddmEndPointIn", "A"), 0, "", func(t *testing.T, j *Job) {
			if len(j.Inputs) != 1 || j.Inputs[0].GUID != "g1" || j.Inputs[0].DDMEndpoint != "A" {
				t.Errorf("inputs: %+v", j.Inputs)
			}
		}},
		{"short optional input lists", with(minimalJob(), "ddmEndPointIn", "A", "realDatasetsIn", "<delete>", "prodDBlockToken", "local"), 0, "", func(t *testing.T, j *Job) {
			if j.Inputs[1].DDMEndpoint != "" || j.Inputs[0].ProdDBlockToken != "local" || j.Inputs[1].ProdDBlockToken != "" {
				t.Errorf("inputs: %+v", j.Inputs)
			}
		}},
		{"only a log (stub job)", with(minimalJob(), "inFiles", "", "GUID", "", "fsize", "", "checksum", "", "scopeIn", "", "ddmEndPointIn", "",
			"outFiles", "job.log.tgz", "scopeOut", "", "realDatasets", "ds.log/", "ddmEndPointOut", "LOCAL"), 0, "", func(t *testing.T, j *Job) {
			if len(j.Inputs) != 0 || len(j.Outputs) != 0 || j.Log.LFN != "job.log.tgz" || j.Log.DDMEndpoint != "LOCAL" {
				t.Errorf("files: %+v %+v %+v", j.Inputs, j.Outputs, j.Log)
			}
		}},
		{"log not among outFiles, scopeOut complete", with(minimalJob(), "outFiles", "a.root,b.root", "scopeOut", "s1,s2",
			"realDatasets", "d1,d2,dlog", "ddmEndPointOut", "R1,R2,RLOG"), 0, "", func(t *testing.T, j *Job) {
			if len(j.Outputs) != 2 || j.Outputs[1].Scope != "s2" || j.Log.LFN != "job.log.tgz" || j.Log.DDMEndpoint != "RLOG" || j.Log.Dataset != "dlog" {
				t.Errorf("files: %+v %+v", j.Outputs, j.Log)
			}
		}},
		{"log not among outFiles, scopeOut one short", with(minimalJob(), "outFiles", "a.root,b.root", "scopeOut", "s1"), 0, "", func(t *testing.T, j *Job) {
			if len(j.Outputs) != 2 || j.Outputs[1].Scope != "mc16log" || j.Log.Scope != "mc16log" {
				t.Errorf("files: %+v %+v", j.Outputs, j.Log)
			}
		}},
		{"no PandaID", with(minimalJob(), "PandaID", "<delete>"), NotDefined, "PandaID", nil},
		{"PandaID NULL", with(minimalJob(), "PandaID", "NULL"), NotDefined, "PandaID", nil},
		{"bad int", with(minimalJob(), "attemptNr", "two"), ConversionFailure, "attemptNr", nil},
		{"fractional int", with(minimalJob(), "maxDiskCount", "1.5"), ConversionFailure, "maxDiskCount", nil},
		{"negative count", with(minimalJob(), "minRamCount", "-1"), ConversionFailure, "minRamCount", nil},
		{"bad flag", with(minimalJob(), "debug", "maybe"), ConversionFailure, "debug", nil},
		{"negative size", with(minimalJob(), "fsize", "100,-1"), ConversionFailure, "fsize", nil},
		{"huge size", with(minimalJob(), "fsize", "100,1125899906842625"), ConversionFailure, "fsize", nil},
		{"size not a number", with(minimalJob(), "fsize", "100,big"), ConversionFailure, "fsize", nil},
		{"GUID short", with(minimalJob(), "GUID", "g1"), NotSameLength, "GUID", nil},
		{"fsize long", with(minimalJob(), "fsize", "1,2,3"), NotSameLength, "fsize", nil},
		{"checksum short", with(minimalJob(), "checksum", "ad:00000001"), NotSameLength, "checksum", nil},
		{"scopeIn short", with(minimalJob(), "scopeIn", "mc16"), NotSameLength, "scopeIn", nil},
		{"scopeOut too long", with(minimalJob(), "scopeOut", "a,b"), NotSameLength, "scopeOut", nil},
		{"scopeOut missing", with(minimalJob(), "scopeOut", ""), NotSameLength, "scopeOut", nil},
		{"realDatasets short", with(minimalJob(), "realDatasets", "ds.out"), NotSameLength, "realDatasets", nil},
		{"ddmEndPointOut long", with(minimalJob(), "ddmEndPointOut", "A,B,C"), NotSameLength, "ddmEndPointOut", nil},
		{"bad checksum", with(minimalJob(), "checksum", "ad:00000001,sha:1"), UnknownChecksumType, "checksum", nil},
		{"input path", with(minimalJob(), "inFiles", "in1.root,../x"), BadOutputFileName, "inFiles", nil},
		{"output path", with(minimalJob(), "outFiles", "/etc/out.root,job.log.tgz"), BadOutputFileName, "outFiles", nil},
		{"output NUL", with(minimalJob(), "outFiles", "out\x00.root,job.log.tgz"), BadOutputFileName, "outFiles", nil},
		{"output too long", with(minimalJob(), "outFiles", strings.Repeat("o", 256)+",job.log.tgz"), LFNTooLong, "outFiles", nil},
		{"output repeated", with(minimalJob(), "outFiles", "out.root,out.root,job.log.tgz", "scopeOut", "a,b", "realDatasets", "", "ddmEndPointOut", ""), BadOutputFileName, "outFiles", nil},
		{"bad log file", with(minimalJob(), "logFile", "../log.tgz", "outFiles", "out.root", "scopeOut", "mc16", "realDatasets", "", "ddmEndPointOut", ""), BadOutputFileName, "logFile", nil},
		{"too many inputs", with(minimalJob(), "inFiles", strings.Repeat("a,", MaxFilesPerJob)+"a", "GUID", "", "fsize", "", "checksum", "", "scopeIn", ""), ConversionFailure, "inFiles", nil},
		{"non-UTF-8 value", with(minimalJob(), "jobName", "bad\xff"), ConversionFailure, "jobName", nil},
		{"bad overwriteQueueData", with(minimalJob(), "jobPars", "--overwriteQueueData={'a': } x"), ConversionFailure, "jobPars", nil},
		{"unterminated ZIP_MAP", with(minimalJob(), "jobPars", "x <ZIP_MAP>a"), ConversionFailure, "jobPars", nil},
		{"multi-step not a dict", with(minimalJob(), "preprocess", "echo"), ConversionFailure, "preprocess", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := JobFromFields(tc.fields)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if err := j.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
				tc.check(t, j)
				return
			}
			if err == nil {
				t.Fatalf("no error, want code %d", tc.code)
			}
			if CodeOf(err) != tc.code || !strings.Contains(err.Error(), `"`+tc.field+`"`) {
				t.Errorf("error %v: want code %d naming %q", err, tc.code, tc.field)
			}
		})
	}
}

func TestDirectives(t *testing.T) {
	tests := []struct {
		name, pars, want string
		check            func(t *testing.T, d Directives)
	}{
		{"none", "a  b", "a  b", func(t *testing.T, d Directives) {
			if !reflect.DeepEqual(d, Directives{}) {
				t.Errorf("%+v", d)
			}
		}},
		{"overwriteQueueData", `--maxEvents=1 --overwriteQueueData={'timefloor': 0, "maxwdir": 1.5e3, 'catchall': 'a b', 'params': {'x': [1, True, None]}} --skip 2`,
			"--maxEvents=1 --skip 2", func(t *testing.T, d Directives) {
				want := map[string]any{"timefloor": int64(0), "maxwdir": 1500.0, "catchall": "a b", "params": map[string]any{"x": []any{int64(1), true, nil}}}
				if !reflect.DeepEqual(d.OverwriteQueueData, want) {
					t.Errorf("%#v", d.OverwriteQueueData)
				}
			}},
		{"overwriteStorageData at start", `--overwriteStorageData={'X': {'is_deterministic': False}} run`, "run", func(t *testing.T, d Directives) {
			if d.OverwriteStorageData["X"].(map[string]any)["is_deterministic"] != false {
				t.Errorf("%#v", d.OverwriteStorageData)
			}
		}},
		{"old overwriteQueuedata ignored", `a --overwriteQueuedata={'x': 1} b`, "a b", func(t *testing.T, d Directives) {
			if d.OverwriteQueueData != nil {
				t.Errorf("%#v", d.OverwriteQueueData)
			}
		}},
		{"zip map", `a <ZIP_MAP>x.zip:a,b</ZIP_MAP> b`, "a b", func(t *testing.T, d Directives) {
			if d.ZipMap != "x.zip:a,b" {
				t.Errorf("ZipMap %q", d.ZipMap)
			}
		}},
		{"containerImage =", `a --containerImage=docker://centos:7 b`, "a b", func(t *testing.T, d Directives) {
			if d.ContainerImage != "docker://centos:7" {
				t.Errorf("%q", d.ContainerImage)
			}
		}},
		{"containerImage space quoted", `a --containerImage "/cvmfs/img dir" b`, "a b", func(t *testing.T, d Directives) {
			if d.ContainerImage != "/cvmfs/img dir" {
				t.Errorf("%q", d.ContainerImage)
			}
		}},
		{"access mode direct", `--accessmode=direct x`, "--accessmode=direct x", func(t *testing.T, d Directives) {
			if d.AccessMode != "direct" || d.UseLocalIO {
				t.Errorf("%+v", d)
			}
		}},
		{"access mode copy wins", `--accessmode=direct --accessmode=copy`, "--accessmode=direct --accessmode=copy", func(t *testing.T, d Directives) {
			if d.AccessMode != "copy" {
				t.Errorf("%+v", d)
			}
		}},
		{"useLocalIO", `x --useLocalIO`, "x --useLocalIO", func(t *testing.T, d Directives) {
			if d.AccessMode != "copy" || !d.UseLocalIO {
				t.Errorf("%+v", d)
			}
		}},
		{"option inside a word is not a directive", `x--overwriteQueueData={'a': 1}`, `x--overwriteQueueData={'a': 1}`, func(t *testing.T, d Directives) {
			if d.OverwriteQueueData != nil {
				t.Errorf("%+v", d)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, d, err := parseDirectives(tc.pars)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("stripped = %q, want %q", got, tc.want)
			}
			tc.check(t, d)
		})
	}
	j, err := JobFromFields(with(minimalJob(), "jobPars", "--containerImage=img:1 run", "container_name", "fallback"))
	if err != nil || j.Image() != "img:1" || j.JobPars != "run" {
		t.Errorf("Image() = %q, JobPars %q, err %v", j.Image(), j.JobPars, err)
	}
	j, _ = JobFromFields(with(minimalJob(), "container_name", "fallback"))
	if j.Image() != "fallback" {
		t.Errorf("Image() fallback = %q", j.Image())
	}
}

func TestFieldsRoundTrip(t *testing.T) {
	for _, name := range []string{"getjob_response_urlencoded_aCT.txt", "getjob_job_json_harvester_arc_submitter.json"} {
		t.Run(name, func(t *testing.T) {
			resp, err := ParseGetJobResponse(readTestdata(t, name))
			if err != nil {
				t.Fatal(err)
			}
			j := resp.Jobs[0]
			if !reflect.DeepEqual(j.Fields(), j.Raw) {
				t.Error("Fields() of an unmodified job differs from Raw")
			}
			enc := EncodeURLEncoded(j.Fields())
			resp2, err := ParseGetJobResponse([]byte(enc))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(resp2.Jobs[0], j) {
				t.Errorf("round trip differs:\n%+v\n%+v", resp2.Jobs[0], j)
			}
		})
	}
}

func TestFieldsSync(t *testing.T) {
	j, err := JobFromFields(with(minimalJob(), "jobPars", "--overwriteQueueData={'a': 1} run"))
	if err != nil {
		t.Fatal(err)
	}
	if f := j.Fields(); f["jobPars"] != "--overwriteQueueData={'a': 1} run" {
		t.Errorf("unchanged jobPars re-encoded as %q", f["jobPars"])
	}
	j.AttemptNr = 7
	j.Debug = true
	j.CmtConfig = "x86_64-el9-gcc13-opt"
	j.JobPars = "other"
	j.Outputs[0].Scope = "newscope"
	j.Inputs = j.Inputs[:1]
	f := j.Fields()
	if f["attemptNr"] != "7" || f["debug"] != "True" || f["cmtConfig"] != "x86_64-el9-gcc13-opt" || f["jobPars"] != "other" ||
		f["scopeOut"] != "newscope" || f["inFiles"] != "in1.root" || f["GUID"] != "g1" || f["outFiles"] != "out.root,job.log.tgz" {
		t.Errorf("Fields not synced: %v", f)
	}
	j2, err := JobFromFields(f)
	if err != nil {
		t.Fatal(err)
	}
	if j2.AttemptNr != 7 || !j2.Debug || len(j2.Inputs) != 1 || j2.Outputs[0].Scope != "newscope" || j2.Log != j.Log {
		t.Errorf("re-decoded job differs: %+v", j2)
	}
	// A job built by hand (no Raw) encodes completely.
	hand := &Job{PandaID: 5, CoreCount: 1, LoopingCheck: true, Transformation: "run.sh",
		Inputs:  []FileSpec{{Kind: Input, LFN: "i", Size: 3, Checksum: Checksum{Adler32, "00000003"}}},
		Outputs: []FileSpec{{Kind: Output, LFN: "o"}},
		Log:     FileSpec{Kind: Log, LFN: "l.tgz", GUID: "gg", Scope: "s"}, LogFile: "l.tgz", LogGUID: "gg"}
	back, err := JobFromFields(hand.Fields())
	if err != nil {
		t.Fatal(err)
	}
	back.Raw = nil
	if !reflect.DeepEqual(back, hand) {
		t.Errorf("hand-built job round trip:\n%+v\n%+v", back, hand)
	}
}

func TestValidate(t *testing.T) {
	good := func() *Job {
		j, err := JobFromFields(minimalJob())
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	tests := []struct {
		name   string
		change func(j *Job)
		code   ErrorCode
	}{
		{"ok", func(j *Job) {}, 0},
		{"no PandaID", func(j *Job) { j.PandaID = 0 }, NotDefined},
		{"coreCount 0", func(j *Job) { j.CoreCount = 0 }, ConversionFailure},
		{"negative attempt", func(j *Job) { j.AttemptNr = -1 }, ConversionFailure},
		{"bad lfn", func(j *Job) { j.Outputs[0].LFN = "a/b" }, BadOutputFileName},
		{"duplicate output", func(j *Job) { j.Outputs = append(j.Outputs, j.Outputs[0]) }, BadOutputFileName},
		{"log duplicates output", func(j *Job) { j.Outputs[0].LFN = j.Log.LFN }, BadOutputFileName},
		{"negative size", func(j *Job) { j.Inputs[0].Size = -5 }, ConversionFailure},
		{"huge size", func(j *Job) { j.Inputs[0].Size = MaxFileSize + 1 }, ConversionFailure},
		{"bad checksum", func(j *Job) { j.Inputs[0].Checksum = Checksum{Adler32, "xyz"} }, UnknownChecksumType},
		{"upper-case checksum", func(j *Job) { j.Inputs[0].Checksum = Checksum{Adler32, "0000000A"} }, UnknownChecksumType},
		{"wrong kind", func(j *Job) { j.Inputs[0].Kind = Output }, ConversionFailure},
		{"log mismatch", func(j *Job) { j.LogFile = "other.tgz" }, ConversionFailure},
	}
	for _, tc := range tests {
		j := good()
		tc.change(j)
		if got := CodeOf(j.Validate()); got != tc.code {
			t.Errorf("%s: Validate code %d, want %d (%v)", tc.name, got, tc.code, j.Validate())
		}
	}
	if CodeOf((*Job)(nil).Validate()) != NotDefined {
		t.Error("nil job validates")
	}
}

func TestFilesAndKinds(t *testing.T) {
	j, _ := JobFromFields(minimalJob())
	fs := j.Files()
	if len(fs) != 4 || fs[0].LFN != "in1.root" || fs[3].Kind != Log {
		t.Fatalf("Files() = %v", fs)
	}
	fs[2].Status = StatusTransferred
	if j.Outputs[0].Status != StatusTransferred {
		t.Error("Files() does not alias the job")
	}
	for k, want := range map[FileKind]string{Input: "input", Output: "output", Log: "log", FileKind(9): "FileKind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", int(k), k.String())
		}
	}
	for tr, want := range map[string]bool{"https://x/runcmd.sh": true, "HTTP://x/y": true, "sleep": false, "Sim_tf.py": false, "": false} {
		if (&Job{Transformation: tr}).IsAnalysis() != want {
			t.Errorf("IsAnalysis(%q) != %v", tr, want)
		}
	}
}
