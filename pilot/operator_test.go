package pilot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseOperatorCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want string // joined argv, "" for an error
	}{
		{"tail -30 payload.stdout", "/usr/bin/tail -30 payload.stdout"},
		{"ls -ltr", "/bin/ls -ltr"},
		{"ps -ef", "/bin/ps -ef"},
		{"du -sk", "/usr/bin/du -sk"},
		{"ls sub/dir", "/bin/ls sub/dir"},
		{"rm -rf .", ""},
		{"tail /etc/shadow", ""},
		{"ls ..", ""},
		{"ls a/../../b", ""},
		{"ls; rm -rf /", ""},
		{"tail $(id)", ""},
		{"ls `id`", ""},
		{"gdb --pid 1", ""},
		{"", ""},
	}
	for _, c := range cases {
		argv, err := ParseOperatorCommand(c.in)
		got := ""
		if err == nil {
			got = strings.Join(argv, " ")
		}
		if got != c.want {
			t.Errorf("ParseOperatorCommand(%q) = %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

func FuzzParseOperatorCommand(f *testing.F) {
	for _, s := range []string{"tail -30 payload.stdout", "ls ..", "ps -ef;x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv, err := ParseOperatorCommand(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(s, ";|&$`") {
			t.Fatalf("accepted shell syntax: %q", s)
		}
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "/") || strings.Contains("/"+a+"/", "/../") {
				t.Fatalf("accepted a path outside the job directory: %q", s)
			}
		}
	})
}

func TestOperatorCommandRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "payload.stdout"), []byte("line1\nline2\nline3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := OperatorCommand(context.Background(), "tail -2 payload.stdout", dir)
	if err != nil || out != "line2\nline3\n" {
		t.Fatalf("out %q err %v", out, err)
	}
}
