package jobdef

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParsePythonLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"{}", map[string]any{}},
		{"{'a': 1}", map[string]any{"a": int64(1)}},
		{`{"a": -2, 'b': +3,}`, map[string]any{"a": int64(-2), "b": int64(3)}},
		{"[1, 2.5, -1e3, .5, 1., 1_000]", []any{int64(1), 2.5, -1000.0, 0.5, 1.0, int64(1000)}},
		{"(1, 'x')", []any{int64(1), "x"}},
		{"(1,)", []any{int64(1)}},
		{"(1)", int64(1)},
		{"()", []any{}},
		{"True", true},
		{"False", false},
		{"None", nil},
		{"null", nil},
		{`'it\'s'`, "it's"},
		{`"a\"b"`, `a"b`},
		{`'\n\t\\\x41\u00e9\U0001F600\101\0'`, "\n\t\\Aé😀A\x00"},
		{`'unknown \d escape'`, `unknown \d escape`},
		{`u'unicode'`, "unicode"},
		{`'con' "cat" 'enation'`, "concatenation"},
		{"'ünï'", "ünï"},
		{" \n {'nested': {'l': [[], {}, ('t',)]}} \n", map[string]any{"nested": map[string]any{"l": []any{[]any{}, map[string]any{}, []any{"t"}}}}},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"--5", int64(5)},
		{"'a'  # not a comment"[:5], "a"},
	}
	for _, tc := range tests {
		got, err := ParsePythonLiteral(tc.in)
		if err != nil {
			t.Errorf("ParsePythonLiteral(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePythonLiteral(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	bad := []string{
		"", "{", "{'a' 1}", "{'a': 1", "{1: 2}", "[1 2]", "'unterminated", "'''triple'''", "__import__('os')",
		"os.system", "1 + 1", "9223372036854775808", "{'a': 1} extra", "'new\nline'", `'\x4'`, `'\u12'`, "b'bytes'",
		"{1, 2}", "1e", "-", ".", "1abc", "inf", "nan", "[" + strings.Repeat("[", 100) + strings.Repeat("]", 101),
		`'\U00110000'`,
	}
	for _, in := range bad {
		if v, err := ParsePythonLiteral(in); err == nil {
			t.Errorf("ParsePythonLiteral(%q) = %#v, want error", in, v)
		} else if CodeOf(err) != ConversionFailure {
			t.Errorf("ParsePythonLiteral(%q) code %d", in, CodeOf(err))
		}
	}
	// Depth at the limit is accepted.
	deep := strings.Repeat("[", maxPyDepth) + strings.Repeat("]", maxPyDepth)
	if _, err := ParsePythonLiteral(deep); err != nil {
		t.Errorf("depth %d rejected: %v", maxPyDepth, err)
	}
}
