package credentials

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/credentials/credtest"
	"github.com/gopilot/gopilot/jobdef"
)

// Cross-checks against the real grid tools (Debian packages in REQUIRED_PACKAGES:
// voms-clients, globus-proxy-utils, openssl). When a tool is missing the test FAILS if the
// environment variable CI is set or GOPILOT_REQUIRE_GRID_TOOLS=1, and is skipped loudly
// otherwise.

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	credtest.RequireTools(t, tools...)
}

// run runs a tool with a generous timeout and returns its trimmed stdout.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	return credtest.Run(t, env, name, args...)
}

// opensslCA is a throwaway CA (credtest) with a host and a user certificate.
type opensslCA struct {
	ca                             *credtest.CA
	dir, certDir                   string
	userCert, userKey              string
	hostCert, hostKey              string
	caSubject, userDN, hostSubject string
}

func makeOpenSSLCA(t *testing.T) *opensslCA {
	t.Helper()
	ca := credtest.NewCA(t, "/O=Test/CN=Test Grid CA")
	user := ca.User(t, "user", "/O=Test/OU=Users/CN=Test User")
	return &opensslCA{ca: ca, dir: ca.Dir, certDir: ca.CertDir, userCert: user.Cert, userKey: user.Key,
		hostCert: ca.Host.Cert, hostKey: ca.Host.Key, caSubject: ca.Subject, userDN: user.DN, hostSubject: ca.Host.DN}
}

func (ca *opensslCA) env() []string { return ca.ca.Env() }

// loadTestCert loads an openssl certificate and key for Go-made proxies and ACs.
func loadTestCert(t *testing.T, certFile, keyFile string) testCert {
	t.Helper()
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := parsePrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: c, key: k.(crypto.Signer)}
}

