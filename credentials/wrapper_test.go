package credentials

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWrapper(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl string
		want []string
	}{
		{"sudo -n -u {user} --", []string{"sudo", "-n", "-u", "{user}", "--"}},
		{"  setpriv\t--reuid={user}  --init-groups ", []string{"setpriv", "--reuid={user}", "--init-groups"}},
		{`su -s /bin/sh {user} -c`, []string{"su", "-s", "/bin/sh", "{user}", "-c"}},
		{`wrap 'a b' "c d" e\ f`, []string{"wrap", "a b", "c d", "e f"}},
		{`x '' ""`, []string{"x", "", ""}},
		{`x "a\"b\\c\$d\e"`, []string{"x", `a"b\c$d\e`}},
		{`x 'it''s' a"b"c`, []string{"x", "its", "abc"}},
		{"x 'a|b' \"c;d\" \\&", []string{"x", "a|b", "c;d", "&"}},
		{"x \\\ny", []string{"x", "y"}},
		{`x '$HOME'`, []string{"x", "$HOME"}},
	}
	for _, tc := range tests {
		got, err := ParseWrapper(tc.tmpl)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseWrapper(%q) = %q %v, want %q", tc.tmpl, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "   ", "\t\n", `sudo 'x`, `sudo "x`, `sudo x\`, "sudo -u {user} | tee",
		"a; b", "a && b", "a > f", "a $(b)", "a `b`", `a "$HOME"`, "a $HOME", "(a)"} {
		if got, err := ParseWrapper(bad); !errors.Is(err, ErrBadWrapper) {
			t.Errorf("ParseWrapper(%q) = %q %v, want ErrBadWrapper", bad, got, err)
		}
	}
}

func TestExpandWrapper(t *testing.T) {
	t.Parallel()
	words, err := ParseWrapper("sudo -n -u {user} --preserve-env=HOME --user-name={user}{user} --")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ExpandWrapper(words, "atlasprd001", "/bin/sh", "-c", "run {user}")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sudo", "-n", "-u", "atlasprd001", "--preserve-env=HOME", "--user-name=atlasprd001atlasprd001", "--", "/bin/sh", "-c", "run {user}"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if words[3] != "{user}" {
		t.Fatal("template modified")
	}
	for _, bad := range []string{"", "-rf", "a b", "a/b", "a\nb", "a;b", strings.Repeat("a", 300)} {
		if _, err := ExpandWrapper(words, bad); !errors.Is(err, ErrBadWrapper) {
			t.Errorf("ExpandWrapper user %q: %v", bad, err)
		}
	}
}

// shellQuote wraps a word in single quotes for ParseWrapper; each single quote inside
// becomes: quote, backslash, quote, quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func FuzzParseWrapper(f *testing.F) {
	f.Add("sudo -n -u {user} --")
	f.Add(`a 'b c' "d\"e" f\ g`)
	f.Add(`"unterminated`)
	f.Fuzz(func(t *testing.T, tmpl string) {
		words, err := ParseWrapper(tmpl)
		if err != nil {
			if !errors.Is(err, ErrBadWrapper) {
				t.Fatalf("error does not wrap ErrBadWrapper: %v", err)
			}
			return
		}
		if len(words) == 0 {
			t.Fatal("no words without error")
		}
		// Quoting the words and parsing again gives the same words.
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, shellQuote(w))
		}
		again, err := ParseWrapper(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("round trip of %q: %q %v", words, again, err)
		}
	})
}

func TestMyProxyLogonArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server, cred, user string
		life               time.Duration
		want               []string
	}{
		{"myproxy.cern.ch", "prodcred", "atlas-user", 96 * time.Hour,
			[]string{"myproxy-logon", "-s", "myproxy.cern.ch", "-l", "atlas-user", "-k", "prodcred", "-t", "96", "-o", "/w/proxy", "-n"}},
		{"127.0.0.1:27512", "", "u", 90 * time.Minute,
			[]string{"myproxy-logon", "-s", "127.0.0.1", "-p", "27512", "-l", "u", "-t", "2", "-o", "/w/proxy", "-n"}},
		{"[::1]:7512", "c", "", 0,
			[]string{"myproxy-logon", "-s", "::1", "-p", "7512", "-k", "c", "-t", "1", "-o", "/w/proxy", "-n"}},
	}
	for _, tc := range tests {
		got := MyProxyLogonArgs(tc.server, tc.cred, tc.user, tc.life, "/w/proxy")
		if !slices.Equal(got, tc.want) {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
