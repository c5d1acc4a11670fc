package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// UnixPrefix marks a unix socket address: "unix:/run/pilot/status.sock".
const UnixPrefix = "unix:"

// Server timeouts: the endpoint answers small requests from local tools,
// so anything slow is a stuck or hostile client.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	// shutdownGrace bounds how long Serve waits for requests in flight
	// once its context ends.
	shutdownGrace = 2 * time.Second
)

// Default reasons, when a POST gives none.
const (
	DefaultDrainReason = "drain requested on the node's status endpoint"
	DefaultKillReason  = "job killed by the site on the node's status endpoint"
)

// Server is the status endpoint. New listens at once, so the address is
// taken (or the error known) before the pilot starts working; Serve answers
// requests until its context ends or Close is called.
type Server struct {
	// Now is the clock for uptime and time left; nil means time.Now.
	// Set it before Serve.
	Now func() time.Time

	src  Source
	ctl  Controller
	m    *Metrics
	log  logrus.FieldLogger
	ln   net.Listener
	addr string
	sock *socketFile // nil for TCP
	srv  *http.Server

	closeOnce sync.Once
}

// socketFile is the unix socket's path and the file created there, so that
// Close removes only its own socket.
type socketFile struct {
	path string
	fi   fs.FileInfo
}

type connKey struct{}

// New listens on addr and returns a Server answering from src, ctl and m.
//
// addr is either host:port for TCP (port 0 picks a free port; Addr reports
// it) or UnixPrefix followed by a path for a unix socket. The socket is
// created with mode 0600 (it appears at path only once it has that mode);
// a stale socket already at path (one nobody accepts on) is replaced, while
// a live socket or any other kind of file there is an error. Close removes
// the socket unless another one has replaced it. A TCP address that is not
// a loopback one is allowed but logged as a warning: the admin actions need
// no credentials.
//
// src is required. ctl may be nil: POST /drain and /kill then answer 501.
// m nil means a fresh NewMetrics. log nil discards the log.
func New(addr string, src Source, ctl Controller, m *Metrics, lg logrus.FieldLogger) (*Server, error) {
	if src == nil {
		return nil, errors.New("status endpoint: no source")
	}
	if m == nil {
		m = NewMetrics()
	}
	if lg == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		lg = l
	}
	s := &Server{src: src, ctl: ctl, m: m, log: lg}
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		ln, sock, err := listenUnix(path)
		if err != nil {
			return nil, fmt.Errorf("status endpoint %s: %w", addr, err)
		}
		s.ln, s.sock, s.addr = ln, sock, UnixPrefix+sock.path
	} else {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("status endpoint %q: want host:port or %s/path: %w", addr, UnixPrefix, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("status endpoint: %w", err)
		}
		s.ln, s.addr = ln, ln.Addr().String()
		if !isLoopback(host) {
			lg.WithField("addr", s.addr).Warn("the status endpoint listens beyond loopback: anyone who can reach it may drain the pilot or kill its job")
		}
	}
	s.srv = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(logWriter{lg}, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	lg.WithField("addr", s.addr).Info("status endpoint listening")
	return s, nil
}

// Addr returns the address listened on, in New's form: host:port with the
// real port, or UnixPrefix and the socket's absolute path.
func (s *Server) Addr() string { return s.addr }

// Serve answers requests until ctx ends (requests in flight then get a
// short grace) or Close is called; it then closes the server and returns
// nil. It returns an error only when serving fails otherwise. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		s.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("status endpoint: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), shutdownGrace,
		errors.New("status endpoint: shutdown grace over"))
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.log.WithError(err).Debug("status endpoint: requests cut short at shutdown")
	}
	s.Close()
	<-errc
	return nil
}

// Close stops the server at once, closing open connections, and removes the
// unix socket. It may be called more than once and concurrently with Serve.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.srv.Close()
		if e := s.ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
		if s.sock != nil {
			if fi, e := os.Lstat(s.sock.path); e == nil && os.SameFile(fi, s.sock.fi) {
				if e := os.Remove(s.sock.path); e != nil && err == nil {
					err = e
				}
			}
		}
		s.log.WithField("addr", s.addr).Debug("status endpoint closed")
	})
	return err
}

