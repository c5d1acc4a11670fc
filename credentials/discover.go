package credentials

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultCADir is the CA directory used when neither --capath nor X509_CERT_DIR names one.
const DefaultCADir = "/etc/grid-security/certificates"

// DefaultProxyPath is the Globus default proxy location for uid: /tmp/x509up_u<uid>.
func DefaultProxyPath(uid int) string { return "/tmp/x509up_u" + strconv.Itoa(uid) }

// FindProxy picks the proxy file as Pilot 3 does: the first of explicit (the --cacert
// option), env("X509_USER_PROXY") and /tmp/x509up_u<uid> that names an existing regular
// file; empty candidates are skipped. A nil env reads nothing. When none exists the error
// wraps ErrNoProxy and lists the candidates. The file is not parsed (see LoadProxy).
func FindProxy(explicit string, env func(string) string, uid int) (string, error) {
	return findProxy(explicit, env, DefaultProxyPath(uid))
}

func findProxy(explicit string, env func(string) string, fallback string) (string, error) {
	env = orEmpty(env)
	var tried []string
	for _, p := range []string{explicit, env("X509_USER_PROXY"), fallback} {
		if p == "" {
			continue
		}
		tried = append(tried, p)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked at %s)", ErrNoProxy, strings.Join(tried, ", "))
}

// FindCADir picks the CA directory as Pilot 3 does: the first of explicit (the --capath
// option), env("X509_CERT_DIR") and DefaultCADir that is an existing directory. It returns
// "" when none exists; TLSConfig then uses the system trust store.
func FindCADir(explicit string, env func(string) string) string {
	env = orEmpty(env)
	for _, p := range []string{explicit, env("X509_CERT_DIR"), DefaultCADir} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	return ""
}

func orEmpty(env func(string) string) func(string) string {
	if env == nil {
		return func(string) string { return "" }
	}
	return env
}

// MapEnv adapts a map to the env lookup functions of this package (tests, or an
// environment built for a payload).
func MapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
