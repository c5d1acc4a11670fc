package status_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gopilot/gopilot/pilot/status"
)

// examplePilot stands for the pilot: it is the Source and the Controller.
type examplePilot struct {
	mu    sync.Mutex
	snap  status.Snapshot
	start time.Time
}

func (p *examplePilot) Snapshot() status.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

func (p *examplePilot) Drain(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.snap.Draining {
		p.snap.Draining, p.snap.DrainReason = true, reason
	}
}

func (p *examplePilot) KillJob(reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snap.Job == nil {
		return status.ErrNoJob
	}
	return nil
}

// Example serves the endpoint on a unix socket, as
// --status-addr unix:/path would, and reads it as curl --unix-socket does.
func Example() {
	start := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	p := &examplePilot{snap: status.Snapshot{
		PilotID: "wn042:81723|PR|0.1.0", Queue: "CERN-PROD_UCORE", Site: "CERN-PROD",
		Node: "wn042.cern.ch", Version: "0.1.0", Started: start, Deadline: start.Add(48 * time.Hour),
		Job: &status.JobStatus{PandaID: 6543210987, State: status.PhaseRunning, Started: start.Add(75 * time.Minute),
			PayloadPID: 81802, CPUSeconds: 803, RSSKB: 1843200, PSSKB: 1702311,
			FilesStagedIn: 3, BytesIn: 2147483648},
	}}
	m := status.NewMetrics()
	m.JobDone("finished")
	m.StageIn(3, 2147483648, 41*time.Second)
	m.GetJob(180*time.Millisecond, nil)

	dir, err := os.MkdirTemp("", "status-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	srv, err := status.New(status.UnixPrefix+filepath.Join(dir, "pilot.sock"), p, p, m, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Now = func() time.Time { return start.Add(90 * time.Minute) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	sock := strings.TrimPrefix(srv.Addr(), status.UnixPrefix)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()

	// curl --unix-socket /path/pilot.sock http://pilot/status
	resp, err := c.Get("http://pilot/status")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(b))

	// curl --unix-socket /path/pilot.sock http://pilot/metrics | grep ...
	resp, err = c.Get("http://pilot/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "gopilot_jobs_total") || strings.HasPrefix(l, "gopilot_stagein_bytes") ||
			strings.HasPrefix(l, "gopilot_time_left") {
			fmt.Println(l)
		}
	}
	resp.Body.Close()

	// curl --unix-socket /path/pilot.sock -d reason='cooling failure' http://pilot/drain
	resp, err = c.Post("http://pilot/drain", "application/x-www-form-urlencoded", strings.NewReader("reason=cooling+failure"))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"ok"`) || strings.Contains(l, `"reason"`) || strings.Contains(l, `"draining"`) ||
			strings.Contains(l, `"drain_reason"`) {
			fmt.Println(l)
		}
	}

	// Output:
	// {
	//   "pilot_id": "wn042:81723|PR|0.1.0",
	//   "queue": "CERN-PROD_UCORE",
	//   "site": "CERN-PROD",
	//   "node": "wn042.cern.ch",
	//   "version": "0.1.0",
	//   "started": "2026-03-01T10:30:00Z",
	//   "deadline": "2026-03-03T10:30:00Z",
	//   "uptime_seconds": 5400,
	//   "time_left_seconds": 167400,
	//   "draining": false,
	//   "drain_reason": "",
	//   "jobs": {
	//     "failed": 0,
	//     "finished": 1
	//   },
	//   "job": {
	//     "panda_id": 6543210987,
	//     "state": "running",
	//     "started": "2026-03-01T11:45:00Z",
	//     "payload_pid": 81802,
	//     "cpu_seconds": 803,
	//     "rss_kb": 1843200,
	//     "pss_kb": 1702311,
	//     "files_staged_in": 3,
	//     "files_staged_out": 0,
	//     "bytes_in": 2147483648,
	//     "bytes_out": 0
	//   }
	// }
	// gopilot_time_left_seconds 167400
	// gopilot_jobs_total{outcome="failed"} 0
	// gopilot_jobs_total{outcome="finished"} 1
	// gopilot_stagein_bytes_total 2147483648
	// 200 OK
	//   "ok": true,
	//   "reason": "cooling failure",
	//     "draining": true,
	//     "drain_reason": "cooling failure",
}
