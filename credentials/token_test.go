package credentials

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindBearerToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	xdg := filepath.Join(dir, "xdg")
	file := writeFile(t, filepath.Join(dir, "tokfile"), " from-file\n")
	writeFile(t, filepath.Join(xdg, "bt_u42"), "from-xdg\n")
	writeFile(t, filepath.Join(tmp, "bt_u42"), "from-tmp")
	writeFile(t, filepath.Join(dir, "blank"), " \n")
	tests := []struct {
		name      string
		env       map[string]string
		uid       int
		want, src string
	}{
		{"BEARER_TOKEN wins", map[string]string{"BEARER_TOKEN": " tok\n", "BEARER_TOKEN_FILE": file}, 42, "tok", "BEARER_TOKEN"},
		{"blank BEARER_TOKEN skipped", map[string]string{"BEARER_TOKEN": "  ", "BEARER_TOKEN_FILE": file}, 42, "from-file", file},
		{"file", map[string]string{"BEARER_TOKEN_FILE": file, "XDG_RUNTIME_DIR": xdg}, 42, "from-file", file},
		{"missing file falls through", map[string]string{"BEARER_TOKEN_FILE": filepath.Join(dir, "nope"), "XDG_RUNTIME_DIR": xdg}, 42, "from-xdg", filepath.Join(xdg, "bt_u42")},
		{"blank file falls through", map[string]string{"BEARER_TOKEN_FILE": filepath.Join(dir, "blank")}, 42, "from-tmp", filepath.Join(tmp, "bt_u42")},
		{"xdg", map[string]string{"XDG_RUNTIME_DIR": xdg}, 42, "from-xdg", filepath.Join(xdg, "bt_u42")},
		{"tmp", nil, 42, "from-tmp", filepath.Join(tmp, "bt_u42")},
		{"other uid: none", map[string]string{"XDG_RUNTIME_DIR": xdg}, 7, "", ""},
	}
	for _, tc := range tests {
		tok, src, err := findBearerToken(MapEnv(tc.env), tc.uid, tmp)
		if tc.want == "" {
			if !errors.Is(err, ErrNoToken) {
				t.Errorf("%s: %q %q %v", tc.name, tok, src, err)
			}
			continue
		}
		if err != nil || tok != tc.want || src != tc.src {
			t.Errorf("%s: got %q from %q (%v), want %q from %q", tc.name, tok, src, err, tc.want, tc.src)
		}
	}
	if os.Geteuid() == 0 {
		return // root reads unreadable files
	}
	unreadable := writeFile(t, filepath.Join(dir, "unreadable"), "x")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := findBearerToken(MapEnv(map[string]string{"BEARER_TOKEN_FILE": unreadable}), 42, tmp); err == nil || errors.Is(err, ErrNoToken) {
		t.Errorf("unreadable file: %v", err)
	}
}

