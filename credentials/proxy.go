package credentials

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// ProxyType tells what kind of certificate the first certificate of a proxy file is.
type ProxyType int

const (
	// EndEntity: not a proxy, a plain user or host certificate.
	EndEntity ProxyType = iota
	// RFC3820: an RFC 3820 proxy (proxyCertInfo extension 1.3.6.1.5.5.7.1.14).
	RFC3820
	// DraftProxy: a pre-RFC Globus Toolkit 3 proxy (extension 1.3.6.1.4.1.3536.1.222).
	DraftProxy
	// LegacyProxy: a Globus Toolkit 2 proxy, recognised by its subject: the issuer's DN plus
	// "/CN=proxy" or "/CN=limited proxy".
	LegacyProxy
)

func (t ProxyType) String() string {
	switch t {
	case EndEntity:
		return "end entity certificate"
	case RFC3820:
		return "RFC 3820 compliant proxy"
	case DraftProxy:
		return "GT3 (draft) proxy"
	case LegacyProxy:
		return "legacy (GT2) proxy"
	}
	return fmt.Sprintf("ProxyType(%d)", int(t))
}

var (
	oidProxyCertInfo      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 14}
	oidProxyCertInfoDraft = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3536, 1, 222}
	oidPolicyLimited      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3536, 1, 1, 1, 9}
	oidVOMSACSeq          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 8005, 100, 100, 5}
)

// Proxy is what ParseProxy learns from a proxy file. DNs are in the OpenSSL/Globus slash
// form (see FormatDN).
type Proxy struct {
	// Type is the kind of the first certificate.
	Type ProxyType
	// Subject is the DN of the first certificate (the proxy itself).
	Subject string
	// Issuer is the DN of the first certificate's issuer.
	Issuer string
	// Identity is the end-entity DN: the subject of the first certificate of the chain that
	// is not a proxy, or, when the file holds only proxies, the issuer of the last one.
	Identity string
	// Limited is true when any proxy of the chain is a limited proxy (legacy
	// "CN=limited proxy", or the Globus limited-proxy policy language in RFC/draft proxies).
	Limited bool
	// NotBefore is the first certificate's NotBefore.
	NotBefore time.Time
	// NotAfter is the earliest NotAfter of the proxies and the end-entity certificate
	// (CA certificates that may follow in the file do not count).
	NotAfter time.Time
	// VOMS holds the VOMS attribute certificates found in the proxies of the chain, leaf
	// first. Empty for a plain proxy.
	VOMS []VOMSAttributes
	// HasKey is true when the file holds a private key (which then matches the first
	// certificate).
	HasKey bool
	// Chain is every certificate of the file in file order; Chain[0] is the proxy.
	Chain []*x509.Certificate
}

// LoadProxy reads and parses a proxy file. A missing file gives an error wrapping
// ErrNoProxy; an unusable one an error wrapping ErrInvalidProxy.
func LoadProxy(path string) (*Proxy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNoProxy, path)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidProxy, err)
	}
	p, err := ParseProxy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParseProxy parses a PEM proxy file: certificates (proxy first, then the rest of its
// chain) and at most one unencrypted private key (PKCS#1, PKCS#8 or SEC 1), in any order.
// It checks that the key matches the first certificate and that each proxy is issued and
// signed by the certificate that follows it in the file (when one follows); it does not
// verify the chain against any CA. Errors wrap ErrInvalidProxy (or ErrInvalidVOMS for an
// undecodable VOMS extension, together with ErrInvalidProxy).
func ParseProxy(data []byte) (*Proxy, error) {
	var (
		chain []*x509.Certificate
		key   crypto.Signer
		nkeys int
	)
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate %d: %v", ErrInvalidProxy, len(chain)+1, err)
			}
			chain = append(chain, c)
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			nkeys++
			if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
				return nil, fmt.Errorf("%w: the private key is encrypted", ErrInvalidProxy)
			}
			k, err := parsePrivateKey(block)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalidProxy, err)
			}
			key = k
		}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no certificate", ErrInvalidProxy)
	}
	if nkeys > 1 {
		return nil, fmt.Errorf("%w: %d private keys", ErrInvalidProxy, nkeys)
	}
	p := &Proxy{Chain: chain, HasKey: key != nil, NotBefore: chain[0].NotBefore}
	if key != nil {
		pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(chain[0].PublicKey) {
			return nil, fmt.Errorf("%w: the private key does not match the first certificate", ErrInvalidProxy)
		}
	}
	var err error
	if p.Subject, err = FormatDN(chain[0].RawSubject); err != nil {
		return nil, fmt.Errorf("%w: subject: %v", ErrInvalidProxy, err)
	}
	if p.Issuer, err = FormatDN(chain[0].RawIssuer); err != nil {
		return nil, fmt.Errorf("%w: issuer: %v", ErrInvalidProxy, err)
	}
	for i, c := range chain {
		info, err := proxyInfo(c)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrInvalidProxy, i+1, err)
		}
		if i == 0 {
			p.Type = info.typ
		}
		if p.NotAfter.IsZero() || c.NotAfter.Before(p.NotAfter) {
			p.NotAfter = c.NotAfter
		}
		if info.typ == EndEntity {
			p.Identity, err = FormatDN(c.RawSubject)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate %d: %v", ErrInvalidProxy, i+1, err)
			}
			break
		}
		p.Limited = p.Limited || info.limited
		acs, err := vomsFromCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrInvalidProxy, i+1, err)
		}
		p.VOMS = append(p.VOMS, acs...)
		if i+1 == len(chain) {
			// Only proxies in the file: the identity is the last proxy's issuer.
			if p.Identity, err = FormatDN(c.RawIssuer); err != nil {
				return nil, fmt.Errorf("%w: certificate %d: %v", ErrInvalidProxy, i+1, err)
			}
			break
		}
		next := chain[i+1]
		if !bytes.Equal(c.RawIssuer, next.RawSubject) {
			return nil, fmt.Errorf("%w: certificate %d is not issued by certificate %d", ErrInvalidProxy, i+1, i+2)
		}
		if err := next.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
			return nil, fmt.Errorf("%w: certificate %d: bad signature: %v", ErrInvalidProxy, i+1, err)
		}
	}
	return p, nil
}

