package credentials

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// Test PKI built in Go: a CA, end-entity certificates and proxies of every kind.

var (
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidDC = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
)

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (c testCert) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

func (c testCert) keyPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func newKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// name builds an RDN sequence in the given order from (oid, value) pairs.
func name(t testing.TB, pairs ...any) []byte {
	var rdns pkix.RDNSequence
	for i := 0; i+1 < len(pairs); i += 2 {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: pairs[i].(asn1.ObjectIdentifier), Value: pairs[i+1]}})
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// appendCN returns the DER name with one more CN RDN.
func appendCN(t testing.TB, der []byte, cn string) []byte {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdns); err != nil {
		t.Fatal(err)
	}
	rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oidCN, Value: cn}})
	out, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func nextSerial() *big.Int {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestCA(t testing.TB) *testCA {
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), RawSubject: name(t, oidO, "Test", oidCN, "Test Grid CA"),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	c := sign(t, tmpl, tmpl, key.Public(), key)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})}
}

// userDN is a CERN-like user DN with a numeric CN in the middle.
func userDN(t testing.TB) []byte {
	return name(t, oidDC, "ch", oidDC, "cern", oidOU, "Organic Units", oidOU, "Users",
		oidCN, "jdoe", oidCN, "123456", oidCN, "John Doe")
}

const userDNString = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=John Doe"

func (ca *testCA) issue(t testing.TB, subject []byte, lifetime time.Duration) testCert {
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), RawSubject: subject,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(lifetime),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return testCert{cert: sign(t, tmpl, ca.cert, key.Public(), ca.key), key: key}
}

func (ca *testCA) server(t testing.TB) testCert {
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), RawSubject: name(t, oidO, "Test", oidCN, "localhost"),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	return testCert{cert: sign(t, tmpl, ca.cert, key.Public(), ca.key), key: key}
}

type proxyKind int

const (
	kindRFC proxyKind = iota
	kindRFCLimited
	kindDraft
	kindLegacy
	kindLegacyLimited
)

type proxyOpts struct {
	kind     proxyKind
	lifetime time.Duration
	extra    []pkix.Extension // e.g. a VOMS extension
}

// makeProxy issues a proxy signed by parent.
func makeProxy(t testing.TB, parent testCert, o proxyOpts) testCert {
	key := newKey(t)
	now := time.Now()
	serial := nextSerial()
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(o.lifetime),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtraExtensions: o.extra,
	}
	lang := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 21, 1}
	switch o.kind {
	case kindRFC, kindRFCLimited, kindDraft:
		tmpl.RawSubject = appendCN(t, parent.cert.RawSubject, serial.String())
		if o.kind == kindRFCLimited {
			lang = oidPolicyLimited
		}
		type policy struct{ Language asn1.ObjectIdentifier }
		var val []byte
		var err error
		id := oidProxyCertInfo
		if o.kind == kindDraft {
			id = oidProxyCertInfoDraft
			val, err = asn1.Marshal(struct{ Policy policy }{policy{lang}})
		} else {
			val, err = asn1.Marshal(struct {
				PathLen int
				Policy  policy
			}{10, policy{lang}})
		}
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: id, Critical: true, Value: val})
	case kindLegacy:
		tmpl.RawSubject = appendCN(t, parent.cert.RawSubject, "proxy")
	case kindLegacyLimited:
		tmpl.RawSubject = appendCN(t, parent.cert.RawSubject, "limited proxy")
	}
	return testCert{cert: sign(t, tmpl, parent.cert, key.Public(), parent.key), key: key}
}

// proxyFile assembles a Globus proxy file: first certificate, its key, then the chain.
func proxyFile(t testing.TB, leaf testCert, chain ...testCert) []byte {
	var b bytes.Buffer
	b.Write(leaf.certPEM())
	b.Write(leaf.keyPEM(t))
	for _, c := range chain {
		b.Write(c.certPEM())
	}
	return b.Bytes()
}

// DER helpers for hand-built structures.
func tlv(class, tag int, compound bool, content ...[]byte) []byte {
	der, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: compound, Bytes: bytes.Join(content, nil)})
	if err != nil {
		panic(err)
	}
	return der
}

func seq(content ...[]byte) []byte {
	return tlv(asn1.ClassUniversal, asn1.TagSequence, true, content...)
}

func mustMarshal(v any, params ...string) []byte {
	var der []byte
	var err error
	if len(params) > 0 {
		der, err = asn1.MarshalWithParams(v, params[0])
	} else {
		der, err = asn1.Marshal(v)
	}
	if err != nil {
		panic(err)
	}
	return der
}

type acOpts struct {
	vo, server string
	fqans      []string
	notBefore  time.Time
	notAfter   time.Time
}

// buildAC builds a VOMS AC for holder signed by issuer, as VOMS encodes it.
func buildAC(t testing.TB, holder testCert, issuer testCert, o acOpts) []byte {
	var fqans [][]byte
	for _, f := range o.fqans {
		fqans = append(fqans, tlv(asn1.ClassUniversal, asn1.TagOctetString, false, []byte(f)))
	}
	ietf := seq(
		tlv(asn1.ClassContextSpecific, 0, true, tlv(asn1.ClassContextSpecific, 6, false, []byte(o.vo+"://"+o.server))),
		seq(fqans...),
	)
	attr := seq(mustMarshal(oidVOMSFQANs), tlv(asn1.ClassUniversal, asn1.TagSet, true, ietf))
	alg := seq(mustMarshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})) // ecdsa-with-SHA256
	if _, isRSA := issuer.key.(*rsa.PrivateKey); isRSA {
		alg = seq(mustMarshal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}), mustMarshal(asn1.NullRawValue)) // sha256WithRSAEncryption
	}
	info := seq(
		mustMarshal(1),
		seq(tlv(asn1.ClassContextSpecific, 0, true,
			seq(tlv(asn1.ClassContextSpecific, 4, true, holder.cert.RawIssuer)),
			mustMarshal(holder.cert.SerialNumber))),
		tlv(asn1.ClassContextSpecific, 0, true, seq(tlv(asn1.ClassContextSpecific, 4, true, issuer.cert.RawSubject))),
		alg,
		mustMarshal(big.NewInt(77)),
		seq(mustMarshal(o.notBefore.UTC(), "generalized"), mustMarshal(o.notAfter.UTC(), "generalized")),
		seq(attr),
		seq( // extensions as VOMS writes them: the signer's certificate, no revocation info
			seq(mustMarshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 8005, 100, 100, 10}),
				tlv(asn1.ClassUniversal, asn1.TagOctetString, false, seq(seq(issuer.cert.Raw)))),
			seq(mustMarshal(asn1.ObjectIdentifier{2, 5, 29, 56}),
				tlv(asn1.ClassUniversal, asn1.TagOctetString, false, mustMarshal(asn1.NullRawValue))),
			seq(mustMarshal(asn1.ObjectIdentifier{2, 5, 29, 35}),
				tlv(asn1.ClassUniversal, asn1.TagOctetString, false,
					seq(tlv(asn1.ClassContextSpecific, 0, false, issuer.cert.SubjectKeyId)))),
		),
	)
	digest := sha256.Sum256(info)
	sig, err := issuer.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return seq(info, alg, mustMarshal(asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}))
}

// vomsExtension wraps ACs as the proxy extension value (SEQUENCE { SEQUENCE OF AC }).
func vomsExtension(acs ...[]byte) pkix.Extension {
	return pkix.Extension{Id: oidVOMSACSeq, Value: seq(seq(acs...))}
}
