package davs_test

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/davs"
	"github.com/gopilot/gopilot/movers/internal/remotetest"
	"github.com/gopilot/gopilot/movers/moverstest"
)

type remote = remotetest.Remote

// newRemote returns a WebDAV server reached through davs:// URLs (mapped to plain http).
func newRemote(srv remotetest.Server, httpURL string) remote {
	addr := strings.TrimPrefix(strings.TrimPrefix(httpURL, "http://"), "https://")
	return remotetest.New(srv, "davs://"+addr, "")
}

func plain() *davs.Mover { return davs.New(davs.Options{PlainHTTP: true}) }

func TestConformanceNginx(t *testing.T) {
	n := gridtest.StartNginxDAV(t)
	moverstest.Run(t, newRemote(n, n.URL).Env(plain()))
}

// TestConformanceNginxMKCOL: the server refuses a PUT into a missing collection (409), so
// the mover must create the collections.
func TestConformanceNginxMKCOL(t *testing.T) {
	n := gridtest.StartNginxDAVWith(t, gridtest.NginxOptions{NoCreatePutPath: true})
	moverstest.Run(t, newRemote(n, n.URL).Env(plain()))
}

func TestConformanceXrdHttp(t *testing.T) {
	x := gridtest.StartXrootd(t)
	moverstest.Run(t, newRemote(x, x.HTTPURL).Env(plain()))
}

func TestRemoteChecksum(t *testing.T) {
	x := gridtest.StartXrootd(t)
	n := gridtest.StartNginxDAV(t)
	m := plain()
	data := moverstest.Data(54321)
	xr := newRemote(x, x.HTTPURL)
	url := xr.NewRemote(t, "sum.dat", data)
	sum, err := m.RemoteChecksum(t.Context(), url, jobdef.Adler32)
	if err != nil || sum != moverstest.Adler32(data) {
		t.Errorf("XrdHttp RemoteChecksum = %v, %v; want %v", sum, err, moverstest.Adler32(data))
	}
	nurl := newRemote(n, n.URL).NewRemote(t, "sum.dat", data)
	if _, err := m.RemoteChecksum(t.Context(), nurl, jobdef.Adler32); jobdef.CodeOf(err) != jobdef.ChksumNotSup {
		t.Errorf("nginx RemoteChecksum: %v, want code 1242", err)
	}
	for _, u := range []string{url, nurl} {
		for range 2 {
			if err := m.Remove(t.Context(), u); err != nil {
				t.Errorf("Remove(%s): %v", u, err)
			}
		}
	}
	if _, err := xr.ReadRemote(t, url); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

// TestStaleServerDigest: XRootD keeps a file's adler32 with the modification time; a file
// rewritten behind its back with the old time gets the old checksum in its Digest header.
// The mover must notice that the bytes it received do not match the server's digest.
func TestStaleServerDigest(t *testing.T) {
	x := gridtest.StartXrootd(t)
	m := plain()
	r := newRemote(x, x.HTTPURL)
	data := moverstest.Data(100000)
	url := r.NewRemote(t, "stale.dat", data)
	if _, err := m.RemoteChecksum(t.Context(), url, jobdef.Adler32); err != nil {
		t.Fatal(err)
	}
	p := r.Local(t, url)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	other := moverstest.Data(100001)[:100000]
	if err := os.WriteFile(p, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if sum, err := m.RemoteChecksum(t.Context(), url, jobdef.Adler32); err != nil || sum != moverstest.Adler32(data) {
		t.Skipf("the server recomputed the checksum (%v, %v); cannot produce a stale digest", sum, err)
	}
	dir := t.TempDir()
	_, err = m.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "stale.dat")})
	var me *movers.Error
	if !errors.As(err, &me) || me.Code != jobdef.GetADMismatch || !errors.Is(err, movers.ErrChecksumMismatch) {
		t.Fatalf("Get with a stale server digest = %v, want 1171", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

func TestBearerToken(t *testing.T) {
	const token = "eyJ0ZXN0IjoidG9rZW4ifQ.c2lnbmF0dXJl"
	n := gridtest.StartNginxDAVWith(t, gridtest.NginxOptions{BearerToken: token})
	r := newRemote(n, n.URL)
	data := moverstest.Data(4321)
	url := r.NewRemote(t, "tok.dat", data)
	dir := t.TempDir()
	good := davs.New(davs.Options{PlainHTTP: true, Header: http.Header{"Authorization": {"Bearer " + token}}})
	if _, err := good.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "a")}); err != nil {
		t.Fatalf("Get with the token: %v", err)
	}
	if _, err := good.Put(t.Context(), movers.Transfer{Source: filepath.Join(dir, "a"), Destination: r.RemoteURL(t, "tokput.dat")}); err != nil {
		t.Fatalf("Put with the token: %v", err)
	}
	bad := davs.New(davs.Options{PlainHTTP: true, Header: http.Header{"Authorization": {"Bearer wrong"}}})
	_, err := bad.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "b")})
	wantCode(t, err, jobdef.StageInAuthenticationFailure)
	_, err = bad.Put(t.Context(), movers.Transfer{Source: filepath.Join(dir, "a"), Destination: r.RemoteURL(t, "tokbad.dat")})
	wantCode(t, err, jobdef.StageOutAuthenticationFailure)
}

