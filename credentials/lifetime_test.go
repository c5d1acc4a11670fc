package credentials

import (
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

func TestNeedBeforeJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		min, left, want time.Duration
	}{
		{2 * time.Hour, 90 * time.Hour, 2 * time.Hour},
		{2 * time.Hour, time.Hour, time.Hour},
		{2 * time.Hour, time.Minute, RunningMargin},
		{0, 90 * time.Hour, RunningMargin},
		{-time.Hour, -time.Hour, RunningMargin},
		{72 * time.Hour, 100 * time.Hour, 72 * time.Hour},
	}
	for _, tc := range tests {
		if got := NeedBeforeJob(tc.min, tc.left); got != tc.want {
			t.Errorf("NeedBeforeJob(%v, %v) = %v, want %v", tc.min, tc.left, got, tc.want)
		}
	}
}

func TestLifetimeChecks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(d float64) time.Time { return now.Add(time.Duration(d * float64(time.Hour))) }
	proxy := func(chain, voms time.Time) Lifetime {
		return Lifetime{Kind: X509Proxy, Source: "/tmp/x509up_u1", NotAfter: chain, VOMSNotAfter: voms}
	}
	token := func(exp time.Time) Lifetime {
		return Lifetime{Kind: BearerToken, Source: "BEARER_TOKEN", NotAfter: exp}
	}
	tests := []struct {
		name             string
		l                Lifetime
		need             time.Duration
		start, running   jobdef.ErrorCode // codes of Check(need) and CheckRunning(need)
		sentinel         error
		left             time.Duration
		known, vomsLimit bool
	}{
		{"plenty", proxy(h(96), time.Time{}), 72 * time.Hour, 0, 0, nil, 96 * time.Hour, true, false},
		{"exactly the need", proxy(h(2), time.Time{}), 2 * time.Hour, 0, 0, nil, 2 * time.Hour, true, false},
		{"too short", proxy(h(1), time.Time{}), 2 * time.Hour, jobdef.ProxyTooShort, jobdef.CertificateHasExpired, ErrTooShort, time.Hour, true, false},
		{"expired", proxy(h(-1), time.Time{}), 0, jobdef.CertificateHasExpired, jobdef.CertificateHasExpired, ErrExpired, 0, true, false},
		{"expires now", proxy(now, time.Time{}), 0, jobdef.CertificateHasExpired, jobdef.CertificateHasExpired, ErrExpired, 0, true, false},
		{"VOMS AC too short", proxy(h(12), h(1)), 2 * time.Hour, jobdef.NoVOMSProxy, jobdef.NoVOMSProxy, ErrVOMS, time.Hour, true, true},
		{"VOMS AC expired", proxy(h(12), h(-1)), time.Minute, jobdef.NoVOMSProxy, jobdef.NoVOMSProxy, ErrVOMS, 0, true, true},
		{"VOMS AC longer than the chain", proxy(h(1), h(12)), 2 * time.Hour, jobdef.ProxyTooShort, jobdef.CertificateHasExpired, ErrTooShort, time.Hour, true, false},
		{"VOMS AC fine", proxy(h(12), h(11)), 2 * time.Hour, 0, 0, nil, 11 * time.Hour, true, true},
		{"token fine", token(h(3)), 2 * time.Hour, 0, 0, nil, 3 * time.Hour, true, false},
		{"token too short", token(h(0.5)), time.Hour, jobdef.ProxyTooShort, jobdef.CertificateHasExpired, ErrTooShort, 30 * time.Minute, true, false},
		{"token expired", token(h(-0.5)), time.Hour, jobdef.CertificateHasExpired, jobdef.CertificateHasExpired, ErrExpired, 0, true, false},
		{"opaque token", token(time.Time{}), 72 * time.Hour, 0, 0, nil, 0, false, false},
	}
	for _, tc := range tests {
		left, known := tc.l.Left(now)
		if left != tc.left || known != tc.known || known != tc.l.Known() || tc.l.limitedByVOMS() != tc.vomsLimit {
			t.Errorf("%s: Left %v %v, want %v %v (VOMS limit %v)", tc.name, left, known, tc.left, tc.known, tc.l.limitedByVOMS())
		}
		for _, c := range []struct {
			fn   string
			err  error
			want jobdef.ErrorCode
		}{{"Check", tc.l.Check(now, tc.need), tc.start}, {"CheckRunning", tc.l.CheckRunning(now, tc.need), tc.running}} {
			if got := jobdef.CodeOf(c.err); got != c.want {
				t.Errorf("%s: %s = %v (code %d), want code %d", tc.name, c.fn, c.err, got, c.want)
				continue
			}
			if c.err == nil {
				continue
			}
			var pe *jobdef.PilotError
			var le *LifetimeError
			if !errors.As(c.err, &pe) || !errors.As(c.err, &le) || !errors.Is(c.err, tc.sentinel) {
				t.Errorf("%s: %s = %#v: not a PilotError wrapping a LifetimeError and %v", tc.name, c.fn, c.err, tc.sentinel)
			}
			if !strings.Contains(pe.Diag, tc.l.Source) || (tc.vomsLimit != errors.Is(c.err, ErrVOMS)) {
				t.Errorf("%s: %s diag %q", tc.name, c.fn, pe.Diag)
			}
		}
	}
}

