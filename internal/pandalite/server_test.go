package pandalite

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestContentNegotiation(t *testing.T) {
	e := newEnv(t, Options{})
	type tc struct {
		name        string
		method      string
		path        string
		contentType string
		accept      string
		body        []byte
		status      int
		wantType    string
		want        string
	}
	gz := func(s string) []byte { return gzipBytes(t, []byte(s)) }
	tests := []tc{
		{"gzip JSON, no Accept", "POST", "/server/panda/getJob", "application/json", "", gz(`{"siteName": "PANDASTUB"}`), 200, "text/plain", "StatusCode=20"},
		{"gzip JSON, Accept json", "POST", "/server/panda/getJob", "application/json", "application/json", gz(`{"siteName": "PANDASTUB"}`), 200, "application/json", `{"StatusCode": 20, "errorDialog": "no jobs in PanDA"}`},
		{"plain JSON", "POST", "/server/panda/getJob", "application/json", "", []byte(`{"siteName": "PANDASTUB"}`), 200, "text/plain", "StatusCode=20"},
		{"form", "POST", "/server/panda/getJob", "application/x-www-form-urlencoded", "", []byte("siteName=PANDASTUB"), 200, "text/plain", "StatusCode=20"},
		{"query string GET", "GET", "/server/panda/getJob?siteName=PANDASTUB", "", "*/*, application/json", nil, 200, "application/json", `{"StatusCode": 20, "errorDialog": "no jobs in PanDA"}`},
		{"JSON with charset is not JSON", "POST", "/server/panda/getJob", "application/json; charset=utf-8", "", []byte(`{"siteName": "PANDASTUB"}`), 200, "text/plain", "StatusCode=30"},
		{"no siteName, JSON dialog", "POST", "/server/panda/getJob", "application/x-www-form-urlencoded", "application/json", []byte("node=x"), 200, "application/json", `{"StatusCode": 30, "errorDialog": "siteName is missing"}`},
		{"broken gzip", "POST", "/server/panda/updateJob", "application/json", "", []byte{0x1f, 0x8b, 1, 2, 3}, 400, "text/plain", ""},
		{"unknown method", "POST", "/server/panda/getProxy", "application/json", "", gz(`{}`), 403, "text/plain", "ERROR : method getProxy is forbidden"},
		{"unknown v1 method", "POST", "/api/v1/pilot/nothing", "application/json", "", []byte(`{}`), 403, "text/plain", "ERROR : method nothing is forbidden"},
		{"resource types", "POST", "/server/panda/getResourceTypes", "application/json", "", gz(`{}`), 200, "text/plain", "StatusCode=0&Returns=0&ResourceTypes=%5B%5D"},
		{"resource types JSON", "POST", "/server/panda/getResourceTypes", "application/json", "application/json", gz(`{}`), 200, "application/json", `{"StatusCode": 0, "Returns": 0, "ResourceTypes": []}`},
		{"worker pilot status", "POST", "/server/panda/updateWorkerPilotStatus", "application/json", "", gz(`{"workerID": 1, "harvesterID": "h", "status": "started", "site": "PANDASTUB", "node_id": "wn"}`), 200, "text/plain", "StatusCode=0"},
		{"getStatus", "POST", "/server/panda/getStatus", "application/x-www-form-urlencoded", "", []byte("ids=1+2"), 200, "text/plain", "StatusCode=0&status=notfound%2Bnotfound&attemptNr=0%2B0"},
		{"setDebugMode unknown job", "POST", "/server/panda/setDebugMode", "application/x-www-form-urlencoded", "", []byte("pandaID=5&modeOn=True"), 200, "text/plain", ""},
		{"update NULL JSON", "POST", "/server/panda/updateJob", "application/x-www-form-urlencoded", "application/json", []byte("jobId=NULL&state=running"), 200, "application/json", `{"StatusCode": 0}`},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, e.url+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			a := do(t, nil, req)
			if a.status != c.status || a.contentType != c.wantType || (c.want != "" && a.body != c.want) {
				t.Fatalf("HTTP %d %q %q, want %d %q %q", a.status, a.contentType, a.body, c.status, c.wantType, c.want)
			}
		})
	}
}

