package credentials

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// attributeShortNames are the OpenSSL short names of the attribute types seen in grid DNs.
var attributeShortNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.13":                   "description",
	"2.5.4.15":                   "businessCategory",
	"2.5.4.17":                   "postalCode",
	"2.5.4.41":                   "name",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationQualifier",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// FormatDN renders a DER-encoded X.501 Name (for example x509.Certificate.RawSubject) in the
// slash form OpenSSL's X509_NAME_oneline and the Globus/VOMS tools print:
// "/DC=ch/DC=cern/OU=Users/CN=name". Attributes appear in encoding order, each as
// "/<short name>=<value>" (multi-valued RDNs are not joined with '+', as in OpenSSL);
// unknown attribute types appear as dotted OIDs. Value bytes outside ' '..'~' are written as
// \xHH (upper-case hex) as OpenSSL does; BMPString and UniversalString values are converted
// to UTF-8 first. An empty Name gives "".
func FormatDN(der []byte) (string, error) {
	var rdns asn1.RawValue
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil {
		return "", fmt.Errorf("distinguished name: %w", err)
	}
	if len(rest) != 0 || rdns.Class != asn1.ClassUniversal || rdns.Tag != asn1.TagSequence || !rdns.IsCompound {
		return "", errors.New("distinguished name: not a SEQUENCE")
	}
	var b strings.Builder
	sets, err := elements(rdns.Bytes)
	if err != nil {
		return "", fmt.Errorf("distinguished name: %w", err)
	}
	for _, set := range sets {
		if set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet || !set.IsCompound {
			return "", errors.New("distinguished name: RDN is not a SET")
		}
		atvs, err := elements(set.Bytes)
		if err != nil {
			return "", fmt.Errorf("distinguished name: %w", err)
		}
		for _, atv := range atvs {
			if atv.Class != asn1.ClassUniversal || atv.Tag != asn1.TagSequence || !atv.IsCompound {
				return "", errors.New("distinguished name: attribute is not a SEQUENCE")
			}
			var oid asn1.ObjectIdentifier
			rest, err := asn1.Unmarshal(atv.Bytes, &oid)
			if err != nil {
				return "", fmt.Errorf("distinguished name: attribute type: %w", err)
			}
			var val asn1.RawValue
			if rest, err = asn1.Unmarshal(rest, &val); err != nil {
				return "", fmt.Errorf("distinguished name: attribute value: %w", err)
			}
			if len(rest) != 0 {
				return "", errors.New("distinguished name: trailing data in attribute")
			}
			name, ok := attributeShortNames[oid.String()]
			if !ok {
				name = oid.String()
			}
			b.WriteByte('/')
			b.WriteString(name)
			b.WriteByte('=')
			writeOnelineValue(&b, stringValueBytes(val))
		}
	}
	return b.String(), nil
}

// elements splits DER content into its top-level elements.
func elements(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}

// stringValueBytes returns the bytes OpenSSL would print for a directory string value.
func stringValueBytes(v asn1.RawValue) []byte {
	if v.Class != asn1.ClassUniversal {
		return v.Bytes
	}
	switch v.Tag {
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return v.Bytes
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return []byte(string(utf16.Decode(u)))
	case 28: // UniversalString (UCS-4)
		if len(v.Bytes)%4 != 0 {
			return v.Bytes
		}
		var out []byte
		for i := 0; i < len(v.Bytes); i += 4 {
			r := rune(uint32(v.Bytes[i])<<24 | uint32(v.Bytes[i+1])<<16 | uint32(v.Bytes[i+2])<<8 | uint32(v.Bytes[i+3]))
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		}
		return out
	}
	return v.Bytes
}

func writeOnelineValue(b *strings.Builder, v []byte) {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		if c < ' ' || c > '~' {
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
}
