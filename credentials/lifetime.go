package credentials

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// Lifetime checks and their PanDA codes.
//
// Before each getJob the pilot requires every credential it uses to last at least "need"
// (NeedBeforeJob); while a payload runs it requires them to last at least a safety margin
// (RunningMargin), checked every RunningInterval. The outcome is a *jobdef.PilotError:
//
//	situation                                   before getJob (Check)    while running (CheckRunning)
//	proxy/token missing, unreadable, unusable   1163 NOPROXY             1163 NOPROXY, only if no earlier read succeeded
//	X.509 chain or token expired                1373 CERTIFICATEHASEXPIRED
//	X.509 chain or token ends within the need   1382 PROXYTOOSHORT       1373 CERTIFICATEHASEXPIRED (within the margin)
//	a VOMS AC expired or ends within the need   1177 NOVOMSPROXY         1177 NOVOMSPROXY
//
// 1373 rather than 1163 for an expired credential: ERRORCODES.md has a code for exactly
// that ("the certificate/proxy has expired"); Pilot 3 also uses 1373 when the certificate
// is about to expire during a job. Bearer tokens use the same codes as proxies (PanDA has
// no token-specific ones). A token that is not a JWT with an "exp" claim has an unknown
// lifetime and passes every check (its signature is never verified: the exp claim is only
// read).

// Defaults for the checks while a payload runs.
const (
	// RunningMargin: a payload is stopped when a credential has less than this left,
	// leaving time for the log upload and the final update.
	RunningMargin = 10 * time.Minute
	// RunningInterval: how often the credentials are re-checked while a payload runs. It
	// is well below RunningMargin, so that a check always falls inside the margin; a check
	// costs one stat(2) per credential file when nothing changed.
	RunningInterval = time.Minute
)

// NeedBeforeJob is the lifetime a credential must have before the pilot asks for a job:
// the smaller of the configured minimum (--proxy-min-lifetime) and the pilot's remaining
// lifetime (a credential outliving the pilot is enough), but never less than RunningMargin
// (a job started with less would be stopped at once). Negative inputs count as zero.
func NeedBeforeJob(minLifetime, pilotLeft time.Duration) time.Duration {
	return max(min(max(minLifetime, 0), max(pilotLeft, 0)), RunningMargin)
}

// CredentialKind tells what a Lifetime describes.
type CredentialKind int

const (
	// X509Proxy is an X.509 proxy file.
	X509Proxy CredentialKind = iota + 1
	// BearerToken is a bearer token (WLCG or PanDA OIDC).
	BearerToken
)

func (k CredentialKind) String() string {
	switch k {
	case X509Proxy:
		return "X.509 proxy"
	case BearerToken:
		return "bearer token"
	}
	return fmt.Sprintf("CredentialKind(%d)", int(k))
}

// Lifetime is the validity of one credential as read at one moment.
type Lifetime struct {
	// Kind is what was read.
	Kind CredentialKind
	// Source is the file the credential was read from, or the environment variable that
	// held it; safe to log.
	Source string
	// Identity is the proxy's end-entity DN; empty for tokens.
	Identity string
	// NotAfter is the end of the proxy chain (the earliest NotAfter of the proxies and
	// the end-entity certificate) or the token's exp. Zero: unknown (a token without exp).
	NotAfter time.Time
	// VOMSNotAfter is the earliest end of the proxy's VOMS attribute certificates; zero
	// when it has none.
	VOMSNotAfter time.Time
}

// ProxyLifetime is the Lifetime of a parsed proxy read from source.
func ProxyLifetime(p *Proxy, source string) Lifetime {
	l := Lifetime{Kind: X509Proxy, Source: source, Identity: p.Identity, NotAfter: p.NotAfter}
	for _, ac := range p.VOMS {
		if l.VOMSNotAfter.IsZero() || ac.NotAfter.Before(l.VOMSNotAfter) {
			l.VOMSNotAfter = ac.NotAfter
		}
	}
	return l
}

// TokenLifetime is the Lifetime of a bearer token read from source, from its JWT exp
// claim (TokenExpiry: the signature is not verified). A token without one has a zero
// NotAfter (unknown lifetime).
func TokenLifetime(token, source string) Lifetime {
	exp, _ := TokenExpiry(token)
	return Lifetime{Kind: BearerToken, Source: source, NotAfter: exp}
}

