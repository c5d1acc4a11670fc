package e2ehostile

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
)

// Hostile job definitions the server hands out: each is refused before
// anything runs, with its own PanDA code, and reported failed in a single
// final update. (internal/e2e TestHostileJobsReported covers ../ and '/'
// inside output names, NUL in an output name, a 300-byte output name, a
// negative size, a non-hex checksum and a GUID list of the wrong length; the
// cases here are the others.)
func TestHostileJobDefinitions(t *testing.T) {
	t.Parallel()
	s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
	abs := filepath.Join(s.Dir, "abs-escape.txt")
	many := strings.TrimSuffix(strings.Repeat("f.txt,", jobdef.MaxFilesPerJob+1), ",")
	const ck = "ad:0a1b2c3d"
	cases := []struct {
		name string
		edit func(j map[string]any)
		code jobdef.ErrorCode
		diag string // the field the diagnostic must name
	}{
		// File names.
		{"absolute output name", func(j map[string]any) { output(j, abs) }, jobdef.BadOutputFileName, "outFiles"},
		{"../ input name", func(j map[string]any) { input(j, "../../in-escape.txt", "5", ck) }, jobdef.BadOutputFileName, "inFiles"},
		{"absolute input name", func(j map[string]any) { input(j, "/etc/passwd", "5", ck) }, jobdef.BadOutputFileName, "inFiles"},
		{"NUL in input name", func(j map[string]any) { input(j, "in\x00put.txt", "5", ck) }, jobdef.BadOutputFileName, "inFiles"},
		{"../ log name", func(j map[string]any) { logName(j, "../../log-escape.tgz") }, jobdef.BadOutputFileName, "outFiles"},
		{"absolute log name", func(j map[string]any) { logName(j, filepath.Join(s.Dir, "log-abs-escape.tgz")) }, jobdef.BadOutputFileName, "outFiles"},
		{"300-byte log name", func(j map[string]any) { logName(j, strings.Repeat("l", 293)+".log.tgz") }, jobdef.LFNTooLong, "outFiles"},
		{"300-byte input name", func(j map[string]any) { input(j, strings.Repeat("i", 300), "5", ck) }, jobdef.LFNTooLong, "inFiles"},
		// Sizes.
		{"size beyond int64", func(j map[string]any) { input(j, "in.txt", "99999999999999999999", ck) }, jobdef.ConversionFailure, "fsize"},
		{"size above 1 PiB", func(j map[string]any) { input(j, "in.txt", fmt.Sprint(int64(1)<<60), ck) }, jobdef.ConversionFailure, "fsize"},
		{"fractional size", func(j map[string]any) { input(j, "in.txt", "5.5", ck) }, jobdef.ConversionFailure, "fsize"},
		{"size not a number", func(j map[string]any) { input(j, "in.txt", "0x10", ck) }, jobdef.ConversionFailure, "fsize"},
		// Checksums of the wrong form.
		{"adler32 with 9 digits", func(j map[string]any) { input(j, "in.txt", "5", "ad:0a1b2c3d4") }, jobdef.UnknownChecksumType, "checksum"},
		{"short md5", func(j map[string]any) { input(j, "in.txt", "5", "md5:0a1b2c") }, jobdef.UnknownChecksumType, "checksum"},
		{"unknown checksum type", func(j map[string]any) { input(j, "in.txt", "5", "sha256:"+strings.Repeat("ab", 32)) }, jobdef.UnknownChecksumType, "checksum"},
		{"empty checksum value", func(j map[string]any) { input(j, "in.txt", "5", "ad:") }, jobdef.UnknownChecksumType, "checksum"},
		{"bare 6-digit checksum", func(j map[string]any) { input(j, "in.txt", "5", "0a1b2c") }, jobdef.UnknownChecksumType, "checksum"},
		// List fields of different lengths.
		{"fsize longer than inFiles", func(j map[string]any) { input(j, "in.txt", "5,6", ck) }, jobdef.NotSameLength, "fsize"},
		{"checksum shorter than inFiles", func(j map[string]any) {
			input(j, "a.txt,b.txt", "5,6", ck)
			j["GUID"], j["scopeIn"] = "g1,g2", "e2e,e2e"
		}, jobdef.NotSameLength, "checksum"},
		{"scopeIn longer than inFiles", func(j map[string]any) { input(j, "in.txt", "5", ck); j["scopeIn"] = "e2e,e2e" }, jobdef.NotSameLength, "scopeIn"},
		{"scopeOut longer than outputs", func(j map[string]any) { output(j, "out.txt"); j["scopeOut"] = "e2e,e2e,e2e" }, jobdef.NotSameLength, "scopeOut"},
		{"ddmEndPointOut shorter than outFiles", func(j map[string]any) { output(j, "out.txt"); j["ddmEndPointOut"] = "E2E_DISK" }, jobdef.NotSameLength, "ddmEndPointOut"},
		{"realDatasets longer than outFiles", func(j map[string]any) { output(j, "out.txt"); j["realDatasets"] = "a,b,c,d" }, jobdef.NotSameLength, "realDatasets"},
		{"more inputs than allowed", func(j map[string]any) { input(j, many, "", "") }, jobdef.ConversionFailure, "inFiles"},
	}
	marker := filepath.Join(s.Dir, "payload-ran")
	var jobs []map[string]any
	for i, c := range cases {
		j := sitetest.BaseJob(int64(7001+i), "touch "+marker+";", "true")
		c.edit(j)
		jobs = append(jobs, j)
	}
	s.SubmitArgs([]string{"--unchecked"}, jobs...)
	before := sitetest.Snapshot(t, s.Dir)

	run := sitetest.RunWithin(t, s.PilotCmd("-x", "1"), pilotDeadline)
	if run.TimedOut || run.ExitCode != 0 {
		t.Errorf("pilot exit %d (timed out: %v); a malformed job is the job's failure, not the pilot's", run.ExitCode, run.TimedOut)
	}
	for i, c := range cases {
		id := int64(7001 + i)
		got := s.Job(id)
		t.Logf("%s: %d %q", c.name, got.PilotErrorCode, got.PilotErrorDiag)
		if got.State != "failed" || got.PilotErrorCode != int(c.code) || !strings.Contains(got.PilotErrorDiag, c.diag) {
			t.Errorf("%s: state %s code %d diag %q; want failed, %d, naming %q", c.name, got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200), c.code, c.diag)
		}
		// One final update and nothing before it: the job never started.
		if st := s.States(id); !reflect.DeepEqual(st, []string{"failed"}) {
			t.Errorf("%s: updates %v; want exactly one, failed", c.name, st)
		}
		if files, err := s.Store().Files(t.Context(), id); err != nil || len(files) != 0 {
			t.Errorf("%s: files registered %v %v", c.name, files, err)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the payload of a hostile job ran")
	}
	if ch := before.Changed(sitetest.Snapshot(t, s.Dir), sitetest.SiteAllowed()...); len(ch) > 0 {
		t.Errorf("written outside the job directories: %v", ch)
	}
	if m, _ := filepath.Glob(filepath.Join(s.Work, "PanDA_Pilot-*")); len(m) > 0 {
		t.Errorf("job directories made for refused jobs: %v", m)
	}
	if t.Failed() {
		t.Log(run.Log)
	}
}

// output gives a BaseJob one data output lfn.
func output(j map[string]any, lfn string) {
	j["outFiles"] = lfn + "," + j["logFile"].(string)
	j["scopeOut"], j["realDatasets"], j["ddmEndPointOut"] = "e2e", "e2e.out,e2e.log", "E2E_DISK,E2E_DISK"
}

// input gives a BaseJob inputs lfns (comma-separated) with the given sizes
// and checksums; "" leaves a list unset.
func input(j map[string]any, lfns, sizes, checksums string) {
	n := strings.Count(lfns, ",") + 1
	j["inFiles"], j["fsize"], j["checksum"] = lfns, sizes, checksums
	j["GUID"] = strings.TrimSuffix(strings.Repeat("11111111-1111-4111-8111-111111111111,", n), ",")
	j["scopeIn"] = strings.TrimSuffix(strings.Repeat("e2e,", n), ",")
	j["realDatasetsIn"], j["ddmEndPointIn"] = "e2e.in", "E2E_DISK"
}

// logName renames a BaseJob's log file.
func logName(j map[string]any, lfn string) {
	j["logFile"], j["outFiles"] = lfn, lfn
}
