package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// TestEndpoints sends every endpoint every relevant method over TCP and
// over a unix socket.
func TestEndpoints(t *testing.T) {
	type check func(t *testing.T, e *endpoint, h http.Header, body string)
	jsonReply := func(ok bool, action string, draining bool) check {
		return func(t *testing.T, e *endpoint, h http.Header, body string) {
			var r ActionReply
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if r.OK != ok || r.Action != action || r.Status.Draining != draining || (ok != (r.Error == "")) {
				t.Errorf("reply %+v", r)
			}
		}
	}
	allow := func(want string) check {
		return func(t *testing.T, e *endpoint, h http.Header, body string) {
			if got := h.Get("Allow"); got != want {
				t.Errorf("Allow %q, want %q", got, want)
			}
		}
	}
	withJob := func(e *endpoint) { e.pilot.setJob(runningJob()) }

	for _, tc := range []struct {
		name         string
		setup        func(e *endpoint)
		method, path string
		hdr          []string
		wantCode     int
		wantType     string
		check        check
	}{
		{name: "status", method: "GET", path: "/status", wantCode: 200, wantType: "application/json",
			check: func(t *testing.T, e *endpoint, h http.Header, body string) {
				var s Snapshot
				if err := json.Unmarshal([]byte(body), &s); err != nil || s.Queue != "TEST_QUEUE" || s.Job != nil {
					t.Errorf("%v %+v", err, s)
				}
				if h.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
				}
			}},
		{name: "status HEAD", method: "HEAD", path: "/status", wantCode: 200, wantType: "application/json"},
		{name: "metrics", method: "GET", path: "/metrics", wantCode: 200, wantType: MetricsContentType,
			check: func(t *testing.T, e *endpoint, h http.Header, body string) {
				if _, err := checkExposition(body); err != nil {
					t.Error(err)
				}
			}},
		{name: "status POST", method: "POST", path: "/status", wantCode: 405, check: allow("GET, HEAD")},
		{name: "status DELETE", method: "DELETE", path: "/status", wantCode: 405, check: allow("GET, HEAD")},
		{name: "metrics PUT", method: "PUT", path: "/metrics", wantCode: 405, check: allow("GET, HEAD")},
		{name: "drain GET", method: "GET", path: "/drain", wantCode: 405, check: allow("POST")},
		{name: "kill GET", method: "GET", path: "/kill", wantCode: 405, check: allow("POST")},
		{name: "kill PUT", method: "PUT", path: "/kill", wantCode: 405, check: allow("POST")},
		{name: "root", method: "GET", path: "/", wantCode: 404},
		{name: "unknown", method: "GET", path: "/jobs", wantCode: 404},
		{name: "unknown POST", method: "POST", path: "/stop", wantCode: 404},
		{name: "trailing slash", method: "GET", path: "/status/", wantCode: 404},
		{name: "sub path", method: "POST", path: "/kill/now", wantCode: 404},
		{name: "drain", method: "POST", path: "/drain", wantCode: 200, wantType: "application/json",
			check: jsonReply(true, "drain", true)},
		{name: "kill without job", method: "POST", path: "/kill", wantCode: 409, wantType: "application/json",
			check: func(t *testing.T, e *endpoint, h http.Header, body string) {
				jsonReply(false, "kill", false)(t, e, h, body)
				if !strings.Contains(body, ErrNoJob.Error()) {
					t.Errorf("no reason in %s", body)
				}
			}},
		{name: "kill", setup: withJob, method: "POST", path: "/kill", wantCode: 200, wantType: "application/json",
			check: func(t *testing.T, e *endpoint, h http.Header, body string) {
				jsonReply(true, "kill", false)(t, e, h, body)
				if _, kills := e.pilot.actions(); !slices.Equal(kills, []string{DefaultKillReason}) {
					t.Errorf("kills %q", kills)
				}
			}},
		{name: "browser GET", method: "GET", path: "/status", hdr: []string{"Origin", "http://evil.example"}, wantCode: 403},
		{name: "browser kill", setup: withJob, method: "POST", path: "/kill", hdr: []string{"Origin", "null"}, wantCode: 403,
			check: func(t *testing.T, e *endpoint, h http.Header, body string) {
				if d, k := e.pilot.actions(); len(d)+len(k) > 0 {
					t.Errorf("action taken: %q %q", d, k)
				}
			}},
	} {
		for tr, addr := range transports(t) {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				e := start(t, addr, false)
				if tc.setup != nil {
					tc.setup(e)
				}
				code, h, body := e.do(t, tc.method, tc.path, "", "", tc.hdr...)
				if code != tc.wantCode {
					t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, code, tc.wantCode, body)
				}
				if tc.wantType != "" && h.Get("Content-Type") != tc.wantType {
					t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), tc.wantType)
				}
				if tc.check != nil {
					tc.check(t, e, h, body)
				}
			})
		}
	}
}

