package jobdef

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxPyDepth bounds the nesting of containers accepted by the Python-literal parser.
const maxPyDepth = 64

// ParsePythonLiteral parses a Python literal as written by Python's repr()/str() of plain data,
// e.g. the dict of a --overwriteQueueData= directive or a dict value rendered by a legacy
// server in urlencoded mode. The whole of s must be one literal (surrounding whitespace is
// allowed).
//
// Accepted: dicts (string keys only) -> map[string]any; lists and tuples -> []any (a
// parenthesised single value without a comma is that value); strings in ' or " with an optional
// u/U prefix, Python escapes (\\ \' \" \n \r \t \a \b \f \v \0-\777 octal, \xHH, \uHHHH,
// \UHHHHHHHH, backslash-newline) and implicit concatenation of adjacent literals -> string;
// integers (optional sign, '_' separators) -> int64; floats (with '.', exponent, or
// inf-free decimal forms) -> float64; True/False -> bool; None -> nil. The JSON spellings
// true/false/null are accepted as well. Trailing commas are allowed. Anything else (names,
// expressions, bytes, sets, triple-quoted strings, integers outside int64, nesting deeper than
// 64) is an error; the parser never panics and never executes anything.
func ParsePythonLiteral(s string) (any, error) {
	v, n, err := parsePythonPrefix(s)
	if err != nil {
		return nil, err
	}
	if rest := strings.TrimSpace(s[n:]); rest != "" {
		return nil, Errorf(ConversionFailure, "python literal: unexpected %q after value", cutForDiag(rest))
	}
	return v, nil
}

// parsePythonPrefix parses one literal at the start of s (after optional whitespace) and
// returns it with the number of bytes consumed.
func parsePythonPrefix(s string) (any, int, error) {
	p := &pyParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, 0, err
	}
	return v, p.i, nil
}

type pyParser struct {
	s     string
	i     int
	depth int
}

func (p *pyParser) errf(format string, args ...any) error {
	return Errorf(ConversionFailure, "python literal at offset %d: "+format, append([]any{p.i}, args...)...)
}

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.i++
		default:
			return
		}
	}
}

func (p *pyParser) value() (any, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errf("unexpected end of input")
	}
	c := p.s[p.i]
	switch {
	case c == '{':
		return p.dict()
	case c == '[':
		return p.list('[', ']')
	case c == '(':
		return p.list('(', ')')
	case c == '\'' || c == '"':
		return p.strings()
	case (c == 'u' || c == 'U') && p.i+1 < len(p.s) && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"'):
		p.i++
		return p.strings()
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case isIdentStart(c):
		start := p.i
		for p.i < len(p.s) && isIdentChar(p.s[p.i]) {
			p.i++
		}
		switch word := p.s[start:p.i]; word {
		case "True", "true":
			return true, nil
		case "False", "false":
			return false, nil
		case "None", "null":
			return nil, nil
		default:
			p.i = start
			return nil, p.errf("name %q is not a literal", cutForDiag(word))
		}
	}
	return nil, p.errf("unexpected character %q", c)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func (p *pyParser) enter() error {
	p.depth++
	if p.depth > maxPyDepth {
		return p.errf("nesting deeper than %d", maxPyDepth)
	}
	return nil
}

func (p *pyParser) dict() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // '{'
	m := map[string]any{}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated dict")
		}
		if p.s[p.i] == '}' {
			p.i++
			return m, nil
		}
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, p.errf("dict key %v is not a string", k)
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errf("expected ':' after dict key %q", cutForDiag(ks))
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[ks] = v
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated dict")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.errf("expected ',' or '}' in dict, got %q", p.s[p.i])
		}
	}
}

func (p *pyParser) list(open, closing byte) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // open
	out := []any{}
	sawComma := false
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated %c", open)
		}
		if p.s[p.i] == closing {
			p.i++
			if open == '(' && len(out) == 1 && !sawComma {
				return out[0], nil // parenthesised value, not a tuple
			}
			return out, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated %c", open)
		}
		switch p.s[p.i] {
		case ',':
			sawComma = true
			p.i++
		case closing:
			// handled at the top of the loop
		default:
			return nil, p.errf("expected ',' or %q, got %q", closing, p.s[p.i])
		}
	}
}

// strings parses one or more adjacent string literals and concatenates them.
func (p *pyParser) strings() (any, error) {
	var b strings.Builder
	for {
		if err := p.str(&b); err != nil {
			return nil, err
		}
		save := p.i
		p.skipSpace()
		if p.i < len(p.s) && (p.s[p.i] == '\'' || p.s[p.i] == '"') {
			continue
		}
		if p.i+1 < len(p.s) && (p.s[p.i] == 'u' || p.s[p.i] == 'U') && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"') {
			p.i++
			continue
		}
		p.i = save
		return b.String(), nil
	}
}

func (p *pyParser) str(b *strings.Builder) error {
	q := p.s[p.i]
	if p.i+2 < len(p.s) && p.s[p.i+1] == q && p.s[p.i+2] == q {
		return p.errf("triple-quoted strings are not supported")
	}
	p.i++
	for {
		if p.i >= len(p.s) {
			return p.errf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return nil
		case c == '\n' || c == '\r':
			return p.errf("newline in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		// escape
		p.i++
		if p.i >= len(p.s) {
			return p.errf("unterminated escape")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '\n':
			// line continuation
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := int(e - '0')
			for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
				n = n*8 + int(p.s[p.i]-'0')
				p.i++
			}
			b.WriteRune(rune(n))
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if p.i+width > len(p.s) {
				return p.errf("truncated \\%c escape", e)
			}
			n, err := strconv.ParseUint(p.s[p.i:p.i+width], 16, 32)
			if err != nil {
				return p.errf("bad \\%c escape", e)
			}
			p.i += width
			if n > utf8.MaxRune {
				return p.errf("\\%c escape out of range", e)
			}
			b.WriteRune(rune(n))
		default:
			// Python keeps unknown escapes literally.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
}

func (p *pyParser) number() (any, error) {
	start := p.i
	neg := false
	for p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
		if p.s[p.i] == '-' {
			neg = !neg
		}
		p.i++
		p.skipSpace()
	}
	body := p.i
	isFloat := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9', c == '_':
		case c == '.':
			isFloat = true
		case c == 'e' || c == 'E':
			isFloat = true
			if p.i+1 < len(p.s) && (p.s[p.i+1] == '+' || p.s[p.i+1] == '-') {
				p.i++
			}
		default:
			goto done
		}
		p.i++
	}
done:
	text := strings.ReplaceAll(p.s[body:p.i], "_", "")
	if text == "" || text == "." {
		p.i = start
		return nil, p.errf("bad number")
	}
	if p.i < len(p.s) && isIdentChar(p.s[p.i]) {
		p.i = start
		return nil, p.errf("bad number")
	}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			p.i = start
			return nil, p.errf("bad float %q", cutForDiag(text))
		}
		if neg {
			f = -f
		}
		return f, nil
	}
	if neg {
		text = "-" + text
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		p.i = start
		return nil, p.errf("bad integer %q", cutForDiag(text))
	}
	return n, nil
}

// cutForDiag shortens s for use inside an error message.
func cutForDiag(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return truncUTF8(s, n) + "..."
}
