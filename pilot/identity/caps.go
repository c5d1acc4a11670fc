package identity

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gopilot/gopilot/credentials"
)

// Capability numbers (linux/capability.h) the pilot needs besides CAP_SETUID/CAP_SETGID.
const (
	capChown = 0
	capKill  = 5
)

// requireCaps checks that this process may hand a job directory to another account
// (CAP_CHOWN) and kill that account's processes (CAP_KILL), from the CapEff line of
// /proc/self/status; without /proc, euid 0 is enough. The error wraps
// credentials.ErrNoPrivilege.
func requireCaps() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		if os.Geteuid() == 0 {
			return nil
		}
		return fmt.Errorf("%w: uid %d is not root and /proc/self/status is unreadable", credentials.ErrNoPrivilege, os.Geteuid())
	}
	defer f.Close()
	caps, err := parseCapEff(f)
	if err != nil {
		return fmt.Errorf("%w: %v", credentials.ErrNoPrivilege, err)
	}
	var missing []string
	if caps&(1<<capChown) == 0 {
		missing = append(missing, "CAP_CHOWN")
	}
	if caps&(1<<capKill) == 0 {
		missing = append(missing, "CAP_KILL")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: uid %d lacks %s (CapEff %016x): needed to hand the job directory to the payload's account and to kill its processes",
			credentials.ErrNoPrivilege, os.Geteuid(), strings.Join(missing, " and "), caps)
	}
	return nil
}

// parseCapEff returns the effective capability set from a /proc/<pid>/status text.
func parseCapEff(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("unreadable CapEff %q", strings.TrimSpace(v))
		}
		return caps, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no CapEff line")
}
