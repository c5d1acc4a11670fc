package credentials

import (
	"bytes"
	"encoding/pem"
	"io"
	"sort"
	"strings"
	"sync"
)

// RedactMarker replaces every redacted secret.
const RedactMarker = "[REDACTED]"

const (
	keyMarkerMaxType = 20 // longest key type between "BEGIN " and "PRIVATE KEY" ("ENCRYPTED ", "OPENSSH ", ...)
	bearerMaxBlanks  = 8  // blanks allowed between "Bearer" and the token
	bearerMinToken   = 8  // token characters needed before "Bearer x" counts as a token
	keyBeginPrefix   = "-----BEGIN "
	keyEndPrefix     = "-----END "
	keyMarkerSuffix  = "PRIVATE KEY-----"
	patternLookahead = len(keyBeginPrefix) + keyMarkerMaxType + len(keyMarkerSuffix)
)

// Redactor removes secrets from text. It replaces:
//   - every registered secret string (Add, AddPEM), longest match first, by RedactMarker;
//   - every PEM private key block ("-----BEGIN ... PRIVATE KEY-----" through the matching
//     "-----END ... PRIVATE KEY-----", or to the end of the text when the end line never
//     comes), registered or not, by RedactMarker;
//   - the token of every "Bearer <token>" (case-insensitive "bearer", 1 to 8 blanks, then a
//     token of at least 8 RFC 6750 b64token characters), registered or not:
//     "Bearer [REDACTED]".
//
// Text is scanned left to right; a registered secret is recognised everywhere, also inside
// a key block or a bearer token. All methods are safe for concurrent use; a nil *Redactor
// applies the patterns only.
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string]bool
	byFirst [256][]string // secrets by first byte, longest first
	maxLen  int
}

// mayStart reports whether a match (secret or pattern) can begin with byte c.
func (r *Redactor) mayStart(c byte) bool {
	if c == '-' || c == 'b' || c == 'B' {
		return true
	}
	return r != nil && len(r.byFirst[c]) > 0
}

// NewRedactor returns a Redactor that knows the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers secrets. Empty strings are ignored. Secrets should be long enough not to
// occur by chance in ordinary text: every occurrence is replaced.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]bool{}
	}
	for _, s := range secrets {
		if s == "" || r.secrets[s] {
			continue
		}
		r.secrets[s] = true
		list := append(r.byFirst[s[0]], s)
		sort.SliceStable(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
		r.byFirst[s[0]] = list
		r.maxLen = max(r.maxLen, len(s))
	}
}

// AddPEM registers the private key blocks of a PEM file (such as a proxy): each block as
// re-encoded and each of its base64 lines of 16 characters or more, so that a key logged
// line by line or without its BEGIN line is still removed.
func (r *Redactor) AddPEM(data []byte) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		enc := pem.EncodeToMemory(block)
		secrets := []string{string(enc)}
		for _, line := range strings.Split(string(enc), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") {
				secrets = append(secrets, line)
			}
		}
		r.Add(secrets...)
	}
}

// Redact returns s with every secret replaced.
func (r *Redactor) Redact(s string) string {
	var st scanState
	st.buf = []byte(s)
	return string(r.scan(&st, true, make([]byte, 0, len(s))))
}

// lookahead is the number of bytes the scanner needs from a position to decide there.
func (r *Redactor) lookahead() int {
	n := patternLookahead
	if r != nil {
		r.mu.RLock()
		n = max(n, r.maxLen)
		r.mu.RUnlock()
	}
	return n
}

// matchSecret returns the length of the longest registered secret at the start of b.
func (r *Redactor) matchSecret(b []byte) int {
	if r == nil || len(b) == 0 {
		return 0
	}
	for _, s := range r.byFirst[b[0]] {
		if len(s) <= len(b) && string(b[:len(s)]) == s {
			return len(s)
		}
	}
	return 0
}

type scanMode int

const (
	modeText   scanMode = iota
	modeKey             // inside a private key block: drop everything until its end line
	modeBearer          // inside a bearer token: drop token characters
)

// scanState is the part of a scan carried between writes.
type scanState struct {
	mode   scanMode
	prefix int    // bytes of a "Bearer " prefix still to pass before the token starts
	buf    []byte // input not decided yet
}

