package status

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkClean fails unless s is what cleanReason promises.
func checkClean(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) || len(s) > MaxReasonLen || strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		t.Fatalf("not clean: %q", s)
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') {
			t.Fatalf("rune %U in %q", r, s)
		}
	}
	if cleanReason(s) != s {
		t.Fatalf("cleanReason not idempotent on %q", s)
	}
}

func FuzzParseReason(f *testing.F) {
	for _, s := range [][3]string{
		{"", "", ""},
		{"application/json", `{"reason":"disk failing"}`, ""},
		{"application/json; charset=utf-8", `{"reason":null,"x":[1,2]}`, "reason=q"},
		{"application/json", `{"reason":42}`, ""},
		{"application/json", `{"reason":"\u0000\u202e\ud800"}`, ""},
		{"application/x-www-form-urlencoded", "reason=a+b&reason=c", ""},
		{"application/x-www-form-urlencoded", "reason=%zz", ""},
		{"text/plain", "line one\r\nline two", ""},
		{"", "no type", "reason=%ff%fe"},
		{"multipart/form-data; boundary=x", "--x--", ""},
		{"text/plain; charset=", "x", ""},
		{"", "", "reason=" + strings.Repeat("%e2%82%ac", 200)},
	} {
		f.Add(s[0], []byte(s[1]), s[2])
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte, query string) {
		r, err := parseReason(ctype, body, query)
		if err != nil {
			if r != "" {
				t.Fatalf("reason %q with error %v", r, err)
			}
			return
		}
		checkClean(t, r)
	})
}

func FuzzCleanReason(f *testing.F) {
	for _, s := range []string{"", " a  b ", "\x00\x1f\x7f", "é\xff\xfe", strings.Repeat("€", 100), "a\u200bb\u202ec", "\t\n\v\f\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := cleanReason(s)
		checkClean(t, r)
		// Nothing printable is invented: every non-space rune of the
		// result comes from the input, in order.
		in := []rune(strings.ToValidUTF8(s, ""))
		i := 0
		for _, c := range r {
			if c == ' ' {
				continue
			}
			for i < len(in) && in[i] != c {
				i++
			}
			if i == len(in) {
				t.Fatalf("%q: rune %q not from the input %q", r, c, s)
			}
			i++
		}
	})
}

// FuzzMetricsLabels writes caller-given label values (outcome, operation,
// identity) and reads them back with the strict exposition checker.
func FuzzMetricsLabels(f *testing.F) {
	for _, s := range []string{"finished", "", `a"b\c`, "x\ny", "\xff", "other", "{le=\"1\"}"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, outcome, op string) {
		m := NewMetrics()
		m.JobDone(outcome)
		m.ServerError(op)
		snap := completed(newFakePilot().Snapshot(), m)
		snap.PilotID, snap.Node = outcome, op
		var b bytes.Buffer
		if err := m.WriteText(&b, snap); err != nil {
			t.Fatal(err)
		}
		x, err := checkExposition(b.String())
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		want := func(v string) string {
			if v == "" {
				return "unknown"
			}
			return strings.ToValidUTF8(v, "\uFFFD")
		}
		if v, _ := x.get("gopilot_jobs_total", "outcome", want(outcome)); v < 1 {
			t.Fatalf("outcome %q not counted:\n%s", outcome, b.String())
		}
		if v, _ := x.get("gopilot_server_errors_total", "op", want(op)); v != 1 {
			t.Fatalf("op %q not counted:\n%s", op, b.String())
		}
		if id, _ := x.families[0].samples[0].label("pilot_id"); id != strings.ToValidUTF8(outcome, "\uFFFD") {
			t.Fatalf("pilot_id %q, want %q", id, outcome)
		}
	})
}