// ReadProxyLifetime reads and parses a proxy file. The error is a *jobdef.PilotError with
// code 1163 NOPROXY wrapping ErrNoProxy (missing file) or ErrInvalidProxy.
func ReadProxyLifetime(path string) (Lifetime, error) {
	p, err := LoadProxy(path)
	if err != nil {
		return Lifetime{}, PilotError("X.509 proxy", err)
	}
	return ProxyLifetime(p, path), nil
}

// Known reports whether the lifetime is known (false only for a token without exp).
func (l Lifetime) Known() bool { return !l.NotAfter.IsZero() }

// End is the end of the usable lifetime: the earlier of NotAfter and VOMSNotAfter (when
// set). Zero when unknown.
func (l Lifetime) End() time.Time {
	if !l.VOMSNotAfter.IsZero() && (l.NotAfter.IsZero() || l.VOMSNotAfter.Before(l.NotAfter)) {
		return l.VOMSNotAfter
	}
	return l.NotAfter
}

// Left is the usable lifetime left at now, never negative; for a proxy it is what
// `voms-proxy-info -timeleft` (plain proxy) or the smaller of -timeleft and -actimeleft
// (with VOMS) prints. ok is false when the lifetime is unknown (Left is then 0).
func (l Lifetime) Left(now time.Time) (left time.Duration, ok bool) {
	end := l.End()
	if end.IsZero() {
		return 0, false
	}
	return max(end.Sub(now), 0), true
}

// limitedByVOMS reports whether the VOMS ACs end before the chain does.
func (l Lifetime) limitedByVOMS() bool {
	return !l.VOMSNotAfter.IsZero() && (l.NotAfter.IsZero() || l.VOMSNotAfter.Before(l.NotAfter))
}

func (l Lifetime) what() string {
	s := l.Kind.String()
	if l.Source != "" {
		s += " " + l.Source
	}
	return s
}

// Check is the check before a getJob: nil when the credential lasts at least need from
// now or its lifetime is unknown; otherwise a *jobdef.PilotError with code 1373 (expired),
// 1382 (valid, but for less than need) or 1177 (a VOMS AC expired or ends within need).
// The error wraps a *LifetimeError (ErrExpired or ErrTooShort, and ErrVOMS).
func (l Lifetime) Check(now time.Time, need time.Duration) error {
	if !l.Known() {
		return nil
	}
	err := CheckLifetime(now, l.End(), need)
	if err == nil {
		return nil
	}
	var le *LifetimeError
	if errors.As(err, &le) {
		le.VOMS = l.limitedByVOMS()
	}
	return PilotError(l.what(), err)
}

// CheckRunning is the check while a payload runs: nil when the credential lasts at least
// margin from now or its lifetime is unknown; otherwise a *jobdef.PilotError with code
// 1373 (expired or about to expire) or 1177 (VOMS AC). The error wraps a *LifetimeError.
func (l Lifetime) CheckRunning(now time.Time, margin time.Duration) error {
	err := l.Check(now, margin)
	var pe *jobdef.PilotError
	if errors.As(err, &pe) && pe.Code == jobdef.ProxyTooShort {
		return jobdef.NewError(jobdef.CertificateHasExpired, l.what()+": about to expire: "+pe.Err.Error(), pe.Err)
	}
	return err
}

// PilotError maps an error of this package to its PanDA code (see the table above) as a
// *jobdef.PilotError whose diagnostic is what followed by err, and which wraps err:
//
//	ErrVOMS (with ErrExpired or ErrTooShort)           1177 NOVOMSPROXY
//	ErrExpired                                         1373 CERTIFICATEHASEXPIRED
//	ErrTooShort                                        1382 PROXYTOOSHORT
//	anything else (ErrNoProxy, ErrInvalidProxy,
//	ErrInvalidVOMS, ErrNoToken, I/O errors)            1163 NOPROXY
//
// A *jobdef.PilotError is returned as it is; nil gives nil.
func PilotError(what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *jobdef.PilotError
	if errors.As(err, &pe) {
		return pe
	}
	code := jobdef.NoProxy
	switch {
	case errors.Is(err, ErrVOMS):
		code = jobdef.NoVOMSProxy
	case errors.Is(err, ErrExpired):
		code = jobdef.CertificateHasExpired
	case errors.Is(err, ErrTooShort):
		code = jobdef.ProxyTooShort
	}
	diag := err.Error()
	if what != "" {
		diag = what + ": " + diag
	}
	return jobdef.NewError(code, diag, err)
}
