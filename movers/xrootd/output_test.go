package xrootd

import (
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

func TestParsePrinted(t *testing.T) {
	for _, c := range []struct {
		out  string
		ok   bool
		want PrintedChecksum
	}{
		{"adler32: 4e7a35c7 root://127.0.0.1:31994/a/b/in.bin 5000000", true,
			PrintedChecksum{jobdef.Checksum{Type: jobdef.Adler32, Value: "4e7a35c7"}, "root://127.0.0.1:31994/a/b/in.bin", 5000000}},
		{"adler32: 1 root://h/p/q/empty 0\n", true,
			PrintedChecksum{jobdef.Checksum{Type: jobdef.Adler32, Value: "00000001"}, "root://h/p/q/empty", 0}},
		{"noise\n[0B/0B][100%][==================================================][0B/s]\nADLER32: 0A1B2C3D /tmp/f 7", true,
			PrintedChecksum{jobdef.Checksum{Type: jobdef.Adler32, Value: "0a1b2c3d"}, "/tmp/f", 7}},
		{"md5: 05774c4b90d25dbd95fcc92807551bd1 stdio://- 5000000", true,
			PrintedChecksum{jobdef.Checksum{Type: jobdef.MD5, Value: "05774c4b90d25dbd95fcc92807551bd1"}, "stdio://-", 5000000}},
		{"Run: [ERROR] CheckSum error", false, PrintedChecksum{}},
		{"adler32: 123456789 /f 1", false, PrintedChecksum{}},
		{"adler32: xyz /f 1", false, PrintedChecksum{}},
		{"adler32: 1 /f -1", false, PrintedChecksum{}},
		{"", false, PrintedChecksum{}},
	} {
		got, ok := ParsePrinted(c.out)
		if ok != c.ok || got != c.want {
			t.Errorf("ParsePrinted(%q) = %+v, %v; want %+v, %v", c.out, got, ok, c.want, c.ok)
		}
	}
}

func TestParseQueryChecksum(t *testing.T) {
	for _, c := range []struct {
		out  string
		want jobdef.Checksum
		ok   bool
	}{
		{"adler32 4e7a35c7\n", jobdef.Checksum{Type: jobdef.Adler32, Value: "4e7a35c7"}, true},
		{"adler32 1", jobdef.Checksum{Type: jobdef.Adler32, Value: "00000001"}, true},
		{"md5 05774C4B90D25DBD95FCC92807551BD1", jobdef.Checksum{Type: jobdef.MD5, Value: "05774c4b90d25dbd95fcc92807551bd1"}, true},
		{"[ERROR] Server responded with an error: [3011] Unable to checksum /a; no such file or directory", jobdef.Checksum{}, false},
		{"", jobdef.Checksum{}, false},
	} {
		got, err := ParseQueryChecksum(c.out)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseQueryChecksum(%q) = %v, %v; want %v (ok=%v)", c.out, got, err, c.want, c.ok)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		op, out string
		code    jobdef.ErrorCode
		retry   bool
	}{
		{movers.OpGet, "Run: [ERROR] Server responded with an error: [3011] Unable to open /a/b/nothere; no such file or directory  (source)", jobdef.MissingInputFile, false},
		{movers.OpPut, "Run: [ERROR] Server responded with an error: [3011] Unable to open /x; No such file or directory", jobdef.NoSuchFile, false},
		{movers.OpGet, "Run: [ERROR] CheckSum error", jobdef.GetADMismatch, true},
		{movers.OpPut, "Run: [ERROR] CheckSum error:  (destination)", jobdef.PutADMismatch, true},
		{movers.OpGet, "Run: [ERROR] Server responded with an error: [3010] Unable to open /f; permission denied", jobdef.XrdcpError, true},
		{movers.OpPut, "Run: [ERROR] Server responded with an error: [3008] Unable to write; No space left on device", jobdef.NoRemoteSpace, false},
		{movers.OpGet, "write error: No space left on device", jobdef.NoLocalSpace, false},
		{movers.OpGet, "Run: [ERROR] Operation expired", jobdef.StageInTimeout, true},
		{movers.OpPut, "[ERROR] Socket timeout", jobdef.StageOutTimeout, true},
		{movers.OpGet, "Run: [FATAL] Auth failed: No protocols left to try", jobdef.StageInAuthenticationFailure, false},
		{movers.OpPut, "Run: [FATAL] Auth failed", jobdef.StageOutAuthenticationFailure, false},
		{movers.OpGet, "Could not establish context", jobdef.NoProxy, false},
		{movers.OpGet, "Run: [FATAL] Connection error: Network is unreachable", jobdef.UnreachableNetwork, true},
		{movers.OpGet, "Run: [FATAL] Connection error:  (source)", jobdef.StageInFailed, true},
		{movers.OpPut, "", jobdef.StageOutFailed, true},
		{movers.OpPut, "[ERROR] File exists", jobdef.FileExists, false},
	} {
		code, retry := Classify(c.op, c.out)
		if code != c.code || retry != c.retry {
			t.Errorf("Classify(%s, %q) = %d, %v; want %d, %v", c.op, c.out, code, retry, c.code, c.retry)
		}
	}
}

func FuzzParsePrinted(f *testing.F) {
	f.Add("adler32: 4e7a35c7 root://127.0.0.1:31994/a/b/in.bin 5000000")
	f.Add("adler32: 1 root://h/p 0\nmd5: ffff x 1")
	f.Add("a: b c d")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePrinted(s)
		if ok && p.Checksum.Type == jobdef.Adler32 && len(p.Checksum.Value) != 8 {
			t.Errorf("adler32 value %q is not 8 digits", p.Checksum.Value)
		}
		if ok && p.Size < 0 {
			t.Errorf("negative size %d", p.Size)
		}
	})
}

