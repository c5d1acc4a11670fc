package credentials

import (
	"fmt"
	"strings"
)

// UserPlaceholder is replaced by the account name in identity-wrapper templates.
const UserPlaceholder = "{user}"

// ParseWrapper splits an identity-wrapper template such as "sudo -n -u {user} --" into
// words the way a POSIX shell splits a simple command, without expanding anything: blanks
// separate words; 'single quotes' keep everything literally; inside "double quotes" a
// backslash escapes only $ ` " \ and newline; outside quotes a backslash escapes the next
// character (a backslash-newline is removed). The command is run without a shell, so
// unquoted shell operators (| & ; < > ( ) $ `) are rejected rather than silently passed
// on as arguments. An empty template, an unterminated quote or a trailing backslash are
// errors wrapping ErrBadWrapper. The words may contain UserPlaceholder; see ExpandWrapper.
func ParseWrapper(tmpl string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		escaped bool
	)
	const (
		plain = iota
		single
		double
	)
	state := plain
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		switch state {
		case single:
			if c == '\'' {
				state = plain
			} else {
				cur.WriteByte(c)
			}
			continue
		case double:
			if escaped {
				escaped = false
				switch c {
				case '$', '`', '"', '\\':
					cur.WriteByte(c)
				case '\n':
				default:
					cur.WriteByte('\\')
					cur.WriteByte(c)
				}
				continue
			}
			switch c {
			case '\\':
				escaped = true
			case '"':
				state = plain
			case '$', '`':
				return nil, fmt.Errorf("%w: %q: expansion %q inside double quotes is not supported", ErrBadWrapper, tmpl, c)
			default:
				cur.WriteByte(c)
			}
			continue
		}
		if escaped {
			escaped = false
			if c != '\n' {
				cur.WriteByte(c)
				inWord = true
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\\':
			escaped = true
		case '\'':
			state, inWord = single, true
		case '"':
			state, inWord = double, true
		case '|', '&', ';', '<', '>', '(', ')', '$', '`':
			return nil, fmt.Errorf("%w: %q: shell operator %q is not supported (the wrapper runs without a shell; quote it to pass it literally)", ErrBadWrapper, tmpl, c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if state != plain {
		return nil, fmt.Errorf("%w: %q: unterminated quote", ErrBadWrapper, tmpl)
	}
	if escaped {
		return nil, fmt.Errorf("%w: %q: trailing backslash", ErrBadWrapper, tmpl)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty template", ErrBadWrapper)
	}
	return words, nil
}

// ExpandWrapper returns a new argv: words with every UserPlaceholder replaced by user,
// followed by command. user must be a plausible account name (letters, digits, '.', '_',
// '-', not starting with '-') so that it cannot turn into an option or several words.
func ExpandWrapper(words []string, user string, command ...string) ([]string, error) {
	if !validAccountName(user) {
		return nil, fmt.Errorf("%w: account name %q", ErrBadWrapper, user)
	}
	out := make([]string, 0, len(words)+len(command))
	for _, w := range words {
		out = append(out, strings.ReplaceAll(w, UserPlaceholder, user))
	}
	return append(out, command...), nil
}

func validAccountName(s string) bool {
	if s == "" || len(s) > 256 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