func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	var (
		k   any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported key type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %v", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return s, nil
}

type certProxyInfo struct {
	typ     ProxyType
	limited bool
}

// proxyInfo classifies one certificate.
func proxyInfo(c *x509.Certificate) (certProxyInfo, error) {
	for _, ext := range c.Extensions {
		switch {
		case ext.Id.Equal(oidProxyCertInfo):
			lang, err := policyLanguage(ext.Value)
			if err != nil {
				return certProxyInfo{}, fmt.Errorf("proxyCertInfo: %v", err)
			}
			return certProxyInfo{typ: RFC3820, limited: lang.Equal(oidPolicyLimited)}, nil
		case ext.Id.Equal(oidProxyCertInfoDraft):
			lang, err := policyLanguage(ext.Value)
			if err != nil {
				return certProxyInfo{}, fmt.Errorf("draft proxyCertInfo: %v", err)
			}
			return certProxyInfo{typ: DraftProxy, limited: lang.Equal(oidPolicyLimited)}, nil
		}
	}
	subject, err := FormatDN(c.RawSubject)
	if err != nil {
		return certProxyInfo{}, err
	}
	issuer, err := FormatDN(c.RawIssuer)
	if err != nil {
		return certProxyInfo{}, err
	}
	switch subject {
	case issuer + "/CN=proxy":
		return certProxyInfo{typ: LegacyProxy}, nil
	case issuer + "/CN=limited proxy":
		return certProxyInfo{typ: LegacyProxy, limited: true}, nil
	}
	return certProxyInfo{typ: EndEntity}, nil
}

// policyLanguage extracts the policy language OID of a ProxyCertInfo value. RFC 3820 puts
// the optional path length first and the ProxyPolicy SEQUENCE second; the GT3 draft puts
// the policy first. Both are accepted: the first SEQUENCE that starts with an OID is the
// policy.
func policyLanguage(der []byte) (asn1.ObjectIdentifier, error) {
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 || outer.Class != asn1.ClassUniversal || outer.Tag != asn1.TagSequence {
		return nil, errors.New("not a SEQUENCE")
	}
	elems, err := elements(outer.Bytes)
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		if e.Class != asn1.ClassUniversal || e.Tag != asn1.TagSequence {
			continue
		}
		var lang asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(e.Bytes, &lang); err == nil {
			return lang, nil
		}
	}
	return nil, errors.New("no proxy policy")
}

// EffectiveNotAfter is the end of the usable lifetime: the earlier of NotAfter and the
// NotAfter of every VOMS attribute certificate.
func (p *Proxy) EffectiveNotAfter() time.Time {
	t := p.NotAfter
	for _, ac := range p.VOMS {
		if ac.NotAfter.Before(t) {
			t = ac.NotAfter
		}
	}
	return t
}

// TimeLeft is the effective lifetime left at now, never negative (0 once expired), as
// `voms-proxy-info -timeleft` and `grid-proxy-info -timeleft` print it for a plain proxy.
func (p *Proxy) TimeLeft(now time.Time) time.Duration {
	d := p.EffectiveNotAfter().Sub(now)
	if d < 0 {
		return 0
	}
	return d
}

// CheckLifetime is CheckLifetime on the effective lifetime; when a VOMS attribute
// certificate is what limits it, the error also wraps ErrVOMS.
func (p *Proxy) CheckLifetime(now time.Time, minimum time.Duration) error {
	eff := p.EffectiveNotAfter()
	err := CheckLifetime(now, eff, minimum)
	var le *LifetimeError
	if errors.As(err, &le) && eff.Before(p.NotAfter) {
		le.VOMS = true
	}
	return err
}

// FQANs lists the FQANs of every VOMS attribute certificate, in order.
func (p *Proxy) FQANs() []string {
	var out []string
	for _, ac := range p.VOMS {
		out = append(out, ac.FQANs...)
	}
	return out
}

// VO is the VO of the first VOMS attribute certificate, or "".
func (p *Proxy) VO() string {
	if len(p.VOMS) == 0 {
		return ""
	}
	return p.VOMS[0].VO
}

// ChainIdentity returns the end-entity DN of a certificate chain presented by a client
// (leaf first, as tls.ConnectionState.PeerCertificates holds it): the subject of the first
// certificate that is not a proxy, or the issuer of the last proxy when all are proxies.
// Servers use it because Go's verifier does not accept proxy certificates.
func ChainIdentity(chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", fmt.Errorf("%w: empty certificate chain", ErrInvalidProxy)
	}
	for _, c := range chain {
		info, err := proxyInfo(c)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrInvalidProxy, err)
		}
		if info.typ == EndEntity {
			return FormatDN(c.RawSubject)
		}
	}
	return FormatDN(chain[len(chain)-1].RawIssuer)
}
