package helperproc

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	Dispatch(Scenarios{
		"args": func(args []string) int {
			os.Stdout.WriteString(strings.Join(args, ",") + "\n")
			return len(args)
		},
	})
	os.Exit(m.Run())
}

func TestParseScript(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		want  []step
		ok    bool
	}{
		{"empty", nil, nil, true},
		{"simple", []string{"report", "exit", "3"}, []step{{name: "report"}, {name: "exit", arg: "3"}}, true},
		{"nested", []string{"spawn", "[", "run", "[", "exit", "1", "]", "]", "sleep", "1s"},
			[]step{{name: "spawn", nested: []string{"run", "[", "exit", "1", "]"}}, {name: "sleep", arg: "1s"}}, true},
		{"tree", []string{"tree", "5", "[", "report", "]"}, []step{{name: "tree", arg: "5", nested: []string{"report"}}}, true},
		{"missing arg", []string{"exit"}, nil, false},
		{"missing bracket", []string{"spawn", "exit", "0"}, nil, false},
		{"unbalanced", []string{"spawn", "[", "exit", "0"}, nil, false},
		{"unknown", []string{"fly"}, nil, false},
		{"tree without size", []string{"tree"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseScript(tc.words)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseScript(f *testing.F) {
	f.Add("spawn [ run [ exit 1 ] ] sleep 1s")
	f.Add("tree 5 [ report ] [ ]")
	f.Add("] [ [")
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := parseScript(strings.Fields(s))
		if err != nil {
			return
		}
		for _, st := range steps {
			if st.name == "" {
				t.Errorf("empty step name from %q", s)
			}
		}
	})
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigkill": syscall.SIGKILL, "10": syscall.SIGUSR1} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseSignal("NOPE"); err == nil {
		t.Error("parseSignal accepted NOPE")
	}
}

func command(inv Invocation) *exec.Cmd {
	c := exec.Command(inv.Path, inv.Args[1:]...)
	c.Args = inv.Args
	c.Env = inv.Env
	return c
}

func TestScriptRuns(t *testing.T) {
	tests := []struct {
		name   string
		inv    Invocation
		stdout string
		code   int
		sig    syscall.Signal
	}{
		{"exit", Script("write", "hi", "exit", "7"), "hi\n", 7, 0},
		{"print", Script("print", "3"), "line 1\nline 2\nline 3\n", 0, 0},
		{"run waits", Script("run", "[", "write", "inner", "]", "write", "outer"), "inner\nouter\n", 0, 0},
		{"raise", Script("raise", "USR2"), "", -1, syscall.SIGUSR2},
		{"scenario", Scenario("args", "a", "b"), "a,b\n", 2, 0},
		{"bad script", Script("fly"), "", exitScriptError, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := command(tc.inv)
			out, err := c.Output()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			ws := c.ProcessState.Sys().(syscall.WaitStatus)
			if string(out) != tc.stdout || c.ProcessState.ExitCode() != tc.code || (ws.Signaled() && ws.Signal() != tc.sig) || (!ws.Signaled() && tc.sig != 0) {
				t.Errorf("stdout %q exit %d status %v, want %q %d %v", out, c.ProcessState.ExitCode(), ws, tc.stdout, tc.code, tc.sig)
			}
		})
	}
}

// TestReports checks that a tree reports every process through the
// inherited descriptor.
func TestReports(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := command(Script("tree", "6", "[", "report", "]").WithReportFD(3))
	c.ExtraFiles = []*os.File{w}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		c.Wait()
	})
	done := make(chan struct{})
	var pids []int
	go func() {
		defer close(done)
		pids, err = ReadReports(bufio.NewReader(r), 6)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("no reports within a minute")
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, pid := range pids {
		seen[pid] = true
	}
	if len(seen) != 6 || !seen[c.Process.Pid] {
		t.Errorf("reports %v, want 6 distinct pids including the root %d", pids, c.Process.Pid)
	}
}

func TestReadReportsErrors(t *testing.T) {
	if _, err := ReadReports(bufio.NewReader(strings.NewReader("12\n")), 2); err == nil {
		t.Error("short input accepted")
	}
	if _, err := ReadReports(bufio.NewReader(strings.NewReader("12\nabc\n")), 2); err == nil {
		t.Error("bad line accepted")
	}
}
