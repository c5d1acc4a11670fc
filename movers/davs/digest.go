package davs

import (
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/gopilot/gopilot/jobdef"
)

// ParseDigest extracts the checksum of type t from RFC 3230 "Digest" header values such as
// "adler32=4e7a35c7, md5=HUXZLQLMuI/KZ5KDcJPcOA==". Algorithm names are case-insensitive.
// adler32 values are hex (padded to 8 digits); md5 values are base64 as RFC 3230 says, or
// 32 hex digits as some servers send. ok is false when no usable value of type t is
// present.
func ParseDigest(values []string, t jobdef.ChecksumType) (jobdef.Checksum, bool) {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			name, val, found := strings.Cut(strings.TrimSpace(item), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(name), string(t)) {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if sum, ok := digestValue(t, val); ok {
				return jobdef.Checksum{Type: t, Value: sum}, true
			}
		}
	}
	return jobdef.Checksum{}, false
}

func digestValue(t jobdef.ChecksumType, v string) (string, bool) {
	switch t {
	case jobdef.Adler32:
		if v == "" || len(v) > 8 || !isHex(v) {
			return "", false
		}
		return strings.Repeat("0", 8-len(v)) + strings.ToLower(v), true
	case jobdef.MD5:
		if len(v) == 32 && isHex(v) {
			return strings.ToLower(v), true
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != 16 {
			return "", false
		}
		return hex.EncodeToString(b), true
	}
	return "", false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}
