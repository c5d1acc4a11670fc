package credentials

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// Source is one credential a Checker watches: a proxy file, or a token found again by its
// discovery rules at each read. Build it with ProxySource, BearerTokenSource or
// PandaTokenSource.
type Source struct {
	name string
	// read returns the credential's lifetime. key identifies the file version read (for
	// the cache) and is empty when the source cannot be cached; prev is the key of the
	// previous successful read, and unchanged reports that the file is still that version
	// (lt is then not set).
	read func(prev string) (lt Lifetime, key string, unchanged bool, err error)
}

// Name describes the source for logs (a path or a description, never a secret).
func (s Source) Name() string { return s.name }

// ProxySource watches the proxy file at path. The file is parsed again only when its
// inode, size, modification or change time differ from the last read, so a proxy renewed
// on disk (in place or by rename) is seen and an unchanged one costs one stat(2).
func ProxySource(path string) Source {
	return Source{name: path, read: func(prev string) (Lifetime, string, bool, error) {
		key, err := fileKey(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("%w: %s", ErrNoProxy, path)
			} else {
				err = fmt.Errorf("%w: %v", ErrInvalidProxy, err)
			}
			return Lifetime{}, "", false, PilotError("X.509 proxy", err)
		}
		if key == prev {
			return Lifetime{}, key, true, nil
		}
		lt, err := ReadProxyLifetime(path)
		return lt, key, false, err
	}}
}

// BearerTokenSource watches the WLCG bearer token found by FindBearerToken(env, uid) at
// each read (BEARER_TOKEN, BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<uid>, /tmp/bt_u<uid>).
func BearerTokenSource(env func(string) string, uid int) Source {
	return Source{name: "WLCG bearer token", read: func(string) (Lifetime, string, bool, error) {
		tok, src, err := FindBearerToken(env, uid)
		if err != nil {
			return Lifetime{}, "", false, PilotError("WLCG bearer token", err)
		}
		return TokenLifetime(tok, src), "", false, nil
	}}
}

// PandaTokenSource watches PanDA's OIDC token found by FindPandaAuth(env) at each read
// (the refreshed token file first).
func PandaTokenSource(env func(string) string) Source {
	return Source{name: "PanDA OIDC token", read: func(string) (Lifetime, string, bool, error) {
		a, err := FindPandaAuth(env)
		if err != nil {
			return Lifetime{}, "", false, PilotError("PanDA OIDC token", err)
		}
		return TokenLifetime(a.Token, a.Path), "", false, nil
	}}
}

// fileKey identifies a version of a file: device, inode, size, modification and change
// times.
func fileKey(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), nil
}

// Checker watches the credentials the pilot uses and answers lifetime questions about
// them, reading them again at each question (the site may renew them on disk). It is safe
// for concurrent use. A Checker without sources accepts everything.
type Checker struct {
	mu      sync.Mutex
	watched []*watched
}

type watched struct {
	src  Source
	key  string   // file version of last
	last Lifetime // last successful read
	good bool     // a read has succeeded
}

// NewChecker returns a Checker of the sources.
func NewChecker(sources ...Source) *Checker {
	c := &Checker{}
	for _, s := range sources {
		c.watched = append(c.watched, &watched{src: s})
	}
	return c
}

// Empty reports whether the Checker has no source.
func (c *Checker) Empty() bool { return c == nil || len(c.watched) == 0 }

// readLocked re-reads w; on success w.last is current.
func (w *watched) readLocked() error {
	lt, key, unchanged, err := w.src.read(w.key)
	if err != nil {
		return err
	}
	if !unchanged {
		w.last, w.key = lt, key
	}
	w.good = true
	return nil
}

// Lifetimes reads every source again and returns the lifetimes of those that could be
// read, in source order, and the read failures joined (each a *jobdef.PilotError with
// code 1163).
func (c *Checker) Lifetimes() ([]Lifetime, error) {
	if c.Empty() {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		out  []Lifetime
		errs []error
	)
	for _, w := range c.watched {
		if err := w.readLocked(); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, w.last)
	}
	return out, errors.Join(errs...)
}

// TimeLeft reads every source again and returns the shortest time left among the
// credentials whose lifetime is known, and that credential. ok is false when none is
// known. Sources that cannot be read count with their last successful read, or are
// skipped.
func (c *Checker) TimeLeft(now time.Time) (left time.Duration, which Lifetime, ok bool) {
	if c.Empty() {
		return 0, Lifetime{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.watched {
		if err := w.readLocked(); err != nil && !w.good {
			continue
		}
		if l, known := w.last.Left(now); known && (!ok || l < left) {
			left, which, ok = l, w.last, true
		}
	}
	return left, which, ok
}

// Check is the check before a getJob (Lifetime.Check on each source read again): nil
// when every credential lasts at least need (NeedBeforeJob); otherwise a
// *jobdef.PilotError: 1163 when a source cannot be read (missing, unreadable, unusable),
// else 1373/1382/1177 for the credential that ends first among the failing ones.
func (c *Checker) Check(now time.Time, need time.Duration) error {
	if c.Empty() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		worst    error
		worstEnd time.Time
	)
	for _, w := range c.watched {
		if err := w.readLocked(); err != nil {
			return err
		}
		if err := w.last.Check(now, need); err != nil && (worst == nil || w.last.End().Before(worstEnd)) {
			worst, worstEnd = err, w.last.End()
		}
	}
	return worst
}

// CheckRunning is the check while a payload runs (Lifetime.CheckRunning with margin,
// normally RunningMargin, on each source read again). It returns a *jobdef.PilotError
// (1373 or 1177, for the credential that ends first) when the payload must be stopped. A
// source that cannot be read this time is judged on its last successful read, and its
// read failure is returned as a plain error (not a *jobdef.PilotError: a proxy being
// replaced on disk must not kill the payload) when nothing else fails; a source never read
// successfully gives its 1163 *jobdef.PilotError.
func (c *Checker) CheckRunning(now time.Time, margin time.Duration) error {
	if c.Empty() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		worst    error
		worstEnd time.Time
		soft     []error
	)
	for _, w := range c.watched {
		if err := w.readLocked(); err != nil {
			if !w.good {
				return err
			}
			soft = append(soft, fmt.Errorf("re-reading %s failed, judging it by its last read: %w", w.src.name, plain(err)))
		}
		if err := w.last.CheckRunning(now, margin); err != nil && (worst == nil || w.last.End().Before(worstEnd)) {
			worst, worstEnd = err, w.last.End()
		}
	}
	if worst != nil {
		return worst
	}
	return errors.Join(soft...)
}

// plain returns the cause of a *jobdef.PilotError, so that errors.As on the result finds
// no PilotError.
func plain(err error) error {
	var pe *jobdef.PilotError
	if errors.As(err, &pe) && pe.Err != nil {
		return pe.Err
	}
	if pe != nil {
		return errors.New(pe.Diag)
	}
	return err
}

// With returns a new Checker watching c's sources and more (for example a job's payload
// credential, ProxySource of its file). The new Checker reads every source afresh.
func (c *Checker) With(sources ...Source) *Checker {
	var all []Source
	if c != nil {
		c.mu.Lock()
		for _, w := range c.watched {
			all = append(all, w.src)
		}
		c.mu.Unlock()
	}
	return NewChecker(append(all, sources...)...)
}
