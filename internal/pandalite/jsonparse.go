package pandalite

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// parseValue decodes one JSON value (RFC 8259, as strict as encoding/json)
// into the types of Object: string, json.Number (the literal), bool, nil,
// []any and Object. As encoding/json does, invalid UTF-8 and unpaired
// UTF-16 surrogates in strings become U+FFFD. A repeated key keeps its
// first position and its last value. Values nested deeper than maxNesting
// and data after the value are errors.
func parseValue(data []byte) (any, error) {
	p := jsonParser{data: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// jsonParser is a recursive-descent JSON parser over a byte slice.
type jsonParser struct {
	data []byte
	pos  int
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

// unexpected describes the byte at the current position (or the end).
func (p *jsonParser) unexpected(context string) error {
	if p.pos >= len(p.data) {
		return fmt.Errorf("JSON: unexpected end of data %s", context)
	}
	return p.errorf("invalid character %q %s", p.data[p.pos], context)
}

// value parses the value at the current position (no leading space).
func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxNesting {
		return nil, errors.New("JSON nested too deeply")
	}
	if p.pos >= len(p.data) {
		return nil, p.unexpected("looking for a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.unexpected("looking for a value")
}

func (p *jsonParser) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) || p.data[p.pos] != word[i] {
			return p.unexpected("in literal " + word)
		}
		p.pos++
	}
	return nil
}

// keyIndexFrom is the object size from which duplicate keys are looked up
// in a map rather than by scanning the fields.
const keyIndexFrom = 16

func (p *jsonParser) object(depth int) (Object, error) {
	p.pos++ // '{'
	o := Object{}
	var index map[string]int
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return o, nil
	}
	for {
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.unexpected("looking for an object key")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.unexpected("after object key")
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		switch {
		case index != nil:
			if i, ok := index[key]; ok {
				o[i].Value = v
			} else {
				index[key] = len(o)
				o = append(o, Field{key, v})
			}
		case len(o) >= keyIndexFrom:
			index = make(map[string]int, 2*len(o))
			for i, f := range o {
				index[f.Key] = i
			}
			if i, ok := index[key]; ok {
				o[i].Value = v
			} else {
				index[key] = len(o)
				o = append(o, Field{key, v})
			}
		default:
			o.Set(key, v)
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.unexpected("after object value")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case '}':
			p.pos++
			return o, nil
		default:
			return nil, p.unexpected("after object value")
		}
	}
}

func (p *jsonParser) array(depth int) ([]any, error) {
	p.pos++ // '['
	a := []any{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return a, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.unexpected("after array element")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ']':
			p.pos++
			return a, nil
		default:
			return nil, p.unexpected("after array element")
		}
	}
}

// number parses a number literal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() (json.Number, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case digits() == 0:
		return "", p.unexpected("in numeric literal")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return "", p.unexpected("after decimal point in numeric literal")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return "", p.unexpected("in exponent of numeric literal")
		}
	}
	return json.Number(p.data[start:p.pos]), nil
}

// str parses a string literal at the current position ('"').
func (p *jsonParser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: printable ASCII without escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.pos++
	}
	b := make([]byte, 0, p.pos-start+16)
	b = append(b, p.data[start:p.pos]...)
	for {
		if p.pos >= len(p.data) {
			return "", p.unexpected("in string literal")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(b), nil
		case c < 0x20:
			return "", p.unexpected("in string literal")
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			b = utf8.AppendRune(b, r) // invalid UTF-8 becomes U+FFFD
			p.pos += size
		}
	}
}

// escape decodes the escape sequence at the current position ('\').
func (p *jsonParser) escape() (rune, error) {
	p.pos++
	if p.pos >= len(p.data) {
		return 0, p.unexpected("in string escape code")
	}
	c := p.data[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, p.unexpected("in \\u hexadecimal character escape")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A surrogate pairs with an immediately following \u escape; when it
		// does not, it becomes U+FFFD and the next escape is left alone.
		save := p.pos
		if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
			p.pos += 2
			if r2, ok := p.hex4(); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					return dec, nil
				}
			}
		}
		p.pos = save
		return utf8.RuneError, nil
	}
	p.pos--
	return 0, p.unexpected("in string escape code")
}

// hex4 reads four hexadecimal digits.
func (p *jsonParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}
