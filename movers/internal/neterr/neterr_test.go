package neterr

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

func TestCode(t *testing.T) {
	for _, c := range []struct {
		op    string
		err   error
		code  jobdef.ErrorCode
		retry bool
	}{
		{movers.OpGet, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, jobdef.StageInFailed, true},
		{movers.OpPut, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, jobdef.StageOutFailed, true},
		{movers.OpGet, &net.OpError{Op: "dial", Err: syscall.ENETUNREACH}, jobdef.UnreachableNetwork, true},
		{movers.OpGet, errors.New("remote error: tls: bad certificate"), jobdef.StageInAuthenticationFailure, false},
		{movers.OpPut, errors.New("remote error: tls: bad certificate"), jobdef.StageOutAuthenticationFailure, false},
		{movers.OpGet, &net.DNSError{IsTimeout: true}, jobdef.StageInTimeout, true},
		{movers.OpPut, fmt.Errorf("put: %w", x509.UnknownAuthorityError{}), jobdef.StageOutFailed, false},
	} {
		if code, retry := Code(c.op, c.err); code != c.code || retry != c.retry {
			t.Errorf("Code(%s, %v) = %d, %v; want %d, %v", c.op, c.err, code, retry, c.code, c.retry)
		}
	}
}