// listenUnix creates the socket in a fresh private directory next to path,
// sets its mode and renames it into place, so that no other user can
// connect in between.
func listenUnix(path string) (*net.UnixListener, *socketFile, error) {
	if path == "" {
		return nil, nil, errors.New("empty socket path")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	if err := checkStale(path); err != nil {
		return nil, nil, err
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".st")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, *socketFile, error) {
		ln.Close()
		return nil, nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return ln, &socketFile{path: path, fi: fi}, nil
}

// checkStale returns nil when path does not exist or is a socket nobody
// accepts on.
func checkStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by another process", path)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	return fmt.Errorf("%s: cannot tell whether the socket is stale: %w", path, err)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// snapshot returns the Source's snapshot completed by the server.
func (s *Server) snapshot() Snapshot {
	snap := s.src.Snapshot()
	snap.complete(s.now(), s.m)
	return snap
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("POST /drain", s.handleDrain)
	mux.HandleFunc("POST /kill", s.handleKill)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("Origin") != "" {
			s.log.WithFields(logrus.Fields{"path": r.URL.Path, "peer": peer(r)}).Warn("status endpoint: browser request refused")
			http.Error(w, "requests from web pages are refused", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := s.m.WriteText(&b, s.snapshot()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", MetricsContentType)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = w.Write(b.Bytes())
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	s.action(w, r, "drain", DefaultDrainReason, func(reason string) error {
		s.ctl.Drain(reason)
		return nil
	})
}

func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	s.action(w, r, "kill", DefaultKillReason, func(reason string) error {
		return s.ctl.KillJob(reason)
	})
}

// action reads the reason, calls do and answers with an ActionReply.
func (s *Server) action(w http.ResponseWriter, r *http.Request, name, def string, do func(string) error) {
	lg := s.log.WithFields(logrus.Fields{"action": name, "peer": peer(r)})
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var reason string
	if err == nil {
		reason, err = parseReason(r.Header.Get("Content-Type"), body, r.URL.RawQuery)
	}
	if err != nil {
		code := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			code = http.StatusRequestEntityTooLarge
		case errors.Is(err, errUnsupported):
			code = http.StatusUnsupportedMediaType
		}
		lg.WithError(err).Warn("status endpoint: admin request refused")
		writeJSON(w, code, ActionReply{Action: name, Error: err.Error(), Status: s.snapshot()})
		return
	}
	if reason == "" {
		reason = def
	}
	lg = lg.WithField("reason", reason)
	if s.ctl == nil {
		lg.Warn("status endpoint: admin action requested but admin actions are not enabled")
		writeJSON(w, http.StatusNotImplemented, ActionReply{Action: name, Reason: reason,
			Error: "admin actions are not enabled", Status: s.snapshot()})
		return
	}
	if err := do(reason); err != nil {
		lg.WithError(err).Warn("status endpoint: admin action not taken")
		writeJSON(w, http.StatusConflict, ActionReply{Action: name, Reason: reason, Error: err.Error(), Status: s.snapshot()})
		return
	}
	lg.Info("status endpoint: admin action taken")
	writeJSON(w, http.StatusOK, ActionReply{OK: true, Action: name, Reason: reason, Status: s.snapshot()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// peer describes who sent r: the remote address over TCP, the peer's uid
// and pid over a unix socket.
func peer(r *http.Request) string {
	c, ok := r.Context().Value(connKey{}).(*net.UnixConn)
	if !ok {
		return r.RemoteAddr
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return "unix"
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return "unix"
	}
	return fmt.Sprintf("unix uid=%d pid=%d", cred.Uid, cred.Pid)
}

// logWriter sends net/http's own error lines to the log at debug level.
type logWriter struct{ log logrus.FieldLogger }

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Debug("status endpoint: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
