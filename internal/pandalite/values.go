package pandalite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxNesting bounds the nesting depth of decoded JSON values.
const maxNesting = 64

// Field is one key/value pair of an ordered JSON object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object that keeps its keys in wire order. Values are
// string, json.Number (the literal as received), bool, nil, []any or Object.
// Job definitions are stored and served as Objects so that a job comes back
// to the pilot with the fields, order and types it was submitted with.
type Object []Field

// Get returns the value of key and whether it is present.
func (o Object) Get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// Str returns the Python str() form of key's value, or "" when absent.
func (o Object) Str(key string) string {
	v, ok := o.Get(key)
	if !ok {
		return ""
	}
	return pyStr(v)
}

// Set replaces the value of key in place, or appends key when absent.
func (o *Object) Set(key string, v any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, Field{key, v})
}

// Delete removes key.
func (o *Object) Delete(key string) {
	out := (*o)[:0]
	for _, f := range *o {
		if f.Key != key {
			out = append(out, f)
		}
	}
	*o = out
}

// Strings returns every value in Python str() form, as a legacy server
// handler would see it in its keyword arguments.
func (o Object) Strings() map[string]string {
	m := make(map[string]string, len(o))
	for _, f := range o {
		m[f.Key] = pyStr(f.Value)
	}
	return m
}

// MarshalJSON encodes o the way Python's json.dumps does (", " and ": "
// separators, ASCII only), keeping the key order.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// objectFromStrings builds an Object from a string map, keys sorted.
func objectFromStrings(m map[string]string) Object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o := make(Object, 0, len(keys))
	for _, k := range keys {
		o = append(o, Field{k, m[k]})
	}
	return o
}

// ParseObject decodes a JSON object keeping key order and number literals.
// A repeated key keeps its first position and its last value (as Python does).
// Trailing data after the object is an error.
func ParseObject(data []byte) (Object, error) {
	v, err := parseValue(data)
	if err != nil {
		return nil, err
	}
	o, ok := v.(Object)
	if !ok {
		return nil, fmt.Errorf("JSON value is %s, not an object", pyTypeName(v))
	}
	return o, nil
}

// isFloatLiteral reports whether a JSON number is a Python float (has a
// fraction or an exponent) rather than an int.
func isFloatLiteral(n json.Number) bool {
	return strings.ContainsAny(string(n), ".eE")
}

// pyNumber renders a JSON number literal as Python's str()/repr() would
// render the value json.loads made of it.
func pyNumber(n json.Number) string {
	s := string(n)
	if !isFloatLiteral(n) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(i, 10) // normalises "-0"
		}
		return s // big integers stay exact in Python
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return s
	}
	return pyFloat(f)
}

// pyFloat renders f like Python's repr(float).
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pyStr renders v as Python's str() of the value json.loads would produce.
func pyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return pyNumber(t)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return pyFloat(t)
	default:
		return pyRepr(v)
	}
}

// pyRepr renders v as Python's repr().
func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch t := v.(type) {
	case string:
		b.WriteString(pyQuote(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case []string:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(e))
		}
		b.WriteByte(']')
	case Object:
		b.WriteByte('{')
		for i, f := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(f.Key))
			b.WriteString(": ")
			writeRepr(b, f.Value)
		}
		b.WriteByte('}')
	default:
		b.WriteString(pyStr(v))
	}
}

// pyQuote renders s as Python's repr() of a str.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyTypeName is the Python type name of a decoded JSON value.
func pyTypeName(v any) string {
	switch t := v.(type) {
	case string:
		return "str"
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case json.Number:
		if isFloatLiteral(t) {
			return "float"
		}
		return "int"
	case []any:
		return "list"
	case Object:
		return "dict"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// writeJSON writes v as Python's json.dumps would (default separators,
// ensure_ascii). Supported: the Object value types plus int, int64,
// float64, []string, map[string]any (keys sorted) and []Object.
func writeJSON(b *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(b, t)
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		if !isFloatLiteral(t) {
			b.WriteString(pyNumber(t))
			break
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			b.WriteString(string(t))
			break
		}
		writeJSONFloat(b, f)
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		writeJSONFloat(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []string:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, e)
		}
		b.WriteByte(']')
	case []Object:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case Object:
		b.WriteByte('{')
		for i, f := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, f.Key)
			b.WriteString(": ")
			if err := writeJSON(b, f.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := make(Object, 0, len(keys))
		for _, k := range keys {
			o = append(o, Field{k, t[k]})
		}
		return writeJSON(b, o)
	default:
		return fmt.Errorf("cannot encode %T as JSON", v)
	}
	return nil
}

func writeJSONFloat(b *bytes.Buffer, f float64) {
	switch {
	case math.IsInf(f, 1):
		b.WriteString("Infinity")
	case math.IsInf(f, -1):
		b.WriteString("-Infinity")
	case math.IsNaN(f):
		b.WriteString("NaN")
	default:
		b.WriteString(pyFloat(f))
	}
}

// writeJSONString writes s as a JSON string with Python's ensure_ascii
// escaping (non-ASCII as \uXXXX, astral runes as surrogate pairs).
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r >= 0x7f && r < 0x10000):
				if r == 0x7f {
					b.WriteRune(r)
					continue
				}
				b.WriteString(`\u`)
				b.WriteByte(hex[r>>12&0xf])
				b.WriteByte(hex[r>>8&0xf])
				b.WriteByte(hex[r>>4&0xf])
				b.WriteByte(hex[r&0xf])
			case r >= 0x10000:
				r -= 0x10000
				hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
				for _, u := range []rune{hi, lo} {
					b.WriteString(`\u`)
					b.WriteByte(hex[u>>12&0xf])
					b.WriteByte(hex[u>>8&0xf])
					b.WriteByte(hex[u>>4&0xf])
					b.WriteByte(hex[u&0xf])
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
