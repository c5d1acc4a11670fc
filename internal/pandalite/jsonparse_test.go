package pandalite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// referenceParseValue is the straightforward parser on encoding/json's
// tokenizer that parseValue must agree with.
func referenceParseValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := referenceDecodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func referenceDecodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxNesting {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				v, err := referenceDecodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.Set(key, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := referenceDecodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

// jsonCases are inputs on which both parsers are compared.
var jsonCases = []string{
	`{}`, `[]`, `{"a": 1}`, ` {"a" : [1, 2.5, -0, 1e5, 1E-5, -1.0e+3, true, false, null]} `,
	`{"z": 1, "a": 2, "z": 3}`, `{"s": "caf\u00e9 \ud83d\ude00 \ud83d x \udc00 \ud83d\u0041 \/\b\f\n\r\t\"\\"}`,
	"{\"bad\": \"\xff\xfe ok \xc3\xa9\"}", `"just a string"`, `12`, `-`, `01`, `1.`, `.5`, `1e`, `+1`,
	`{"a":1,}`, `[1,]`, `{,}`, `{"a" 1}`, `{"a":}`, `{1: 2}`, `tru`, `nul`, `[1 2]`, `{"a":1} x`, `{"a":1}{}`,
	"\"tab\tin\"", `"\x"`, `"\'"`, `"\u12"`, `"\u12g4"`, `"unterminated`, ``, `  `, `[`, `{"a":[{"b":{}}]}`,
	"\ufeff{}", `{"a":"\ud800\udbff"}`, `{"a": 1.50, "b": 100000000000000000000000}`,
	strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 66) + strings.Repeat("]", 66),
	strings.Repeat("[", 65) + "1" + strings.Repeat("]", 65), strings.Repeat("[", 64) + "1" + strings.Repeat("]", 64),
}

// bigObject has more keys than keyIndexFrom, with repeats.
func bigObject() string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 40; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"k%d": %d`, i%25, i)
	}
	b.WriteString("}")
	return b.String()
}

func compareParsers(t *testing.T, in []byte) {
	t.Helper()
	got, gerr := parseValue(in)
	want, werr := referenceParseValue(in)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("parse %q: error %v, reference error %v", in, gerr, werr)
	}
	if gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("parse %q:\n got  %#v\n want %#v", in, got, want)
	}
}

// TestParseValueMatchesReference: the hand-written parser and the one on
// encoding/json's tokenizer accept the same inputs and agree on values.
func TestParseValueMatchesReference(t *testing.T) {
	cases := append([]string{bigObject()}, jsonCases...)
	for _, name := range []string{"observed_job.json", "observed_update_finished.json", "observed_getjob_first.json", "queue_PANDASTUB.json", "storage.json"} {
		cases = append(cases, string(readTestdata(t, name)))
	}
	for _, c := range cases {
		compareParsers(t, []byte(c))
	}
}

// FuzzParseValue: the parser never panics and agrees with the reference.
func FuzzParseValue(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(bigObject()))
	f.Fuzz(func(t *testing.T, in []byte) {
		compareParsers(t, in)
	})
}
