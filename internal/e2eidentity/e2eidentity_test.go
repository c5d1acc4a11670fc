// Package e2eidentity runs the pilot as root against pandalite with payload identity
// switching and MyProxy retrieval: a throwaway CA, a myproxy-server on 127.0.0.1 holding
// the job owners' credentials, throwaway local accounts. These tests must run as root and
// fail (never skip) otherwise.
package e2eidentity

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/credentials/credtest"
	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/identity"
)

var bin string

func TestMain(m *testing.M) { os.Exit(sitetest.Main(m, &bin)) }

// gridSite is what every case shares: the CA, the MyProxy server with the stored
// credentials, and the job owner.
type gridSite struct {
	ca    *credtest.CA
	mp    *credtest.MyProxy
	owner credtest.Cert
}

const (
	credOwner       = "e2e-owner"        // 6 h credential of the job owner
	credShort       = "e2e-short"        // a 5 minute proxy of the job owner
	credVOMSExpired = "e2e-voms-expired" // a proxy whose VOMS AC ended an hour ago
	ownerDN         = "/O=Test/OU=Users/CN=E2E Job Owner"
	otherDN         = "/O=Test/OU=Users/CN=Somebody Else"
)

func newGridSite(t *testing.T) *gridSite {
	t.Helper()
	sitetest.RequireRoot(t)
	sitetest.NeedTools(t, "pilot/identity/REQUIRED_PACKAGES", "useradd", "userdel", "openssl", "grid-proxy-init",
		"grid-proxy-info", "voms-proxy-fake", "myproxy-server", "myproxy-init", "myproxy-store", "myproxy-logon")
	g := &gridSite{ca: credtest.NewCA(t, "/O=Test/CN=E2E Identity CA")}
	g.owner = g.ca.User(t, "owner", ownerDN)
	g.mp = credtest.StartMyProxy(t, g.ca)
	g.mp.Init(t, g.owner, credOwner, 6)
	g.mp.Store(t, g.ca.GridProxy(t, g.owner, filepath.Join(t.TempDir(), "short"), "0:05"), credShort)
	g.mp.Store(t, g.ca.VOMSProxy(t, g.owner, filepath.Join(t.TempDir(), "voms"),
		credtest.VOMSOptions{Hours: 6, ACHours: 1, ACPast: 2 * time.Hour}), credVOMSExpired)
	return g
}

// site starts pandalite and writes the pilot's proxy (of the host DN, which MyProxy
// trusts to retrieve) deliberately world-readable: the pilot must make it private.
func (g *gridSite) site(t *testing.T) (*sitetest.Site, string) {
	t.Helper()
	s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
	s.OpenDirs()
	// 12 h: more than any --proxy-min-lifetime check before getJob asks for
	proxy := g.ca.GridProxy(t, g.ca.Host, filepath.Join(s.Dir, "x509up_pilot"), "12:00")
	sitetest.Must(t, os.Chmod(proxy, 0o644))
	return s, proxy
}

// runPilot runs the pilot as root with MyProxy retrieval and the extra options.
func (g *gridSite) runPilot(s *sitetest.Site, proxy string, extra ...string) (int, string) {
	args := append([]string{"--myproxy-retrieval", "--myproxy-server-dn", g.mp.ServerDN, "--capath", g.ca.CertDir}, extra...)
	return s.RunPilotEnv([]string{"X509_USER_PROXY=" + proxy, "X509_CERT_DIR=" + g.ca.CertDir}, args...)
}

// job is a MyProxy job of the owner.
func (g *gridSite) job(id int64, credname, pars string) map[string]any {
	j := sitetest.BaseJob(id, "true", pars)
	j["credname"], j["myproxy"], j["prodUserID"] = credname, g.mp.Addr, ownerDN+"/CN=proxy"
	return j
}

