package pandalite

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and key for subject to dir
// and returns the file names and the parsed certificate.
func selfSigned(t *testing.T, dir, subject string, ips ...net.IP) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: subject, Organization: []string{"gopilot test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           ips,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, subject+".crt")
	keyFile = filepath.Join(dir, subject+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, srvX509 := selfSigned(t, dir, "server", net.ParseIP("127.0.0.1"))
	cliCert, cliKey, _ := selfSigned(t, dir, "pilot")
	tc, err := TLSConfig(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t)
	in, err := Start(NewServer(st, Options{}), "127.0.0.1:0", tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := in.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if !strings.HasPrefix(in.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", in.URL)
	}
	if _, err := st.Submit(testCtx(t), "PANDASTUB", Object{{"jobName", "tls"}}); err != nil {
		t.Fatal(err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(srvX509)
	pair, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		certs  []tls.Certificate
		want   string
		wantDN string
	}{
		{"with client certificate", []tls.Certificate{pair}, "StatusCode=0&PandaID=1000001&", "CN=pilot,O=gopilot test"},
		{"without client certificate", nil, "StatusCode=20", ""},
	}
	for _, c := range tests {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: c.certs}}}
		req, err := http.NewRequest(http.MethodPost, in.URL+"/server/panda/getJob", strings.NewReader(string(gzipBytes(t, []byte(`{"siteName": "PANDASTUB"}`)))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		a := do(t, client, req)
		client.CloseIdleConnections()
		if !strings.HasPrefix(a.body, c.want) {
			t.Fatalf("%s: %s", c.name, a.body)
		}
	}
	reqs, err := st.Requests(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].DN != "CN=pilot,O=gopilot test" || reqs[1].DN != "" {
		t.Fatalf("recorded DNs: %+v", reqs)
	}
	// A plain HTTP client is refused by the TLS listener.
	if resp, err := http.Get(strings.Replace(in.URL, "https", "http", 1) + "/api/v1/system/is_alive"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}

func TestPutFile(t *testing.T) {
	rse := t.TempDir()
	storage := strings.ReplaceAll(string(readTestdata(t, "storage.json")), "@RSEDIR@", rse)
	src := filepath.Join(t.TempDir(), "input.data")
	if err := os.WriteFile(src, []byte("hello pandalite\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := PutFile([]byte(storage), "PANDASTUB_LOCALDISK", "user.test", src)
	if err != nil {
		t.Fatal(err)
	}
	// adler32("hello pandalite\n"), computed independently of hash/adler32.
	var a, b uint32 = 1, 0
	for _, c := range []byte("hello pandalite\n") {
		a = (a + uint32(c)) % 65521
		b = (b + a) % 65521
	}
	wantSum := fmt.Sprintf("%08x", b<<16|a)
	if p.LFN != "input.data" || p.Size != 16 || p.Adler32 != wantSum {
		t.Fatalf("placed %+v, want adler32 %s", p, wantSum)
	}
	rel, err := filepath.Rel(rse, p.Path)
	if err != nil || !strings.HasPrefix(rel, "user/test/") || !strings.HasSuffix(rel, "/input.data") || len(strings.Split(rel, "/")) != 5 {
		t.Fatalf("path %s (rel %s)", p.Path, rel)
	}
	if b, err := os.ReadFile(p.Path); err != nil || string(b) != "hello pandalite\n" {
		t.Fatalf("copy: %q %v", b, err)
	}
	for _, bad := range []struct{ rse, scope, src string }{
		{"NOPE", "s", src},
		{"PANDASTUB_LOCALDISK", "", src},
		{"PANDASTUB_LOCALDISK", "s", filepath.Join(rse, "missing")},
	} {
		if _, err := PutFile([]byte(storage), bad.rse, bad.scope, bad.src); err == nil {
			t.Errorf("PutFile(%v) succeeded", bad)
		}
	}
}