func FuzzParseQueryChecksum(f *testing.F) {
	f.Add("adler32 4e7a35c7\n")
	f.Add("md5 abc\nadler32 1")
	f.Fuzz(func(t *testing.T, s string) {
		sum, err := ParseQueryChecksum(s)
		if err == nil && (sum.Type == "" || sum.Value == "") {
			t.Errorf("empty checksum without error: %v", sum)
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("get", "Run: [ERROR] Server responded with an error: [3011] no such file or directory")
	f.Add("put", "CheckSum error")
	f.Fuzz(func(t *testing.T, op, s string) {
		if code, _ := Classify(op, s); code == 0 {
			t.Error("code 0")
		}
	})
}

func TestSplitURL(t *testing.T) {
	for _, c := range []struct{ in, host, path string }{
		{"root://127.0.0.1:1094//a/b", "root://127.0.0.1:1094", "/a/b"},
		{"root://h/a", "root://h", "/a"},
		{"xroot://h:1///a?authz=x", "xroot://h:1", "/a?authz=x"},
		{"roots://h:1//a", "roots://h:1", "/a"},
	} {
		h, p, err := splitURL(c.in)
		if err != nil || h != c.host || p != c.path {
			t.Errorf("splitURL(%q) = %q %q %v; want %q %q", c.in, h, p, err, c.host, c.path)
		}
	}
	for _, bad := range []string{"", "root://", "root://h", "http://h/a", "/a/b", "root:opaque"} {
		if _, _, err := splitURL(bad); err == nil {
			t.Errorf("splitURL(%q) succeeded", bad)
		}
	}
}

func TestToolURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"root://127.0.0.1:1094/rucio/e2e/f", "root://127.0.0.1:1094//rucio/e2e/f"},
		{"root://h:1//abs/f", "root://h:1//abs/f"},
		{"root://h:1///abs/f?authz=x", "root://h:1//abs/f?authz=x"},
		{"xroot://h/f", "xroot://h//f"},
	} {
		if got, err := ToolURL(c.in); err != nil || got != c.want {
			t.Errorf("ToolURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := ToolURL("http://h/f"); err == nil {
		t.Error("ToolURL of an http URL succeeded")
	}
}
