package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the pandalite command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "pandalite")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type result struct {
	stdout, stderr string
	code           int
}

func runBin(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLI drives the built binary: submit, status, kill, debug, put-file
// and serve (with --addr 127.0.0.1:0 and --addr-file), then SIGTERM.
func TestCLI(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "jobs.db")

	single := writeFile(t, dir, "single.json", `{"jobName": "single", "transformation": "sleep", "jobPars": "1", "maxWalltime": 600}`)
	array := writeFile(t, dir, "array.json", `[{"jobName": "a1", "computingSite": "OTHER"}, {"PandaID": 5000, "jobName": "a2"}]`)
	harvester := writeFile(t, dir, "harvester.json", `{"6000": {"jobName": "h1", "attemptNr": 2}}`)
	bad := writeFile(t, dir, "bad.json", `{"jobName": "bad", "attemptNr": "x"}`)

	r := runBin(t, bin, "submit", "--db", db, "--site", "PANDASTUB", single, array, harvester)
	if r.code != 0 || r.stdout != "1000001\n1000002\n5000\n6000\n" {
		t.Fatalf("submit: %+v", r)
	}
	r = runBin(t, bin, "submit", "--db", db, "--site", "PANDASTUB", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "attemptNr") {
		t.Fatalf("bad submit: %+v", r)
	}
	r = runBin(t, bin, "submit", "--db", db)
	if r.code != 2 {
		t.Fatalf("submit without files: %+v", r)
	}

	r = runBin(t, bin, "status", "--db", db)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "PANDAID") ||
		!strings.HasPrefix(lines[3], "1000001 ") || !strings.Contains(lines[3], "activated") || !strings.HasSuffix(lines[3], "single") {
		t.Fatalf("status: %+v", r)
	}
	// The table is aligned: the STATE column starts at the same offset on every line.
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Fatalf("misaligned status table:\n%s", r.stdout)
		}
	}

	r = runBin(t, bin, "kill", "--db", db, "1000002")
	if r.code != 0 || !strings.Contains(r.stdout, "1000002 cancelled") {
		t.Fatalf("kill: %+v", r)
	}
	r = runBin(t, bin, "kill", "--db", db, "777")
	if r.code != 1 || !strings.Contains(r.stderr, "no such job") {
		t.Fatalf("kill unknown: %+v", r)
	}
	r = runBin(t, bin, "debug", "--db", db, "5000", "on")
	if r.code != 0 {
		t.Fatalf("debug: %+v", r)
	}

	// put-file into a file:// RSE.
	rse := filepath.Join(dir, "rse")
	storage := writeFile(t, dir, "storage.json", fmt.Sprintf(`{"LOCAL": {"name": "LOCAL", "is_deterministic": true, "arprotocols": {"write_lan": [{"endpoint": "file://", "path": %q, "id": 1}]}}}`, rse))
	input := writeFile(t, dir, "in.dat", "abc")
	r = runBin(t, bin, "put-file", "--storage", storage, "--rse", "LOCAL", "--scope", "user.me", input)
	if r.code != 0 || r.stdout != "in.dat 3 024d0127\n" {
		t.Fatalf("put-file: %+v", r)
	}

	// serve
	queue := writeFile(t, dir, "queue.json", `{"nickname": "PANDASTUB", "status": "online"}`)
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", "127.0.0.1:0", "--addr-file", addrFile, "--queue", queue, "--storage", storage)
	var serr bytes.Buffer
	cmd.Stderr = &serr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill() // the server this test started
			<-exited
		}
	})
	var base string
	deadline := time.Now().Add(2 * time.Minute)
	for base == "" {
		if b, err := os.ReadFile(addrFile); err == nil {
			base = strings.TrimSpace(string(b))
			break
		}
		select {
		case <-exited:
			t.Fatalf("serve exited: %v\n%s", waitErr, serr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no address file")
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("address %q", base)
	}

	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(`{"siteName": "PANDASTUB", "prodSourceLabel": "ptest", "node": "vm"}`))
	_ = zw.Close()
	resp, err := http.Post(base+"/server/panda/getJob", "application/json", &zb)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "StatusCode=0&PandaID=5000&jobName=a2&attemptNr=1&nSent=0&debug=True" {
		t.Fatalf("getJob: %s", body)
	}
	resp, err = http.Get(base + "/cache/schedconfig/PANDASTUB.all.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"nickname": "PANDASTUB", "status": "online"}` {
		t.Fatalf("queue: %s", body)
	}

	// status while serving, as JSON
	r = runBin(t, bin, "status", "--db", db, "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("status --json: %+v %v", r, err)
	}
	if rows[0]["PandaID"].(float64) != 5000 || rows[0]["state"] != "sent" || rows[0]["node"] != "vm" || rows[3]["state"] != "cancelled" {
		t.Fatalf("status rows %v", rows)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("serve exit after SIGTERM: %v\n%s", waitErr, serr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if !strings.Contains(serr.String(), "pandalite: listening on "+base+"\n") {
		t.Fatalf("stderr: %s", serr.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"help"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"status", "--bogus"}, 2},
		{[]string{"kill", "--db", filepath.Join(t.TempDir(), "x.db"), "abc"}, 2},
		{[]string{"debug", "1", "maybe"}, 2},
		{[]string{"put-file", "x"}, 2},
		{[]string{"serve", "--tls-cert", "c"}, 2},
		{[]string{"serve", "--help"}, 0},
	}
	for _, tc := range tests {
		out.Reset()
		errb.Reset()
		if got := run(tc.args, &out, &errb); got != tc.code {
			t.Errorf("run(%v) = %d, want %d (stderr %s)", tc.args, got, tc.code, errb.String())
		}
	}
}
