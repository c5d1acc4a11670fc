package pandalite

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// MaxBodySize bounds a request body, before and after decompression.
const MaxBodySize = 64 << 20

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// readBody reads at most MaxBodySize bytes of r's body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(b) > MaxBodySize {
		return nil, fmt.Errorf("request body larger than %d bytes", MaxBodySize)
	}
	return b, nil
}

// gunzipper decompresses request bodies, reusing its gzip readers (a new
// one allocates tens of kilobytes). The zero value is ready to use.
type gunzipper struct{ pool sync.Pool }

// gunzip decompresses b, refusing output larger than MaxBodySize.
func (g *gunzipper) gunzip(b []byte) ([]byte, error) {
	var zr *gzip.Reader
	if v, ok := g.pool.Get().(*gzip.Reader); ok {
		if err := v.Reset(bytes.NewReader(b)); err != nil {
			g.pool.Put(v)
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr = v
	} else {
		v, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr = v
	}
	defer g.pool.Put(zr)
	out, err := io.ReadAll(io.LimitReader(zr, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if len(out) > MaxBodySize {
		return nil, fmt.Errorf("gzip: decompressed body larger than %d bytes", MaxBodySize)
	}
	return out, nil
}

// DecodeLegacy turns a legacy /server/panda/<method> request into its
// arguments, as the legacy server does:
//
//   - Content-Type exactly "application/json": the body is gunzipped (a body
//     that does not start with the gzip magic is taken as plain JSON) and
//     decoded as a JSON object; raw keeps the decoded values, args their
//     Python str() form (true/false -> "True"/"False", null -> "None",
//     2000.0 -> "2000.0"). An empty body means no arguments.
//   - otherwise: the query string plus, for form bodies (Content-Type
//     application/x-www-form-urlencoded or none), the body's form fields,
//     body values winning. A repeated key keeps its first value.
//
// query is the request's raw query string.
func DecodeLegacy(contentType string, body []byte, query string) (args map[string]string, raw Object, err error) {
	return decodeLegacy(&gunzipper{}, contentType, body, query)
}

func decodeLegacy(g *gunzipper, contentType string, body []byte, query string) (args map[string]string, raw Object, err error) {
	if contentType == "application/json" {
		if len(bytes.TrimSpace(body)) == 0 {
			return map[string]string{}, Object{}, nil
		}
		if bytes.HasPrefix(body, gzipMagic) {
			body, err = g.gunzip(body)
			if err != nil {
				return nil, nil, err
			}
		}
		o, err := ParseObject(body)
		if err != nil {
			return nil, nil, fmt.Errorf("JSON body: %w", err)
		}
		return o.Strings(), o, nil
	}
	args = map[string]string{}
	addForm(args, query)
	mt, _, _ := mime.ParseMediaType(contentType)
	if contentType == "" || mt == "application/x-www-form-urlencoded" {
		addForm(args, string(body))
	}
	return args, objectFromStrings(args), nil
}

// addForm adds the urlencoded fields of s to args (first value of a
// repeated key; malformed pairs are skipped, as Python's parse_qs does).
func addForm(args map[string]string, s string) {
	seen := map[string]bool{}
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, val := unquotePlus(k), unquotePlus(v)
		if seen[key] {
			continue
		}
		seen[key] = true
		args[key] = val
	}
}

// unquotePlus decodes a form component like Python's unquote_plus: '+' is
// a space, valid %XX escapes are decoded, anything else is kept as is, and
// invalid UTF-8 becomes U+FFFD.
func unquotePlus(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// DecodeV1 turns a /api/v1 request into its arguments: for GET the query
// string (all values strings); otherwise a JSON object body, gunzipped when
// Content-Encoding is gzip or the body starts with the gzip magic. An empty
// body means no arguments; a form body is accepted as strings.
func DecodeV1(method, contentType, contentEncoding string, body []byte, query string) (Object, error) {
	return decodeV1Request(&gunzipper{}, method, contentType, contentEncoding, body, query)
}

func decodeV1Request(g *gunzipper, method, contentType, contentEncoding string, body []byte, query string) (Object, error) {
	if method == http.MethodGet || method == http.MethodHead {
		m := map[string]string{}
		addForm(m, query)
		return objectFromStrings(m), nil
	}
	var err error
	if strings.EqualFold(contentEncoding, "gzip") || bytes.HasPrefix(body, gzipMagic) {
		body, err = g.gunzip(body)
		if err != nil {
			return nil, err
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Object{}, nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		m := map[string]string{}
		addForm(m, string(body))
		return objectFromStrings(m), nil
	}
	o, err := ParseObject(body)
	if err != nil {
		return nil, fmt.Errorf("failed to load JSON: %w", err)
	}
	return o, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
