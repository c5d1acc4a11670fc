package movers

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/gopilot/gopilot/jobdef"
)

// Scheme returns the lower-cased scheme of a URL ("root" for "root://host//p"), "file" for an
// absolute local path, and "" when s is neither (relative path, empty, malformed scheme).
func Scheme(s string) string {
	if strings.HasPrefix(s, "/") {
		return "file"
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return ""
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return ""
		}
	}
	return strings.ToLower(s[:i])
}

// LocalPath returns the cleaned absolute local path named by s: either an absolute path
// (taken literally) or a "file:" URL with an empty or "localhost" host and an absolute path
// ("file:///a/b", "file://localhost/a/b", "file:/a/b"; percent-escapes are decoded). Any
// other form is an error.
func LocalPath(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("path %q contains NUL", s)
	}
	if strings.HasPrefix(s, "/") {
		return filepath.Clean(s), nil
	}
	if Scheme(s) != "file" {
		return "", fmt.Errorf("%q is neither an absolute path nor a file URL", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("bad file URL %q: %w", s, err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("file URL %q names a remote host", s)
	}
	if u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("unsupported file URL %q", s)
	}
	if !strings.HasPrefix(u.Path, "/") || strings.ContainsRune(u.Path, 0) {
		return "", fmt.Errorf("file URL %q has no absolute path", s)
	}
	return filepath.Clean(u.Path), nil
}

// FileURL returns the "file://" URL of an absolute local path.
func FileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.Clean(path)}).String()
}

// Begin makes the checks every transfer between a local file and a remote URL starts
// with: ctx not done, the local side of t (Destination for OpGet, Source for OpPut) a local
// path, and a checksum type the movers know. It returns the local path and the checksum
// type; errors are *Error naming the remote side.
func Begin(ctx context.Context, op string, t Transfer) (local string, typ jobdef.ChecksumType, err error) {
	remote, side, name := t.Source, t.Destination, "destination"
	if op == OpPut {
		remote, side, name = t.Destination, t.Source, "source"
	}
	if e := ContextError(ctx, op, remote); e != nil {
		return "", "", e
	}
	local, err = LocalPath(side)
	if err != nil {
		return "", "", &Error{Op: op, URL: remote, Code: GenericCode(op), Err: fmt.Errorf("%s: %w", name, err)}
	}
	typ = t.ChecksumType()
	if NewHasher(typ) == nil {
		return "", "", &Error{Op: op, URL: remote, Code: jobdef.UnknownChecksumType, Err: fmt.Errorf("unknown checksum type %q", typ)}
	}
	return local, typ, nil
}
