package gridtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// EnvRequire names the environment variable that, set to "1", makes a missing server binary
// fail the test instead of skipping it.
const EnvRequire = "GOPILOT_REQUIRE_GRID"

// Required reports whether missing grid servers or tools are an error for the tests: when
// the environment variable CI is set (to anything but "", "0" or "false") or EnvRequire is
// "1".
func Required() bool {
	if os.Getenv(EnvRequire) == "1" {
		return true
	}
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false":
		return false
	}
	return true
}

// MissingError reports programs that are not on PATH and the Debian package providing them.
type MissingError struct {
	Programs []string
	Package  string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s not found on PATH (Debian package %s; `make deps` installs every test package)",
		strings.Join(e.Programs, ", "), e.Package)
}

// LookPrograms returns a *MissingError naming pkg when any of progs is not on PATH.
func LookPrograms(pkg string, progs ...string) error {
	var missing []string
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Programs: missing, Package: pkg}
	}
	return nil
}

// NeedPrograms skips t (or fails it, when Required) unless every one of progs is on PATH;
// pkg is the Debian package that provides them.
func NeedPrograms(t testing.TB, pkg string, progs ...string) {
	t.Helper()
	if err := LookPrograms(pkg, progs...); err != nil {
		if Required() {
			t.Fatalf("gridtest: %v (required: CI or %s=1 is set)", err, EnvRequire)
		}
		t.Skipf("gridtest: %v; skipping (set %s=1 to make this a failure)", err, EnvRequire)
	}
}
