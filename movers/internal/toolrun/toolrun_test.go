package toolrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/timedcmd"
)

func TestMergeEnv(t *testing.T) {
	for _, c := range []struct {
		base, add []string
		override  bool
		want      []string
	}{
		{[]string{"A=1", "B=2", "A=3"}, []string{"B=x", "C=y"}, false, []string{"A=3", "B=2", "C=y"}},
		{[]string{"A=1"}, []string{"A=2"}, true, []string{"A=2"}},
		{nil, []string{"A=1", "A=2"}, true, []string{"A=2"}},
		{[]string{"A"}, nil, false, []string{"A"}},
	} {
		if got := MergeEnv(c.base, c.add, c.override); !slices.Equal(got, c.want) {
			t.Errorf("MergeEnv(%q, %q, %v) = %q, want %q", c.base, c.add, c.override, got, c.want)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := RedactArgs([]string{"xrdcp", "root://h//f?authz=secret", "/tmp/a?b"}); got != "xrdcp root://h//f?<redacted> /tmp/a?b" {
		t.Errorf("RedactArgs = %q", got)
	}
	if got := Redact("https://user:pw@h:1/p?tok=x#f"); got != "https://h:1/p" {
		t.Errorf("Redact = %q", got)
	}
}

func TestTextHelpers(t *testing.T) {
	if got := Clip("  abcdef ", 3); got != "...def" {
		t.Errorf("Clip = %q", got)
	}
	if got := Clip("abc", 3); got != "abc" {
		t.Errorf("Clip = %q", got)
	}
	if got := LastLines("a\n\nb\nc\n\n", 2); got != "b | c" {
		t.Errorf("LastLines = %q", got)
	}
	if got := Output(&timedcmd.Result{StdoutTail: []byte("out\n"), StderrTail: []byte("err\n")}); got != "out\n\nerr" {
		t.Errorf("Output = %q", got)
	}
	if Output(nil) != "" {
		t.Error("Output(nil) not empty")
	}
}

func TestXrdDefaults(t *testing.T) {
	got := XrdDefaults(0, 0)
	want := []string{"XRD_CONNECTIONWINDOW=10", "XRD_CONNECTIONRETRY=1"}
	if !slices.Equal(got, want) {
		t.Errorf("XrdDefaults(0, 0) = %q", got)
	}
	if got := XrdDefaults(1, 3); got[0] != "XRD_CONNECTIONWINDOW=1" || got[1] != "XRD_CONNECTIONRETRY=3" {
		t.Errorf("XrdDefaults(1ns, 3) = %q", got)
	}
}

var testRules = []Rule{
	{All: []string{"checksum", "mismatch"}, Code: AdlerMismatch, Retryable: true},
	{All: []string{"no such file"}, Code: ByOp(jobdef.MissingInputFile, jobdef.NoSuchFile)},
	{All: []string{"denied"}, Code: Auth},
	{All: []string{"busy"}, Code: Fixed(jobdef.ServiceNotAvailable), Retryable: true},
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		op, out string
		code    jobdef.ErrorCode
		retry   bool
	}{
		{movers.OpGet, "CHECKSUM values MISMATCH", jobdef.GetADMismatch, true},
		{movers.OpPut, "checksum mismatch", jobdef.PutADMismatch, true},
		{movers.OpGet, "checksum only", jobdef.StageInFailed, true},
		{movers.OpGet, "No such file", jobdef.MissingInputFile, false},
		{movers.OpPut, "No such file", jobdef.NoSuchFile, false},
		{movers.OpPut, "Permission denied", jobdef.StageOutAuthenticationFailure, false},
		{movers.OpGet, "server busy", jobdef.ServiceNotAvailable, true},
		{movers.OpPut, "", jobdef.StageOutFailed, true},
	} {
		if code, retry := Classify(testRules, c.op, c.out); code != c.code || retry != c.retry {
			t.Errorf("Classify(%s, %q) = %d %v, want %d %v", c.op, c.out, code, retry, c.code, c.retry)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("get", "checksum mismatch")
	f.Add("put", "")
	f.Fuzz(func(t *testing.T, op, s string) {
		if code, _ := Classify(testRules, op, s); code == 0 {
			t.Error("code 0")
		}
	})
}

// TestRunAndFailure runs real processes: a success, an exit with a classified message on
// stderr, a missing program, a cancelled run and the environment the tool sees.
func TestRunAndFailure(t *testing.T) {
	tools := New(Options{Name: "test", Env: []string{"PATH=/usr/bin:/bin", "KEEP=base"},
		Defaults: []string{"KEEP=default", "ADDED=default"}, Rules: testRules})
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "env")
	res, err := tools.Run(ctx, timedcmd.Spec{Args: []string{"sh", "-c", "env > " + out}}, []string{"EXTRA=x", "KEEP=transfer"})
	if err := tools.Failure(ctx, movers.OpGet, "u", "sh", res, err); err != nil {
		t.Fatalf("Failure of a successful run: %v", err)
	}
	env, _ := os.ReadFile(out)
	for _, want := range []string{"KEEP=transfer", "ADDED=default", "EXTRA=x"} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("tool environment lacks %s:\n%s", want, env)
		}
	}

	res, err = tools.Run(ctx, timedcmd.Spec{Args: []string{"sh", "-c", "echo progress; echo 'No such file' >&2; exit 3"}}, nil)
	ferr := tools.Failure(ctx, movers.OpGet, "root://h//f", "sh", res, err)
	var me *movers.Error
	if !errors.As(ferr, &me) || me.Code != jobdef.MissingInputFile || me.Retryable || me.URL != "root://h//f" ||
		!strings.Contains(me.Error(), "sh exit 3") || !strings.Contains(me.Error(), "No such file") {
		t.Errorf("Failure of exit 3 = %#v (%v)", me, ferr)
	}

	res, err = tools.Run(ctx, timedcmd.Spec{Args: []string{"sh", "-c", "exec /nonexistent/python3"}}, nil)
	ferr = tools.Failure(ctx, movers.OpGet, "u", "wrapper", res, err)
	if !errors.As(ferr, &me) || me.Code != jobdef.StageInFailed || me.Retryable || !strings.Contains(me.Error(), "cannot run wrapper") {
		t.Errorf("Failure of a wrapper that cannot exec = %v, want a non-retryable 1099", ferr)
	}

	res, err = tools.Run(ctx, timedcmd.Spec{Args: []string{"/nonexistent/tool"}}, nil)
	ferr = tools.Failure(ctx, movers.OpPut, "u", "tool", res, err)
	if !errors.As(ferr, &me) || me.Code != jobdef.StageOutFailed || me.Retryable {
		t.Errorf("Failure of a missing tool = %v, want a non-retryable 1137", ferr)
	}
	if err := tools.Check(ctx, "/nonexistent/tool"); err == nil {
		t.Error("Check of a missing tool succeeded")
	}

	cctx, cancel := context.WithCancelCause(ctx)
	cancel(jobdef.NewError(jobdef.SigTerm, "test", nil))
	res, err = tools.Run(cctx, timedcmd.Spec{Args: []string{"sleep", "10"}}, nil)
	ferr = tools.Failure(cctx, movers.OpGet, "u", "sleep", res, err)
	if !errors.As(ferr, &me) || me.Code != jobdef.SigTerm {
		t.Errorf("Failure of a cancelled run = %v, want code %d", ferr, jobdef.SigTerm)
	}
}