// TestStatusSchema pins the JSON keys and their types.
func TestStatusSchema(t *testing.T) {
	top := map[string]string{
		"pilot_id": "string", "queue": "string", "site": "string", "node": "string", "version": "string",
		"started": "time", "deadline": "time", "uptime_seconds": "number", "time_left_seconds": "number",
		"draining": "bool", "drain_reason": "string", "jobs": "object", "job": "object|null",
	}
	job := map[string]string{
		"panda_id": "number", "state": "string", "started": "time", "payload_pid": "number",
		"cpu_seconds": "number", "rss_kb": "number", "pss_kb": "number", "files_staged_in": "number",
		"files_staged_out": "number", "bytes_in": "number", "bytes_out": "number",
	}
	cet := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		job  *JobStatus
		mod  func(s *Snapshot)
		want map[string]any // values of some keys, as JSON decodes them
	}{
		{"idle", nil, nil, map[string]any{"job": nil, "uptime_seconds": 5400.0, "time_left_seconds": 7200.0,
			"started": "2026-03-01T10:30:00Z", "deadline": "2026-03-01T14:00:00Z",
			"jobs": map[string]any{"finished": 0.0, "failed": 0.0}}},
		{"UTC to the second", nil, func(s *Snapshot) {
			s.Started = t0.Add(-90*time.Minute + 999*time.Millisecond).In(cet)
			s.Deadline = t0.Add(time.Hour + 1500*time.Millisecond).In(cet)
		}, map[string]any{"started": "2026-03-01T10:30:00Z", "deadline": "2026-03-01T13:00:01Z",
			"uptime_seconds": 5399.0, "time_left_seconds": 3601.0}},
		{"past deadline", nil, func(s *Snapshot) { s.Deadline = t0.Add(-time.Minute) },
			map[string]any{"time_left_seconds": 0.0}},
		{"jobs from the source", nil, func(s *Snapshot) { s.Jobs = map[string]int64{"closed": 2} },
			map[string]any{"jobs": map[string]any{"closed": 2.0}}},
		{"draining", nil, func(s *Snapshot) { s.Draining, s.DrainReason = true, "downtime" },
			map[string]any{"draining": true, "drain_reason": "downtime"}},
		{"running", runningJob(), nil, map[string]any{"job": map[string]any{
			"panda_id": 4000000042.0, "state": "running", "started": "2026-03-01T11:50:00Z", "payload_pid": 31337.0,
			"cpu_seconds": 512.0, "rss_kb": 204800.0, "pss_kb": 150000.0, "files_staged_in": 2.0,
			"files_staged_out": 0.0, "bytes_in": float64(3 << 20), "bytes_out": 0.0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, "127.0.0.1:0", false)
			e.pilot.setJob(tc.job)
			if tc.mod != nil {
				e.pilot.mu.Lock()
				tc.mod(&e.pilot.snap)
				e.pilot.mu.Unlock()
			}
			_, _, body := e.do(t, "GET", "/status", "", "")
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, "status", got, top)
			if j, ok := got["job"].(map[string]any); ok {
				checkKeys(t, "job", j, job)
			}
			for k, want := range tc.want {
				if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, want) {
					t.Errorf("%s = %s, want %s", k, g, mustJSON(t, want))
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkKeys(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	var extra []string
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s: unexpected keys %q", what, extra)
	}
	for k, typ := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("%s: missing %s", what, k)
			continue
		}
		okType := false
		for _, ty := range strings.Split(typ, "|") {
			switch ty {
			case "string":
				_, okType = v.(string)
			case "number":
				_, okType = v.(float64)
			case "bool":
				_, okType = v.(bool)
			case "object":
				_, okType = v.(map[string]any)
			case "null":
				okType = v == nil
			case "time":
				s, _ := v.(string)
				_, err := time.Parse(time.RFC3339, s)
				okType = err == nil
			}
			if okType {
				break
			}
		}
		if !okType {
			t.Errorf("%s: %s = %#v, want %s", what, k, v, typ)
		}
	}
}

