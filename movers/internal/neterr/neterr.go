// Package neterr maps the error of a network request that got no answer (dial, TLS,
// timeout) to a PanDA code, for the movers that speak HTTP themselves (davs, s3).
package neterr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

// Code maps a failed request of operation op (movers.OpGet or movers.OpPut) to a PanDA
// code and whether another attempt may succeed: a server certificate that does not verify
// is 1099/1137 (not retryable), a client certificate refused in the TLS handshake
// 1338/1383, an unreachable network 1327, a network timeout 1151/1152, anything else
// 1099/1137 (retryable).
func Code(op string, err error) (jobdef.ErrorCode, bool) {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var ne net.Error
	switch {
	case errors.As(err, &cve), errors.As(err, &uae):
		return movers.GenericCode(op), false
	case strings.Contains(err.Error(), "remote error: tls:"):
		if op == movers.OpGet {
			return jobdef.StageInAuthenticationFailure, false
		}
		return jobdef.StageOutAuthenticationFailure, false
	case errors.Is(err, syscall.ENETUNREACH):
		return jobdef.UnreachableNetwork, true
	case errors.As(err, &ne) && ne.Timeout():
		return movers.TimeoutCode(op), true
	}
	return movers.GenericCode(op), true
}
