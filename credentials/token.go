package credentials

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FindBearerToken implements WLCG Bearer Token Discovery: the value of BEARER_TOKEN if set
// and not blank; else the content of the file named by BEARER_TOKEN_FILE; else of
// $XDG_RUNTIME_DIR/bt_u<uid>; else of /tmp/bt_u<uid>. Leading and trailing white space is
// removed. A source that is unset, missing or blank is skipped; a file that exists but
// cannot be read is an error. source names where the token came from (the variable name or
// the file path) and is safe to log; the token is not. No token gives an error wrapping
// ErrNoToken.
func FindBearerToken(env func(string) string, uid int) (token, source string, err error) {
	return findBearerToken(env, uid, "/tmp")
}

func findBearerToken(env func(string) string, uid int, tmp string) (token, source string, err error) {
	env = orEmpty(env)
	if t := strings.TrimSpace(env("BEARER_TOKEN")); t != "" {
		return t, "BEARER_TOKEN", nil
	}
	name := "bt_u" + strconv.Itoa(uid)
	var files []string
	if f := env("BEARER_TOKEN_FILE"); f != "" {
		files = append(files, f)
	}
	if d := env("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, filepath.Join(d, name))
	}
	files = append(files, filepath.Join(tmp, name))
	for _, f := range files {
		t, err := readToken(f)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoToken) {
			continue
		}
		if err != nil {
			return "", f, err
		}
		return t, f, nil
	}
	return "", "", fmt.Errorf("%w (BEARER_TOKEN, then %s)", ErrNoToken, strings.Join(files, ", "))
}

// readToken reads a token file; a blank file wraps ErrNoToken.
func readToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrNoToken, path)
	}
	return t, nil
}

// PandaAuth is the PanDA OIDC token authentication of Pilot 3.
type PandaAuth struct {
	// Token is the token (secret: register it with a Redactor).
	Token string
	// Origin is the value of the Origin header, e.g. "atlas.pilot".
	Origin string
	// Path is the file the token was read from.
	Path string
}

// Headers returns "Authorization: Bearer <token>" and "Origin: <origin>".
func (a *PandaAuth) Headers() http.Header {
	h := make(http.Header, 2)
	h.Set("Authorization", "Bearer "+a.Token)
	h.Set("Origin", a.Origin)
	return h
}

// FindPandaAuth finds PanDA's OIDC token as Pilot 3 does (PROTOCOL.md §7.2). It is enabled
// when OIDC_AUTH_TOKEN (or PANDA_AUTH_TOKEN) names the token file and OIDC_AUTH_ORIGIN (or
// PANDA_AUTH_ORIGIN) gives the origin; otherwise the error wraps ErrNotConfigured and the
// caller uses X.509 instead. The token is read from the first existing file of:
//
//  1. $OIDC_REFRESHED_AUTH_TOKEN (a full path, written by token refreshes);
//  2. the name under the auth directory: $OIDC_AUTH_DIR (or $PANDA_AUTH_DIR), then, for
//     compatibility with Pilot 3 which takes the dirname of that variable, its parent; when
//     neither variable is set, the directory of $X509_USER_PROXY;
//  3. the name under $PILOT_SOURCE_DIR, $PILOT_WORK_DIR and $HOME.
//
// An absolute name is used as it is (after the refreshed token). Unset directories are
// skipped. White space around the token is removed. When no file exists, or the one found
// is blank, the error wraps ErrNoToken.
func FindPandaAuth(env func(string) string) (*PandaAuth, error) {
	env = orEmpty(env)
	name := firstSet(env, "OIDC_AUTH_TOKEN", "PANDA_AUTH_TOKEN")
	origin := firstSet(env, "OIDC_AUTH_ORIGIN", "PANDA_AUTH_ORIGIN")
	if name == "" || origin == "" {
		return nil, fmt.Errorf("%w: OIDC_AUTH_TOKEN/PANDA_AUTH_TOKEN and OIDC_AUTH_ORIGIN/PANDA_AUTH_ORIGIN must both be set", ErrNotConfigured)
	}
	for _, p := range pandaTokenCandidates(env, name) {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		tok, err := readToken(p)
		if err != nil {
			return nil, err
		}
		return &PandaAuth{Token: tok, Origin: origin, Path: p}, nil
	}
	return nil, fmt.Errorf("%w: token file %q not found", ErrNoToken, name)
}

func pandaTokenCandidates(env func(string) string, name string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(env("OIDC_REFRESHED_AUTH_TOKEN"))
	if filepath.IsAbs(name) {
		add(name)
		return out
	}
	under := func(dir string) {
		if dir != "" {
			add(filepath.Join(dir, name))
		}
	}
	if dir := firstSet(env, "OIDC_AUTH_DIR", "PANDA_AUTH_DIR"); dir != "" {
		under(dir)
		under(filepath.Dir(dir))
	} else if px := env("X509_USER_PROXY"); px != "" {
		under(filepath.Dir(px))
	}
	for _, k := range []string{"PILOT_SOURCE_DIR", "PILOT_WORK_DIR", "HOME"} {
		under(env(k))
	}
	return out
}

// firstSet returns the value of the first variable that is set to a non-empty value.
func firstSet(env func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := env(k); v != "" {
			return v
		}
	}
	return ""
}

// TokenExpiry returns the "exp" claim of a JWT (seconds since the epoch, integer or
// fractional) decoded WITHOUT verifying the signature; for lifetime checks only. ok is
// false when tok is not a three-part JWT with a JSON payload holding a numeric exp.
func TokenExpiry(tok string) (exp time.Time, ok bool) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
