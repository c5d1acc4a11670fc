package gfal

import (
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		op, out string
		code    jobdef.ErrorCode
		retry   bool
	}{
		{movers.OpGet, "gfal-copy error: 2 (No such file or directory) - Could not stat the source: Result HTTP 404 : File not found  after 1 attempts", jobdef.MissingInputFile, false},
		{movers.OpPut, "gfal-copy error: 38 (Function not implemented) - DESTINATION CHECKSUM checksum calculation for ADLER32 not supported for http://h/f", jobdef.ChksumNotSup, false},
		{movers.OpPut, "gfal-copy error: 84 (Invalid or incomplete multibyte or wide character) - Error on XrdCl::CopyProcess::Run(): [ERROR] CheckSum error", jobdef.PutADMismatch, true},
		{movers.OpGet, "SOURCE and DESTINATION checksum mismatch", jobdef.GetADMismatch, true},
		{movers.OpGet, "Command timed out after 1 seconds!", jobdef.StageInTimeout, true},
		{movers.OpPut, "gfal-copy error: 13 (Permission denied) - HTTP 403", jobdef.StageOutAuthenticationFailure, false},
		{movers.OpGet, "globus_xio: Unable to connect", jobdef.GetGlobusSysErr, true},
		{movers.OpPut, "gfal-copy error: 17 (File exists)", jobdef.FileExists, false},
		{movers.OpPut, "No space left on device", jobdef.NoRemoteSpace, false},
		{movers.OpGet, "Could not establish context", jobdef.NoProxy, false},
		{movers.OpGet, "Network is unreachable", jobdef.UnreachableNetwork, true},
		{movers.OpPut, "something else", jobdef.StageOutFailed, true},
	} {
		code, retry := Classify(c.op, c.out)
		if code != c.code || retry != c.retry {
			t.Errorf("Classify(%s, %q) = %d, %v; want %d, %v", c.op, c.out, code, retry, c.code, c.retry)
		}
	}
}

func TestParseSum(t *testing.T) {
	for _, c := range []struct {
		out  string
		typ  jobdef.ChecksumType
		want string
		ok   bool
	}{
		{"root://127.0.0.1:31994//g/h/in.bin 4e7a35c7\n", jobdef.Adler32, "4e7a35c7", true},
		{"http://h/f 1", jobdef.Adler32, "00000001", true},
		{"file:///tmp/f d41d8cd98f00b204e9800998ecf8427e", jobdef.MD5, "d41d8cd98f00b204e9800998ecf8427e", true},
		{"root://h//f\tMISSING", jobdef.Adler32, "", false},
		{"gfal-sum error: 38 (Function not implemented)", jobdef.Adler32, "", false},
	} {
		got, ok := ParseSum(c.out, c.typ)
		if ok != c.ok || (ok && got.Value != c.want) {
			t.Errorf("ParseSum(%q) = %v, %v; want %q, %v", c.out, got, ok, c.want, c.ok)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("put", "DESTINATION CHECKSUM checksum calculation for ADLER32 not supported")
	f.Fuzz(func(t *testing.T, op, s string) {
		if code, _ := Classify(op, s); code == 0 {
			t.Error("code 0")
		}
	})
}

func FuzzParseSum(f *testing.F) {
	f.Add("root://h//f 4e7a35c7", "adler32")
	f.Fuzz(func(t *testing.T, s, typ string) {
		sum, ok := ParseSum(s, jobdef.ChecksumType(typ))
		if ok && (sum.Value == "" || (sum.Type == jobdef.Adler32 && len(sum.Value) != 8)) {
			t.Errorf("bad checksum %v", sum)
		}
	})
}

func TestCopyArgs(t *testing.T) {
	g := New(Options{Copy: "gfal-copy", ExtraArgs: []string{"-D", "X:Y=1"}})
	got := g.copyArgs(t.Context(), "ADLER32:0000001a", "file:///a", "root://h//b")
	want := []string{"gfal-copy", "--verbose", "-f", "-p", "-K", "ADLER32:0000001a", "-D", "X:Y=1", "file:///a", "root://h//b"}
	if len(got) != len(want) {
		t.Fatalf("copyArgs = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("copyArgs = %q, want %q", got, want)
		}
	}
}
