package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// recorded is one request as the test server saw it.
type recorded struct {
	path, contentType, accept, contentEncoding string
	fields                                     map[string]any
}

// decode reads a request body the way the legacy server does.
func decode(t *testing.T, r *http.Request) recorded {
	t.Helper()
	rec := recorded{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), accept: r.Header.Get("Accept"),
		contentEncoding: r.Header.Get("Content-Encoding"), fields: map[string]any{}}
	if rec.contentType == "application/json" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("body is not gzip: %v", err)
			return rec
		}
		dec := json.NewDecoder(zr)
		dec.UseNumber()
		if err := dec.Decode(&rec.fields); err != nil {
			t.Errorf("body is not JSON: %v", err)
		}
		return rec
	}
	if err := r.ParseForm(); err != nil {
		t.Errorf("form: %v", err)
	}
	for k := range r.PostForm {
		rec.fields[k] = r.PostForm.Get(k)
	}
	return rec
}

func newTestClient(t *testing.T, url string, api API, form bool) *Client {
	t.Helper()
	c, err := New(Options{BaseURL: url, API: api, FormEncoding: form, UserAgent: "gopilot-test",
		RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, AttemptTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const jobAnswer = "StatusCode=0&PandaID=4000000001&jobsetID=1&taskID=40000001&attemptNr=1&transformation=sleep&jobPars=1" +
	"&inFiles=&outFiles=x.log.tgz&logFile=x.log.tgz&logGUID=fc6efed6-40cb-4211-90af-8fc2eaed0958&scopeOut=&scopeLog=s" +
	"&realDatasets=s.log&ddmEndPointOut=LOCAL"

func TestGetJobLegacyEncodings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		form bool
	}{{"gzip json (urllib path)", false}, {"form (curl path)", true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan recorded, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := decode(t, r)
				got <- rec
				if rec.accept == "application/json" {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"StatusCode": 0, "PandaID": 4000000001, "attemptNr": 1, "transformation": "sleep", "jobPars": "1", "ioIntensity": null, "outFiles": "x.log.tgz", "logFile": "x.log.tgz", "logGUID": "fc6efed6-40cb-4211-90af-8fc2eaed0958", "scopeLog": "s", "realDatasets": "s.log", "ddmEndPointOut": "LOCAL"}`)
					return
				}
				io.WriteString(w, jobAnswer)
			}))
			defer srv.Close()
			cl := newTestClient(t, srv.URL, Legacy, c.form)
			job, err := cl.GetJob(context.Background(), JobRequest{SiteName: "Q", ComputingElement: "Q", ProdSourceLabel: "ptest",
				DiskSpace: 20000, CPU: 2000, Mem: 24105.55, Node: "vm", TaskID: "40000001"})
			if err != nil {
				t.Fatal(err)
			}
			if job.PandaID != 4000000001 || job.Transformation != "sleep" || job.LogFile != "x.log.tgz" {
				t.Fatalf("job not parsed: %+v", job)
			}
			rec := <-got
			if rec.path != "/server/panda/getJob" {
				t.Fatalf("path %s", rec.path)
			}
			want := map[string]string{"siteName": "Q", "computingElement": "Q", "prodSourceLabel": "ptest",
				"diskSpace": "20000", "cpu": "2000.0", "mem": "24105.55", "node": "vm", "taskID": "40000001"}
			if c.form {
				want["allowOtherCountry"] = "False"
				if rec.accept != "application/json" || rec.contentType != "application/x-www-form-urlencoded" {
					t.Fatalf("curl-path headers wrong: %+v", rec)
				}
			} else {
				if rec.accept != "" || rec.contentEncoding != "" {
					t.Fatalf("urllib path must send neither Accept nor Content-Encoding: %+v", rec)
				}
				if rec.fields["allowOtherCountry"] != false {
					t.Fatalf("allowOtherCountry = %#v, want JSON false", rec.fields["allowOtherCountry"])
				}
			}
			for k, v := range want {
				if got := toString(rec.fields[k]); got != v {
					t.Errorf("field %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestGetJobNoJob(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "StatusCode=20")
	}))
	defer srv.Close()
	_, err := newTestClient(t, srv.URL, Legacy, false).GetJob(context.Background(), JobRequest{})
	if !errors.Is(err, ErrNoJob) {
		t.Fatalf("err = %v, want ErrNoJob", err)
	}
}

// getJob must not be retried once the server has seen it; updates are.
func TestRetryPolicies(t *testing.T) {
	t.Parallel()
	var getJobs, updates atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/server/panda/getJob":
			getJobs.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		case "/server/panda/updateJob":
			if updates.Add(1) < 3 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "StatusCode=0&command=NULL")
		}
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, Legacy, false)
	if _, err := cl.GetJob(context.Background(), JobRequest{}); err == nil {
		t.Fatal("getJob on 502 succeeded")
	}
	if n := getJobs.Load(); n != 1 {
		t.Fatalf("getJob sent %d times, want 1", n)
	}
	reply, err := cl.UpdateJob(context.Background(), &jobdef.UpdateReport{JobID: 1, State: "running"})
	if err != nil || reply.StatusCode != 0 || reply.Command != "" {
		t.Fatalf("update: %+v, %v", reply, err)
	}
	if n := updates.Load(); n != 3 {
		t.Fatalf("update sent %d times, want 3", n)
	}
}

// A getJob whose connection is refused is retried (it never reached a server).
func TestGetJobRetriedWhenRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl := newTestClient(t, "http://"+addr, Legacy, false)
	_, err = cl.GetJob(context.Background(), JobRequest{})
	if err == nil || !strings.Contains(err.Error(), "giving up after 4 attempt") && !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v", err)
	}
}

func TestAutoFallsBackToLegacy(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/") {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		io.WriteString(w, jobAnswer)
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, Auto, false)
	if _, err := cl.GetJob(context.Background(), JobRequest{SiteName: "Q"}); err != nil {
		t.Fatal(err)
	}
	if cl.API() != Legacy {
		t.Fatalf("API = %s, want legacy", cl.API())
	}
}

func TestV1(t *testing.T) {
	t.Parallel()
	got := make(chan recorded, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := decode(t, r)
		got <- rec
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/pilot/acquire_jobs":
			io.WriteString(w, `{"success": true, "message": "", "data": {"StatusCode": 0, "jobs": [{"StatusCode": 0, "PandaID": 7, "attemptNr": 2, "transformation": "true", "outFiles": "", "logFile": ""}]}}`)
		case "/api/v1/pilot/update_job":
			io.WriteString(w, `{"success": true, "message": "", "data": {"StatusCode": 0, "command": "tobekilled"}}`)
		}
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, V1, false)
	job, err := cl.GetJob(context.Background(), JobRequest{SiteName: "Q", Mem: 2048.5, TaskID: "12", RemainingTime: 3600})
	if err != nil || job.PandaID != 7 {
		t.Fatalf("acquire: %+v %v", job, err)
	}
	rec := <-got
	if rec.contentEncoding != "gzip" || rec.accept != "application/json" {
		t.Fatalf("v1 headers: %+v", rec)
	}
	for k, v := range map[string]string{"site_name": "Q", "memory": "2048", "task_id": "12", "remaining_time": "3600"} {
		if toString(rec.fields[k]) != v {
			t.Errorf("%s = %v, want %s", k, rec.fields[k], v)
		}
	}
	reply, err := cl.UpdateJob(context.Background(), &jobdef.UpdateReport{JobID: 7, State: "running", AttemptNr: 2})
	if err != nil || !reply.Has("tobekilled") {
		t.Fatalf("update: %+v %v", reply, err)
	}
}

func TestParseReply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		code    int
		cmd     string
		wantErr bool
	}{
		{"StatusCode=0&command=NULL", 0, "", false},
		{"StatusCode=0&command=debug%2Ctobekilled", 0, "debug,tobekilled", false},
		{`{"StatusCode": 10}`, 10, "", false},
		{`{"StatusCode": "0", "command": "tobekilled"}`, 0, "tobekilled", false},
		{"Succeeded", 0, "", false},
		{`{"success": true, "data": {"StatusCode": 0, "command": "NULL"}}`, 0, "", false},
		{`{"success": false, "message": "Argument error", "data": null}`, 0, "", true},
		{"garbage", 0, "", true},
		{`{"nostatus": 1}`, 0, "", true},
	}
	for _, c := range cases {
		r, err := ParseReply([]byte(c.in))
		if (err != nil) != c.wantErr {
			t.Errorf("ParseReply(%q) err = %v", c.in, err)
			continue
		}
		if err == nil && (r.StatusCode != c.code || r.Command != c.cmd) {
			t.Errorf("ParseReply(%q) = %+v", c.in, r)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"StatusCode=0&command=NULL", `{"success": true, "data": {"StatusCode": 0}}`, "Succeeded", "{", "%zz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err == nil && r == nil {
			t.Fatal("nil reply without error")
		}
		_ = r.Commands()
	})
}

func TestPyStr(t *testing.T) {
	t.Parallel()
	cases := map[string]any{"True": true, "False": false, "None": nil, "2000.0": 2000.0, "24105.55": 24105.55, "3": 3, "x": "x"}
	for want, in := range cases {
		if got := PyStr(in); got != want {
			t.Errorf("PyStr(%#v) = %q, want %q", in, got, want)
		}
	}
}