func TestStaticFiles(t *testing.T) {
	trf := t.TempDir()
	if err := os.MkdirAll(filepath.Join(trf, "user"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trf, "user", "runcmd.sh"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	storage := readTestdata(t, "storage.json")
	e := newEnv(t, Options{TrfDir: trf, Storage: bytes.TrimSpace(storage)})
	queue := strings.TrimSpace(string(readTestdata(t, "queue_PANDASTUB.json")))
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/cache/schedconfig/PANDASTUB.all.json", 200, queue},
		{"/cache/schedconfig/PANDASTUB.json", 200, `{"PANDASTUB": ` + queue + `}`},
		{"/cache/schedconfig/OTHER.all.json", 404, ""},
		{"/cache/ddmendpoints.json", 200, strings.TrimSpace(string(storage))},
		{"/trf/user/runcmd.sh", 200, "#!/bin/sh\nexec \"$@\"\n"},
		{"/trf/user/missing.sh", 404, ""},
		{"/trf/../queue_PANDASTUB.json", 404, ""},
		{"/api/v1/system/is_alive", 200, `{"success": true, "message": "", "data": null}`},
		{"/api/latest/system/is_alive", 200, `{"success": true, "message": "", "data": null}`},
		{"/nothing", 404, ""},
	}
	for _, tc := range tests {
		req, err := http.NewRequest(http.MethodGet, e.url+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := do(t, nil, req)
		if a.status != tc.status || (tc.want != "" && a.body != tc.want) {
			t.Errorf("GET %s: HTTP %d %q", tc.path, a.status, a.body)
		}
	}
	// Without storage or trf dir those answer 404.
	e2 := newEnv(t, Options{})
	for _, p := range []string{"/cache/ddmendpoints.json", "/trf/user/runcmd.sh"} {
		req, _ := http.NewRequest(http.MethodGet, e2.url+p, nil)
		if a := do(t, nil, req); a.status != 404 {
			t.Errorf("GET %s without config: HTTP %d", p, a.status)
		}
	}
}

func TestParseQueue(t *testing.T) {
	tests := []struct {
		in, name, resource, status string
		err                        bool
	}{
		{`{"nickname": "Q", "panda_resource": "R", "status": "test"}`, "Q", "R", "test", false},
		{`{"nickname": "Q"}`, "Q", "Q", "", false},
		{`{"Q": {"panda_resource": "Q", "status": "online"}}`, "Q", "Q", "online", false},
		{`{"Q": {"nickname": "Q"}}`, "Q", "Q", "", false},
		{`{"status": "online"}`, "", "", "", true},
		{`{"nickname": "Q", "error": "x"}`, "", "", "", true},
		{`[1]`, "", "", "", true},
	}
	for _, tc := range tests {
		q, err := ParseQueue([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("ParseQueue(%s): %v", tc.in, err)
			continue
		}
		if err == nil && (q.Name != tc.name || q.Resource != tc.resource || q.Status != tc.status) {
			t.Errorf("ParseQueue(%s) = %+v", tc.in, q)
		}
	}
}

// TestMiddleware: Options.Middleware wraps every call, first outermost.
func TestMiddleware(t *testing.T) {
	var calls atomic.Int32
	var order []string
	mw := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				order = append(order, name)
				if r.URL.Path == "/server/panda/getJob" && name == "fault" {
					http.Error(w, "injected", http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	e := newEnv(t, Options{Middleware: []func(http.Handler) http.Handler{mw("outer"), mw("fault")}})
	a := pilotJSON(t, e.url, "getJob", []byte(`{"siteName": "PANDASTUB"}`))
	if a.status != http.StatusServiceUnavailable || calls.Load() != 2 || strings.Join(order, ",") != "outer,fault" {
		t.Fatalf("HTTP %d, %d calls, order %v", a.status, calls.Load(), order)
	}
}