// TestReasons checks how POST bodies give the reason passed to the
// Controller.
func TestReasons(t *testing.T) {
	for _, tc := range []struct {
		name, query, ctype, body string
		wantCode                 int
		want                     string // reason received; "" = none received
	}{
		{name: "none", wantCode: 200, want: "<default>"},
		{name: "json", ctype: "application/json", body: `{"reason":"disk failing"}`, wantCode: 200, want: "disk failing"},
		{name: "json charset", ctype: "application/json; charset=utf-8", body: `{"reason":"ok","x":1}`, wantCode: 200, want: "ok"},
		{name: "json no reason", ctype: "application/json", body: `{}`, wantCode: 200, want: "<default>"},
		{name: "json null reason", ctype: "application/json", body: `{"reason":null}`, wantCode: 200, want: "<default>"},
		{name: "json not string", ctype: "application/json", body: `{"reason":42}`, wantCode: 400},
		{name: "json broken", ctype: "application/json", body: `{"reason":`, wantCode: 400},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: "reason=node+reboot&x=1", wantCode: 200, want: "node reboot"},
		{name: "form broken", ctype: "application/x-www-form-urlencoded", body: "reason=%zz", wantCode: 400},
		{name: "text", ctype: "text/plain", body: "first line\nsecond line", wantCode: 200, want: "first line"},
		{name: "no type", body: "  spaced   out  ", wantCode: 200, want: "spaced out"},
		{name: "query", query: "?reason=from+query", wantCode: 200, want: "from query"},
		{name: "body over query", query: "?reason=q", ctype: "text/plain", body: "b", wantCode: 200, want: "b"},
		{name: "control chars", ctype: "text/plain", body: "a\x1b[31mred\x00\u202eevil", wantCode: 200, want: "a [31mred evil"},
		{name: "long", ctype: "text/plain", body: strings.Repeat("é", 400), wantCode: 200, want: strings.Repeat("é", MaxReasonLen/2)},
		{name: "multipart", ctype: "multipart/form-data; boundary=x", body: "--x--", wantCode: 415},
		{name: "bad type", ctype: "a/b/c", body: "x", wantCode: 415},
		{name: "too big", ctype: "text/plain", body: strings.Repeat("x", maxBody+1), wantCode: 413},
	} {
		for _, action := range []string{"drain", "kill"} {
			t.Run(action+"/"+tc.name, func(t *testing.T) {
				e := start(t, "127.0.0.1:0", false)
				e.pilot.setJob(runningJob())
				code, _, body := e.do(t, "POST", "/"+action+tc.query, tc.ctype, tc.body)
				if code != tc.wantCode {
					t.Fatalf("%d, want %d: %s", code, tc.wantCode, body)
				}
				var r ActionReply
				if err := json.Unmarshal([]byte(body), &r); err != nil {
					t.Fatalf("%v: %s", err, body)
				}
				drains, kills := e.pilot.actions()
				got := append(drains, kills...)
				want := tc.want
				if want == "<default>" {
					want = map[string]string{"drain": DefaultDrainReason, "kill": DefaultKillReason}[action]
				}
				if want == "" {
					if len(got) > 0 || r.OK || r.Error == "" {
						t.Errorf("action taken on a refused request: %q %+v", got, r)
					}
					return
				}
				if !slices.Equal(got, []string{want}) || r.Reason != want {
					t.Errorf("reasons %q, reply %q, want %q", got, r.Reason, want)
				}
			})
		}
	}
}

func TestDrainIdempotent(t *testing.T) {
	e := start(t, "127.0.0.1:0", false)
	for i, reason := range []string{"first", "second", "third"} {
		code, _, body := e.do(t, "POST", "/drain", "text/plain", reason)
		var r ActionReply
		if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 || !r.OK {
			t.Fatalf("drain %d: %d %v %s", i, code, err, body)
		}
		if !r.Status.Draining || r.Status.DrainReason != "first" {
			t.Errorf("drain %d: status %+v", i, r.Status)
		}
	}
	if d, _ := e.pilot.actions(); len(d) != 3 {
		t.Errorf("Drain called %d times", len(d))
	}
}