// TestTLSClientCertificate: nginx over HTTPS that requires a client certificate of a test CA.
func TestTLSClientCertificate(t *testing.T) {
	pki, err := gridtest.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := gridtest.StartNginxDAVWith(t, gridtest.NginxOptions{TLS: pki.NginxTLS()})
	r := newRemote(n, n.URL) // davs:// -> https://
	data := moverstest.Data(2 * movers.ChunkSize)
	url := r.NewRemote(t, "tls.dat", data)
	withCert, err := pki.ClientTLS(true)
	if err != nil {
		t.Fatal(err)
	}
	m := davs.New(davs.Options{TLSConfig: withCert})
	dir := t.TempDir()
	res, err := m.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "a"), Checksum: moverstest.Adler32(data)})
	if err != nil || res.Checksum != moverstest.Adler32(data) {
		t.Fatalf("Get over TLS = %v, %v", res, err)
	}
	put := r.RemoteURL(t, "tlsput.dat")
	if _, err := m.Put(t.Context(), movers.Transfer{Source: filepath.Join(dir, "a"), Destination: put}); err != nil {
		t.Fatalf("Put over TLS: %v", err)
	}
	if got, err := r.ReadRemote(t, put); err != nil || len(got) != len(data) {
		t.Fatalf("uploaded file: %d bytes, %v", len(got), err)
	}
	noCert, err := pki.ClientTLS(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := davs.New(davs.Options{TLSConfig: noCert}).Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "b")}); err == nil {
		t.Error("Get without a client certificate succeeded")
	}
	_, err = davs.New(davs.Options{}).Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "c")})
	if me := wantCode(t, err, jobdef.StageInFailed); me.Retryable {
		t.Error("an untrusted server certificate must not be retryable")
	}
}

func TestDeadServer(t *testing.T) {
	m := davs.New(davs.Options{PlainHTTP: true, Retries: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	addr := remotetest.DeadAddr(t)
	_, err := m.Get(t.Context(), movers.Transfer{Source: "davs://" + addr + "/f", Destination: filepath.Join(t.TempDir(), "f")})
	if me := wantCode(t, err, jobdef.StageInFailed); !me.Retryable {
		t.Error("a refused connection should be retryable")
	}
}

func TestHTTPURL(t *testing.T) {
	m, p := davs.New(davs.Options{}), plain()
	for _, c := range []struct {
		in, tls, plain string
	}{
		{"davs://se.example.org:443/atlas/f.root", "https://se.example.org:443/atlas/f.root", "http://se.example.org:443/atlas/f.root"},
		{"dav://h/f", "http://h/f", "http://h/f"},
		{"https://h:8443/a/b?x=1", "https://h:8443/a/b?x=1", "https://h:8443/a/b?x=1"},
		{"http://h/a", "http://h/a", "http://h/a"},
	} {
		if got, err := m.HTTPURL(c.in); err != nil || got != c.tls {
			t.Errorf("HTTPURL(%q) = %q, %v; want %q", c.in, got, err, c.tls)
		}
		if got, err := p.HTTPURL(c.in); err != nil || got != c.plain {
			t.Errorf("plain HTTPURL(%q) = %q, %v; want %q", c.in, got, err, c.plain)
		}
	}
	for _, bad := range []string{"root://h//f", "davs:///f", "davs://h/", "davs://h", "/local", "davs:opaque"} {
		if got, err := m.HTTPURL(bad); err == nil {
			t.Errorf("HTTPURL(%q) = %q, want an error", bad, got)
		}
	}
}

func wantCode(t *testing.T, err error, code jobdef.ErrorCode) *movers.Error {
	t.Helper()
	var me *movers.Error
	if !errors.As(err, &me) || me.Code != code {
		t.Fatalf("error = %v, want a *movers.Error with code %d", err, code)
	}
	return me
}
