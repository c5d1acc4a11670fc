package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/pandalite"
)

// liteServer runs pandalite in-process on 127.0.0.1; v1Missing makes every
// /api/v1/ call answer 404, as a server without the v1 API does.
func liteServer(t *testing.T, v1Missing bool) (*pandalite.Store, string, *atomic.Int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	st, err := pandalite.Open(ctx, filepath.Join(t.TempDir(), "lite.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var v1Calls atomic.Int32
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/") {
				v1Calls.Add(1)
				if v1Missing {
					http.NotFound(w, r)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(pandalite.NewServer(st, pandalite.Options{Middleware: []func(http.Handler) http.Handler{mw}}))
	t.Cleanup(srv.Close)
	return st, srv.URL, &v1Calls
}

func TestUpdateWorkerStatusRecorded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		api        API
		form       bool
		v1Missing  bool
		wantAPI    string
		wantMethod string
		resolved   API
	}{
		{"legacy gzip json", Legacy, false, false, "legacy", "updateWorkerPilotStatus", Legacy},
		{"legacy form", Legacy, true, false, "legacy", "updateWorkerPilotStatus", Legacy},
		{"v1", V1, false, false, "v1", "update_worker_status", V1},
		{"auto on a v1 server", Auto, false, false, "v1", "update_worker_status", V1},
		{"auto falls back to legacy", Auto, false, true, "legacy", "updateWorkerPilotStatus", Legacy},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, url, _ := liteServer(t, c.v1Missing)
			cl := newTestClient(t, url, c.api, c.form)
			ctx := context.Background()
			for _, status := range []string{WorkerStarted, WorkerFinished} {
				err := cl.UpdateWorkerStatus(ctx, WorkerStatus{HarvesterID: "harv-CERN", WorkerID: "4242", Status: status, Site: "E2E", Node: "wn01"})
				if err != nil {
					t.Fatalf("%s: %v", status, err)
				}
			}
			if cl.API() != c.resolved {
				t.Fatalf("API resolved to %s, want %s", cl.API(), c.resolved)
			}
			reqs, err := st.Requests(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 2 {
				t.Fatalf("%d requests recorded, want 2: %+v", len(reqs), reqs)
			}
			for i, status := range []string{WorkerStarted, WorkerFinished} {
				r := reqs[i]
				if r.API != c.wantAPI || r.Method != c.wantMethod || r.Node != "wn01" {
					t.Fatalf("request %d: %+v", i, r)
				}
				want := map[string]string{"workerID": "4242", "harvesterID": "harv-CERN", "status": status, "site": "E2E", "node_id": "wn01"}
				if c.wantAPI == "v1" {
					want = map[string]string{"worker_id": "4242", "harvester_id": "harv-CERN", "status": status, "node_id": "wn01"}
					if v, _ := r.Fields.Get("worker_id"); fmt.Sprintf("%T", v) == "string" {
						t.Errorf("v1 worker_id sent as a string %q, want an integer", v)
					}
				}
				for k, v := range want {
					if got := r.Fields.Str(k); got != v {
						t.Errorf("request %d field %s = %q, want %q (fields %v)", i, k, got, v, r.Fields)
					}
				}
			}
		})
	}
}

func TestUpdateWorkerStatusErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		api     API
		status  string
		handler http.HandlerFunc
		refused bool
		httpErr int
	}{
		{"v1 refuses an invalid state", V1, "running", nil, true, 0},
		{"v1 answer is not an envelope", V1, WorkerStarted, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "StatusCode=0")
		}, false, 0},
		{"legacy HTTP 500 after retries", Legacy, WorkerStarted, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, false, http.StatusInternalServerError},
		{"auto keeps a v1 refusal", Auto, "running", nil, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := ""
			if c.handler != nil {
				srv := httptest.NewServer(c.handler)
				t.Cleanup(srv.Close)
				url = srv.URL
			} else {
				_, url, _ = liteServer(t, false)
			}
			cl := newTestClient(t, url, c.api, false)
			err := cl.UpdateWorkerStatus(context.Background(), WorkerStatus{HarvesterID: "h", WorkerID: "1", Status: c.status, Site: "E2E", Node: "n"})
			if err == nil {
				t.Fatal("no error")
			}
			var re *RefusedError
			if errors.As(err, &re) != c.refused {
				t.Fatalf("refused=%v, want %v: %v", errors.As(err, &re), c.refused, err)
			}
			var he *HTTPError
			if c.httpErr != 0 && (!errors.As(err, &he) || he.Status != c.httpErr) {
				t.Fatalf("want HTTP %d, got %v", c.httpErr, err)
			}
			if c.api == Auto && cl.API() != V1 {
				t.Fatalf("auto resolved to %s after a v1 answer", cl.API())
			}
		})
	}
}

func TestWorkerStatusV1NonNumericWorkerID(t *testing.T) {
	t.Parallel()
	m := WorkerStatus{WorkerID: "w-12"}.V1()
	if m["worker_id"] != "w-12" {
		t.Fatalf("worker_id = %#v", m["worker_id"])
	}
	if m := (WorkerStatus{WorkerID: " 12 "}).V1(); m["worker_id"] != int64(12) {
		t.Fatalf("worker_id = %#v", m["worker_id"])
	}
}