// checkTimeLeft runs a tool that prints seconds left and checks that it lies between our
// own values computed just before and just after it ran (allowing 2 s for whole seconds
// and clock reading), so the check does not depend on how fast the machine is.
func checkTimeLeft(t *testing.T, what string, left func(time.Time) time.Duration, tool func() string) {
	t.Helper()
	before := left(time.Now())
	out := tool()
	after := left(time.Now())
	secs, err := strconv.ParseInt(strings.TrimSpace(lastLine(out)), 10, 64)
	if err != nil {
		t.Fatalf("%s: tool printed %q", what, out)
	}
	got := time.Duration(secs) * time.Second
	if got < after-2*time.Second || got > before+2*time.Second {
		t.Errorf("%s: tool says %v, parser says between %v and %v", what, got, after, before)
	}
	t.Logf("%s: tool %v, parser %v", what, got, before.Round(time.Second))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestGridToolsCrossCheck(t *testing.T) {
	requireTools(t, "openssl", "grid-proxy-init", "grid-proxy-info", "voms-proxy-init", "voms-proxy-info", "voms-proxy-fake")
	ca := makeOpenSSLCA(t)
	env := ca.env()
	out := t.TempDir()

	t.Run("grid-proxy-init", func(t *testing.T) {
		tests := []struct {
			flags    []string
			typ      ProxyType
			limited  bool
			toolType string
		}{
			{[]string{"-rfc"}, RFC3820, false, "RFC 3820 compliant impersonation proxy"},
			{[]string{"-rfc", "-limited"}, RFC3820, true, "RFC 3820 compliant limited proxy"},
			{[]string{"-draft"}, DraftProxy, false, "Proxy draft (pre-RFC) compliant impersonation proxy"},
			{[]string{"-old"}, LegacyProxy, false, "full legacy globus proxy"},
			{[]string{"-old", "-limited"}, LegacyProxy, true, "limited legacy globus proxy"},
		}
		for i, tc := range tests {
			path := filepath.Join(out, fmt.Sprintf("gpi%d", i))
			args := append([]string{"-q", "-cert", ca.userCert, "-key", ca.userKey, "-out", path, "-valid", "3:07"}, tc.flags...)
			run(t, env, "grid-proxy-init", args...)
			p, err := LoadProxy(path)
			if err != nil {
				t.Fatalf("%v: %v", tc.flags, err)
			}
			if p.Type != tc.typ || p.Limited != tc.limited {
				t.Errorf("%v: type %v limited %v, want %v %v", tc.flags, p.Type, p.Limited, tc.typ, tc.limited)
			}
			if got := run(t, env, "grid-proxy-info", "-f", path, "-type"); got != tc.toolType {
				t.Errorf("%v: grid-proxy-info -type %q", tc.flags, got)
			}
			for flag, want := range map[string]string{"-identity": p.Identity, "-subject": p.Subject, "-issuer": p.Issuer} {
				if got := run(t, env, "grid-proxy-info", "-f", path, flag); got != want {
					t.Errorf("%v: grid-proxy-info %s = %q, parser %q", tc.flags, flag, got, want)
				}
			}
			if p.Identity != ca.userDN {
				t.Errorf("identity %q", p.Identity)
			}
			checkTimeLeft(t, fmt.Sprintf("grid-proxy-info %v", tc.flags), p.TimeLeft, func() string {
				return run(t, env, "grid-proxy-info", "-f", path, "-timeleft")
			})
		}
	})

	t.Run("voms-proxy-init plain", func(t *testing.T) {
		path := filepath.Join(out, "vpi")
		run(t, env, "voms-proxy-init", "-cert", ca.userCert, "-key", ca.userKey, "-certdir", ca.certDir,
			"-out", path, "-valid", "11:30", "-rfc", "-bits", "2048")
		p, err := LoadProxy(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, env, "voms-proxy-info", "-file", path, "-identity"); got != p.Identity {
			t.Errorf("identity: tool %q parser %q", got, p.Identity)
		}
		if got := run(t, env, "voms-proxy-info", "-file", path, "-subject"); got != p.Subject {
			t.Errorf("subject: tool %q parser %q", got, p.Subject)
		}
		checkTimeLeft(t, "voms-proxy-info -timeleft", p.TimeLeft, func() string {
			return run(t, env, "voms-proxy-info", "-file", path, "-timeleft")
		})
	})

	t.Run("voms-proxy-fake with a VOMS AC", func(t *testing.T) {
		path := filepath.Join(out, "fake")
		run(t, env, "voms-proxy-fake", "-cert", ca.userCert, "-key", ca.userKey, "-certdir", ca.certDir,
			"-hostcert", ca.hostCert, "-hostkey", ca.hostKey, "-voms", "testvo",
			"-fqan", "/testvo/Role=production/Capability=NULL", "-fqan", "/testvo/Role=NULL/Capability=NULL",
			"-uri", "localhost:15000", "-out", path, "-rfc", "-hours", "3", "-vomslife", "1")
		p, err := LoadProxy(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.VOMS) != 1 {
			t.Fatalf("VOMS = %+v", p.VOMS)
		}
		if got := run(t, env, "voms-proxy-info", "-file", path, "-vo"); got != p.VO() || got != "testvo" {
			t.Errorf("vo: tool %q parser %q", got, p.VO())
		}
		toolFQANs := strings.Split(run(t, env, "voms-proxy-info", "-file", path, "-fqan"), "\n")
		if !slices.Equal(toolFQANs, p.FQANs()) {
			t.Errorf("fqans: tool %q parser %q", toolFQANs, p.FQANs())
		}
		if p.VOMS[0].Issuer != ca.hostSubject || p.VOMS[0].Server != "localhost:15000" {
			t.Errorf("AC issuer %q server %q", p.VOMS[0].Issuer, p.VOMS[0].Server)
		}
		checkTimeLeft(t, "voms-proxy-info -actimeleft", func(now time.Time) time.Duration {
			return p.VOMS[0].NotAfter.Sub(now)
		}, func() string { return run(t, env, "voms-proxy-info", "-file", path, "-actimeleft") })
		checkTimeLeft(t, "voms-proxy-info -timeleft (chain)", func(now time.Time) time.Duration {
			return p.NotAfter.Sub(now)
		}, func() string { return run(t, env, "voms-proxy-info", "-file", path, "-timeleft") })
		// The AC ends first: it limits the effective lifetime.
		if !p.EffectiveNotAfter().Equal(p.VOMS[0].NotAfter) || p.TimeLeft(time.Now()) > time.Hour {
			t.Errorf("effective %v, AC %v, chain %v", p.EffectiveNotAfter(), p.VOMS[0].NotAfter, p.NotAfter)
		}
		if err := p.CheckLifetime(time.Now(), 2*time.Hour); !errors.Is(err, ErrTooShort) || !errors.Is(err, ErrVOMS) {
			t.Errorf("CheckLifetime: %v", err)
		}
	})

	t.Run("openssl proxy", func(t *testing.T) {
		// an RFC 3820 proxy made with openssl alone (snippets/voms.sh make_proxy_openssl)
		d := t.TempDir()
		pp := func(n string) string { return filepath.Join(d, n) }
		cnf := "[req]\ndistinguished_name=dn\n[dn]\n[p]\nproxyCertInfo=critical,language:id-ppl-inheritAll\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=critical,CA:FALSE\n"
		if err := os.WriteFile(pp("p.cnf"), []byte(cnf), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, nil, "openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", pp("k.pem"),
			"-subj", ca.userDN+"/CN=424242", "-out", pp("r.csr"), "-config", pp("p.cnf"))
		run(t, nil, "openssl", "x509", "-req", "-in", pp("r.csr"), "-CA", ca.userCert, "-CAkey", ca.userKey,
			"-set_serial", "424242", "-days", "1", "-sha256", "-extfile", pp("p.cnf"), "-extensions", "p", "-out", pp("c.pem"))
		var file []byte
		for _, n := range []string{pp("c.pem"), pp("k.pem"), ca.userCert} {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			file = append(file, b...)
		}
		path := filepath.Join(out, "openssl-proxy")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := LoadProxy(path)
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != RFC3820 || p.Subject != ca.userDN+"/CN=424242" || p.Identity != ca.userDN {
			t.Errorf("%+v", p)
		}
		checkTimeLeft(t, "openssl proxy, voms-proxy-info -timeleft", p.TimeLeft, func() string {
			return run(t, env, "voms-proxy-info", "-file", path, "-timeleft")
		})
	})

	t.Run("Go-made proxies read by the tools", func(t *testing.T) {
		user := loadTestCert(t, ca.userCert, ca.userKey)
		for _, kind := range []proxyKind{kindRFC, kindLegacy, kindRFCLimited} {
			px := makeProxy(t, user, proxyOpts{kind: kind, lifetime: 5*time.Hour + 17*time.Minute})
			path := filepath.Join(out, fmt.Sprintf("go-proxy-%d", kind))
			if err := os.WriteFile(path, proxyFile(t, px, user), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := LoadProxy(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, env, "grid-proxy-info", "-f", path, "-identity"); got != p.Identity || got != ca.userDN {
				t.Errorf("kind %d: grid-proxy-info -identity %q, parser %q", kind, got, p.Identity)
			}
			checkTimeLeft(t, fmt.Sprintf("Go proxy kind %d, grid-proxy-info -timeleft", kind), p.TimeLeft, func() string {
				return run(t, env, "grid-proxy-info", "-f", path, "-timeleft")
			})
		}
	})

	t.Run("Go-made VOMS AC read by voms-proxy-info", func(t *testing.T) {
		user := loadTestCert(t, ca.userCert, ca.userKey)
		host := loadTestCert(t, ca.hostCert, ca.hostKey)
		now := time.Now().Truncate(time.Second)
		fqans := []string{"/testvo/Role=pilot/Capability=NULL", "/testvo/Role=NULL/Capability=NULL"}
		ac := buildAC(t, user, host, acOpts{vo: "testvo", server: "localhost:15000", fqans: fqans,
			notBefore: now.Add(-time.Minute), notAfter: now.Add(47 * time.Minute)})
		px := makeProxy(t, user, proxyOpts{kind: kindRFC, lifetime: 4 * time.Hour, extra: []pkix.Extension{vomsExtension(ac)}})
		path := filepath.Join(out, "go-voms-proxy")
		if err := os.WriteFile(path, proxyFile(t, px, user), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := LoadProxy(path)
		if err != nil {
			t.Fatal(err)
		}
		// the AC carries no certificate of its signer: give voms-proxy-info the host
		// certificate in an old-style vomsdir
		vomsDir := filepath.Join(t.TempDir(), "vomsdir")
		if err := os.MkdirAll(vomsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		hostPEM, err := os.ReadFile(ca.hostCert)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vomsDir, "host.pem"), hostPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		env := append(env, "X509_VOMS_DIR="+vomsDir)
		if got := strings.Split(run(t, env, "voms-proxy-info", "-file", path, "-fqan"), "\n"); !slices.Equal(got, fqans) {
			t.Errorf("voms-proxy-info -fqan %q, want %q", got, fqans)
		}
		if got := run(t, env, "voms-proxy-info", "-file", path, "-vo"); got != "testvo" {
			t.Errorf("voms-proxy-info -vo %q", got)
		}
		checkTimeLeft(t, "Go AC, voms-proxy-info -actimeleft", p.TimeLeft, func() string {
			return run(t, env, "voms-proxy-info", "-file", path, "-actimeleft")
		})
	})
}

// TestLifetimeCrossCheck compares the verdicts of Lifetime.Check with those of the grid
// tools on proxies the tools made: `grid-proxy-info -exists -valid H:MM` and
// `voms-proxy-info -exists -valid H:MM` for the chain, -timeleft/-actimeleft for VOMS.
func TestLifetimeCrossCheck(t *testing.T) {
	requireTools(t, "openssl", "grid-proxy-init", "grid-proxy-info", "voms-proxy-info", "voms-proxy-fake")
	ca := makeOpenSSLCA(t)
	user := credtest.Cert{Cert: ca.userCert, Key: ca.userKey, DN: ca.userDN}
	dir := t.TempDir()
	rc := func(name string, args ...string) bool {
		_, err := credtest.Output(ca.env(), nil, name, args...)
		return err == nil
	}
	lifetime := func(path string) Lifetime {
		l, err := ReadProxyLifetime(path)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("chain", func(t *testing.T) {
		for _, kind := range [][]string{{"-rfc"}, {"-old"}, {"-rfc", "-limited"}} {
			path := ca.ca.GridProxy(t, user, filepath.Join(dir, "gpi"+strings.Join(kind, "")), "3:07", kind...)
			l := lifetime(path)
			checkTimeLeft(t, fmt.Sprintf("%v Lifetime.Left vs voms-proxy-info -timeleft", kind), func(now time.Time) time.Duration {
				left, _ := l.Left(now)
				return left
			}, func() string { return run(t, ca.env(), "voms-proxy-info", "-file", path, "-timeleft") })
			for _, need := range []string{"0:30", "3:00", "3:30", "12:00"} {
				h, m, _ := strings.Cut(need, ":")
				hh, _ := strconv.Atoi(h)
				mm, _ := strconv.Atoi(m)
				d := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
				ours := l.Check(time.Now(), d) == nil
				if gpi := rc("grid-proxy-info", "-f", path, "-exists", "-valid", need); gpi != ours {
					t.Errorf("%v need %s: grid-proxy-info says %v, Check says %v", kind, need, gpi, ours)
				}
				if vpi := rc("voms-proxy-info", "-file", path, "-exists", "-valid", need); vpi != ours {
					t.Errorf("%v need %s: voms-proxy-info says %v, Check says %v", kind, need, vpi, ours)
				}
				if code := jobdef.CodeOf(l.Check(time.Now(), d)); !ours && code != jobdef.ProxyTooShort {
					t.Errorf("%v need %s: code %d, want 1382", kind, need, code)
				}
			}
		}
	})

	t.Run("VOMS", func(t *testing.T) {
		tests := []struct {
			name     string
			o        credtest.VOMSOptions
			need     time.Duration
			start    jobdef.ErrorCode
			running  jobdef.ErrorCode
			acExpire bool
		}{
			{"AC shorter than the chain", credtest.VOMSOptions{Hours: 3, ACHours: 1}, 2 * time.Hour, jobdef.NoVOMSProxy, 0, false},
			{"AC long enough", credtest.VOMSOptions{Hours: 3, ACHours: 3}, 2 * time.Hour, 0, 0, false},
			{"AC expired", credtest.VOMSOptions{Hours: 3, ACHours: 1, ACPast: 2 * time.Hour}, time.Minute, jobdef.NoVOMSProxy, jobdef.NoVOMSProxy, true},
		}
		for i, tc := range tests {
			path := ca.ca.VOMSProxy(t, user, filepath.Join(dir, fmt.Sprintf("fake%d", i)), tc.o)
			l := lifetime(path)
			if l.VOMSNotAfter.IsZero() {
				t.Fatalf("%s: no VOMS AC found", tc.name)
			}
			acLeft := run(t, ca.env(), "voms-proxy-info", "-file", path, "-actimeleft")
			if tc.acExpire != (acLeft == "0") {
				t.Errorf("%s: voms-proxy-info -actimeleft %s", tc.name, acLeft)
			}
			checkTimeLeft(t, tc.name+": Lifetime.Left vs min(-timeleft, -actimeleft)", func(now time.Time) time.Duration {
				left, _ := l.Left(now)
				return left
			}, func() string {
				a, _ := strconv.Atoi(acLeft)
				b, _ := strconv.Atoi(run(t, ca.env(), "voms-proxy-info", "-file", path, "-timeleft"))
				return strconv.Itoa(min(a, b))
			})
			if code := jobdef.CodeOf(l.Check(time.Now(), tc.need)); code != tc.start {
				t.Errorf("%s: Check code %d, want %d", tc.name, code, tc.start)
			}
			if code := jobdef.CodeOf(l.CheckRunning(time.Now(), RunningMargin)); code != tc.running {
				t.Errorf("%s: CheckRunning code %d, want %d", tc.name, code, tc.running)
			}
		}
	})
}