// The payload runs as the --payload-user account with the owner's credential retrieved
// from MyProxy as X509_USER_PROXY (0600, the account's, the owner's DN), cannot read the
// pilot's proxy, and the job finishes.
func TestMyProxyPayloadRunsAsAccount(t *testing.T) {
	g := newGridSite(t)
	acct := sitetest.NewAccount(t, "gpm")
	s, proxy := g.site(t)
	const id = 5101
	lfn := "e2e.myproxy.5101.txt"
	script := `&& { id -u; id -g; echo "$X509_USER_PROXY"; stat -c '%u %g %a' "$X509_USER_PROXY"; ` +
		`grid-proxy-info -f "$X509_USER_PROXY" -identity; ` +
		`cat ` + proxy + ` > /dev/null 2>&1 && echo pilot-proxy-readable || echo pilot-proxy-denied; } > ` + lfn
	s.Submit(sitetest.WithOutput(g.job(id, credOwner, script), lfn))

	code, log := g.runPilot(s, proxy, "--payload-user", acct.Name)
	jb := s.Job(id)
	if code != 0 || jb.State != "finished" {
		t.Fatalf("pilot exit %d, job %s code %d %s\n%s", code, jb.State, jb.PilotErrorCode, jb.PilotErrorDiag, log)
	}
	got, err := os.ReadFile(s.RsePath("e2e", lfn))
	sitetest.Must(t, err)
	cred := filepath.Join(s.Work, fmt.Sprintf("PanDA_Pilot-%d", id), identity.PayloadProxyFile)
	want := strings.Join([]string{
		strconv.Itoa(acct.UID), strconv.Itoa(acct.GID), cred,
		fmt.Sprintf("%d %d 600", acct.UID, acct.GID), ownerDN, "pilot-proxy-denied"}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("the payload wrote\n%s\nwant\n%s\npilot log:\n%s", got, want, log)
	}
	var st syscall.Stat_t
	sitetest.Must(t, syscall.Stat(proxy, &st))
	if st.Uid != 0 || st.Mode&0o7777 != 0o600 {
		t.Errorf("pilot proxy uid %d mode %04o, want 0 0600", st.Uid, st.Mode&0o7777)
	}
	if _, err := os.Lstat(cred); err == nil {
		t.Errorf("the payload credential %s outlives the job", cred)
	}
	if strings.Contains(log, "BEGIN RSA PRIVATE KEY") || strings.Contains(log, "BEGIN PRIVATE KEY") {
		t.Error("a private key is in the pilot log")
	}
}

// Failures are reported to the server with their codes, and the pilot carries on to its
// normal end.
func TestMyProxyIdentityFailures(t *testing.T) {
	g := newGridSite(t)
	acct := sitetest.NewAccount(t, "gpf")
	gridmap := func(s *sitetest.Site, line string) []string {
		return []string{"--grid-mapfile", s.WriteFileMode("grid-mapfile", []byte(line+"\n"), 0o644)}
	}
	tests := []struct {
		name     string
		credname string
		args     func(s *sitetest.Site) []string
		code     jobdef.ErrorCode
		diag     string
	}{
		{"unknown account", credOwner, func(s *sitetest.Site) []string {
			return gridmap(s, `"`+ownerDN+`" gpnosuchaccount`)
		}, jobdef.SetupFailure, "gpnosuchaccount"},
		{"unmapped DN", credOwner, func(s *sitetest.Site) []string {
			return gridmap(s, `"`+otherDN+`" `+acct.Name)
		}, jobdef.NoProxy, "not authorised"},
		{"MyProxy retrieval failure", "e2e-no-such-credential", func(*sitetest.Site) []string {
			return []string{"--payload-user", acct.Name}
		}, jobdef.NoProxy, "MyProxy retrieval"},
		{"VOMS attributes expired", credVOMSExpired, func(*sitetest.Site) []string {
			return []string{"--payload-user", acct.Name}
		}, jobdef.NoVOMSProxy, "expired"},
		{"credential too short", credShort, func(*sitetest.Site) []string {
			return []string{"--payload-user", acct.Name}
		}, jobdef.ProxyTooShort, "too short"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, proxy := g.site(t)
			id := int64(5201 + i)
			s.Submit(g.job(id, tc.credname, "&& echo payload-ran"))
			code, log := g.runPilot(s, proxy, tc.args(s)...)
			s.WantFailure(id, int(tc.code), tc.diag)
			if t.Failed() {
				t.Logf("pilot exit %d\n%s", code, log)
			}
			if strings.Contains(log, `msg="payload started"`) {
				t.Errorf("the payload ran\n%s", log)
			}
		})
	}
}
