package pandalite

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pilotUA is the User-Agent Pilot 3 sends.
const pilotUA = "pilot/3.11.5.1 (Python 3.11.7; Linux x86_64)"

// testEnv is a server over a fresh store, listening on 127.0.0.1.
type testEnv struct {
	store *Store
	url   string
	srv   *httptest.Server
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(testCtx(t), filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newEnv(t testing.TB, opts Options) *testEnv {
	t.Helper()
	st := openTestStore(t)
	if opts.Queues == nil {
		q, err := LoadQueue(filepath.Join("testdata", "queue_PANDASTUB.json"))
		if err != nil {
			t.Fatal(err)
		}
		opts.Queues = []*Queue{q}
	}
	srv := httptest.NewServer(NewServer(st, opts))
	t.Cleanup(srv.Close)
	return &testEnv{store: st, url: srv.URL, srv: srv}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// submitJSON submits job JSON text.
func (e *testEnv) submitJSON(t testing.TB, site, text string) []int64 {
	t.Helper()
	ids, err := e.store.SubmitFile(testCtx(t), site, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// answer is an HTTP answer.
type answer struct {
	status      int
	contentType string
	body        string
}

func do(t testing.TB, client *http.Client, req *http.Request) answer {
	t.Helper()
	a, err := doErr(client, req)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// doErr sends req; usable from any goroutine.
func doErr(client *http.Client, req *http.Request) (answer, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}, nil
}

// postErr posts body with the given headers; usable from any goroutine.
func postErr(url string, body []byte, headers map[string]string) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return doErr(nil, req)
}

func gzipErr(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// pilotJSON posts body the way Pilot 3's urllib path does: gzip JSON,
// Content-Type application/json, no Accept, no Content-Encoding.
func pilotJSON(t testing.TB, base, method string, jsonBody []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/server/panda/"+method, bytes.NewReader(gzipBytes(t, jsonBody)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", pilotUA)
	req.Close = true
	return do(t, nil, req)
}

// pilotForm posts a form body the way Pilot 3's curl path does.
func pilotForm(t testing.TB, base, method, form string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/server/panda/"+method, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", pilotUA)
	return do(t, nil, req)
}

// v1Post posts a JSON body (gzip with Content-Encoding when zip is set).
func v1Post(t testing.TB, base, path string, body any, zip bool) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if zip {
		b = gzipBytes(t, b)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/"+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if zip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	a := do(t, nil, req)
	return decodeV1(t, a)
}

func v1Get(t testing.TB, base, pathAndQuery string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/"+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	return decodeV1(t, do(t, nil, req))
}

func decodeV1(t testing.TB, a answer) map[string]any {
	t.Helper()
	if a.status != http.StatusOK || a.contentType != "application/json" {
		t.Fatalf("v1 answer: HTTP %d %q: %s", a.status, a.contentType, a.body)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(a.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("v1 answer %q: %v", a.body, err)
	}
	for _, k := range []string{"success", "message", "data"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("v1 answer %q lacks %q", a.body, k)
		}
	}
	return m
}

// parseQS parses an urlencoded answer with Python's parse_qs rules (what
// Pilot 3 does): '&'-separated, blank values dropped, '+' is a space,
// repeated keys collected.
func parseQS(s string) map[string][]string {
	out := map[string][]string{}
	for _, pair := range strings.Split(s, "&") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || v == "" {
			continue
		}
		out[unquotePlus(k)] = append(out[unquotePlus(k)], unquotePlus(v))
	}
	return out
}

// qs1 returns the single value of key in a parse_qs result.
func qs1(t testing.TB, m map[string][]string, key string) string {
	t.Helper()
	v := m[key]
	if len(v) != 1 {
		t.Fatalf("parse_qs %q = %v, want one value", key, v)
	}
	return v[0]
}

func updateStates(t testing.TB, s *Store, id int64) []string {
	t.Helper()
	ups, err := s.Updates(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range ups {
		out = append(out, u.State)
	}
	return out
}

func mustJob(t testing.TB, s *Store, id int64) JobInfo {
	t.Helper()
	j, err := s.Job(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
