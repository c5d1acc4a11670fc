// Package e2ehostile runs the built pilot against hostile input — malformed
// or malicious job definitions, server answers, job files, payloads and
// payload files — and checks that every case ends with a clear error and its
// PanDA code, that nothing is written outside the job directory, and that the
// final report still reaches the server.
package e2ehostile

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/sitetest"
)

// bin is the directory holding the pilot and pandalite binaries.
var bin string

func TestMain(m *testing.M) {
	if f := os.Getenv(envRSSFile); f != "" {
		os.Exit(measure(f, os.Args[1:]))
	}
	os.Exit(sitetest.Main(m, &bin))
}

// envRSSFile turns the test binary into measure: it runs its arguments as a
// command and writes the command's peak RSS (kB) to the file named here.
const envRSSFile = "E2EHOSTILE_RSS_FILE"

// measure runs argv, forwards SIGTERM and SIGINT to it, writes its peak
// resident set size in kB (getrusage of the waited child, which includes its
// own waited descendants) to file, and returns its exit status. A fresh
// process is needed because a child's peak RSS starts from its parent's at
// exec; this one is small, the test process is not.
func measure(file string, argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envRSSFile+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		return 125
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		os.WriteFile(file, []byte(fmt.Sprint(ru.Maxrss)), 0o644)
	}
	return cmd.ProcessState.ExitCode()
}

// measured wraps cmd so that it runs under measure; the returned function
// reads the peak RSS in kB once the command has ended (0 when unknown).
func measured(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, func() int64) {
	t.Helper()
	self, err := os.Executable()
	sitetest.Must(t, err)
	file := t.TempDir() + "/rss"
	w := exec.Command(self, append([]string{cmd.Path}, cmd.Args[1:]...)...)
	w.Env = append(append([]string{}, cmd.Env...), envRSSFile+"="+file)
	if cmd.Env == nil {
		w.Env = append(os.Environ(), envRSSFile+"="+file)
	}
	w.Dir = cmd.Dir
	return w, func() int64 {
		b, err := os.ReadFile(file)
		if err != nil {
			return 0
		}
		var kb int64
		fmt.Sscan(string(b), &kb)
		return kb
	}
}

// pilotDeadline bounds every pilot run: a pilot that hangs on hostile input
// is stopped and its test fails, instead of the package timing out.
const pilotDeadline = 4 * time.Minute

// containsAll reports whether s contains every word.
func containsAll(s string, words ...string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// clip shortens s for test messages.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