// TestAdminActionsLogged checks that each admin action is logged with who
// asked and why.
func TestAdminActionsLogged(t *testing.T) {
	for tr, addr := range transports(t) {
		t.Run(tr, func(t *testing.T) {
			e := start(t, addr, false)
			e.do(t, "POST", "/kill", "text/plain", "why not")
			e.pilot.setJob(runningJob())
			e.do(t, "POST", "/kill", "text/plain", "stuck job")
			e.do(t, "POST", "/drain", "", "")
			var got []string
			for _, en := range e.hook.AllEntries() {
				if a, ok := en.Data["action"]; ok {
					p, _ := en.Data["peer"].(string)
					if p == "" || (tr == "unix" && !strings.Contains(p, fmt.Sprintf("uid=%d ", os.Getuid()))) {
						t.Errorf("peer %q", p)
					}
					got = append(got, fmt.Sprintf("%s %v %v %s", en.Level, a, en.Data["reason"], en.Message))
				}
			}
			want := []string{
				"warning kill why not status endpoint: admin action not taken",
				"info kill stuck job status endpoint: admin action taken",
				"info drain " + DefaultDrainReason + " status endpoint: admin action taken",
			}
			if !slices.Equal(got, want) {
				t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestNoController(t *testing.T) {
	e := start(t, "127.0.0.1:0", true)
	for _, p := range []string{"/drain", "/kill"} {
		if code, _, body := e.do(t, "POST", p, "", ""); code != http.StatusNotImplemented {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	if code, _, _ := e.do(t, "GET", "/status", "", ""); code != 200 {
		t.Errorf("status %d", code)
	}
}

func TestNewErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, addr string
		src        Source
	}{
		{"empty", "", newFakePilot()},
		{"no port", "127.0.0.1", newFakePilot()},
		{"empty socket path", "unix:", newFakePilot()},
		{"port in use", busy.Addr().String(), newFakePilot()},
		{"regular file", UnixPrefix + regular, newFakePilot()},
		{"directory", UnixPrefix + dir, newFakePilot()},
		{"missing directory", UnixPrefix + filepath.Join(dir, "no", "s.sock"), newFakePilot()},
		{"no source", "127.0.0.1:0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.addr, tc.src, nil, nil, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%q) succeeded", tc.addr)
			}
		})
	}
	if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me" {
		t.Errorf("regular file touched: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind in %s: %v", dir, ents)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "example.org": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
}

func TestTCPPortZero(t *testing.T) {
	e := start(t, "127.0.0.1:0", false)
	_, port, err := net.SplitHostPort(e.srv.Addr())
	if err != nil || port == "0" || port == "" {
		t.Fatalf("Addr %q: %v", e.srv.Addr(), err)
	}
}

// TestUnixSocket checks the socket's mode, its replacement when stale, its
// refusal when live, and its removal on close.
func TestUnixSocket(t *testing.T) {
	t.Run("mode and removal", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "status.sock")
		s, err := New(UnixPrefix+path, newFakePilot(), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Addr() != UnixPrefix+path {
			t.Errorf("Addr %q", s.Addr())
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want socket 0600", fi.Mode())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("directory holds %v", ents)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left after Close: %v", err)
		}
	})
	t.Run("stale replaced", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "status.sock")
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false)
		old.Close()
		e := start(t, UnixPrefix+path, false)
		if code, _, _ := e.do(t, "GET", "/status", "", ""); code != 200 {
			t.Errorf("status %d", code)
		}
	})
	t.Run("live refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "status.sock")
		e := start(t, UnixPrefix+path, false)
		if s, err := New(UnixPrefix+path, newFakePilot(), nil, nil, nil); err == nil {
			s.Close()
			t.Fatal("second server on a live socket")
		} else if !strings.Contains(err.Error(), "in use") {
			t.Errorf("error %v", err)
		}
		if code, _, _ := e.do(t, "GET", "/status", "", ""); code != 200 {
			t.Errorf("first server broken: %d", code)
		}
	})
	t.Run("replacement kept", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "status.sock")
		a, err := New(UnixPrefix+path, newFakePilot(), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		b := start(t, UnixPrefix+path, false)
		a.Close()
		if code, _, _ := b.do(t, "GET", "/status", "", ""); code != 200 {
			t.Errorf("the replacing server lost its socket: %d", code)
		}
	})
	t.Run("other users refused", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to connect as another user")
		}
		// The whole path must be reachable by the other user, so that
		// only the socket's own mode can refuse the connection.
		dir := t.TempDir()
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "status.sock")
		start(t, UnixPrefix+path, false)
		const nobody = 65534
		if got := strings.TrimSpace(dialAs(t, dir, path, nobody)); got != "EACCES" {
			t.Errorf("connect as uid %d: %q, want EACCES", nobody, got)
		}
		// Control: with the mode opened, the same user connects.
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(dialAs(t, dir, path, nobody)); got != "connected" {
			t.Errorf("connect as uid %d to a 0666 socket: %q", nobody, got)
		}
	})
}

