package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReasonLen is the longest reason, in bytes, passed to the Controller;
// longer ones are cut at a character boundary.
const MaxReasonLen = 256

// maxBody bounds the body of a POST.
const maxBody = 4 << 10

// errUnsupported marks a body of a content type the server does not read.
var errUnsupported = errors.New("unsupported content type")

// parseReason extracts the reason of an admin action from a POST body of the
// given Content-Type, falling back to the reason parameter of the URL query
// when the body gives none. Accepted bodies: empty; application/json with an
// object whose optional "reason" member is a string; form-encoded with an
// optional reason field; text/plain (or no content type) whose first line is
// the reason. The result is cleaned by cleanReason; "" means none given.
func parseReason(contentType string, body []byte, rawQuery string) (string, error) {
	var reason string
	if len(body) > 0 {
		mt := "text/plain"
		if contentType != "" {
			var err error
			mt, _, err = mime.ParseMediaType(contentType)
			if err != nil {
				return "", fmt.Errorf("%w: %q", errUnsupported, contentType)
			}
		}
		switch mt {
		case "application/json":
			var v struct {
				Reason *string `json:"reason"`
			}
			if err := json.Unmarshal(body, &v); err != nil {
				return "", fmt.Errorf("JSON body: %w", err)
			}
			if v.Reason != nil {
				reason = *v.Reason
			}
		case "application/x-www-form-urlencoded":
			q, err := url.ParseQuery(string(body))
			if err != nil {
				return "", fmt.Errorf("form body: %w", err)
			}
			reason = q.Get("reason")
		case "text/plain":
			reason = firstLine(string(body))
		default:
			return "", fmt.Errorf("%w: %q", errUnsupported, mt)
		}
	}
	if reason = cleanReason(reason); reason != "" {
		return reason, nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	return cleanReason(q.Get("reason")), nil
}

// firstLine returns s up to its first line break.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// cleanReason makes s fit for logs and for the server: invalid UTF-8 and
// control characters become spaces, runs of white space one space, the
// ends are trimmed, and the result is cut to MaxReasonLen bytes at a
// character boundary.
func cleanReason(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), MaxReasonLen))
	space := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) ||
			unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		need := utf8.RuneLen(r)
		if space {
			need++
		}
		if b.Len()+need > MaxReasonLen {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
