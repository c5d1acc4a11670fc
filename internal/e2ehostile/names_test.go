package e2ehostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/sitetest"
)

// File names that are valid LFNs but name the pilot's own files. The log
// tarball is built in the work directory under the log's LFN before it moves
// into the job directory, so a log named after a file of the work directory
// (the pilot log, the queue-data cache) must not replace that file; an input
// named after the job journal must not overwrite the journal that crash
// recovery and `pilot inspect` read. Whatever the pilot decides (refuse the
// name or keep its files apart), the job ends with a final update and the
// pilot's files are intact.
func TestFileNamesOfThePilot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(s *sitetest.Site, j map[string]any)
		check func(t *testing.T, s *sitetest.Site, id int64)
	}{
		{"log named pilotlog.txt", func(s *sitetest.Site, j map[string]any) { logName(j, "pilotlog.txt") },
			func(t *testing.T, s *sitetest.Site, id int64) {
				b, err := os.ReadFile(filepath.Join(s.Work, "pilotlog.txt"))
				if err != nil || !bytes.Contains(b, []byte("gopilot starting")) {
					t.Errorf("the pilot log in the work directory was replaced or moved (%v; starts %q)", err, clip(string(b), 40))
				}
			}},
		{"log named queuedata.json", func(s *sitetest.Site, j map[string]any) { logName(j, "queuedata.json") },
			func(t *testing.T, s *sitetest.Site, id int64) {
				b, err := os.ReadFile(filepath.Join(s.Work, "queuedata.json"))
				if err != nil || !json.Valid(b) {
					t.Errorf("the queue-data cache in the work directory was replaced or moved (%v; starts %q)", err, clip(string(b), 40))
				}
			}},
		{"input named journal.jsonl", func(s *sitetest.Site, j map[string]any) {
			size, ck := s.PutInput("journal.jsonl", []byte("not a journal record\n"))
			input(j, "journal.jsonl", size, ck)
			j["GUID"] = "22222222-2222-4222-8222-222222222222"
		}, func(t *testing.T, s *sitetest.Site, id int64) {
			if j := s.Job(id); j.PilotErrorCode == 1371 {
				// Refused before its job directory (and journal) existed.
				if _, err := os.Stat(filepath.Join(s.Work, fmt.Sprintf("PanDA_Pilot-%d", id))); err == nil {
					t.Errorf("a refused job has a job directory")
				}
				return
			}
			out, err := exec.Command(filepath.Join(bin, "pilot"), "inspect", "--workdir", s.Work, "9401").CombinedOutput()
			if err != nil || strings.Contains(string(out), "not a journal record") || !strings.Contains(string(out), s.Job(id).State) {
				t.Errorf("the job journal was overwritten or is unreadable (%v):\n%s", err, clip(string(out), 2000))
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := int64(9401 + i)
			s := sitetest.New(t, bin, sitetest.QueueJSON(60, ""))
			j := sitetest.BaseJob(id, "echo", "hello")
			c.edit(s, j)
			s.Submit(j)
			run := sitetest.RunWithin(t, s.PilotCmd("-x", "1", "--cleanup=false"), payloadDeadline)
			got := s.Job(id)
			t.Logf("job %s %d %q", got.State, got.PilotErrorCode, clip(got.PilotErrorDiag, 200))
			if run.TimedOut {
				t.Errorf("the pilot hung")
			}
			if _, ok := s.FinalUpdate(id); !ok {
				t.Error("no final update")
			}
			c.check(t, s, id)
			if t.Failed() {
				t.Log(clip(run.Log, 20000))
			}
		})
	}
}
