package credentials

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// VOMSAttributes is one VOMS attribute certificate (RFC 5755 AC as VOMS issues it) found in
// a proxy. The AC signature is not verified (that needs the VO's .lsc files); these values
// are for lifetime checks and reporting.
type VOMSAttributes struct {
	// VO is the VO name from the policy authority ("atlas" of "atlas://voms.cern.ch:15001").
	VO string
	// Server is the host:port part of the policy authority.
	Server string
	// FQANs are the attribute values in AC order, e.g. "/atlas/Role=production/Capability=NULL".
	FQANs []string
	// Issuer is the DN of the VOMS server that signed the AC (slash form).
	Issuer string
	// Serial is the AC serial number.
	Serial *big.Int
	// NotBefore and NotAfter are the AC validity period.
	NotBefore, NotAfter time.Time
}

var oidVOMSFQANs = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 8005, 100, 100, 4}

// vomsFromCertificate decodes the VOMS extension of c, if any.
func vomsFromCertificate(c *x509.Certificate) ([]VOMSAttributes, error) {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidVOMSACSeq) {
			return parseVOMSExtension(ext.Value)
		}
	}
	return nil, nil
}

// parseVOMSExtension decodes the value of extension 1.3.6.1.4.1.8005.100.100.5: a SEQUENCE
// of AC sequences, each a SEQUENCE OF AttributeCertificate. An AttributeCertificate found
// directly in the outer SEQUENCE is accepted as well.
func parseVOMSExtension(der []byte) ([]VOMSAttributes, error) {
	outer, err := parseOne(der, asn1.TagSequence)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidVOMS, err)
	}
	seqs, err := elements(outer.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidVOMS, err)
	}
	var out []VOMSAttributes
	for _, s := range seqs {
		if !isUniversal(s, asn1.TagSequence) {
			return nil, fmt.Errorf("%w: AC sequence is not a SEQUENCE", ErrInvalidVOMS)
		}
		acs, err := elements(s.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidVOMS, err)
		}
		if looksLikeAC(acs) {
			acs = []asn1.RawValue{s}
		}
		for _, ac := range acs {
			a, err := parseAC(ac)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalidVOMS, err)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// looksLikeAC tells whether the elements are those of one AttributeCertificate
// (acinfo SEQUENCE, AlgorithmIdentifier SEQUENCE, BIT STRING) rather than a list of ACs.
func looksLikeAC(e []asn1.RawValue) bool {
	return len(e) == 3 && isUniversal(e[0], asn1.TagSequence) && isUniversal(e[1], asn1.TagSequence) &&
		isUniversal(e[2], asn1.TagBitString)
}

func isUniversal(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag
}

func isContext(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassContextSpecific && v.Tag == tag
}

// parseOne decodes exactly one element with the given universal tag and no trailing data.
func parseOne(der []byte, tag int) (asn1.RawValue, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return v, err
	}
	if len(rest) != 0 {
		return v, errors.New("trailing data")
	}
	if !isUniversal(v, tag) {
		return v, fmt.Errorf("unexpected tag %d/%d", v.Class, v.Tag)
	}
	return v, nil
}

// parseAC decodes one AttributeCertificate:
//
//	AttributeCertificate ::= SEQUENCE { acinfo, signatureAlgorithm, signatureValue }
//	acinfo ::= SEQUENCE { version INTEGER DEFAULT v2, holder SEQUENCE, issuer AttCertIssuer,
//	  signature AlgorithmIdentifier, serialNumber INTEGER,
//	  attrCertValidityPeriod SEQUENCE { GeneralizedTime, GeneralizedTime },
//	  attributes SEQUENCE OF Attribute, issuerUniqueID OPTIONAL, extensions OPTIONAL }
func parseAC(ac asn1.RawValue) (VOMSAttributes, error) {
	var a VOMSAttributes
	if !isUniversal(ac, asn1.TagSequence) {
		return a, errors.New("AC is not a SEQUENCE")
	}
	parts, err := elements(ac.Bytes)
	if err != nil {
		return a, err
	}
	if !looksLikeAC(parts) {
		return a, errors.New("AC is not {acinfo, algorithm, signature}")
	}
	f, err := elements(parts[0].Bytes)
	if err != nil {
		return a, err
	}
	i := 0
	next := func(what string) (asn1.RawValue, error) {
		if i >= len(f) {
			return asn1.RawValue{}, fmt.Errorf("AC info: missing %s", what)
		}
		i++
		return f[i-1], nil
	}
	if len(f) > 0 && isUniversal(f[0], asn1.TagInteger) {
		i++ // version
	}
	if v, err := next("holder"); err != nil {
		return a, err
	} else if !isUniversal(v, asn1.TagSequence) {
		return a, errors.New("AC info: holder is not a SEQUENCE")
	}
	issuer, err := next("issuer")
	if err != nil {
		return a, err
	}
	if a.Issuer, err = acIssuerDN(issuer); err != nil {
		return a, err
	}
	if v, err := next("signature algorithm"); err != nil {
		return a, err
	} else if !isUniversal(v, asn1.TagSequence) {
		return a, errors.New("AC info: signature algorithm is not a SEQUENCE")
	}
	serial, err := next("serial number")
	if err != nil {
		return a, err
	}
	a.Serial = new(big.Int)
	if _, err := asn1.Unmarshal(serial.FullBytes, &a.Serial); err != nil {
		return a, fmt.Errorf("AC serial: %v", err)
	}
	validity, err := next("validity")
	if err != nil {
		return a, err
	}
	if a.NotBefore, a.NotAfter, err = acValidity(validity); err != nil {
		return a, err
	}
	attrs, err := next("attributes")
	if err != nil {
		return a, err
	}
	if err := acAttributes(attrs, &a); err != nil {
		return a, err
	}
	return a, nil
}

