package credentials

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseProxyKinds(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	ee := ca.issue(t, userDN(t), 48*time.Hour)
	tests := []struct {
		name        string
		kind        proxyKind
		wantType    ProxyType
		wantLimited bool
		suffix      string // "" = numeric serial
	}{
		{"rfc3820", kindRFC, RFC3820, false, ""},
		{"rfc3820 limited", kindRFCLimited, RFC3820, true, ""},
		{"gt3 draft", kindDraft, DraftProxy, false, ""},
		{"legacy", kindLegacy, LegacyProxy, false, "/CN=proxy"},
		{"legacy limited", kindLegacyLimited, LegacyProxy, true, "/CN=limited proxy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			px := makeProxy(t, ee, proxyOpts{kind: tc.kind, lifetime: 12 * time.Hour})
			p, err := ParseProxy(proxyFile(t, px, ee))
			if err != nil {
				t.Fatal(err)
			}
			suffix := tc.suffix
			if suffix == "" {
				suffix = "/CN=" + px.cert.SerialNumber.String()
			}
			if p.Type != tc.wantType || p.Limited != tc.wantLimited {
				t.Errorf("type %v limited %v, want %v %v", p.Type, p.Limited, tc.wantType, tc.wantLimited)
			}
			if p.Identity != userDNString || p.Issuer != userDNString || p.Subject != userDNString+suffix {
				t.Errorf("identity %q issuer %q subject %q", p.Identity, p.Issuer, p.Subject)
			}
			if !p.HasKey || len(p.Chain) != 2 {
				t.Errorf("HasKey %v chain %d", p.HasKey, len(p.Chain))
			}
			if !p.NotAfter.Equal(px.cert.NotAfter) || !p.EffectiveNotAfter().Equal(px.cert.NotAfter) {
				t.Errorf("NotAfter %v, want %v", p.NotAfter, px.cert.NotAfter)
			}
			now := time.Now()
			if got, want := p.TimeLeft(now), px.cert.NotAfter.Sub(now); got != want {
				t.Errorf("TimeLeft %v, want %v", got, want)
			}
			if len(p.VOMS) != 0 || p.VO() != "" || p.FQANs() != nil {
				t.Errorf("unexpected VOMS %v", p.VOMS)
			}
		})
	}
}

func TestParseProxyChains(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	ee := ca.issue(t, userDN(t), 10*time.Hour) // shorter than the proxies
	p1 := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: 24 * time.Hour})
	p2 := makeProxy(t, p1, proxyOpts{kind: kindRFCLimited, lifetime: 20 * time.Hour})

	t.Run("proxy of proxy", func(t *testing.T) {
		p, err := ParseProxy(proxyFile(t, p2, p1, ee))
		if err != nil {
			t.Fatal(err)
		}
		if p.Identity != userDNString || !p.Limited || p.Type != RFC3820 {
			t.Errorf("%+v", p)
		}
		if !p.NotAfter.Equal(ee.cert.NotAfter) {
			t.Errorf("NotAfter %v, want the end entity's %v", p.NotAfter, ee.cert.NotAfter)
		}
		if want := userDNString + "/CN=" + p1.cert.SerialNumber.String(); p.Issuer != want {
			t.Errorf("issuer %q want %q", p.Issuer, want)
		}
	})
	t.Run("limited parent makes the chain limited", func(t *testing.T) {
		lim := makeProxy(t, ee, proxyOpts{kind: kindLegacyLimited, lifetime: time.Hour})
		full := makeProxy(t, lim, proxyOpts{kind: kindRFC, lifetime: time.Hour})
		p, err := ParseProxy(proxyFile(t, full, lim, ee))
		if err != nil {
			t.Fatal(err)
		}
		if !p.Limited || p.Identity != userDNString {
			t.Errorf("limited %v identity %q", p.Limited, p.Identity)
		}
	})
	t.Run("only proxies in the file", func(t *testing.T) {
		p, err := ParseProxy(proxyFile(t, p1))
		if err != nil {
			t.Fatal(err)
		}
		if p.Identity != userDNString || len(p.Chain) != 1 {
			t.Errorf("identity %q", p.Identity)
		}
	})
	t.Run("end entity only", func(t *testing.T) {
		p, err := ParseProxy(append(ee.certPEM(), ee.keyPEM(t)...))
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != EndEntity || p.Identity != userDNString || p.Subject != userDNString || p.Issuer != "/O=Test/CN=Test Grid CA" {
			t.Errorf("%+v", p)
		}
	})
	t.Run("key first, CA certificate appended", func(t *testing.T) {
		data := append(p1.keyPEM(t), proxyFile(t, p1, ee)...)
		data = bytes.Replace(data, p1.keyPEM(t), nil, 2)
		data = append(p1.keyPEM(t), data...)
		data = append(data, ca.pem...)
		p, err := ParseProxy(data)
		if err != nil {
			t.Fatal(err)
		}
		if p.Identity != userDNString || len(p.Chain) != 3 || !p.NotAfter.Equal(ee.cert.NotAfter) {
			t.Errorf("identity %q chain %d NotAfter %v", p.Identity, len(p.Chain), p.NotAfter)
		}
	})
	t.Run("ChainIdentity", func(t *testing.T) {
		for _, chain := range [][]testCert{{p2, p1, ee}, {p2, p1}, {ee}} {
			var list []*x509.Certificate
			for _, c := range chain {
				list = append(list, c.cert)
			}
			got, err := ChainIdentity(list)
			if err != nil || got != userDNString {
				t.Errorf("ChainIdentity = %q, %v", got, err)
			}
		}
		if _, err := ChainIdentity(nil); !errors.Is(err, ErrInvalidProxy) {
			t.Errorf("empty chain: %v", err)
		}
	})
}

