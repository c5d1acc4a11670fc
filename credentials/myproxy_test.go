package credentials

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

// listening reports whether something listens on 127.0.0.1:port (from /proc/net/tcp, so
// that no connection is opened).
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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestMyProxyLogonArgsReal stores a credential in a real myproxy-server on 127.0.0.1 and
// retrieves it without a pass phrase with the argv of MyProxyLogonArgs.
func TestMyProxyLogonArgsReal(t *testing.T) {
	requireTools(t, "openssl", "grid-proxy-init", "myproxy-server", "myproxy-init", "myproxy-logon")
	ca := makeOpenSSLCA(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "myproxy-server.config")
	// Retrieval without a pass phrase (myproxy-logon -n) needs the client in
	// trusted_retrievers and in the credential's trusted retrievers (both "*" is refused),
	// and the client must not be the credential's owner ("self-authz not allowed for
	// trusted retriever"): the pilot here authenticates as the host certificate's DN.
	conf := `accepted_credentials  "*"
authorized_retrievers "*"
default_retrievers    "*"
authorized_renewers   "*"
trusted_retrievers    "*"
default_trusted_retrievers "` + ca.hostSubject + `"
`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
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
		// the daemon this test started, identified by its pid file and command line
		if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil &&
			strings.Contains(string(cmdline), pidfile) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	})

	clientEnv := append(ca.env(), "MYPROXY_SERVER=127.0.0.1", "MYPROXY_SERVER_PORT="+strconv.Itoa(port),
		"MYPROXY_SERVER_DN="+ca.hostSubject, "X509_USER_CERT="+ca.userCert, "X509_USER_KEY="+ca.userKey)
	run(t, clientEnv, "myproxy-init", "-n", "-l", "pilotuser", "-k", "prodcred", "-c", "6", "-t", "6")

	// The pilot authenticates with its own proxy (of another DN than the stored one).
	pilotProxy := filepath.Join(dir, "pilot-proxy")
	run(t, clientEnv, "grid-proxy-init", "-q", "-cert", ca.hostCert, "-key", ca.hostKey, "-out", pilotProxy, "-valid", "1:00", "-rfc")
	// X509_USER_CERT/KEY would take precedence over the proxy: leave them out.
	logonEnv := append(ca.env(), "MYPROXY_SERVER_DN="+ca.hostSubject, "X509_USER_PROXY="+pilotProxy)

	out := filepath.Join(dir, "retrieved.pem")
	args := MyProxyLogonArgs("127.0.0.1:"+strconv.Itoa(port), "prodcred", "pilotuser", 90*time.Minute, out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), logonEnv...)
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, res)
	}
	p, err := LoadProxy(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Identity != ca.userDN || p.Type != RFC3820 {
		t.Errorf("retrieved %v proxy of %q", p.Type, p.Identity)
	}
	// 90 minutes rounded up to 2 hours
	if left := p.TimeLeft(time.Now()); left > 2*time.Hour || left < 110*time.Minute {
		t.Errorf("retrieved proxy has %v left, want about 2h", left)
	}

	// An unknown credential name fails.
	bad := MyProxyLogonArgs("127.0.0.1:"+strconv.Itoa(port), "nosuchcred", "pilotuser", time.Hour, out+".bad")
	cmd = exec.CommandContext(ctx, bad[0], bad[1:]...)
	cmd.Env = append(os.Environ(), logonEnv...)
	if res, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("unknown credential retrieved: %s", res)
	}
}