func TestFindPandaAuth(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d := func(p string) string { return filepath.Join(root, p) }
	writeFile(t, d("auth/tok"), "auth-dir-token\n")
	writeFile(t, d("parent/tok"), "parent-token")
	writeFile(t, d("proxydir/tok"), "proxy-dir-token")
	writeFile(t, d("src/tok"), "source-token")
	writeFile(t, d("work/tok"), "work-token")
	writeFile(t, d("home/tok"), "home-token")
	writeFile(t, d("refreshed"), "refreshed-token")
	writeFile(t, d("abs/token.txt"), "absolute-token")
	writeFile(t, d("blank/tok"), "\n")
	base := map[string]string{"OIDC_AUTH_TOKEN": "tok", "OIDC_AUTH_ORIGIN": "atlas.pilot",
		"PILOT_SOURCE_DIR": d("src"), "PILOT_WORK_DIR": d("work"), "HOME": d("home")}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name      string
		env       map[string]string
		wantToken string
		wantErr   error
	}{
		{"refreshed first", with("OIDC_REFRESHED_AUTH_TOKEN", d("refreshed"), "OIDC_AUTH_DIR", d("auth")), "refreshed-token", nil},
		{"missing refreshed ignored", with("OIDC_REFRESHED_AUTH_TOKEN", d("gone"), "OIDC_AUTH_DIR", d("auth")), "auth-dir-token", nil},
		{"auth dir", with("OIDC_AUTH_DIR", d("auth")), "auth-dir-token", nil},
		{"PANDA_AUTH_DIR", with("PANDA_AUTH_DIR", d("auth")), "auth-dir-token", nil},
		{"Pilot 3 dirname of the auth dir", with("OIDC_AUTH_DIR", d("parent/sub")), "parent-token", nil},
		{"proxy directory", with("X509_USER_PROXY", d("proxydir/x509up")), "proxy-dir-token", nil},
		{"auth dir beats proxy dir", with("OIDC_AUTH_DIR", d("auth"), "X509_USER_PROXY", d("proxydir/x509up")), "auth-dir-token", nil},
		{"source dir", with(), "source-token", nil},
		{"work dir", with("PILOT_SOURCE_DIR", d("none")), "work-token", nil},
		{"home", with("PILOT_SOURCE_DIR", "", "PILOT_WORK_DIR", ""), "home-token", nil},
		{"PANDA_ names", with("OIDC_AUTH_TOKEN", "", "OIDC_AUTH_ORIGIN", "", "PANDA_AUTH_TOKEN", "tok", "PANDA_AUTH_ORIGIN", "atlas.pilot"), "source-token", nil},
		{"absolute name", with("OIDC_AUTH_TOKEN", d("abs/token.txt")), "absolute-token", nil},
		{"blank token", with("OIDC_AUTH_DIR", d("blank")), "", ErrNoToken},
		{"not found", with("OIDC_AUTH_TOKEN", "other", "HOME", ""), "", ErrNoToken},
		{"no origin", with("OIDC_AUTH_ORIGIN", ""), "", ErrNotConfigured},
		{"no token name", with("OIDC_AUTH_TOKEN", ""), "", ErrNotConfigured},
	}
	for _, tc := range tests {
		a, err := FindPandaAuth(MapEnv(tc.env))
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: %+v %v, want %v", tc.name, a, err, tc.wantErr)
			}
			continue
		}
		if err != nil || a.Token != tc.wantToken || a.Origin != "atlas.pilot" {
			t.Errorf("%s: %+v %v, want token %q", tc.name, a, err, tc.wantToken)
			continue
		}
		h := a.Headers()
		if h.Get("Authorization") != "Bearer "+tc.wantToken || h.Get("Origin") != "atlas.pilot" || len(h) != 2 {
			t.Errorf("%s: headers %v", tc.name, h)
		}
	}
}

func jwt(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tok  string
		want time.Time
		ok   bool
	}{
		{jwt(`{"sub":"x","exp":1700000000}`), time.Unix(1700000000, 0), true},
		{jwt(`{"exp":1700000000.5}`), time.Unix(1700000000, 500000000), true},
		{" " + jwt(`{"exp":1}`) + "\n", time.Unix(1, 0), true},
		{jwt(`{"exp":"1700000000"}`), time.Unix(1700000000, 0), true},
		{jwt(`{"sub":"x"}`), time.Time{}, false},
		{jwt(`{"exp":-5}`), time.Time{}, false},
		{jwt(`{"exp":1e300}`), time.Time{}, false},
		{jwt(`{"exp":true}`), time.Time{}, false},
		{jwt(`not json`), time.Time{}, false},
		{"opaque-token", time.Time{}, false},
		{"a.b", time.Time{}, false},
		{"a.!!!.c", time.Time{}, false},
		{strings.Replace(jwt(`{"exp":10}`), ".", "..", 1), time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := TokenExpiry(tc.tok)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("TokenExpiry(%q) = %v %v, want %v %v", tc.tok, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzTokenExpiry(f *testing.F) {
	f.Add(jwt(`{"exp":1700000000}`))
	f.Add("a.e30.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		exp, ok := TokenExpiry(tok)
		if !ok && !exp.IsZero() {
			t.Fatal("time without ok")
		}
		if ok && exp.Before(time.Unix(0, 0)) {
			t.Fatalf("negative expiry %v", exp)
		}
	})
}

func TestCheckLifetime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		notAfter time.Time
		minimum  time.Duration
		want     error
	}{
		{"plenty", now.Add(96 * time.Hour), 72*time.Hour - 20*time.Minute, nil},
		{"exactly the minimum", now.Add(time.Hour), time.Hour, nil},
		{"too short", now.Add(time.Hour), 72 * time.Hour, ErrTooShort},
		{"expires now", now, 0, ErrExpired},
		{"expired", now.Add(-time.Second), 0, ErrExpired},
		{"zero time", time.Time{}, 0, ErrExpired},
		{"no minimum", now.Add(time.Second), 0, nil},
	}
	for _, tc := range tests {
		err := CheckLifetime(now, tc.notAfter, tc.minimum)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		var le *LifetimeError
		if err != nil && (!errors.As(err, &le) || le.VOMS || errors.Is(err, ErrVOMS) || le.Error() == "") {
			t.Errorf("%s: %#v", tc.name, err)
		}
	}
}