func acValidity(v asn1.RawValue) (notBefore, notAfter time.Time, err error) {
	if !isUniversal(v, asn1.TagSequence) {
		return notBefore, notAfter, errors.New("AC validity is not a SEQUENCE")
	}
	t, err := elements(v.Bytes)
	if err != nil {
		return notBefore, notAfter, err
	}
	if len(t) != 2 {
		return notBefore, notAfter, errors.New("AC validity needs two times")
	}
	for k, dst := range []*time.Time{&notBefore, &notAfter} {
		if !isUniversal(t[k], asn1.TagGeneralizedTime) && !isUniversal(t[k], asn1.TagUTCTime) {
			return notBefore, notAfter, errors.New("AC validity: not a time")
		}
		if _, err := asn1.Unmarshal(t[k].FullBytes, dst); err != nil {
			return notBefore, notAfter, fmt.Errorf("AC validity: %v", err)
		}
	}
	return notBefore, notAfter, nil
}

// acIssuerDN finds the directoryName of an AttCertIssuer: v2Form [0] { GeneralNames ... }
// or v1Form GeneralNames.
func acIssuerDN(v asn1.RawValue) (string, error) {
	var names asn1.RawValue
	switch {
	case isContext(v, 0) && v.IsCompound:
		inner, err := elements(v.Bytes)
		if err != nil {
			return "", err
		}
		if len(inner) == 0 || !isUniversal(inner[0], asn1.TagSequence) {
			return "", errors.New("AC issuer: v2Form without issuerName")
		}
		names = inner[0]
	case isUniversal(v, asn1.TagSequence):
		names = v
	default:
		return "", errors.New("AC issuer: unknown form")
	}
	gns, err := elements(names.Bytes)
	if err != nil {
		return "", err
	}
	for _, gn := range gns {
		if isContext(gn, 4) && gn.IsCompound { // directoryName [4] EXPLICIT Name
			return FormatDN(gn.Bytes)
		}
	}
	return "", errors.New("AC issuer: no directoryName")
}

// acAttributes reads the VOMS FQAN attribute (1.3.6.1.4.1.8005.100.100.4):
//
//	IetfAttrSyntax ::= SEQUENCE { policyAuthority [0] GeneralNames OPTIONAL,
//	  values SEQUENCE OF CHOICE { OCTET STRING, OBJECT IDENTIFIER, UTF8String } }
func acAttributes(v asn1.RawValue, a *VOMSAttributes) error {
	if !isUniversal(v, asn1.TagSequence) {
		return errors.New("AC attributes: not a SEQUENCE")
	}
	attrs, err := elements(v.Bytes)
	if err != nil {
		return err
	}
	for _, attr := range attrs {
		if !isUniversal(attr, asn1.TagSequence) {
			return errors.New("AC attribute: not a SEQUENCE")
		}
		var typ asn1.ObjectIdentifier
		rest, err := asn1.Unmarshal(attr.Bytes, &typ)
		if err != nil {
			return fmt.Errorf("AC attribute type: %v", err)
		}
		if !typ.Equal(oidVOMSFQANs) {
			continue
		}
		set, err := parseOne(rest, asn1.TagSet)
		if err != nil {
			return fmt.Errorf("AC attribute values: %v", err)
		}
		vals, err := elements(set.Bytes)
		if err != nil {
			return err
		}
		for _, val := range vals {
			if err := ietfAttrSyntax(val, a); err != nil {
				return err
			}
		}
	}
	return nil
}

func ietfAttrSyntax(v asn1.RawValue, a *VOMSAttributes) error {
	if !isUniversal(v, asn1.TagSequence) {
		return errors.New("IetfAttrSyntax: not a SEQUENCE")
	}
	parts, err := elements(v.Bytes)
	if err != nil {
		return err
	}
	for _, p := range parts {
		switch {
		case isContext(p, 0) && p.IsCompound: // policyAuthority [0] IMPLICIT GeneralNames
			gns, err := elements(p.Bytes)
			if err != nil {
				return err
			}
			for _, gn := range gns {
				if isContext(gn, 6) && !gn.IsCompound && a.VO == "" { // uniformResourceIdentifier
					auth := string(gn.Bytes)
					vo, server, found := strings.Cut(auth, "://")
					if !found {
						vo, server = auth, ""
					}
					a.VO, a.Server = vo, server
				}
			}
		case isUniversal(p, asn1.TagSequence):
			vals, err := elements(p.Bytes)
			if err != nil {
				return err
			}
			for _, val := range vals {
				if isUniversal(val, asn1.TagOctetString) || isUniversal(val, asn1.TagUTF8String) {
					a.FQANs = append(a.FQANs, string(val.Bytes))
				}
			}
		}
	}
	return nil
}