// TestServeEnds checks that Serve returns when its context ends or on
// Close, and that nothing answers afterwards.
func TestServeEnds(t *testing.T) {
	for _, how := range []string{"context", "close", "close before serve"} {
		for tr, addr := range transports(t) {
			t.Run(how+"/"+tr, func(t *testing.T) {
				s, err := New(addr, newFakePilot(), nil, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				if how == "close before serve" {
					s.Close()
				}
				done := make(chan error, 1)
				go func() { done <- s.Serve(ctx) }()
				c, base := clientFor(s.Addr())
				defer c.CloseIdleConnections()
				if how != "close before serve" {
					resp, err := c.Get(base + "/status")
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				}
				switch how {
				case "context":
					cancel(errors.New("pilot ends"))
				case "close":
					s.Close()
				}
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Serve: %v", err)
					}
				case <-time.After(waitLimit):
					t.Fatal("Serve did not return")
				}
				c.CloseIdleConnections()
				if resp, err := c.Get(base + "/status"); err == nil {
					resp.Body.Close()
					t.Error("still answering after Serve returned")
				}
				if path, ok := strings.CutPrefix(s.Addr(), UnixPrefix); ok {
					if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("socket left: %v", err)
					}
				}
			})
		}
	}
}

// TestConcurrentScrapes updates metrics and the snapshot from many
// goroutines while clients scrape /metrics and /status over both
// transports; run with -race.
func TestConcurrentScrapes(t *testing.T) {
	for tr, addr := range transports(t) {
		t.Run(tr, func(t *testing.T) {
			e := start(t, addr, false)
			const updaters, rounds, scrapers = 6, 200, 4
			var wg sync.WaitGroup
			for u := range updaters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range rounds {
						e.m.JobDone("finished")
						e.m.StageIn(1, 1000, time.Millisecond)
						e.m.GetJob(time.Duration(i)*time.Millisecond, nil)
						e.m.ServerError("updateJob")
						if u == 0 {
							j := runningJob()
							j.State = Phases()[i%len(Phases())]
							e.pilot.setJob(j)
						}
					}
				}()
			}
			stop := make(chan struct{})
			errc := make(chan error, scrapers)
			for range scrapers {
				go func() {
					var last float64
					for n := 0; ; n++ {
						_, _, body := e.do(t, "GET", "/metrics", "", "")
						x, err := checkExposition(body)
						if err != nil {
							errc <- err
							return
						}
						v, _ := x.get("gopilot_jobs_total", "outcome", "finished")
						if v < last {
							errc <- fmt.Errorf("jobs_total went down: %v < %v", v, last)
							return
						}
						last = v
						if _, _, body := e.do(t, "GET", "/status", "", ""); !json.Valid([]byte(body)) {
							errc <- fmt.Errorf("invalid JSON: %s", body)
							return
						}
						select {
						case <-stop:
							errc <- nil
							return
						default:
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			for range scrapers {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			_, _, body := e.do(t, "GET", "/metrics", "", "")
			x, err := checkExposition(body)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := x.get("gopilot_jobs_total", "outcome", "finished"); v != updaters*rounds {
				t.Errorf("jobs_total = %v, want %d", v, updaters*rounds)
			}
			if v, _ := x.get("gopilot_getjob_duration_seconds_count"); v != updaters*rounds {
				t.Errorf("getjob count = %v", v)
			}
		})
	}
}

// BenchmarkScrape measures one GET /metrics over a kept-alive connection.
func BenchmarkScrape(b *testing.B) {
	for _, tr := range []string{"tcp", "unix"} {
		b.Run(tr, func(b *testing.B) {
			addr := "127.0.0.1:0"
			if tr == "unix" {
				addr = UnixPrefix + filepath.Join(b.TempDir(), "s.sock")
			}
			p := newFakePilot()
			p.setJob(runningJob())
			m := NewMetrics()
			for i := range 100 {
				m.JobDone("finished")
				m.GetJob(time.Duration(i)*time.Millisecond, nil)
				m.ServerError(fmt.Sprintf("op%d", i%5))
			}
			lg := logrus.New()
			lg.SetLevel(logrus.PanicLevel)
			s, err := New(addr, p, p, m, lg)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx) }()
			b.Cleanup(func() { cancel(); <-done })
			c, base := clientFor(s.Addr())
			b.Cleanup(c.CloseIdleConnections)
			var n int64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := c.Get(base + "/metrics")
				if err != nil {
					b.Fatal(err)
				}
				var buf [32 << 10]byte
				for {
					k, err := resp.Body.Read(buf[:])
					n += int64(k)
					if err != nil {
						break
					}
				}
				resp.Body.Close()
			}
			b.SetBytes(n / int64(max(b.N, 1)))
		})
	}
}

// BenchmarkWriteText measures the exposition alone.
func BenchmarkWriteText(b *testing.B) {
	p := newFakePilot()
	p.setJob(runningJob())
	m := NewMetrics()
	snap := completed(p.Snapshot(), m)
	var sink countWriter
	b.ReportAllocs()
	for b.Loop() {
		if err := m.WriteText(&sink, snap); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