func TestPilotErrorMapping(t *testing.T) {
	t.Parallel()
	already := jobdef.NewError(jobdef.StageInFailed, "x", nil)
	tests := []struct {
		err  error
		want jobdef.ErrorCode
	}{
		{nil, 0},
		{ErrNoProxy, jobdef.NoProxy},
		{ErrInvalidProxy, jobdef.NoProxy},
		{errors.Join(ErrInvalidProxy, ErrInvalidVOMS), jobdef.NoProxy},
		{ErrNoToken, jobdef.NoProxy},
		{os.ErrPermission, jobdef.NoProxy},
		{&LifetimeError{Err: ErrExpired}, jobdef.CertificateHasExpired},
		{&LifetimeError{Err: ErrTooShort}, jobdef.ProxyTooShort},
		{&LifetimeError{Err: ErrExpired, VOMS: true}, jobdef.NoVOMSProxy},
		{&LifetimeError{Err: ErrTooShort, VOMS: true}, jobdef.NoVOMSProxy},
		{already, jobdef.StageInFailed},
	}
	for _, tc := range tests {
		err := PilotError("proxy", tc.err)
		if got := jobdef.CodeOf(err); got != tc.want {
			t.Errorf("PilotError(%v) code %d, want %d", tc.err, got, tc.want)
		}
		if tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("PilotError(%v) does not wrap its cause", tc.err)
		}
	}
}

