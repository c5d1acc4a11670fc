package pandalite

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// TLSConfig loads a server certificate and key (PEM files) and requests,
// without verifying, a client certificate: grid proxies (RFC 3820) do not
// pass Go's verifier, and a test server only records the client's subject.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pandalite: TLS key pair: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// Instance is a server listening on a TCP address.
type Instance struct {
	// URL is the base URL pilots use, e.g. "http://127.0.0.1:41234" or
	// "https://127.0.0.1:41234".
	URL string
	// Addr is the address actually listened on.
	Addr net.Addr

	srv  *http.Server
	done chan error
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves h
// until Shutdown; with tlsConf non-nil it serves HTTPS. It returns once
// the listener is open, so the address is usable at once. The server's
// own error log (client hang-ups, TLS handshake failures) goes to log at
// debug level; nil discards it.
func Start(h http.Handler, addr string, tlsConf *tls.Config, log logrus.FieldLogger) (*Instance, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pandalite: listen %s: %w", addr, err)
	}
	scheme := "http"
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if log == nil {
		srv.ErrorLog = stdlog.New(io.Discard, "", 0)
	} else {
		srv.ErrorLog = newStdLogger(log)
	}
	in := &Instance{URL: scheme + "://" + ln.Addr().String(), Addr: ln.Addr(), srv: srv, done: make(chan error, 1)}
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		in.done <- err
	}()
	return in, nil
}

// Shutdown stops accepting connections and waits, until ctx ends, for
// the calls in progress to finish; then it closes what is left. Call it
// once.
func (in *Instance) Shutdown(ctx context.Context) error {
	err := in.srv.Shutdown(ctx)
	if err != nil {
		_ = in.srv.Close()
	}
	if serr := <-in.done; serr != nil && err == nil {
		err = serr
	}
	return err
}

// logWriter turns the http.Server's error log lines into debug entries
// (they are mostly client hang-ups and TLS handshake failures).
type logWriter struct{ log logrus.FieldLogger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Debug(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newStdLogger(log logrus.FieldLogger) *stdlog.Logger {
	return stdlog.New(logWriter{log.WithField("component", "http")}, "", 0)
}
