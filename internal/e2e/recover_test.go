package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A pilot killed with SIGKILL while its payload runs leaves a journal; the
// next pilot on the same work directory (automatic recovery) or `pilot
// recover` kills the payload it left and reports the job failed with 1220.
func TestRecoverPayloadLeftRunning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   int64
		// recover runs the recovery and returns the pilot's exit code.
		recover func(s *site) int
	}{
		{"recover command", 3101, func(s *site) int {
			cmd := s.PilotCmd()
			cmd.Args = append([]string{cmd.Args[0], "recover"}, cmd.Args[1:]...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Logf("recover: %v\n%s", err, out)
				return 1
			}
			return 0
		}},
		{"next pilot", 3102, func(s *site) int {
			code, _ := s.RunPilot()
			return code
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, queueJSON(60, ""))
			marker := filepath.Join(s.Dir, "started")
			tag := fmt.Sprintf("sleep %d", tc.id)
			s.Submit(baseJob(tc.id, "touch "+marker+";", tag))
			cmd := s.PilotCmd()
			must(t, cmd.Start())
			waitFor(t, 30*time.Second, "payload start", func() bool { _, err := os.Stat(marker); return err == nil })
			waitFor(t, 30*time.Second, "payload process", func() bool { return len(processesWithArg(tag, s.Work)) > 0 })
			journal := filepath.Join(s.Work, fmt.Sprintf("PanDA_Pilot-%d", tc.id), "journal.jsonl")
			waitFor(t, 30*time.Second, "payload start in the journal", func() bool {
				b, _ := os.ReadFile(journal)
				return strings.Contains(string(b), `"payload_started"`)
			})
			must(t, cmd.Process.Signal(syscall.SIGKILL))
			cmd.Wait()
			t.Cleanup(func() {
				for _, pid := range processesWithArg(tag, s.Work) {
					if n, err := strconv.Atoi(pid); err == nil {
						syscall.Kill(n, syscall.SIGKILL)
					}
				}
			})
			if len(processesWithArg(tag, s.Work)) == 0 {
				t.Fatal("the payload did not outlive the pilot: nothing to recover")
			}
			if code := tc.recover(s); code != 0 {
				t.Fatalf("recovery exit %d", code)
			}
			j := s.Job(tc.id)
			if j.State != "failed" || j.PilotErrorCode != 1220 {
				t.Fatalf("state %s code %d %s", j.State, j.PilotErrorCode, j.PilotErrorDiag)
			}
			if pids := processesWithArg(tag, s.Work); len(pids) > 0 {
				t.Fatalf("payload processes survive recovery: %v", pids)
			}
			finals := 0
			for _, st := range s.States(tc.id) {
				if st == "failed" || st == "finished" {
					finals++
				}
			}
			if finals != 1 {
				t.Fatalf("%d final updates recorded: %v", finals, s.States(tc.id))
			}
		})
	}
}