func TestCreateTempAndFinish(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "a", "b", "file.dat")
	f, err := CreateTemp(dst, "kind")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if base := filepath.Base(f.Name()); !strings.HasPrefix(base, ".file.dat.kind-") {
		t.Errorf("temporary name %s", base)
	}
	if err := Finish(t.Context(), movers.OpGet, "u", f.Name(), dst); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("destination: %v %v", fi, err)
	}
	if _, err := CreateTemp(dir+"/", "x"); err == nil {
		t.Error("CreateTemp of a directory path succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	g, _ := CreateTemp(dst, "kind")
	g.Close()
	if err := Finish(ctx, movers.OpGet, "u", g.Name(), dst+"2"); err == nil {
		t.Error("Finish after cancel succeeded")
	}
}

func TestAbsRootURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"root://127.0.0.1:1094/rucio/e2e/f", "root://127.0.0.1:1094//rucio/e2e/f"},
		{"root://h:1//abs/f", "root://h:1//abs/f"},
		{"roots://h:1///abs/f?authz=x", "roots://h:1//abs/f?authz=x"},
		{"http://h/f", "http://h/f"},
		{"root://h", "root://h"},
		{"/local/path", "/local/path"},
	} {
		if got := AbsRootURL(c.in); got != c.want {
			t.Errorf("AbsRootURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
