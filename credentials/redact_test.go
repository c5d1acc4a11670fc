package credentials

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

const testKeyBlock = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretkeymaterial\nAAAA+/==\n-----END RSA PRIVATE KEY-----\n"

func TestRedact(t *testing.T) {
	t.Parallel()
	r := NewRedactor("s3cr3t-token", "s3cr3t", "", "pass phrase")
	tests := []struct {
		in, want string
	}{
		{"nothing here", "nothing here"},
		{"token=s3cr3t-token;", "token=[REDACTED];"},
		{"short s3cr3t and s3cr3t-token", "short [REDACTED] and [REDACTED]"},
		{"my pass phrase is", "my [REDACTED] is"},
		{"Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln\nnext", "Authorization: Bearer [REDACTED]\nnext"},
		{"authorization: bearer\tabcdefgh12345678 x", "authorization: bearer\t[REDACTED] x"},
		{"the bearer of news", "the bearer of news"},
		{"Bearer short", "Bearer short"},
		{"Bearer s3cr3t-token-and-more", "Bearer [REDACTED]"},
		{"before\n" + testKeyBlock + "after", "before\n[REDACTED]\nafter"},
		{"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY----- tail", "[REDACTED] tail"},
		{"-----BEGIN EC PRIVATE KEY-----\nabc never ends", "[REDACTED]"},
		{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		{"-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----", "[REDACTED]"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := r.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var nilR *Redactor
	if got := nilR.Redact("Bearer abcdefghijkl s3cr3t"); got != "Bearer [REDACTED] s3cr3t" {
		t.Errorf("nil redactor: %q", got)
	}
}

func TestRedactPEM(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	ee := ca.issue(t, userDN(t), time.Hour)
	px := makeProxy(t, ee, proxyOpts{kind: kindRFC, lifetime: time.Hour})
	file := proxyFile(t, px, ee)
	r := NewRedactor()
	r.AddPEM(file)
	keyLines := strings.Split(strings.TrimSpace(string(px.keyPEM(t))), "\n")
	body := keyLines[1]
	out := r.Redact("dump:\n" + string(file) + "\nline only: " + body + "\n")
	if strings.Contains(out, body) || strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("key material survived:\n%s", out)
	}
	if !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Fatalf("certificates should pass:\n%s", out)
	}
}

// writeSplit writes data to w in pieces cut at the given points.
func writeSplit(t testing.TB, w io.Writer, data []byte, cuts []int) {
	prev := 0
	for _, c := range cuts {
		if c < prev || c > len(data) {
			continue
		}
		if _, err := w.Write(data[prev:c]); err != nil {
			t.Fatal(err)
		}
		prev = c
	}
	if _, err := w.Write(data[prev:]); err != nil {
		t.Fatal(err)
	}
}

func TestRedactWriterSplits(t *testing.T) {
	t.Parallel()
	secret := "tok-0123456789abcdef"
	r := NewRedactor(secret)
	text := "a " + secret + " b Authorization: Bearer abcdefghijklmnop c\n" + testKeyBlock + "d " + secret
	want := r.Redact(text)
	// every split into two and three pieces
	for i := 0; i <= len(text); i++ {
		for _, j := range []int{i, i + 1, i + 7, len(text)} {
			var out bytes.Buffer
			w := r.Writer(&out)
			writeSplit(t, w, []byte(text), []int{i, j})
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Fatalf("split %d,%d: %q, want %q", i, j, out.String(), want)
			}
		}
	}
	// byte by byte
	var out bytes.Buffer
	w := r.Writer(&out)
	for i := 0; i < len(text); i++ {
		if _, err := w.Write([]byte{text[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), "a [REDACTED]") || strings.Contains(out.String(), secret) {
		// the tail is still held back before Flush, but nothing secret may have passed
		t.Fatalf("before flush: %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Fatalf("byte by byte: %q", out.String())
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after close accepted")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRedactWriterError(t *testing.T) {
	t.Parallel()
	w := NewRedactor().Writer(failWriter{})
	data := bytes.Repeat([]byte("x"), 200)
	if _, err := w.Write(data); err == nil {
		t.Fatal("error not returned")
	}
	if _, err := w.Write(data); err == nil || w.Flush() == nil {
		t.Fatal("error not sticky")
	}
}

// FuzzRedactWriter checks the redaction oracle: whatever the secrets and the split of the
// text into writes, no registered secret appears in the output (outside the markers), the
// streamed output equals Redact of the whole text, and text that holds no secret and
// nothing a pattern matches passes through unchanged.
func FuzzRedactWriter(f *testing.F) {
	f.Add([]byte("hello world"), "lo w", "xyz", uint64(1))
	f.Add([]byte("aaaaaaaaaa"), "aa", "aaa", uint64(7))
	f.Add([]byte("Bearer abcdefghijk secret"), "secret", "cre", uint64(3))
	f.Add([]byte("k -----BEGIN PRIVATE KEY-----\nzz\n-----END PRIVATE KEY-----"), "zz", "", uint64(9))
	f.Fuzz(func(t *testing.T, text []byte, s1, s2 string, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		// Put the secrets into the text at random places.
		var b bytes.Buffer
		for i := 0; i <= len(text); i++ {
			if rng.IntN(8) == 0 && s1 != "" {
				b.WriteString(s1)
			}
			if rng.IntN(8) == 0 && s2 != "" {
				b.WriteString(s2)
			}
			if i < len(text) {
				b.WriteByte(text[i])
			}
		}
		full := b.Bytes()
		r := NewRedactor(s1, s2)
		var cuts []int
		for i := 0; i < rng.IntN(6); i++ {
			cuts = append(cuts, rng.IntN(len(full)+1))
		}
		slices.Sort(cuts)
		var out bytes.Buffer
		w := r.Writer(&out)
		writeSplit(t, w, full, cuts)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if whole := r.Redact(string(full)); got != whole {
			t.Fatalf("stream %q != whole %q", got, whole)
		}
		for _, piece := range strings.Split(got, RedactMarker) {
			for _, s := range []string{s1, s2} {
				if s != "" && strings.Contains(piece, s) {
					t.Fatalf("secret %q survived in %q (input %q)", s, got, full)
				}
			}
		}
		plain := string(text)
		if (s1 == "" || !strings.Contains(plain, s1)) && (s2 == "" || !strings.Contains(plain, s2)) &&
			!strings.Contains(strings.ToLower(plain), "bearer") && !strings.Contains(plain, "-----BEGIN") {
			var out2 bytes.Buffer
			w2 := r.Writer(&out2)
			writeSplit(t, w2, text, cuts)
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			if out2.String() != plain {
				t.Fatalf("clean text changed: %q -> %q", plain, out2.String())
			}
		}
	})
}

func BenchmarkRedactWriter(b *testing.B) {
	r := NewRedactor("eyJhbGciOiJSUzI1NiJ9.secret-token-value", "another-secret-0123456789")
	line := []byte("2026-01-01 12:00:00 INFO pilot: stage-in of EVNT.12345._000001.pool.root.1 done in 3.2 s (adler32 0a1b2c3d)\n")
	b.SetBytes(int64(len(line)))
	w := r.Writer(io.Discard)
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}