func TestParseProxyErrors(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	ee := ca.issue(t, userDN(t), 48*time.Hour)
	other := ca.issue(t, name(t, oidO, "Test", oidCN, "Other"), 48*time.Hour)
	px := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: time.Hour})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a pem file\n")},
		{"key only", px.keyPEM(t)},
		{"bad certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}})},
		{"key of another certificate", append(px.certPEM(), other.keyPEM(t)...)},
		{"two keys", append(proxyFile(t, px, ee), px.keyPEM(t)...)},
		{"encrypted key", append(px.certPEM(), encrypted...)},
		{"unknown key type", append(px.certPEM(), pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1}})...)},
		{"wrong issuer follows", proxyFile(t, px, other)},
		{"bad signature", func() []byte {
			// a certificate with the right subject but another key
			fake := ca.issue(t, userDN(t), time.Hour)
			return proxyFile(t, px, fake)
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProxy(tc.data)
			if !errors.Is(err, ErrInvalidProxy) {
				t.Fatalf("err = %v, want ErrInvalidProxy", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadProxy(filepath.Join(t.TempDir(), "x509up_u1"))
		if !errors.Is(err, ErrNoProxy) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("load file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "proxy")
		if err := os.WriteFile(path, proxyFile(t, px, ee), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := LoadProxy(path)
		if err != nil || p.Identity != userDNString {
			t.Fatalf("%v %v", p, err)
		}
		if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadProxy(path); !errors.Is(err, ErrInvalidProxy) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseProxyVOMS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	ee := ca.issue(t, userDN(t), 100*time.Hour)
	vomsHost := ca.issue(t, name(t, oidDC, "ch", oidDC, "cern", oidOU, "computers", oidCN, "voms2.cern.ch"), 100*time.Hour)
	now := time.Now().Truncate(time.Second)
	fqans := []string{"/atlas/Role=production/Capability=NULL", "/atlas/Role=NULL/Capability=NULL", "/atlas/lcg1/Role=NULL/Capability=NULL"}
	ac := buildAC(t, ee, vomsHost, acOpts{vo: "atlas", server: "voms2.cern.ch:15001", fqans: fqans,
		notBefore: now.Add(-time.Minute), notAfter: now.Add(12 * time.Hour)})
	px := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: 96 * time.Hour, extra: []pkix.Extension{vomsExtension(ac)}})
	p, err := ParseProxy(proxyFile(t, px, ee))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.VOMS) != 1 {
		t.Fatalf("VOMS = %+v", p.VOMS)
	}
	a := p.VOMS[0]
	if a.VO != "atlas" || a.Server != "voms2.cern.ch:15001" || !slices.Equal(a.FQANs, fqans) ||
		a.Issuer != "/DC=ch/DC=cern/OU=computers/CN=voms2.cern.ch" || a.Serial.Int64() != 77 {
		t.Errorf("%+v", a)
	}
	if !a.NotAfter.Equal(now.Add(12*time.Hour)) || !a.NotBefore.Equal(now.Add(-time.Minute)) {
		t.Errorf("AC validity %v - %v", a.NotBefore, a.NotAfter)
	}
	if p.VO() != "atlas" || !slices.Equal(p.FQANs(), fqans) {
		t.Errorf("VO %q FQANs %v", p.VO(), p.FQANs())
	}
	if !p.EffectiveNotAfter().Equal(a.NotAfter) || p.NotAfter.Equal(a.NotAfter) {
		t.Errorf("effective %v chain %v", p.EffectiveNotAfter(), p.NotAfter)
	}
	// 72 h required: the AC (12 h) limits, so the error names VOMS.
	err = p.CheckLifetime(now, 72*time.Hour)
	if !errors.Is(err, ErrTooShort) || !errors.Is(err, ErrVOMS) || errors.Is(err, ErrExpired) {
		t.Errorf("CheckLifetime = %v", err)
	}
	if err := p.CheckLifetime(now, 11*time.Hour); err != nil {
		t.Errorf("CheckLifetime(11h) = %v", err)
	}
	err = p.CheckLifetime(now.Add(13*time.Hour), time.Hour)
	if !errors.Is(err, ErrExpired) || !errors.Is(err, ErrVOMS) {
		t.Errorf("CheckLifetime after AC end = %v", err)
	}
	if p.TimeLeft(now.Add(13*time.Hour)) != 0 {
		t.Errorf("TimeLeft after expiry = %v", p.TimeLeft(now.Add(13*time.Hour)))
	}

	t.Run("two ACs, proxy of a VOMS proxy", func(t *testing.T) {
		ac2 := buildAC(t, ee, vomsHost, acOpts{vo: "cms", server: "voms.cern.ch:15002", fqans: []string{"/cms"},
			notBefore: now, notAfter: now.Add(6 * time.Hour)})
		px1 := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: 96 * time.Hour,
			extra: []pkix.Extension{{Id: oidVOMSACSeq, Value: seq(seq(ac), seq(ac2))}}})
		px2 := makeProxy(t, px1, proxyOpts{kind: kindRFC, lifetime: 50 * time.Hour})
		p, err := ParseProxy(proxyFile(t, px2, px1, ee))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.VOMS) != 2 || p.VO() != "atlas" || !p.EffectiveNotAfter().Equal(now.Add(6*time.Hour)) {
			t.Errorf("%+v effective %v", p.VOMS, p.EffectiveNotAfter())
		}
	})
	t.Run("AC directly in the outer sequence", func(t *testing.T) {
		got, err := parseVOMSExtension(seq(ac))
		if err != nil || len(got) != 1 || got[0].VO != "atlas" {
			t.Fatalf("%+v %v", got, err)
		}
	})
	t.Run("broken extension", func(t *testing.T) {
		bad := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: time.Hour,
			extra: []pkix.Extension{{Id: oidVOMSACSeq, Value: seq(seq(seq(mustMarshal(1))))}}})
		_, err := ParseProxy(proxyFile(t, bad, ee))
		if !errors.Is(err, ErrInvalidVOMS) || !errors.Is(err, ErrInvalidProxy) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFormatDN(t *testing.T) {
	t.Parallel()
	bmp := []byte{0x00, 'J', 0x00, 0xe9} // "Jé" in UCS-2
	tests := []struct {
		name string
		der  []byte
		want string
	}{
		{"cern user", userDN(t), userDNString},
		{"empty", mustMarshal(pkix.RDNSequence{}), ""},
		{"email uid unknown", name(t, asn1.ObjectIdentifier{2, 5, 4, 6}, "DE", oidO, "GermanGrid",
			asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "a@b.de",
			asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, "jdoe",
			asn1.ObjectIdentifier{1, 2, 3, 4}, "x"), "/C=DE/O=GermanGrid/emailAddress=a@b.de/UID=jdoe/1.2.3.4=x"},
		{"utf8 escaped", name(t, oidCN, "José"), `/CN=Jos\xC3\xA9`},
		{"control escaped", name(t, oidCN, "a\tb"), `/CN=a\x09b`},
		{"bmp string", seq(tlv(asn1.ClassUniversal, asn1.TagSet, true, seq(mustMarshal(oidCN),
			tlv(asn1.ClassUniversal, asn1.TagBMPString, false, bmp)))), `/CN=J\xC3\xA9`},
		{"multi-valued RDN", seq(tlv(asn1.ClassUniversal, asn1.TagSet, true,
			seq(mustMarshal(oidCN), mustMarshal("a")), seq(mustMarshal(oidOU), mustMarshal("b")))), "/CN=a/OU=b"},
	}
	for _, tc := range tests {
		got, err := FormatDN(tc.der)
		if err != nil || got != tc.want {
			t.Errorf("%s: FormatDN = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, mustMarshal(5), seq(mustMarshal(5)),
		seq(tlv(asn1.ClassUniversal, asn1.TagSet, true, mustMarshal(5)))} {
		if _, err := FormatDN(bad); err == nil {
			t.Errorf("FormatDN(%x) accepted", bad)
		}
	}
}

func FuzzParseProxy(f *testing.F) {
	ca := newTestCA(f)
	ee := ca.issue(f, userDN(f), time.Hour)
	now := time.Now()
	ac := buildAC(f, ee, ee, acOpts{vo: "vo", server: "h:1", fqans: []string{"/vo"}, notBefore: now, notAfter: now.Add(time.Hour)})
	px := makeProxy(f, ee, proxyOpts{kind: kindRFC, lifetime: time.Hour, extra: []pkix.Extension{vomsExtension(ac)}})
	f.Add(proxyFile(f, px, ee))
	f.Add(proxyFile(f, makeProxy(f, ee, proxyOpts{kind: kindLegacy, lifetime: time.Hour}), ee))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProxy(data)
		if err == nil {
			_ = p.TimeLeft(now)
			_ = p.CheckLifetime(now, time.Hour)
			if p.Identity == "" && len(p.Chain) == 0 {
				t.Fatal("success without a chain")
			}
		}
	})
}

