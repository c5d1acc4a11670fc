package identity

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/timedcmd"
)

// tool runs a command with a generous timeout and returns its trimmed stdout.
func tool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// gridCA is a throwaway CA made with openssl, with a host and a user certificate and a
// hashed CA directory.
type gridCA struct {
	dir, certDir               string
	hostCert, hostKey, hostDN  string
	userCert, userKey, userDN  string
	otherCert, otherKey, other string
}

func newGridCA(t *testing.T) *gridCA {
	t.Helper()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	ca := &gridCA{dir: dir, certDir: p("certificates"),
		hostCert: p("host.pem"), hostKey: p("host.key"), hostDN: "/O=Test/CN=localhost",
		userCert: p("user.pem"), userKey: p("user.key"), userDN: "/O=Test/OU=Users/CN=Job Owner",
		otherCert: p("other.pem"), otherKey: p("other.key"), other: "/O=Test/OU=Users/CN=Someone Else"}
	if err := os.Mkdir(ca.certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cnf := "[req]\ndistinguished_name=dn\n[dn]\n" +
		"[ext_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n" +
		"[ext_host]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
		"extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" +
		"[ext_user]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment,dataEncipherment\n" +
		"extendedKeyUsage=clientAuth\n"
	writeFile(t, p("ext.cnf"), cnf, 0o644)
	tool(t, nil, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
		"-subj", "/O=Test/CN=Identity Test CA", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-config", p("ext.cnf"), "-extensions", "ext_ca")
	for _, c := range []struct{ n, subj, ext string }{{"host", ca.hostDN, "ext_host"}, {"user", ca.userDN, "ext_user"}, {"other", ca.other, "ext_user"}} {
		tool(t, nil, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", c.subj,
			"-keyout", p(c.n+".key"), "-out", p(c.n+".csr"), "-config", p("ext.cnf"))
		tool(t, nil, "openssl", "x509", "-req", "-in", p(c.n+".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
			"-CAcreateserial", "-sha256", "-days", "30", "-extfile", p("ext.cnf"), "-extensions", c.ext, "-out", p(c.n+".pem"))
		if err := os.Chmod(p(c.n+".key"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	caPEM, err := os.ReadFile(p("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	policy := "access_id_CA X509 '/O=Test/CN=Identity Test CA'\npos_rights globus CA:sign\ncond_subjects globus '\"/O=Test/*\"'\n"
	for _, h := range []string{tool(t, nil, "openssl", "x509", "-noout", "-hash", "-in", p("ca.pem")),
		tool(t, nil, "openssl", "x509", "-noout", "-subject_hash_old", "-in", p("ca.pem"))} {
		writeFile(t, filepath.Join(ca.certDir, h+".0"), string(caPEM), 0o644)
		writeFile(t, filepath.Join(ca.certDir, h+".signing_policy"), policy, 0o644)
	}
	return ca
}

func (ca *gridCA) env() []string {
	return []string{"X509_CERT_DIR=" + ca.certDir, "HOME=" + ca.dir, "RANDFILE=" + filepath.Join(ca.dir, ".rnd")}
}

// listening reports whether something listens on 127.0.0.1:port (from /proc/net/tcp, so
// that no connection is opened: a probe would count as a client).
func listening(port int) bool {
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

// startMyProxy starts a myproxy-server on 127.0.0.1 that lets the host DN retrieve
// credentials without a pass phrase, and stops it when the test ends.
func startMyProxy(t *testing.T, ca *gridCA) string {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	// Retrieval without a pass phrase needs the client among the trusted retrievers, and
	// not the credential's owner: the pilot authenticates with a proxy of the host DN.
	cfg := writeFile(t, filepath.Join(dir, "myproxy-server.config"), `accepted_credentials  "*"
authorized_retrievers "*"
default_retrievers    "*"
authorized_renewers   "*"
trusted_retrievers    "*"
default_trusted_retrievers "`+ca.hostDN+`"
`, 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pidfile := filepath.Join(dir, "myproxy.pid")
	server := exec.Command("myproxy-server", "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-c", cfg, "-s", store, "-P", pidfile)
	server.Env = append(os.Environ(), "X509_CERT_DIR="+ca.certDir, "X509_USER_CERT="+ca.hostCert, "X509_USER_KEY="+ca.hostKey)
	if out, err := server.CombinedOutput(); err != nil { // it detaches and writes its pid
		t.Fatalf("myproxy-server: %v %s", err, out)
	}
	var pid int
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, _ := os.ReadFile(pidfile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		if pid > 0 && listening(port) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("myproxy-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		// the daemon this test started, recognised by its pid file on its command line
		if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil &&
			strings.Contains(string(cmdline), pidfile) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	})
	return "127.0.0.1:" + strconv.Itoa(port)
}

// storeCredential puts a credential of the given certificate in MyProxy under username,
// retrievable without a pass phrase.
func storeCredential(t *testing.T, ca *gridCA, server, cert, key, username string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(server)
	tool(t, append(ca.env(), "MYPROXY_SERVER="+host, "MYPROXY_SERVER_PORT="+port, "MYPROXY_SERVER_DN="+ca.hostDN,
		"X509_USER_CERT="+cert, "X509_USER_KEY="+key), "myproxy-init", "-n", "-l", username, "-c", "6", "-t", "6")
}

func TestMyProxyPayloadCredential(t *testing.T) {
	requireRoot(t)
	requireTools(t, "openssl", "grid-proxy-init", "myproxy-server", "myproxy-init", "myproxy-logon")
	ca := newGridCA(t)
	server := startMyProxy(t, ca)
	storeCredential(t, ca, server, ca.userCert, ca.userKey, "cred-owner")
	storeCredential(t, ca, server, ca.otherCert, ca.otherKey, "cred-other")
	// the pilot's proxy, of the host DN
	pilotProxy := filepath.Join(openDir(t), "x509up_pilot")
	tool(t, ca.env(), "grid-proxy-init", "-q", "-cert", ca.hostCert, "-key", ca.hostKey, "-out", pilotProxy, "-valid", "1:00", "-rfc")

	acct := newAccount(t, randomName("gpt", 8))
	s, err := New(Options{PayloadUser: acct.Name, MyProxy: true, MyProxyServerDN: ca.hostDN, CADir: ca.certDir,
		MyProxyLifetime: 90 * time.Minute, PilotProxy: pilotProxy, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("retrieved for the account", func(t *testing.T) {
		jobDir := newJobDir(t)
		job := &jobdef.Job{PandaID: 11, CredName: "cred-owner", MyProxy: server, ProdUserID: ca.userDN + "/CN=proxy"}
		plan, err := s.Prepare(context.Background(), job, jobDir)
		if err != nil {
			t.Fatal(err)
		}
		cred := filepath.Join(jobDir, PayloadProxyFile)
		if plan.ProxyPath != cred {
			t.Fatalf("ProxyPath %q, want %q", plan.ProxyPath, cred)
		}
		if uid, gid, mode := fileOwner(t, cred); uid != acct.UID || gid != acct.GID || mode.Perm() != 0o600 || !mode.IsRegular() {
			t.Errorf("credential %d:%d %v, want %d:%d 0600", uid, gid, mode, acct.UID, acct.GID)
		}
		p, err := credentials.LoadProxy(cred)
		if err != nil {
			t.Fatal(err)
		}
		if p.Identity != ca.userDN {
			t.Errorf("credential of %q", p.Identity)
		}
		// 90 minutes rounded up to whole hours
		if left := p.TimeLeft(time.Now()); left > 2*time.Hour || left < 100*time.Minute {
			t.Errorf("credential has %v left", left)
		}
		// the payload finds it through X509_USER_PROXY and can read it
		spec := timedcmd.Spec{Path: "/bin/bash", Args: []string{"/bin/bash", "-c", `echo "$X509_USER_PROXY"; head -1 "$X509_USER_PROXY"`},
			Env: []string{"PATH=/usr/bin:/bin", "X509_USER_PROXY=" + pilotProxy}, Dir: jobDir, Timeout: time.Minute}
		if err := plan.Apply(&spec); err != nil {
			t.Fatal(err)
		}
		res, err := timedcmd.Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if want := cred + "\n-----BEGIN CERTIFICATE-----\n"; string(res.StdoutTail) != want || !res.Success() {
			t.Errorf("payload printed %q (stderr %q), want %q", res.StdoutTail, res.StderrTail, want)
		}
		if err := plan.Release(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(cred); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the payload credential outlives Release: %v", err)
		}
	})

	failures := []struct {
		name string
		job  jobdef.Job
		opts func(*Options)
		code jobdef.ErrorCode
		msg  string
	}{
		{"unknown credential", jobdef.Job{CredName: "no-such-cred", MyProxy: server}, nil, jobdef.NoProxy, "MyProxy retrieval"},
		{"credential of another DN", jobdef.Job{CredName: "cred-other", MyProxy: server, ProdUserID: ca.userDN}, nil, jobdef.NoProxy, "belongs to"},
		{"no server", jobdef.Job{CredName: "cred-owner"}, nil, jobdef.NoProxy, "names no MyProxy server"},
		{"server down", jobdef.Job{CredName: "cred-owner", MyProxy: "127.0.0.1:1"}, nil, jobdef.NoProxy, "MyProxy retrieval"},
		{"too short", jobdef.Job{CredName: "cred-owner", MyProxy: server}, func(o *Options) { o.MyProxyMinLifetime = 24 * time.Hour }, jobdef.ProxyTooShort, "too short"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			s := s
			if tc.opts != nil {
				o := s.opts
				tc.opts(&o)
				var err error
				if s, err = New(o); err != nil {
					t.Fatal(err)
				}
			}
			jobDir := newJobDir(t)
			tc.job.PandaID = 12
			_, err := s.Prepare(context.Background(), &tc.job, jobDir)
			if codeOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Prepare: %v (code %d), want %d with %q", err, codeOf(err), tc.code, tc.msg)
			}
			if _, err := os.Lstat(filepath.Join(jobDir, PayloadProxyFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a rejected credential was left in the job directory: %v", err)
			}
		})
	}

	t.Run("expired pilot proxy", func(t *testing.T) {
		expired := expiredCredential(t)
		o := s.opts
		o.PilotProxy = expired
		s2, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s2.Prepare(context.Background(), &jobdef.Job{PandaID: 13, CredName: "cred-owner", MyProxy: server}, newJobDir(t))
		if codeOf(err) != jobdef.CertificateHasExpired || !errors.Is(err, credentials.ErrExpired) {
			t.Fatalf("Prepare: %v (code %d), want 1373", err, codeOf(err))
		}
	})
}

// expiredCredential writes a certificate and its key, valid until an hour ago.
func expiredCredential(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "expired pilot"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	return writeFile(t, filepath.Join(t.TempDir(), "expired"), string(data), 0o600)
}
