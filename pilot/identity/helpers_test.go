package identity

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/credentials"
)

// Tests that switch identities need root (they create throwaway accounts with useradd
// and remove them with userdel -r); they are skipped otherwise. Tests that need a missing
// tool FAIL when the environment variable CI is set, and are skipped loudly otherwise
// (apt-get install -y $(cat pilot/identity/REQUIRED_PACKAGES)).

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (creates local accounts and switches identity)")
	}
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("tools missing: %s (apt-get install -y $(cat pilot/identity/REQUIRED_PACKAGES))", strings.Join(missing, ", "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: %s ***\n\n", t.Name(), msg)
	t.Skip(msg)
}

// randomName returns prefix followed by n random lower-case letters.
func randomName(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return prefix + string(b)
}

// admin runs a user-administration command, retrying while another process holds the
// passwd/group lock.
func admin(t *testing.T, name string, args ...string) error {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		s := string(out)
		if time.Now().After(deadline) || !(strings.Contains(s, "lock") || strings.Contains(s, "try again")) {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newGroup creates a throwaway local group, removed when the test ends.
func newGroup(t *testing.T) string {
	t.Helper()
	requireTools(t, "groupadd", "groupdel")
	name := randomName("gptg", 8)
	if err := admin(t, "groupadd", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin(t, "groupdel", name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// newAccount creates a throwaway local account (with its own group and a home), member of
// the extra groups, removed with userdel -r when the test ends.
func newAccount(t *testing.T, name string, groups ...string) *credentials.Identity {
	t.Helper()
	requireRoot(t)
	requireTools(t, "useradd", "userdel")
	args := []string{"-m", "-U", "-s", "/bin/bash"}
	if len(groups) > 0 {
		args = append(args, "-G", strings.Join(groups, ","))
	}
	if err := admin(t, "useradd", append(args, name)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin(t, "userdel", "-r", name); err != nil && !strings.Contains(err.Error(), "mail spool") {
			t.Error(err)
		}
	})
	id, err := credentials.LookupIdentity(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// openDir returns a new directory, in t.TempDir, that every account can search (the test
// temporary directories are 0700).
func openDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newJobDir makes a job directory (0755, as the pilot makes it) in an open directory.
func newJobDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(openDir(t), "PanDA_Pilot-1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testLog(t *testing.T) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(testWriter{t})
	l.SetLevel(logrus.DebugLevel)
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func fileOwner(t *testing.T, path string) (uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := fi.Sys().(*syscall.Stat_t)
	return s.Uid, s.Gid, fi.Mode()
}