func FuzzParseVOMSExtension(f *testing.F) {
	ca := newTestCA(f)
	ee := ca.issue(f, userDN(f), time.Hour)
	now := time.Now()
	ac := buildAC(f, ee, ee, acOpts{vo: "atlas", server: "voms:15001", fqans: []string{"/atlas", "/atlas/Role=pilot"},
		notBefore: now, notAfter: now.Add(time.Hour)})
	f.Add(seq(seq(ac)))
	f.Add(seq(ac))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		acs, err := parseVOMSExtension(der)
		if err != nil && !errors.Is(err, ErrInvalidVOMS) {
			t.Fatalf("error does not wrap ErrInvalidVOMS: %v", err)
		}
		for _, a := range acs {
			if a.Serial == nil {
				t.Fatal("nil serial")
			}
		}
	})
}

func FuzzFormatDN(f *testing.F) {
	f.Add(userDN(f))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := FormatDN(der)
		if err == nil {
			for i := 0; i < len(s); i++ {
				if s[i] < ' ' || s[i] > '~' {
					t.Fatalf("unescaped byte %#x in %q", s[i], s)
				}
			}
		}
	})
}

func BenchmarkParseProxyVOMS(b *testing.B) {
	ca := newTestCA(b)
	ee := ca.issue(b, userDN(b), time.Hour)
	now := time.Now()
	ac := buildAC(b, ee, ee, acOpts{vo: "atlas", server: "voms:15001", fqans: []string{"/atlas/Role=production"},
		notBefore: now, notAfter: now.Add(time.Hour)})
	data := proxyFile(b, makeProxy(b, ee, proxyOpts{kind: kindRFC, lifetime: time.Hour, extra: []pkix.Extension{vomsExtension(ac)}}), ee)
	for b.Loop() {
		if _, err := ParseProxy(data); err != nil {
			b.Fatal(err)
		}
	}
}
