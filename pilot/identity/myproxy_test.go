package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/credentials/credtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/timedcmd"
)

func TestMyProxyPayloadCredential(t *testing.T) {
	requireRoot(t)
	requireTools(t, "openssl", "grid-proxy-init", "voms-proxy-fake", "myproxy-server", "myproxy-init", "myproxy-store", "myproxy-logon")
	ca := credtest.NewCA(t, "/O=Test/CN=Identity Test CA")
	owner := ca.User(t, "user", "/O=Test/OU=Users/CN=Job Owner")
	other := ca.User(t, "other", "/O=Test/OU=Users/CN=Someone Else")
	mp := credtest.StartMyProxy(t, ca)
	server := mp.Addr
	mp.Init(t, owner, "cred-owner", 6)
	mp.Init(t, other, "cred-other", 6)
	// stored as they are: a proxy of 5 minutes, and one whose VOMS AC ended an hour ago
	mp.Store(t, ca.GridProxy(t, owner, filepath.Join(t.TempDir(), "short"), "0:05"), "cred-short")
	mp.Store(t, ca.VOMSProxy(t, owner, filepath.Join(t.TempDir(), "voms-expired"),
		credtest.VOMSOptions{Hours: 6, ACHours: 1, ACPast: 2 * time.Hour}), "cred-voms-expired")
	// the pilot's proxy, of the host DN
	pilotProxy := ca.GridProxy(t, ca.Host, filepath.Join(openDir(t), "x509up_pilot"), "1:00")

	acct := newAccount(t, randomName("gpt", 8))
	s, err := New(Options{PayloadUser: acct.Name, MyProxy: true, MyProxyServerDN: mp.ServerDN, CADir: ca.CertDir,
		MyProxyLifetime: 90 * time.Minute, PilotProxy: pilotProxy, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("retrieved for the account", func(t *testing.T) {
		jobDir := newJobDir(t)
		job := &jobdef.Job{PandaID: 11, CredName: "cred-owner", MyProxy: server, ProdUserID: owner.DN + "/CN=proxy"}
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
		if p.Identity != owner.DN {
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
		{"credential of another DN", jobdef.Job{CredName: "cred-other", MyProxy: server, ProdUserID: owner.DN}, nil, jobdef.NoProxy, "belongs to"},
		{"short-lived credential", jobdef.Job{CredName: "cred-short", MyProxy: server}, nil, jobdef.ProxyTooShort, "too short"},
		{"VOMS attributes expired", jobdef.Job{CredName: "cred-voms-expired", MyProxy: server}, nil, jobdef.NoVOMSProxy, "VOMS attribute certificate expired"},
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