// scan consumes st.buf as far as it can decide with the lookahead available (everything
// when eof) and appends the output to out. A decision at a position depends only on the
// following lookahead() bytes, so scanning a text in pieces gives the same output as
// scanning it whole.
func (r *Redactor) scan(st *scanState, eof bool, out []byte) []byte {
	look := r.lookahead()
	if r != nil {
		r.mu.RLock()
		defer r.mu.RUnlock()
	}
	buf := st.buf
	i := 0
	for i < len(buf) {
		if !eof && len(buf)-i < look {
			break
		}
		if st.mode == modeText && st.prefix == 0 && !r.mayStart(buf[i]) {
			out = append(out, buf[i]) // fast path: nothing can start here
			i++
			continue
		}
		if n := r.matchSecret(buf[i:]); n > 0 {
			if st.mode == modeText {
				out = append(out, RedactMarker...)
			} // else: dropped; the mode wrote the marker when it began
			i += n
			if st.prefix > 0 {
				st.prefix = max(st.prefix-n, 0)
				if st.prefix == 0 {
					st.mode = modeBearer // the secret ran into the token: the marker is written
				}
			}
			continue
		}
		switch st.mode {
		case modeText:
			if st.prefix > 0 { // inside "Bearer ": pass it on, then hide the token
				out = append(out, buf[i])
				i++
				if st.prefix--; st.prefix == 0 {
					out = append(out, RedactMarker...)
					st.mode = modeBearer
				}
				continue
			}
			if n := matchKeyMarker(buf[i:], keyBeginPrefix); n > 0 {
				out = append(out, RedactMarker...)
				st.mode = modeKey
				i += n
				continue
			}
			if n := matchBearer(buf[i:]); n > 0 {
				st.prefix = n // passed on byte by byte so that registered secrets in it are seen
				continue
			}
			out = append(out, buf[i])
			i++
		case modeKey:
			if n := matchKeyMarker(buf[i:], keyEndPrefix); n > 0 {
				st.mode = modeText
				i += n
				continue
			}
			i++
		case modeBearer:
			if isTokenChar(buf[i]) {
				i++
				continue
			}
			st.mode = modeText
		}
	}
	if eof && st.mode == modeBearer {
		st.mode = modeText
	}
	if eof {
		st.prefix = 0
	}
	st.buf = append([]byte(nil), buf[i:]...)
	return out
}

// matchKeyMarker matches prefix + up to keyMarkerMaxType of [A-Z0-9 ] + "PRIVATE KEY-----".
func matchKeyMarker(b []byte, prefix string) int {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return 0
	}
	rest := b[len(prefix):]
	for k := 0; k <= keyMarkerMaxType && k < len(rest); k++ {
		if bytes.HasPrefix(rest[k:], []byte(keyMarkerSuffix)) {
			return len(prefix) + k + len(keyMarkerSuffix)
		}
		c := rest[k]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ') {
			return 0
		}
	}
	return 0
}

// matchBearer returns the length of "Bearer" plus blanks when a token follows, else 0.
func matchBearer(b []byte) int {
	const word = "bearer"
	if len(b) < len(word) || !strings.EqualFold(string(b[:len(word)]), word) {
		return 0
	}
	j := len(word)
	for j < len(b) && j < len(word)+bearerMaxBlanks && (b[j] == ' ' || b[j] == '\t') {
		j++
	}
	if j == len(word) {
		return 0
	}
	n := 0
	for j+n < len(b) && n < bearerMinToken && isTokenChar(b[j+n]) {
		n++
	}
	if n < bearerMinToken {
		return 0
	}
	return j
}

// isTokenChar: RFC 6750 b64token characters and '=' padding.
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}

// RedactWriter is an io.Writer that redacts what passes through it (see Redactor.Writer).
type RedactWriter struct {
	r *Redactor
	w io.Writer

	mu     sync.Mutex
	st     scanState
	err    error
	closed bool
}

// Writer returns a writer that passes everything written to it on to w with secrets
// redacted, whatever the split into writes: it holds back up to the longest secret's length
// (at least patternLookahead bytes) between writes, and drops a private key block's content
// as it arrives. Flush writes out what is held back, treating it as the end of the text (a
// secret split across a Flush is not recognised, so flush at message boundaries only);
// Close flushes and makes further writes fail. Close does not close w. The output of a
// stream without intermediate Flush calls equals Redact of its concatenation (given the
// same registered secrets).
func (r *Redactor) Writer(w io.Writer) *RedactWriter {
	return &RedactWriter{r: r, w: w}
}

// Write redacts p into the underlying writer. It returns len(p) when the held-back and
// redacted bytes were written out; an error of the underlying writer is returned by this
// and every later call.
func (w *RedactWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	if w.err != nil {
		return 0, w.err
	}
	w.st.buf = append(w.st.buf, p...)
	out := w.r.scan(&w.st, false, nil)
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			w.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes out the held-back bytes, redacted as the end of a text.
func (w *RedactWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *RedactWriter) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	out := w.r.scan(&w.st, true, nil)
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// Close flushes; later writes fail. It does not close the underlying writer.
func (w *RedactWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flushLocked()
}
