package credentials

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Functions of this package wrap them (test with errors.Is). The pilot maps
// them to PanDA error codes:
//
//	ErrNoProxy, ErrInvalidProxy       -> 1163 NOPROXY
//	ErrExpired                        -> 1373 CERTIFICATEHASEXPIRED (1177 NOVOMSPROXY with ErrVOMS)
//	ErrTooShort                       -> 1382 PROXYTOOSHORT        (1177 NOVOMSPROXY with ErrVOMS)
var (
	// ErrNoProxy: no proxy file was found where it was looked for.
	ErrNoProxy = errors.New("no X.509 proxy found")
	// ErrInvalidProxy: a proxy file exists but cannot be used (bad PEM, no certificate,
	// a key that does not match, a broken chain).
	ErrInvalidProxy = errors.New("invalid X.509 proxy")
	// ErrExpired: the credential's lifetime has ended.
	ErrExpired = errors.New("credential has expired")
	// ErrTooShort: the credential is still valid but for less than the required minimum.
	ErrTooShort = errors.New("credential lifetime is too short")
	// ErrVOMS is joined to ErrExpired or ErrTooShort when the limiting lifetime was the VOMS
	// attribute certificate's rather than the proxy chain's.
	ErrVOMS = errors.New("VOMS attributes")
	// ErrInvalidVOMS: the VOMS extension of a proxy could not be decoded.
	ErrInvalidVOMS = errors.New("invalid VOMS attribute certificate")
	// ErrNoToken: no bearer/OIDC token was found, or the token file is empty.
	ErrNoToken = errors.New("no token found")
	// ErrNotConfigured: PanDA OIDC authentication is not enabled by the environment.
	ErrNotConfigured = errors.New("token authentication not configured")
	// ErrUnknownAccount: the local account does not exist.
	ErrUnknownAccount = errors.New("unknown local account")
	// ErrUnmappedDN: the grid-mapfile has no entry for the DN.
	ErrUnmappedDN = errors.New("DN not in grid-mapfile")
	// ErrPoolExhausted: every pool account is leased to a running job.
	ErrPoolExhausted = errors.New("no free pool account")
	// ErrNoPrivilege: the process may not switch to another uid/gid.
	ErrNoPrivilege = errors.New("no privilege to switch identity")
	// ErrBadWrapper: an identity-wrapper template cannot be used.
	ErrBadWrapper = errors.New("invalid identity wrapper")
)

// LifetimeError describes a failed lifetime check. Unwrap yields ErrExpired or ErrTooShort,
// and ErrVOMS as well when VOMS is set.
type LifetimeError struct {
	NotAfter time.Time     // end of the checked lifetime
	Left     time.Duration // time left at the check (<= 0 when expired)
	Minimum  time.Duration // required minimum
	VOMS     bool          // the limit came from a VOMS attribute certificate
	Err      error         // ErrExpired or ErrTooShort
}

func (e *LifetimeError) Error() string {
	what := "credential"
	if e.VOMS {
		what = "VOMS attribute certificate"
	}
	if errors.Is(e.Err, ErrExpired) {
		return fmt.Sprintf("%s expired at %s", what, e.NotAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s lifetime too short: %s left, %s required (until %s)",
		what, e.Left.Round(time.Second), e.Minimum, e.NotAfter.UTC().Format(time.RFC3339))
}

// Unwrap returns the sentinels the error matches.
func (e *LifetimeError) Unwrap() []error {
	if e.VOMS {
		return []error{e.Err, ErrVOMS}
	}
	return []error{e.Err}
}

// CheckLifetime reports whether a credential valid until notAfter still has at least minimum
// left at now. It returns nil, or a *LifetimeError wrapping ErrExpired (now is not before
// notAfter; a zero notAfter counts as expired) or ErrTooShort (notAfter-now < minimum).
func CheckLifetime(now time.Time, notAfter time.Time, minimum time.Duration) error {
	left := notAfter.Sub(now)
	if notAfter.IsZero() || !now.Before(notAfter) {
		return &LifetimeError{NotAfter: notAfter, Left: left, Minimum: minimum, Err: ErrExpired}
	}
	if left < minimum {
		return &LifetimeError{NotAfter: notAfter, Left: left, Minimum: minimum, Err: ErrTooShort}
	}
	return nil
}
