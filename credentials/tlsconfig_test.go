package credentials

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startClientCertServer starts an HTTPS server on 127.0.0.1 with a certificate from ca that
// requests (without verifying) client certificates and answers with what it saw:
// "<chain length>|<leaf subject>|<identity>".
func startClientCertServer(t *testing.T, ca *testCA) *httptest.Server {
	t.Helper()
	srvCert := ca.server(t)
	pair, err := tls.X509KeyPair(srvCert.certPEM(), srvCert.keyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chain := r.TLS.PeerCertificates
		if len(chain) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		leaf, _ := FormatDN(chain[0].RawSubject)
		id, err := ChainIdentity(chain)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%d|%s|%s", len(chain), leaf, id)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func writeCADir(t *testing.T, ca *testCA) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"1a2b3c4d.0":              ca.pem,
		"1a2b3c4d.signing_policy": []byte("access_id_CA X509 '/O=Test/CN=Test Grid CA'\n"),
		"1a2b3c4d.namespaces":     []byte("TO Issuer \"/O=Test/CN=Test Grid CA\" PERMIT Subject \".*\"\n"),
		"1a2b3c4d.r0":             []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"),
	}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("missing-target.pem", filepath.Join(dir, "dangling.1")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func get(t *testing.T, cfg *tls.Config, url string) (string, error) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), err
}

func TestTLSConfigProxyClient(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	srv := startClientCertServer(t, ca)
	caDir := writeCADir(t, ca)
	ee := ca.issue(t, userDN(t), 48*time.Hour)
	px := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: 12 * time.Hour})
	proxyPath := filepath.Join(t.TempDir(), "x509up_u1000")
	if err := os.WriteFile(proxyPath, proxyFile(t, px, ee), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(proxyPath, caDir)
	if err != nil {
		t.Fatal(err)
	}
	body, err := get(t, cfg, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("2|%s/CN=%s|%s", userDNString, px.cert.SerialNumber, userDNString)
	if body != want {
		t.Fatalf("server saw %q, want %q", body, want)
	}

	// A proxy renewed in place is used by the next handshake.
	px2 := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: 13 * time.Hour})
	tmp := proxyPath + ".new"
	if err := os.WriteFile(tmp, proxyFile(t, px2, ee), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, proxyPath); err != nil {
		t.Fatal(err)
	}
	body, err = get(t, cfg, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("2|%s/CN=%s|%s", userDNString, px2.cert.SerialNumber, userDNString); body != want {
		t.Fatalf("after renewal server saw %q, want %q", body, want)
	}

	// An unusable replacement keeps the previous chain.
	if err := os.WriteFile(proxyPath, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if body, err = get(t, cfg, srv.URL); err != nil || !strings.Contains(body, px2.cert.SerialNumber.String()) {
		t.Fatalf("after a broken renewal: %q %v", body, err)
	}
}

func TestTLSConfigVerification(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	srv := startClientCertServer(t, ca)
	ee := ca.issue(t, userDN(t), 48*time.Hour)
	px := makeProxy(t, ee, proxyOpts{kind: kindLegacy, lifetime: time.Hour})
	proxyPath := filepath.Join(t.TempDir(), "proxy")
	if err := os.WriteFile(proxyPath, proxyFile(t, px, ee), 0o600); err != nil {
		t.Fatal(err)
	}
	otherCADir := writeCADir(t, newTestCA(t))
	tests := []struct {
		name  string
		caDir string
	}{
		{"another CA", otherCADir},
		{"missing CA dir: system pool", filepath.Join(t.TempDir(), "absent")},
		{"no CA dir: system pool", ""},
	}
	for _, tc := range tests {
		cfg, err := TLSConfig(proxyPath, tc.caDir)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := get(t, cfg, srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: request to a server of an untrusted CA: %v", tc.name, err)
		}
	}

	if _, err := TLSConfig(proxyPath, t.TempDir()); err == nil {
		t.Error("empty CA dir accepted")
	}
	if _, err := TLSConfig(filepath.Join(t.TempDir(), "none"), otherCADir); !errors.Is(err, ErrNoProxy) {
		t.Errorf("missing proxy: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, ee.certPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := TLSConfig(bad, otherCADir); !errors.Is(err, ErrInvalidProxy) {
		t.Errorf("proxy without key: %v", err)
	}
}

func TestFindProxyAndCADir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	explicit := filepath.Join(dir, "explicit")
	envProxy := filepath.Join(dir, "env")
	fallback := filepath.Join(dir, "x509up_u42")
	missing := filepath.Join(dir, "missing")
	for _, p := range []string{explicit, envProxy, fallback} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		explicit string
		env      map[string]string
		fallback string
		want     string
	}{
		{"explicit first", explicit, map[string]string{"X509_USER_PROXY": envProxy}, fallback, explicit},
		{"env second", "", map[string]string{"X509_USER_PROXY": envProxy}, fallback, envProxy},
		{"missing explicit falls through", missing, map[string]string{"X509_USER_PROXY": envProxy}, fallback, envProxy},
		{"default last", "", nil, fallback, fallback},
		{"directory is not a proxy", dir, nil, fallback, fallback},
		{"nothing", missing, map[string]string{"X509_USER_PROXY": missing}, missing, ""},
	}
	for _, tc := range tests {
		got, err := findProxy(tc.explicit, MapEnv(tc.env), tc.fallback)
		if tc.want == "" {
			if !errors.Is(err, ErrNoProxy) || !strings.Contains(err.Error(), missing) {
				t.Errorf("%s: %q %v", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
	if DefaultProxyPath(1234) != "/tmp/x509up_u1234" {
		t.Error(DefaultProxyPath(1234))
	}
	if _, err := FindProxy("", nil, 2147480001); !errors.Is(err, ErrNoProxy) {
		t.Errorf("FindProxy for an unused uid: %v", err)
	}

	caEnv := t.TempDir()
	caExplicit := t.TempDir()
	if got := FindCADir(caExplicit, MapEnv(map[string]string{"X509_CERT_DIR": caEnv})); got != caExplicit {
		t.Errorf("FindCADir explicit = %q", got)
	}
	if got := FindCADir(missing, MapEnv(map[string]string{"X509_CERT_DIR": caEnv})); got != caEnv {
		t.Errorf("FindCADir env = %q", got)
	}
	if got := FindCADir(explicit, nil); got != "" && got != DefaultCADir {
		t.Errorf("FindCADir with a file = %q", got)
	}
}
