package credentials

import (
	"net"
	"strconv"
	"time"
)

// MyProxyLogonArgs builds the argv of a myproxy-logon call that retrieves a credential
// without a pass phrase, authenticating with the caller's own credential (X509_USER_PROXY
// or X509_USER_CERT/KEY in its environment; the server must list that DN as a trusted
// retriever):
//
//	myproxy-logon -s <host> [-p <port>] [-l <username>] [-k <credname>] -t <hours> -o <out> -n
//
// A server given as "host:port" is split into -s and -p. Empty username or credname are
// left out (myproxy-logon then uses $LOGNAME and the default credential). The lifetime is
// rounded up to whole hours (myproxy-logon takes integer hours), at least 1. The caller
// runs it with a timeout and sets X509_CERT_DIR (and MYPROXY_SERVER_DN when the server
// certificate does not match the host name dialled) in its environment.
func MyProxyLogonArgs(server, credname, username string, lifetime time.Duration, out string) []string {
	host, port := server, ""
	if h, p, err := net.SplitHostPort(server); err == nil {
		host, port = h, p
	}
	args := []string{"myproxy-logon", "-s", host}
	if port != "" {
		args = append(args, "-p", port)
	}
	if username != "" {
		args = append(args, "-l", username)
	}
	if credname != "" {
		args = append(args, "-k", credname)
	}
	hours := int64((lifetime + time.Hour - 1) / time.Hour)
	if hours < 1 {
		hours = 1
	}
	return append(args, "-t", strconv.FormatInt(hours, 10), "-o", out, "-n")
}
