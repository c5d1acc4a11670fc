// Package credtest provides grid credentials and servers for tests: a throwaway CA made
// with openssl (hashed CA directory with signing policies), host and user certificates,
// proxies made by grid-proxy-init and voms-proxy-fake, and a myproxy-server on 127.0.0.1.
//
// Everything lives in t.TempDir() directories and is stopped in t.Cleanup. The tools come
// from the Debian packages openssl, globus-proxy-utils, voms-clients, myproxy and
// myproxy-server (credentials/REQUIRED_PACKAGES). RequireTools decides what a test does
// when one is missing. The package does not import package credentials, so that the
// credentials package's own tests can use it.
package credtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PackagesHint is the install command printed when a tool is missing.
const PackagesHint = "apt-get install -y $(cat credentials/REQUIRED_PACKAGES)"

// Strict reports whether a missing tool must fail a test instead of skipping it: when the
// environment variable CI is set or GOPILOT_REQUIRE_GRID_TOOLS=1.
func Strict() bool {
	return os.Getenv("CI") != "" || os.Getenv("GOPILOT_REQUIRE_GRID_TOOLS") == "1"
}

// MissingTools returns the tools that are not on PATH.
func MissingTools(tools ...string) []string {
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return missing
}

// RequireTools fails the test when a tool is missing and Strict is true, and skips it
// loudly (a banner on stderr) otherwise.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	missing := MissingTools(tools...)
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("grid tools missing: %s (%s)", strings.Join(missing, ", "), PackagesHint)
	if Strict() {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: %s ***\n\n", t.Name(), msg)
	t.Skip(msg)
}

