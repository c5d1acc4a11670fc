package davs

import "crypto/x509"

// x509UnknownAuthority is the error of a server certificate from an unknown CA.
type x509UnknownAuthority = x509.UnknownAuthorityError
