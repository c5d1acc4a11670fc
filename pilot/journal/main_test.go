package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// helperEnv selects what the re-executed test binary does instead of
// running the tests; helperDir is the job directory it works on.
const (
	helperEnv = "JOURNAL_TEST_HELPER"
	helperDir = "JOURNAL_TEST_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "open":
		// Try to open the journal once; report the outcome on stdout.
		j, err := Open(os.Getenv(helperDir), Owner{Host: "helper"})
		var le *LockedError
		switch {
		case errors.As(err, &le) && errors.Is(err, ErrLocked):
			fmt.Printf("locked %d\n", le.Holder.PID)
			os.Exit(3)
		case err != nil:
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ok")
		if err := j.Close(); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	case "hold":
		// Hold the journal until stdin ends (or the process is killed).
		j, err := Open(os.Getenv(helperDir), Owner{Host: "holder"})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		if _, err := j.Append(StateChange{State: "running"}); err != nil {
			os.Exit(2)
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "wait":
		// Say ready and live until stdin ends.
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	default:
		os.Exit(99)
	}
}

// helper is a running re-executed test binary.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startHelper starts the test binary in mode on dir and returns it; it is
// killed and reaped in t.Cleanup if still running.
func startHelper(t *testing.T, mode, dir string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDir+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return h
}

// line reads the helper's next output line.
func (h *helper) line(t *testing.T) string {
	t.Helper()
	s, err := h.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading helper output: %v (got %q)", err, s)
	}
	return strings.TrimSpace(s)
}

// runHelper runs the test binary in mode on dir to its end and returns its
// first output line and exit code.
func runHelper(t *testing.T, mode, dir string) (string, int) {
	t.Helper()
	h := startHelper(t, mode, dir)
	h.stdin.Close()
	out, _ := io.ReadAll(h.out)
	err := h.cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first, code
}
