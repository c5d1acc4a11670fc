package credentials

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/credentials/credtest"
)

// TestMyProxyLogonArgsReal stores a credential in a real myproxy-server on 127.0.0.1 and
// retrieves it without a pass phrase with the argv of MyProxyLogonArgs.
func TestMyProxyLogonArgsReal(t *testing.T) {
	requireTools(t, "openssl", "grid-proxy-init", "myproxy-server", "myproxy-init", "myproxy-logon")
	ca := makeOpenSSLCA(t)
	// Retrieval without a pass phrase (myproxy-logon -n) needs the client in
	// trusted_retrievers and in the credential's trusted retrievers (both "*" is refused),
	// and the client must not be the credential's owner ("self-authz not allowed for
	// trusted retriever"): the pilot here authenticates as the host certificate's DN.
	mp := credtest.StartMyProxy(t, ca.ca, ca.hostSubject)
	mp.Init(t, credtest.Cert{Cert: ca.userCert, Key: ca.userKey, DN: ca.userDN}, "pilotuser", 6, "-k", "prodcred")
	dir := t.TempDir()
	clientEnv := ca.env()
	port := strings.TrimPrefix(mp.Addr, "127.0.0.1:")

	// The pilot authenticates with its own proxy (of another DN than the stored one).
	pilotProxy := filepath.Join(dir, "pilot-proxy")
	run(t, clientEnv, "grid-proxy-init", "-q", "-cert", ca.hostCert, "-key", ca.hostKey, "-out", pilotProxy, "-valid", "1:00", "-rfc")
	// X509_USER_CERT/KEY would take precedence over the proxy: leave them out.
	logonEnv := append(ca.env(), "MYPROXY_SERVER_DN="+ca.hostSubject, "X509_USER_PROXY="+pilotProxy)

	out := filepath.Join(dir, "retrieved.pem")
	args := MyProxyLogonArgs("127.0.0.1:"+port, "prodcred", "pilotuser", 90*time.Minute, out)
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
	bad := MyProxyLogonArgs("127.0.0.1:"+port, "nosuchcred", "pilotuser", time.Hour, out+".bad")
	cmd = exec.CommandContext(ctx, bad[0], bad[1:]...)
	cmd.Env = append(os.Environ(), logonEnv...)
	if res, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("unknown credential retrieved: %s", res)
	}
}