// Run runs a tool with a two-minute limit, its environment being this process's plus env,
// and returns its trimmed standard output; any failure fails the test with the output.
func Run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := Output(env, nil, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Output is Run without a test: the error carries the command, its exit status and its
// output. stdin may be nil.
func Output(env []string, stdin []byte, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// Cert is a certificate file, its unencrypted key file (mode 0400) and its subject DN in
// the slash form.
type Cert struct {
	Cert, Key, DN string
}

// CA is a throwaway certificate authority with a host certificate.
type CA struct {
	// Dir holds the CA's files (a t.TempDir).
	Dir string
	// CertDir is the hashed CA directory for X509_CERT_DIR: the CA certificate as
	// <hash>.0 for both openssl hash algorithms, with <hash>.signing_policy files.
	CertDir string
	// Subject is the CA's DN.
	Subject string
	// CAFile is the CA certificate (PEM), CAKey its key.
	CAFile, CAKey string
	// Host is the host certificate "/O=Test/CN=localhost" (serverAuth and clientAuth,
	// subjectAltName DNS:localhost, IP:127.0.0.1).
	Host Cert
}

const extConfig = `[req]
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

// HostDN is the subject of CA.Host.
const HostDN = "/O=Test/CN=localhost"

// NewCA makes a CA with the given subject (e.g. "/O=Test/CN=Test Grid CA"; its signing
// policy allows subjects "/O=Test/*") and its host certificate, RSA 2048 and SHA-256, valid
// for 30 days. It needs openssl.
func NewCA(t testing.TB, subject string) *CA {
	t.Helper()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	ca := &CA{Dir: dir, CertDir: p("certificates"), Subject: subject, CAFile: p("ca.pem"), CAKey: p("ca.key")}
	if err := os.Mkdir(ca.CertDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("ext.cnf"), []byte(extConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, nil, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
		"-subj", subject, "-keyout", ca.CAKey, "-out", ca.CAFile, "-config", p("ext.cnf"), "-extensions", "ext_ca")
	caPEM, err := os.ReadFile(ca.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf("access_id_CA X509 '%s'\npos_rights globus CA:sign\ncond_subjects globus '\"/O=Test/*\"'\n", subject)
	for _, h := range []string{Run(t, nil, "openssl", "x509", "-noout", "-hash", "-in", ca.CAFile),
		Run(t, nil, "openssl", "x509", "-noout", "-subject_hash_old", "-in", ca.CAFile)} {
		if err := os.WriteFile(filepath.Join(ca.CertDir, h+".0"), caPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ca.CertDir, h+".signing_policy"), []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ca.Host = ca.issue(t, "host", HostDN, "ext_host")
	return ca
}

// User issues a user certificate (clientAuth) with the given DN, which must start with
// "/O=Test/"; name names its files in Dir and must be unique per CA.
func (ca *CA) User(t testing.TB, name, dn string) Cert {
	t.Helper()
	return ca.issue(t, name, dn, "ext_user")
}

func (ca *CA) issue(t testing.TB, name, dn, ext string) Cert {
	t.Helper()
	p := func(n string) string { return filepath.Join(ca.Dir, n) }
	c := Cert{Cert: p(name + ".pem"), Key: p(name + ".key"), DN: dn}
	Run(t, nil, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", dn,
		"-keyout", c.Key, "-out", p(name+".csr"), "-config", p("ext.cnf"))
	Run(t, nil, "openssl", "x509", "-req", "-in", p(name+".csr"), "-CA", ca.CAFile, "-CAkey", ca.CAKey,
		"-CAcreateserial", "-sha256", "-days", "30", "-extfile", p("ext.cnf"), "-extensions", ext, "-out", c.Cert)
	if err := os.Chmod(c.Key, 0o400); err != nil {
		t.Fatal(err)
	}
	return c
}

// Env is the environment the grid tools need: X509_CERT_DIR, and HOME and RANDFILE in
// the CA directory (openssl and the Globus tools write there).
func (ca *CA) Env() []string {
	return []string{"X509_CERT_DIR=" + ca.CertDir, "HOME=" + ca.Dir, "RANDFILE=" + filepath.Join(ca.Dir, ".rnd")}
}

// GridProxy makes an RFC 3820 proxy of c with grid-proxy-init, valid for valid ("H:MM"),
// written to out (mode 0600); flags are added to the command line (e.g. "-limited", or
// "-old" instead of the default "-rfc"). It returns out.
func (ca *CA) GridProxy(t testing.TB, c Cert, out, valid string, flags ...string) string {
	t.Helper()
	if len(flags) == 0 {
		flags = []string{"-rfc"}
	}
	args := append([]string{"-q", "-cert", c.Cert, "-key", c.Key, "-out", out, "-valid", valid}, flags...)
	Run(t, ca.Env(), "grid-proxy-init", args...)
	return out
}

// VOMSOptions describe a proxy with a VOMS attribute certificate made by voms-proxy-fake;
// the AC is signed by the CA's host certificate as if it were the VOMS server.
type VOMSOptions struct {
	// VO and FQANs are the attributes; empty VO means "testvo", no FQANs
	// "/<vo>/Role=NULL/Capability=NULL".
	VO    string
	FQANs []string
	// Hours is the proxy lifetime and ACHours the AC lifetime, in whole hours (at least 1).
	Hours, ACHours int
	// ACPast starts the AC's validity this long ago (voms-proxy-fake -pastac), e.g. to make
	// an AC that has already expired: ACHours 1 and ACPast 2h.
	ACPast time.Duration
}

// VOMSServer is the policy authority (host:port) of the ACs VOMSProxy makes.
const VOMSServer = "localhost:15000"

// VOMSProxy makes an RFC 3820 proxy of c with a VOMS AC (voms-proxy-fake) and returns out.
func (ca *CA) VOMSProxy(t testing.TB, c Cert, out string, o VOMSOptions) string {
	t.Helper()
	if o.VO == "" {
		o.VO = "testvo"
	}
	if len(o.FQANs) == 0 {
		o.FQANs = []string{"/" + o.VO + "/Role=NULL/Capability=NULL"}
	}
	o.Hours, o.ACHours = max(o.Hours, 1), max(o.ACHours, 1)
	args := []string{"-cert", c.Cert, "-key", c.Key, "-certdir", ca.CertDir, "-hostcert", ca.Host.Cert, "-hostkey", ca.Host.Key,
		"-voms", o.VO, "-uri", VOMSServer, "-out", out, "-rfc", "-hours", strconv.Itoa(o.Hours), "-vomslife", strconv.Itoa(o.ACHours)}
	for _, f := range o.FQANs {
		args = append(args, "-fqan", f)
	}
	if o.ACPast > 0 {
		args = append(args, "-pastac", strconv.Itoa(int(o.ACPast/time.Second)))
	}
	Run(t, ca.Env(), "voms-proxy-fake", args...)
	return out
}

// MyProxy is a myproxy-server on 127.0.0.1 using the CA's host certificate. It lets any
// client store credentials, and lets clients whose DN is one of the trusted retrievers
// fetch them without a pass phrase (myproxy-logon -n).
type MyProxy struct {
	// Addr is "127.0.0.1:<port>".
	Addr string
	// Dir holds the configuration, the store and the pid file.
	Dir string
	// ServerDN is the server certificate's DN, for MYPROXY_SERVER_DN (the client checks
	// it against the host name dialled, which is an IP address here).
	ServerDN string
	// PID is the daemon's process id.
	PID int

	ca *CA
}

// StartMyProxy starts a myproxy-server daemon on a free loopback port, trusting
// trustedRetrievers (DNs; none means the host DN) to retrieve without a pass phrase, and
// stops it (SIGTERM to the pid it wrote, after checking that pid is still that daemon) when
// the test ends. Readiness is the pid file plus a LISTEN entry in /proc/net/tcp: the
// server is not probed with a connection.
func StartMyProxy(t testing.TB, ca *CA, trustedRetrievers ...string) *MyProxy {
	t.Helper()
	if len(trustedRetrievers) == 0 {
		trustedRetrievers = []string{ca.Host.DN}
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("accepted_credentials  \"*\"\nauthorized_retrievers \"*\"\ndefault_retrievers    \"*\"\n")
	b.WriteString("authorized_renewers   \"*\"\ntrusted_retrievers    \"*\"\n")
	for _, dn := range trustedRetrievers {
		fmt.Fprintf(&b, "default_trusted_retrievers %q\n", dn)
	}
	cfg := filepath.Join(dir, "myproxy-server.config")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pidfile := filepath.Join(dir, "myproxy.pid")
	server := exec.Command("myproxy-server", "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-c", cfg, "-s", store, "-P", pidfile)
	server.Env = append(os.Environ(), "X509_CERT_DIR="+ca.CertDir, "X509_USER_CERT="+ca.Host.Cert, "X509_USER_KEY="+ca.Host.Key)
	if out, err := server.CombinedOutput(); err != nil { // it detaches and writes its pid
		t.Fatalf("myproxy-server: %v %s", err, out)
	}
	m := &MyProxy{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, ServerDN: ca.Host.DN, ca: ca}
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, _ := os.ReadFile(pidfile)
		m.PID, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		if m.PID > 0 && Listening(port) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("myproxy-server did not start listening within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		// the daemon this test started, recognised by its pid file on its command line
		if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(m.PID) + "/cmdline"); err == nil &&
			strings.Contains(string(cmdline), pidfile) {
			_ = syscall.Kill(m.PID, syscall.SIGTERM)
		}
	})
	return m
}

// ClientEnv is the environment of a MyProxy client talking to m.
func (m *MyProxy) ClientEnv() []string {
	host, port, _ := net.SplitHostPort(m.Addr)
	return append(m.ca.Env(), "MYPROXY_SERVER="+host, "MYPROXY_SERVER_PORT="+port, "MYPROXY_SERVER_DN="+m.ServerDN)
}

// Init stores a credential of c under username with myproxy-init -n (no pass phrase), the
// stored credential valid for hours and retrievals for up to hours; extra arguments follow
// (e.g. "-k", credname).
func (m *MyProxy) Init(t testing.TB, c Cert, username string, hours int, extra ...string) {
	t.Helper()
	h := strconv.Itoa(max(hours, 1))
	Run(t, append(m.ClientEnv(), "X509_USER_CERT="+c.Cert, "X509_USER_KEY="+c.Key),
		"myproxy-init", append([]string{"-n", "-l", username, "-c", h, "-t", h}, extra...)...)
}

// Store stores the proxy file as it is (its certificate chain and key) under username with
// myproxy-store, e.g. a short-lived proxy or one with a VOMS AC; a retrieved credential is
// then a proxy of it and carries its chain.
func (m *MyProxy) Store(t testing.TB, proxy, username string) {
	t.Helper()
	Run(t, append(m.ClientEnv(), "X509_USER_PROXY="+proxy), "myproxy-store", "-c", proxy, "-y", proxy, "-l", username)
}

// Listening reports whether something listens on 127.0.0.1:port, read from /proc/net/tcp
// so that no connection is opened (myproxy-server counts a probe as a failed client).
func Listening(port int) bool {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[1] == want && fields[3] == "0A" {
			return true
		}
	}
	return false
}
