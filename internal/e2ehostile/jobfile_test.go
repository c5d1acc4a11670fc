package e2ehostile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
)

// A job file that is not UTF-8, for `pilot exec` (Harvester's push mode
// reads the job from a file and the report from heartbeat.json): the pilot
// refuses it with CONVERSIONFAILURE (1302) and a log line that says why, and
// runs nothing. When the file still names its PandaID, the job is reported
// failed in heartbeat.json, as a malformed job from the server is reported
// failed in pull mode; when it does not, the pilot exits with 1302's shell
// code (1).
func TestJobFileNotUTF8(t *testing.T) {
	t.Parallel()
	harvester := func(id int64, jobPars string) []byte {
		j := sitetest.BaseJob(id, "echo", "x")
		j["jobPars"] = "JOBPARS"
		b, _ := json.Marshal(map[string]any{fmt.Sprint(id): j})
		return []byte(strings.Replace(string(b), "JOBPARS", jobPars, 1))
	}
	form := func(id int64, jobPars string) []byte {
		f := map[string]string{}
		for k, v := range sitetest.BaseJob(id, "echo", "x") {
			f[k] = fmt.Sprint(v)
		}
		f["jobPars"] = "JOBPARS"
		return []byte(strings.Replace(jobdef.EncodeURLEncoded(f), "JOBPARS", jobPars, 1))
	}
	utf16 := []byte{0xff, 0xfe}
	for _, r := range `{"8103": {"PandaID": 8103, "transformation": "echo"}}` {
		utf16 = append(utf16, byte(r), 0)
	}
	cases := []struct {
		name string
		data []byte
		id   int64 // the PandaID the file still names; 0 = none
	}{
		{"Latin-1 byte in a Harvester JSON job", harvester(8101, "caf\xe9 cr\xe8me"), 8101},
		{"Latin-1 byte in a urlencoded job", form(8102, "caf\xe9"), 8102},
		{"percent-encoded invalid UTF-8 in a urlencoded job", form(8104, "caf%E9"), 8104},
		{"UTF-16 job file", utf16, 0},
		{"binary job file", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xca\xc8\x2c\x49\x05\x00"), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			jf := filepath.Join(dir, "pandaJobData.out")
			sitetest.Must(t, os.WriteFile(jf, c.data, 0o644))
			work := filepath.Join(dir, "work")
			sitetest.Must(t, os.Mkdir(work, 0o755))
			before := sitetest.Snapshot(t, dir)
			run := sitetest.RunWithin(t, sitetest.ExecPilot(bin, "exec", "--job", jf, "--workdir", work), pilotDeadline)
			want := jobdef.ConversionFailure
			if run.TimedOut || !containsAll(run.Log, "UTF-8", fmt.Sprint(int(want))) {
				t.Errorf("exit %d (timed out %v); want a log naming UTF-8 and code %d", run.ExitCode, run.TimedOut, want)
			}
			if m, _ := filepath.Glob(filepath.Join(work, "PanDA_Pilot-*")); len(m) > 0 {
				t.Errorf("job directory made for a refused job: %v", m)
			}
			if ch := before.Changed(sitetest.Snapshot(t, dir), "work/pilotlog.txt", "work/heartbeat.json"); len(ch) > 0 {
				t.Errorf("files written: %v", ch)
			}
			hb, err := os.ReadFile(filepath.Join(work, "heartbeat.json"))
			if c.id == 0 {
				if run.ExitCode != want.ShellExit() {
					t.Errorf("exit %d; want %d (%s)", run.ExitCode, want.ShellExit(), want)
				}
				if err == nil {
					t.Errorf("heartbeat.json written for a job without a PandaID: %s", hb)
				}
			} else {
				var rep map[string]any
				if err != nil || json.Unmarshal(hb, &rep) != nil {
					t.Errorf("no final report in heartbeat.json for job %d (%v): the job is lost to Harvester", c.id, err)
				} else if rep["jobId"] != fmt.Sprint(c.id) || rep["state"] != "failed" || fmt.Sprint(rep["pilotErrorCode"]) != fmt.Sprint(int(want)) {
					t.Errorf("heartbeat.json jobId %v state %v pilotErrorCode %v; want %d failed %d", rep["jobId"], rep["state"], rep["pilotErrorCode"], c.id, want)
				}
			}
			if t.Failed() {
				t.Log(clip(run.Log, 10000))
			}
		})
	}
}
