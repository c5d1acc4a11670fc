package sitetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for end-to-end tests of identity switching: they need root and create
// throwaway local accounts.

// RequireRoot fails the test, with a message saying why, unless it runs as root.
func RequireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test must run as root (euid %d): it creates local accounts with useradd and the pilot switches payloads to them", os.Geteuid())
	}
}

// NeedTools fails the test when a program is missing from PATH, naming the missing ones
// and the packages file that lists what to install.
func NeedTools(t *testing.T, packagesFile string, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("programs missing: %s (apt-get install -y $(cat %s))", strings.Join(missing, ", "), packagesFile)
	}
}

// Account is a throwaway local account.
type Account struct {
	Name     string
	UID, GID int
}

// NewAccount creates a local account (own group, home, bash) with a random name starting
// with prefix, removed with userdel -r when the test ends.
func NewAccount(t *testing.T, prefix string) Account {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	name := prefix + string(b)
	userAdmin(t, "useradd", "-m", "-U", "-s", "/bin/bash", name)
	t.Cleanup(func() { userAdmin(t, "userdel", "-r", name) })
	u, err := user.Lookup(name)
	Must(t, err)
	a := Account{Name: name}
	a.UID, err = strconv.Atoi(u.Uid)
	Must(t, err)
	a.GID, err = strconv.Atoi(u.Gid)
	Must(t, err)
	return a
}

// userAdmin runs useradd/userdel, retrying while another process holds the passwd lock.
func userAdmin(t *testing.T, name string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		cancel()
		if err == nil || strings.Contains(string(out), "mail spool") {
			return
		}
		if time.Now().After(deadline) || !(strings.Contains(string(out), "lock") || strings.Contains(string(out), "try again")) {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// OpenDirs makes the site's directory and its parent searchable by every account (test
// temporary directories are 0700), so that a payload running as another account can reach
// its job directory.
func (s *Site) OpenDirs() {
	s.T.Helper()
	for _, d := range []string{s.Dir, filepath.Dir(s.Dir)} {
		Must(s.T, os.Chmod(d, 0o755))
	}
}

// WriteFileMode writes a file below the site's directory with exactly the given mode
// (whatever the umask) and returns its path.
func (s *Site) WriteFileMode(name string, data []byte, mode os.FileMode) string {
	s.T.Helper()
	p := filepath.Join(s.Dir, name)
	Must(s.T, os.WriteFile(p, data, mode))
	Must(s.T, os.Chmod(p, mode))
	return p
}

// WantFailure checks that the server recorded job id as failed, with the pilot error
// code and a diagnostic containing diagPart.
func (s *Site) WantFailure(id int64, code int, diagPart string) {
	s.T.Helper()
	j := s.Job(id)
	if j.State != "failed" || j.PilotErrorCode != code || !strings.Contains(j.PilotErrorDiag, diagPart) {
		s.T.Errorf("job %d: state %s, code %d %q; want failed, code %d, diag containing %q",
			id, j.State, j.PilotErrorCode, j.PilotErrorDiag, code, diagPart)
	}
}

// String describes an account for messages.
func (a Account) String() string { return fmt.Sprintf("%s (uid %d, gid %d)", a.Name, a.UID, a.GID) }
