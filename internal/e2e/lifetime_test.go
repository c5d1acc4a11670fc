package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/credentials/credtest"
	"github.com/gopilot/gopilot/internal/sitetest"
)

// Before asking for a job the pilot checks that its proxy lasts for one:
// --proxy-min-lifetime, capped by the pilot's remaining lifetime (the test
// queue's maxtime is 1 h). A one-hour proxy is too short for a two-hour
// minimum (1382, exit 80, no job taken), long enough for 30 minutes, and
// -t skips the check.
func TestProxyLifetimeBeforeGetJob(t *testing.T) {
	t.Parallel()
	credtest.RequireTools(t, "openssl", "grid-proxy-init")
	ca := credtest.NewCA(t, "/O=Test/CN=Lifetime Test CA")
	user := ca.User(t, "pilot", "/O=Test/CN=gopilot e2e")
	proxy := ca.GridProxy(t, user, filepath.Join(t.TempDir(), "x509up"), "1:00")
	for i, tc := range []struct {
		name  string
		args  []string
		exit  int
		state string
	}{
		{"too short", []string{"--proxy-min-lifetime", "7200"}, 80, ""},
		{"long enough", []string{"--proxy-min-lifetime", "1800"}, 0, "finished"},
		{"not verified", []string{"--proxy-min-lifetime", "7200", "-t"}, 0, "finished"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sitetest.NewWithServerArgs(t, bin, queueJSON(60, ""), "--tls-cert", ca.Host.Cert, "--tls-key", ca.Host.Key)
			id := int64(3601 + i)
			s.Submit(baseJob(id, "true", ""))
			port := s.Addr[strings.LastIndex(s.Addr, ":")+1:]
			args := append([]string{"--url", "https://localhost:" + port, "--cacert", proxy}, tc.args...)
			cmd := s.PilotCmd(args...)
			cmd.Env = append(cmd.Env, "X509_CERT_DIR="+ca.CertDir)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
			j := s.Job(id)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d; job %s %d\n%s", code, tc.exit, j.State, j.PilotErrorCode, out)
			}
			if tc.state == "" {
				if j.NSent != 0 {
					t.Fatalf("a job was taken with a too short proxy: %+v", j)
				}
				if !strings.Contains(string(out), "1382") && !strings.Contains(string(out), "PROXYTOOSHORT") {
					t.Fatalf("the log does not give the code\n%s", out)
				}
			} else if j.State != tc.state {
				t.Fatalf("state %s, want %s\n%s", j.State, tc.state, out)
			}
		})
	}
}
