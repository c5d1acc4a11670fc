package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/sitetest"
)

// unixClient is an HTTP client that dials the unix socket sock.
func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
}

// The status endpoint shows the running job, serves metrics, and kills the
// job on POST /kill (1205); POST /drain then keeps the pilot from taking
// the next job.
func TestStatusEndpoint(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	marker := filepath.Join(s.Dir, "started")
	s.Submit(baseJob(3401, "touch "+marker+";", "sleep 3401"), baseJob(3402, "true", ""))
	sock := filepath.Join(s.Dir, "status.sock")
	cmd := s.PilotCmd("--status-addr", "unix:"+sock)
	out := &sitetest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	waitFor(t, 30*time.Second, "payload start", func() bool { _, err := os.Stat(marker); return err == nil })
	c := unixClient(sock)

	var st struct {
		Queue string `json:"queue"`
		Job   *struct {
			PandaID    int64  `json:"panda_id"`
			State      string `json:"state"`
			PayloadPID int    `json:"payload_pid"`
		} `json:"job"`
	}
	waitFor(t, 30*time.Second, "status showing the running payload", func() bool {
		resp, err := c.Get("http://pilot/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st.Job = nil
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Job != nil && st.Job.State == "running" && st.Job.PayloadPID > 0
	})
	if st.Queue != "E2E" || st.Job.PandaID != 3401 {
		t.Fatalf("status %+v job %+v", st, *st.Job)
	}
	resp, err := c.Get("http://pilot/metrics")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "gopilot_stage_in_seconds") && !strings.Contains(string(body), "gopilot_jobs_total") {
		t.Fatalf("metrics:\n%s", body)
	}
	for _, action := range []string{"drain", "kill"} {
		resp, err := c.Post("http://pilot/"+action, "text/plain", strings.NewReader("e2e "+action))
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /%s: %s", action, resp.Status)
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the pilot did not end after drain and kill\n%s", out.String())
	}
	if j := s.Job(3401); j.State != "failed" || j.PilotErrorCode != 1205 {
		t.Fatalf("killed job: state %s code %d %s\n%s", j.State, j.PilotErrorCode, j.PilotErrorDiag, out.String())
	}
	if j := s.Job(3402); j.State == "finished" || j.State == "failed" || j.NSent != 0 {
		t.Fatalf("the drained pilot took job 3402: %+v", j)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// A drain file that appears while a job runs lets that job finish and keeps
// the pilot from taking another.
func TestDrainFile(t *testing.T) {
	t.Parallel()
	s := newSite(t, queueJSON(60, ""))
	marker := filepath.Join(s.Dir, "started")
	release := filepath.Join(s.Dir, "release")
	// The payload waits until the test has created the drain file.
	s.Submit(baseJob(3501, "touch "+marker+"; while [ ! -e "+release+" ]; do sleep 0.1; done;", "true"), baseJob(3502, "true", ""))
	drain := filepath.Join(s.Dir, "DRAIN")
	cmd := s.PilotCmd("--drain-file", drain)
	out := &sitetest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	waitFor(t, 30*time.Second, "payload start", func() bool { _, err := os.Stat(marker); return err == nil })
	must(t, os.WriteFile(drain, []byte("node maintenance\n"), 0o644))
	waitFor(t, 30*time.Second, "drain noticed", func() bool { return strings.Contains(out.String(), "node maintenance") })
	must(t, os.WriteFile(release, nil, 0o644))
	must(t, cmd.Wait())
	if j := s.Job(3501); j.State != "finished" {
		t.Fatalf("running job: %+v\n%s", j, out.String())
	}
	if j := s.Job(3502); j.NSent != 0 {
		t.Fatalf("the drained pilot took job 3502: %+v", j)
	}
}