// writeProxy writes a Go-made RFC proxy of a fresh user, valid for lifetime (and with a
// VOMS AC ending after acLifetime when that is not zero), by rename as a renewal would.
func writeProxy(t *testing.T, ca *testCA, path string, lifetime, acLifetime time.Duration) {
	t.Helper()
	user := ca.issue(t, userDN(t), 30*24*time.Hour)
	var extra []pkix.Extension
	if acLifetime != 0 {
		now := time.Now()
		ac := buildAC(t, user, user, acOpts{vo: "testvo", server: "voms.example:15000", fqans: []string{"/testvo"},
			notBefore: now.Add(-time.Hour), notAfter: now.Add(acLifetime)})
		extra = append(extra, vomsExtension(ac))
	}
	px := makeProxy(t, user, proxyOpts{kind: kindRFC, lifetime: lifetime, extra: extra})
	tmp := path + ".new"
	if err := os.WriteFile(tmp, proxyFile(t, px, user), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The Checker sees a proxy renewed on disk, a proxy removed, and judges a running payload
// by the last good read while the file is missing.
func TestCheckerProxyRenewal(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	path := filepath.Join(t.TempDir(), "x509up")
	writeProxy(t, ca, path, time.Hour, 0)
	c := NewChecker(ProxySource(path))
	now := time.Now()

	if code := jobdef.CodeOf(c.Check(now, 2*time.Hour)); code != jobdef.ProxyTooShort {
		t.Fatalf("1 h proxy, need 2 h: code %d", code)
	}
	if err := c.CheckRunning(now, RunningMargin); err != nil {
		t.Fatalf("1 h proxy while running: %v", err)
	}
	writeProxy(t, ca, path, 5*time.Hour, 0) // the site renews it
	if err := c.Check(now, 2*time.Hour); err != nil {
		t.Fatalf("renewed proxy: %v", err)
	}
	if left, which, ok := c.TimeLeft(now); !ok || which.Source != path || left < 4*time.Hour || left > 5*time.Hour+time.Since(now) {
		t.Errorf("TimeLeft %v %+v %v", left, which, ok)
	}
	writeProxy(t, ca, path, 5*time.Hour, 30*time.Minute) // renewed with a short VOMS AC
	if code := jobdef.CodeOf(c.Check(now, 2*time.Hour)); code != jobdef.NoVOMSProxy {
		t.Errorf("short VOMS AC: code %d", code)
	}
	writeProxy(t, ca, path, 5*time.Hour, 0)
	if err := c.Check(now, 2*time.Hour); err != nil {
		t.Fatalf("renewed again: %v", err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := c.Check(now, 2*time.Hour)
	if jobdef.CodeOf(err) != jobdef.NoProxy || !errors.Is(err, ErrNoProxy) {
		t.Errorf("missing proxy before getJob: %v", err)
	}
	err = c.CheckRunning(now, RunningMargin)
	var pe *jobdef.PilotError
	if err == nil || errors.As(err, &pe) || !errors.Is(err, ErrNoProxy) {
		t.Errorf("missing proxy while running, last read good: %#v, want a plain error", err)
	}
	if code := jobdef.CodeOf(c.CheckRunning(now.Add(5*time.Hour-time.Minute), RunningMargin)); code != jobdef.CertificateHasExpired {
		t.Errorf("missing proxy, last read ending within the margin: code %d", code)
	}
	if err := os.WriteFile(path, []byte("not a proxy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(now, 0); jobdef.CodeOf(err) != jobdef.NoProxy || !errors.Is(err, ErrInvalidProxy) {
		t.Errorf("garbage proxy: %v", err)
	}

	// never read successfully: 1163 at once, also while running
	fresh := NewChecker(ProxySource(filepath.Join(t.TempDir(), "none")))
	if code := jobdef.CodeOf(fresh.CheckRunning(now, RunningMargin)); code != jobdef.NoProxy {
		t.Errorf("never read, running: code %d", code)
	}
	if _, _, ok := fresh.TimeLeft(now); ok {
		t.Error("TimeLeft of an unreadable source")
	}
	lts, err := fresh.Lifetimes()
	if len(lts) != 0 || jobdef.CodeOf(err) != jobdef.NoProxy {
		t.Errorf("Lifetimes %v %v", lts, err)
	}
}

func TestCheckerTokensAndSeveralSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	exp := func(d time.Duration) string {
		return jwt(`{"sub":"pilot","exp":` + strconv.FormatInt(now.Add(d).Unix(), 10) + `}`)
	}
	btFile := writeFile(t, filepath.Join(dir, "bt"), exp(3*time.Hour))
	pandaFile := writeFile(t, filepath.Join(dir, "panda_token"), exp(5*time.Hour))
	env := MapEnv(map[string]string{"BEARER_TOKEN_FILE": btFile, "OIDC_AUTH_TOKEN": pandaFile, "OIDC_AUTH_ORIGIN": "test.pilot"})
	ca := newTestCA(t)
	proxyPath := filepath.Join(dir, "x509up")
	writeProxy(t, ca, proxyPath, 10*time.Hour, 0)
	c := NewChecker(ProxySource(proxyPath), BearerTokenSource(env, 4242), PandaTokenSource(env))

	if err := c.Check(now, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	left, which, ok := c.TimeLeft(now)
	if !ok || which.Kind != BearerToken || which.Source != btFile || left > 3*time.Hour || left < 3*time.Hour-time.Minute {
		t.Errorf("TimeLeft %v %+v %v", left, which, ok)
	}
	lts, err := c.Lifetimes()
	if err != nil || len(lts) != 3 || lts[0].Kind != X509Proxy || lts[2].Source != pandaFile {
		t.Errorf("Lifetimes %+v %v", lts, err)
	}
	err = c.Check(now, 4*time.Hour)
	if jobdef.CodeOf(err) != jobdef.ProxyTooShort || !strings.Contains(err.Error(), btFile) {
		t.Errorf("need 4 h: %v", err)
	}
	// the token is refreshed on disk
	writeFile(t, btFile, exp(8*time.Hour))
	if err := c.Check(now, 4*time.Hour); err != nil {
		t.Errorf("refreshed token: %v", err)
	}
	// a token expires: the earliest failing credential is reported
	writeFile(t, pandaFile, exp(-time.Minute))
	if err := c.CheckRunning(now, RunningMargin); jobdef.CodeOf(err) != jobdef.CertificateHasExpired || !strings.Contains(err.Error(), pandaFile) {
		t.Errorf("expired PanDA token while running: %v", err)
	}
	// an opaque token has no known lifetime and passes
	writeFile(t, pandaFile, "opaque-token-value")
	if err := c.Check(now, 4*time.Hour); err != nil {
		t.Errorf("opaque token: %v", err)
	}
	for _, l := range mustLifetimes(t, c) {
		if strings.Contains(l.Source, "opaque") || strings.Contains(l.Identity, "opaque") {
			t.Errorf("token value in a Lifetime: %+v", l)
		}
	}
	// a token that vanishes: 1163 before getJob
	if err := os.Remove(btFile); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(now, time.Hour); jobdef.CodeOf(err) != jobdef.NoProxy || !errors.Is(err, ErrNoToken) {
		t.Errorf("missing token: %v", err)
	}
	// With adds a source; the original is unchanged
	more := c.With(ProxySource(filepath.Join(dir, "payload-proxy")))
	if jobdef.CodeOf(more.CheckRunning(now, RunningMargin)) != jobdef.NoProxy || len(c.watched) != 3 || len(more.watched) != 4 {
		t.Errorf("With: %d and %d sources", len(c.watched), len(more.watched))
	}
	var empty *Checker
	if !empty.Empty() || empty.Check(now, time.Hour) != nil || empty.CheckRunning(now, time.Hour) != nil || !NewChecker().Empty() {
		t.Error("an empty Checker must accept everything")
	}
}

func mustLifetimes(t *testing.T, c *Checker) []Lifetime {
	t.Helper()
	lts, err := c.Lifetimes()
	if err != nil {
		t.Fatal(err)
	}
	return lts
}

// FuzzTokenLifetime: whatever the token, the lifetime checks never panic, never report a
// negative time left, only use the token codes, and never carry the token; a JWT with an
// integer exp gives exactly that time.
func FuzzTokenLifetime(f *testing.F) {
	f.Add(jwt(`{"exp":1700000000}`), int64(1700000000), int64(3600))
	f.Add("a.e30.c", int64(0), int64(0))
	f.Add("", int64(-1), int64(-5))
	f.Add(jwt(`{"exp":1e3}`), int64(1<<53-1), int64(1<<40))
	f.Add("x."+strings.Repeat("A", 300)+".y", int64(42), int64(7))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, tok string, exp, needSec int64) {
		need := time.Duration(needSec) * time.Second
		for _, tk := range []string{tok, jwt(`{"sub":"s","exp":` + strconv.FormatInt(exp, 10) + `}`)} {
			l := TokenLifetime(tk, "BEARER_TOKEN")
			left, ok := l.Left(now)
			if left < 0 || ok != l.Known() || (!ok && left != 0) {
				t.Fatalf("Left %v %v", left, ok)
			}
			start, running := l.Check(now, need), l.CheckRunning(now, need)
			if !ok && (start != nil || running != nil) {
				t.Fatalf("unknown lifetime rejected: %v / %v", start, running)
			}
			switch jobdef.CodeOf(start) {
			case 0, jobdef.CertificateHasExpired, jobdef.ProxyTooShort:
			default:
				t.Fatalf("Check code %v", start)
			}
			switch jobdef.CodeOf(running) {
			case 0, jobdef.CertificateHasExpired:
			default:
				t.Fatalf("CheckRunning code %v", running)
			}
			if len(tk) >= 8 {
				for _, err := range []error{start, running} {
					if err != nil && strings.Contains(err.Error(), tk) {
						t.Fatalf("token in the error %q", err)
					}
				}
			}
		}
		if exp >= 0 && exp < 1<<53 {
			l := TokenLifetime(jwt(`{"exp":`+strconv.FormatInt(exp, 10)+`}`), "f")
			if !l.NotAfter.Equal(time.Unix(exp, 0)) {
				t.Fatalf("exp %d read as %v", exp, l.NotAfter)
			}
		}
	})
}

func BenchmarkReadProxyLifetime(b *testing.B) {
	ca := newTestCA(b)
	user := ca.issue(b, userDN(b), 24*time.Hour)
	path := filepath.Join(b.TempDir(), "x509up")
	if err := os.WriteFile(path, proxyFile(b, makeProxy(b, user, proxyOpts{kind: kindRFC, lifetime: 12 * time.Hour}), user), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := ReadProxyLifetime(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checker-unchanged", func(b *testing.B) {
		c := NewChecker(ProxySource(path))
		for b.Loop() {
			if err := c.CheckRunning(time.Now(), RunningMargin); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCheckerToken(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bt")
	tok := jwt(`{"sub":"pilot","exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `,"scope":"storage.read:/ storage.modify:/","wlcg.ver":"1.0"}`)
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		b.Fatal(err)
	}
	c := NewChecker(BearerTokenSource(MapEnv(map[string]string{"BEARER_TOKEN_FILE": path}), 1))
	for b.Loop() {
		if err := c.CheckRunning(time.Now(), RunningMargin); err != nil {
			b.Fatal(err)
		}
	}
}
