package e2ehostile

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
)

// hugeAnswer is the size of the oversized getJob answers (100 MB).
const hugeAnswer = 100 << 20

// answerServer is a PanDA server that answers getJob with a fixed hostile
// body and records every other request.
type answerServer struct {
	URL     string
	getJobs atomic.Int64 // getJob requests
	written atomic.Int64 // answer bytes the client accepted
	mu      sync.Mutex
	others  []string // every other request: "METHOD path"
}

// serveAnswers starts an answerServer on 127.0.0.1:0 whose getJob handler is
// answer; it stops when the test ends.
func serveAnswers(t *testing.T, answer func(w http.ResponseWriter, s *answerServer)) *answerServer {
	t.Helper()
	s := &answerServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/server/panda/getJob", func(w http.ResponseWriter, r *http.Request) {
		s.getJobs.Add(1)
		answer(w, s)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.others = append(s.others, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		http.NotFound(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	sitetest.Must(t, err)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.URL = "http://" + ln.Addr().String()
	return s
}

func (s *answerServer) otherRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.others...)
}

// write sends b in 1 MiB pieces, counting what the client accepted, and
// stops at the first write error (the client hung up).
func (s *answerServer) write(w http.ResponseWriter, b []byte) {
	for len(b) > 0 {
		n := min(len(b), 1<<20)
		m, err := w.Write(b[:n])
		s.written.Add(int64(m))
		if err != nil {
			return
		}
		b = b[n:]
	}
}

// jobAnswer is a legacy urlencoded getJob answer for one valid job whose
// jobPars is padded to at least pad bytes. Its payload would touch marker.
func jobAnswer(id int64, marker string, pad int) []byte {
	f := map[string]string{}
	for k, v := range sitetest.BaseJob(id, "touch "+marker+";", "true") {
		f[k] = fmt.Sprint(v)
	}
	f["StatusCode"] = "0"
	body := jobdef.EncodeURLEncoded(f)
	if pad > 0 {
		body += "&padding=" + strings.Repeat("x", pad)
	}
	return []byte(body)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Hostile getJob answers from a server that is not pandalite: an answer
// larger than the client accepts (plain and gzip-encoded), a truncated gzip
// body, a body cut short of its Content-Length, and a gzip body sent without
// Content-Encoding. The pilot must end with COMMUNICATIONFAILURE (1318, exit
// 79) without running anything, with its memory bounded by the client's
// answer limit (jobdef.MaxBodySize, 64 MiB), and without sending any update
// (it never learnt a PandaID).
func TestHostileGetJobAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "payload-ran")
	huge := jobAnswer(8001, marker, hugeAnswer)
	hugeGz := gzipped(huge)
	small := jobAnswer(8002, marker, 0)
	smallGz := gzipped(small)
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, s *answerServer)
		diag   string // text the pilot log must show
		// bounded: the client must stop reading early (plain huge answer).
		bounded bool
	}{
		{"100 MB answer", func(w http.ResponseWriter, s *answerServer) {
			w.Header().Set("Content-Type", "text/plain")
			s.write(w, huge)
		}, "larger than", true},
		{"100 MB answer, gzip-encoded", func(w http.ResponseWriter, s *answerServer) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "text/plain")
			s.write(w, hugeGz)
		}, "larger than", false},
		{"truncated gzip body", func(w http.ResponseWriter, s *answerServer) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "text/plain")
			s.write(w, smallGz[:len(smallGz)/2])
		}, "unexpected EOF", false},
		{"body shorter than Content-Length", func(w http.ResponseWriter, s *answerServer) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", fmt.Sprint(len(small)))
			s.write(w, small[:len(small)/2])
		}, "unexpected EOF", false},
		{"gzip body without Content-Encoding", func(w http.ResponseWriter, s *answerServer) {
			w.Header().Set("Content-Type", "text/plain")
			s.write(w, smallGz)
		}, "UTF-8", false},
	}
	queue := filepath.Join(dir, "queue.json")
	sitetest.Must(t, os.WriteFile(queue, []byte(sitetest.QueueJSON(60, "")), 0o644))
	storage := filepath.Join(dir, "storage.json")
	sitetest.Must(t, os.WriteFile(storage, []byte("{}"), 0o644))
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := serveAnswers(t, c.answer)
			work := filepath.Join(dir, fmt.Sprintf("work%d", i))
			cmd := exec.Command(filepath.Join(bin, "pilot"), "-q", "E2E", "--url", srv.URL, "-j", "managed",
				"--workdir", work, "--getjob-wait", "0", "--queuedata-url", queue, "--storagedata-url", storage)
			cmd.Env = append(os.Environ(), "PILOT_DEBUG=true")
			cmd, peak := measured(t, cmd)
			run := sitetest.RunWithin(t, cmd, pilotDeadline)
			run.MaxRSSKB = peak()
			want := jobdef.CommunicationFailure
			if run.TimedOut || run.ExitCode != want.ShellExit() || !strings.Contains(run.Log, c.diag) ||
				!strings.Contains(run.Log, fmt.Sprint(int(want))) {
				t.Errorf("exit %d (timed out %v); want %d (%s) and a log naming %q and the code", run.ExitCode, run.TimedOut, want.ShellExit(), want, c.diag)
			}
			if n := srv.getJobs.Load(); n != 1 {
				t.Errorf("%d getJob requests; want 1 (a getJob that reached the server is never repeated)", n)
			}
			if o := srv.otherRequests(); len(o) > 0 {
				t.Errorf("requests after the failed getJob: %v (no job was received, nothing may be reported)", o)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("a payload ran")
			}
			if m, _ := filepath.Glob(filepath.Join(work, "PanDA_Pilot-*")); len(m) > 0 {
				t.Errorf("job directories: %v", m)
			}
			// The answer limit bounds what the client reads and holds.
			if c.bounded && srv.written.Load() >= int64(len(huge)) {
				t.Errorf("the client read the whole %d-byte answer", len(huge))
			}
			t.Logf("pilot peak RSS %d MB, server wrote %d MB", run.MaxRSSKB>>10, srv.written.Load()>>20)
			if limit := int64(3*jobdef.MaxBodySize) >> 10; run.MaxRSSKB > limit {
				t.Errorf("pilot peak RSS %d kB above %d kB (3 x the answer limit)", run.MaxRSSKB, limit)
			}
			if t.Failed() {
				t.Log(clip(run.Log, 20000))
			}
		})
	}
}
