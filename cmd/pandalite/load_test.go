package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkTable checks a `pandalite load` table: a header and one row per
// pilot count, each verdict ok.
func checkTable(t *testing.T, r result, pilots ...string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("load: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != len(pilots)+1 || !strings.Contains(lines[0], "cycles/s") {
		t.Fatalf("table:\n%s", r.stdout)
	}
	for i, p := range pilots {
		f := strings.Fields(lines[i+1])
		if f[0] != p || f[len(f)-1] != "ok" {
			t.Errorf("row %q: want %s pilots, verdict ok", lines[i+1], p)
		}
	}
}

// TestLoad runs the load subcommand of the built binary: with its own
// server processes, in-process over v1, and against a running server.
func TestLoad(t *testing.T) {
	bin := buildBinary(t)
	r := runBin(t, bin, "load", "--pilots", "3,7", "--jobs", "40")
	checkTable(t, r, "3", "7")
	if f := strings.Fields(strings.Split(r.stdout, "\n")[1]); f[8] == "-" {
		t.Errorf("no server CPU measured: %q", r.stdout)
	}
	checkTable(t, runBin(t, bin, "load", "--in-process", "--api", "v1", "--pilots", "4", "--jobs", "20"), "4")

	dir := t.TempDir()
	db := filepath.Join(dir, "jobs.db")
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", "127.0.0.1:0", "--addr-file", addrFile)
	var serr bytes.Buffer
	cmd.Stderr = &serr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // the server this test started
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var url string
	for deadline := time.Now().Add(2 * time.Minute); url == ""; {
		if b, err := os.ReadFile(addrFile); err == nil {
			url = strings.TrimSpace(string(b))
			break
		}
		select {
		case <-exited:
			t.Fatalf("serve exited: %s", serr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no address file")
		}
	}
	// Two rounds on one database: each checks its own jobs only.
	checkTable(t, runBin(t, bin, "load", "--url", url, "--db", db, "--pilots", "2,5", "--jobs", "30", "--form"), "2", "5")
	st := runBin(t, bin, "status", "--db", db)
	if n := strings.Count(st.stdout, " finished "); n != 60 {
		t.Errorf("%d finished jobs in the server's database, want 60", n)
	}
}

func TestLoadUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"load", "--pilots", "0"},
		{"load", "--pilots", "3,x"},
		{"load", "--url", "http://127.0.0.1:1"},
		{"load", "--api", "auto"},
		{"load", "--in-process", "--serve-flag=--log-level=debug"},
		{"load", "--url", "http://127.0.0.1:1", "--db", "x.db", "--in-process"},
		{"load", "extra"},
	} {
		if got := run(args, &out, &errb); got != 2 {
			t.Errorf("run(%v) = %d, want 2 (stderr %s)", args, got, errb.String())
		}
	}
}

func TestParseCounts(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"10,100,500", []int{10, 100, 500}},
		{" 7 ", []int{7}},
		{"", nil},
		{"1,,2", nil},
		{"-1", nil},
		{"a", nil},
	}
	for _, tc := range tests {
		got, err := parseCounts(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseCounts(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("parseCounts(%q) = %v, %v", tc.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parseCounts(%q) = %v", tc.in, got)
			}
		}
	}
}

func FuzzParseCounts(f *testing.F) {
	for _, s := range []string{"10,100,500", "", "1,,2", "-1", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		counts, err := parseCounts(s)
		if err != nil {
			return
		}
		if len(counts) == 0 {
			t.Fatalf("parseCounts(%q): no counts and no error", s)
		}
		for _, n := range counts {
			if n < 1 {
				t.Fatalf("parseCounts(%q) gave %d", s, n)
			}
		}
	})
}
