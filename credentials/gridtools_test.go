package credentials

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cross-checks against the real grid tools (Debian packages in REQUIRED_PACKAGES:
// voms-clients, globus-proxy-utils, openssl). When a tool is missing the test FAILS if the
// environment variable CI is set or GOPILOT_REQUIRE_GRID_TOOLS=1, and is skipped loudly
// otherwise.

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
	msg := fmt.Sprintf("grid tools missing: %s (apt-get install -y $(cat credentials/REQUIRED_PACKAGES))", strings.Join(missing, ", "))
	if os.Getenv("CI") != "" || os.Getenv("GOPILOT_REQUIRE_GRID_TOOLS") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: %s ***\n\n", t.Name(), msg)
	t.Skip(msg)
}

// run runs a tool with a generous timeout and returns its trimmed stdout.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// opensslCA makes a throwaway CA, a host and a user certificate with openssl, and the
// hashed CA directory, as snippets/testca.sh does.
type opensslCA struct {
	dir, certDir                   string
	userCert, userKey              string
	hostCert, hostKey              string
	caSubject, userDN, hostSubject string
}

func makeOpenSSLCA(t *testing.T) *opensslCA {
	t.Helper()
	dir := t.TempDir()
	ca := &opensslCA{dir: dir, certDir: filepath.Join(dir, "certificates"),
		userCert: filepath.Join(dir, "user.pem"), userKey: filepath.Join(dir, "user.key"),
		hostCert: filepath.Join(dir, "host.pem"), hostKey: filepath.Join(dir, "host.key"),
		caSubject: "/O=Test/CN=Test Grid CA", userDN: "/O=Test/OU=Users/CN=Test User", hostSubject: "/O=Test/CN=localhost"}
	if err := os.Mkdir(ca.certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cnf := `[req]
distinguished_name=dn
[dn]
[ext_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[ext_host]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[ext_user]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment,dataEncipherment
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
`
	p := func(n string) string { return filepath.Join(dir, n) }
	if err := os.WriteFile(p("ext.cnf"), []byte(cnf), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
		"-subj", ca.caSubject, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-config", p("ext.cnf"), "-extensions", "ext_ca")
	for _, c := range []struct{ n, subj string }{{"host", ca.hostSubject}, {"user", ca.userDN}} {
		run(t, nil, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", c.subj,
			"-keyout", p(c.n+".key"), "-out", p(c.n+".csr"), "-config", p("ext.cnf"))
		run(t, nil, "openssl", "x509", "-req", "-in", p(c.n+".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
			"-CAcreateserial", "-sha256", "-days", "30", "-extfile", p("ext.cnf"), "-extensions", "ext_"+c.n, "-out", p(c.n+".pem"))
		if err := os.Chmod(p(c.n+".key"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	caPEM, err := os.ReadFile(p("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf("access_id_CA X509 '%s'\npos_rights globus CA:sign\ncond_subjects globus '\"/O=Test/*\"'\n", ca.caSubject)
	for _, h := range []string{run(t, nil, "openssl", "x509", "-noout", "-hash", "-in", p("ca.pem")),
		run(t, nil, "openssl", "x509", "-noout", "-subject_hash_old", "-in", p("ca.pem"))} {
		if err := os.WriteFile(filepath.Join(ca.certDir, h+".0"), caPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ca.certDir, h+".signing_policy"), []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ca
}

func (ca *opensslCA) env() []string {
	return []string{"X509_CERT_DIR=" + ca.certDir, "HOME=" + ca.dir, "RANDFILE=" + filepath.Join(ca.dir, ".rnd")}
}

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
