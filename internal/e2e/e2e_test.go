// Package e2e runs the built pilot and pandalite binaries against each other
// over real HTTP on 127.0.0.1, with real payload processes, and checks what
// the server recorded.
package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/sitetest"
)

// bin is the directory holding the pilot and pandalite binaries.
var bin string

func TestMain(m *testing.M) {
	os.Exit(sitetest.Main(m, &bin))
}

type site = sitetest.Site

func newSite(t *testing.T, queue string) *site { return sitetest.New(t, bin, queue) }

func queueJSON(timefloor int, extra string) string { return sitetest.QueueJSON(timefloor, extra) }

func baseJob(id int64, trf, pars string) map[string]any { return sitetest.BaseJob(id, trf, pars) }

func must(t *testing.T, err error) { t.Helper(); sitetest.Must(t, err) }

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	sitetest.WaitFor(t, d, what, cond)
}

func checksumOf(path string) (string, error) { return sitetest.ChecksumOf(path) }

func execCommand(args ...string) *exec.Cmd { return exec.Command(filepath.Join(bin, "pilot"), args...) }
