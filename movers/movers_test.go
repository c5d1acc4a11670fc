package movers_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/local"
)

// stub is a mover that only has a name and schemes.
type stub struct {
	name    string
	schemes []string
	caps    movers.Capabilities
}

func (s stub) Name() string      { return s.name }
func (s stub) Schemes() []string { return s.schemes }
func (s stub) Get(context.Context, movers.Transfer) (movers.Result, error) {
	return movers.Result{}, errors.New("stub")
}
func (s stub) Put(context.Context, movers.Transfer) (movers.Result, error) {
	return movers.Result{}, errors.New("stub")
}
func (s stub) Capabilities() movers.Capabilities { return s.caps }

func TestNewRegistry(t *testing.T) {
	cases := []struct {
		name string
		ms   []movers.Mover
		ok   bool
	}{
		{"empty", nil, true},
		{"two", []movers.Mover{stub{name: "a"}, stub{name: "b"}}, true},
		{"duplicate", []movers.Mover{stub{name: "a"}, stub{name: "a"}}, false},
		{"nil", []movers.Mover{nil}, false},
		{"noname", []movers.Mover{stub{}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := movers.NewRegistry(c.ms...)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err == nil && len(r.Names()) != len(c.ms) {
				t.Errorf("Names = %v", r.Names())
			}
		})
	}
}

const queueJSON = `{"nickname": "TEST", "state": "ACTIVE", "status": "online",
 "copytools": {"copy": {"setup": ""}, "xrdcp": {"setup": ""}, "mv": {"setup": ""}},
 "acopytools": {"pr": ["xrdcp", "copy"], "pw": ["copy"], "write_lan": ["davs"], "pl": ["mv"], "default": ["rucio", "copy"]}}`

// TestSelection covers activity fallback (queue data), scheme matching and unknown names.
func TestSelection(t *testing.T) {
	q, err := jobdef.ParseQueueData([]byte(queueJSON), "TEST")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := movers.NewRegistry(
		local.NewCopy(),
		stub{name: "xrdcp", schemes: []string{"root"}},
		stub{name: "davs", schemes: []string{"davs", "https"}},
		local.NewMv(local.MvOptions{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		activities []string
		url        string
		want       string // mover name, or "" for an error
		code       jobdef.ErrorCode
	}{
		{"input root picks xrdcp", movers.InputActivities(nil, q), "root://se//f", "xrdcp", 0},
		{"input file skips xrdcp", movers.InputActivities(nil, q), "file:///data/f", "copy", 0},
		{"input local path", movers.InputActivities(nil, q), "/data/f", "copy", 0},
		{"scheme is case-insensitive", movers.InputActivities(nil, q), "ROOT://se//f", "xrdcp", 0},
		{"input no scheme match", movers.InputActivities(nil, q), "s3://bucket/f", "", jobdef.NoStorageProtocol},
		{"output pw first", movers.OutputActivities(nil, q), "file:///rse/f", "copy", 0},
		{"output pw has no davs", movers.OutputActivities(nil, q), "davs://se/f", "", jobdef.NoStorageProtocol},
		{"log pl mv any scheme", movers.LogActivities(nil, q), "davs://se/f", "mv", 0},
		{"write_lan alone", []string{"write_lan"}, "https://se/f", "davs", 0},
		{"unknown activity falls back to default", []string{"es_events"}, "file:///f", "copy", 0},
		{"default unknown name then scheme mismatch", []string{"es_events"}, "root://se//f", "", jobdef.UnknownCopytool},
		{"relative path matches nothing", movers.InputActivities(nil, q), "data/f", "", jobdef.NoStorageProtocol},
		{"site-local mover without url", movers.LogActivities(nil, q), "", "mv", 0},
		{"no url and no site-local mover", movers.InputActivities(nil, q), "", "", jobdef.NoStorageProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := reg.Select(c.url, q.CopytoolsFor(c.activities...))
			if c.want == "" {
				if err == nil {
					t.Fatalf("Select = %s, want error %d", m.Name(), c.code)
				}
				if got := jobdef.CodeOf(err); got != c.code {
					t.Fatalf("code = %d (%v), want %d", got, err, c.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if m.Name() != c.want {
				t.Errorf("Select = %s, want %s", m.Name(), c.want)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	reg, err := movers.NewRegistry(local.NewCopy(), local.NewSymlink(), stub{name: "xrdcp", schemes: []string{"root"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		preferred []string
		url       string
		want      []string
		code      jobdef.ErrorCode
	}{
		{"order kept", []string{"symlink", "copy"}, "/x", []string{"symlink", "copy"}, 0},
		{"duplicates dropped", []string{"copy", "copy", "symlink"}, "/x", []string{"copy", "symlink"}, 0},
		{"unknown skipped", []string{"rucio", "copy"}, "/x", []string{"copy"}, 0},
		{"only unknown", []string{"rucio", "gfal"}, "/x", nil, jobdef.UnknownCopytool},
		{"empty list", nil, "/x", nil, jobdef.UnknownCopytool},
		{"known, wrong scheme", []string{"copy", "symlink"}, "root://h//x", nil, jobdef.NoStorageProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms, err := reg.Candidates(c.url, c.preferred)
			var names []string
			for _, m := range ms {
				names = append(names, m.Name())
			}
			if !slices.Equal(names, c.want) {
				t.Errorf("Candidates = %v, want %v", names, c.want)
			}
			if got := jobdef.CodeOf(err); got != c.code {
				t.Errorf("code = %d (%v), want %d", got, err, c.code)
			}
		})
	}
}

func TestWithAlias(t *testing.T) {
	reg, err := movers.NewRegistry(local.NewCopy())
	if err != nil {
		t.Fatal(err)
	}
	al, err := reg.WithAlias("rucio", "copy")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get("rucio"); ok {
		t.Error("WithAlias changed the original registry")
	}
	m, err := al.Select("/x", []string{"rucio", "copy"})
	if err != nil || m.Name() != "copy" {
		t.Fatalf("Select via alias = %v, %v", m, err)
	}
	if ms, _ := al.Candidates("/x", []string{"rucio", "copy"}); len(ms) != 1 {
		t.Errorf("alias and name gave %d candidates, want 1", len(ms))
	}
	if _, err := al.WithAlias("copy", "copy"); err == nil {
		t.Error("alias equal to a name accepted")
	}
	if _, err := al.WithAlias("x", "nope"); err == nil {
		t.Error("alias to an unknown mover accepted")
	}
}

func TestTimeoutFor(t *testing.T) {
	cases := []struct {
		size     int64
		min, max time.Duration
		want     time.Duration
	}{
		{0, 0, 0, time.Minute},
		{-5, 0, 0, time.Minute},
		{1_000_000, 0, 0, 61 * time.Second},
		{1_500_000, 0, 0, 61500 * time.Millisecond},
		{10_000_000_000, 0, 0, 60*time.Second + 10000*time.Second},
		{100_000_000_000, 0, 0, movers.DefaultMaxTimeout},
		{1 << 62, 0, 0, movers.DefaultMaxTimeout},
		{0, 5 * time.Minute, 0, 5 * time.Minute},
		{1_000_000_000, 5 * time.Minute, 0, 1060 * time.Second},
		{1_000_000_000, 0, 10 * time.Second, 10 * time.Second},
		{0, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{0, time.Hour, 10 * time.Second, time.Hour}, // min wins over max
	}
	for _, c := range cases {
		if got := movers.TimeoutFor(c.size, c.min, c.max); got != c.want {
			t.Errorf("TimeoutFor(%d, %s, %s) = %s, want %s", c.size, c.min, c.max, got, c.want)
		}
	}
}

func ck(typ jobdef.ChecksumType, v string) jobdef.Checksum {
	return jobdef.Checksum{Type: typ, Value: v}
}

func TestSameChecksum(t *testing.T) {
	cases := []struct {
		name            string
		want, got       jobdef.Checksum
		equal, compared bool
	}{
		{"equal adler", ck("adler32", "0a1b2c3d"), ck("adler32", "0a1b2c3d"), true, true},
		{"case", ck("adler32", "0A1B2C3D"), ck("adler32", "0a1b2c3d"), true, true},
		{"leading zero dropped", ck("adler32", "a1b2c3d"), ck("adler32", "0a1b2c3d"), true, true},
		{"different adler", ck("adler32", "0a1b2c3e"), ck("adler32", "0a1b2c3d"), false, true},
		{"md5 equal", ck("md5", "d41d8cd98f00b204e9800998ecf8427e"), ck("md5", "D41D8CD98F00B204E9800998ECF8427E"), true, true},
		{"md5 differ", ck("md5", "d41d8cd98f00b204e9800998ecf8427e"), ck("md5", "d41d8cd98f00b204e9800998ecf8427f"), false, true},
		{"types differ", ck("md5", "d41d8cd98f00b204e9800998ecf8427e"), ck("adler32", "00000001"), false, false},
		{"want zero", jobdef.Checksum{}, ck("adler32", "00000001"), false, false},
		{"got zero", ck("adler32", "00000001"), jobdef.Checksum{}, false, false},
		{"want type only", ck("md5", ""), ck("md5", "d41d8cd98f00b204e9800998ecf8427e"), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eq, cmp := movers.SameChecksum(c.want, c.got)
			if eq != c.equal || cmp != c.compared {
				t.Errorf("SameChecksum = %v,%v want %v,%v", eq, cmp, c.equal, c.compared)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	good := ck("adler32", "11e60398")
	cases := []struct {
		name string
		op   string
		tr   movers.Transfer
		res  movers.Result
		code jobdef.ErrorCode // 0 = ok
	}{
		{"ok", movers.OpGet, movers.Transfer{Size: 9, Checksum: good}, movers.Result{Bytes: 9, Checksum: good}, 0},
		{"no expectation", movers.OpGet, movers.Transfer{}, movers.Result{Bytes: 9, Checksum: good}, 0},
		{"get adler", movers.OpGet, movers.Transfer{Checksum: ck("adler32", "11e60399")}, movers.Result{Checksum: good}, jobdef.GetADMismatch},
		{"put adler", movers.OpPut, movers.Transfer{Checksum: ck("adler32", "11e60399")}, movers.Result{Checksum: good}, jobdef.PutADMismatch},
		{"get md5", movers.OpGet, movers.Transfer{Checksum: ck("md5", "00")}, movers.Result{Checksum: ck("md5", "01")}, jobdef.GetMD5Mismatch},
		{"put md5", movers.OpPut, movers.Transfer{Checksum: ck("md5", "00")}, movers.Result{Checksum: ck("md5", "01")}, jobdef.PutMD5Mismatch},
		{"get size", movers.OpGet, movers.Transfer{Size: 10}, movers.Result{Bytes: 9}, jobdef.StageInFailed},
		{"put size", movers.OpPut, movers.Transfer{Size: 10}, movers.Result{Bytes: 9}, jobdef.StageOutFailed},
		{"type differs: not compared", movers.OpGet, movers.Transfer{Checksum: ck("md5", "00")}, movers.Result{Checksum: good}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := movers.Verify(c.op, "u", c.tr, c.res)
			if c.code == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			var me *movers.Error
			if !errors.As(err, &me) || me.Code != c.code || !me.Retryable {
				t.Fatalf("Verify = %v, want retryable code %d", err, c.code)
			}
			if pe := me.AsPilotError(); pe.Code != c.code || !strings.Contains(pe.Diag, "u") {
				t.Errorf("AsPilotError = %+v", pe)
			}
		})
	}
}

func TestChecksums(t *testing.T) {
	cases := []struct {
		data string
		typ  jobdef.ChecksumType
		want string
	}{
		{"Wikipedia", jobdef.Adler32, "11e60398"},
		{"", jobdef.Adler32, "00000001"},
		{"a", jobdef.Adler32, "00620062"},
		{"", jobdef.MD5, "d41d8cd98f00b204e9800998ecf8427e"},
		{"The quick brown fox jumps over the lazy dog", jobdef.MD5, "9e107d9d372bb6826bd81d3542a419d6"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		var buf bytes.Buffer
		n, sum, err := movers.CopyChecksum(t.Context(), &buf, strings.NewReader(c.data), c.typ)
		if err != nil || n != int64(len(c.data)) || buf.String() != c.data {
			t.Fatalf("CopyChecksum(%q) = %d, %v", c.data, n, err)
		}
		if sum != ck(c.typ, c.want) {
			t.Errorf("CopyChecksum(%q, %s) = %v, want %s", c.data, c.typ, sum, c.want)
		}
		p := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := movers.ChecksumOf(t.Context(), p, c.typ); err != nil || got != sum {
			t.Errorf("ChecksumOf = %v, %v; want %v", got, err, sum)
		}
	}
	if movers.NewHasher("sha1") != nil {
		t.Error("NewHasher(sha1) should be nil")
	}
	if _, _, err := movers.CopyChecksum(t.Context(), &bytes.Buffer{}, strings.NewReader("x"), "sha1"); jobdef.CodeOf(err) != jobdef.UnknownChecksumType {
		t.Errorf("unknown type: %v", err)
	}
}

func TestCopyChecksumCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("stop now")
	cancel(cause)
	_, _, err := movers.CopyChecksum(ctx, &bytes.Buffer{}, strings.NewReader("data"), jobdef.Adler32)
	if !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the cause", err)
	}
}

func TestContextError(t *testing.T) {
	if movers.ContextError(t.Context(), movers.OpGet, "u") != nil {
		t.Fatal("live context gave an error")
	}
	timedOut, c1 := movers.WithTransferTimeout(t.Context(), time.Nanosecond)
	defer c1()
	<-timedOut.Done()
	deadline, c2 := context.WithTimeout(t.Context(), time.Nanosecond)
	defer c2()
	<-deadline.Done()
	killed, c3 := context.WithCancelCause(t.Context())
	c3(jobdef.NewError(jobdef.SigTerm, "", nil))
	plain, c4 := context.WithCancel(t.Context())
	c4()
	cases := []struct {
		name string
		ctx  context.Context
		op   string
		code jobdef.ErrorCode
	}{
		{"timeout get", timedOut, movers.OpGet, jobdef.StageInTimeout},
		{"timeout put", timedOut, movers.OpPut, jobdef.StageOutTimeout},
		{"deadline put", deadline, movers.OpPut, jobdef.StageOutTimeout},
		{"pilot error cause", killed, movers.OpGet, jobdef.SigTerm},
		{"plain cancel get", plain, movers.OpGet, jobdef.StageInFailed},
		{"plain cancel put", plain, movers.OpPut, jobdef.StageOutFailed},
	}
	for _, c := range cases {
		e := movers.ContextError(c.ctx, c.op, "u")
		if e == nil || e.Code != c.code || e.Retryable {
			t.Errorf("%s: %+v, want code %d", c.name, e, c.code)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &movers.Error{Op: movers.OpPut, URL: "file:///x", Code: jobdef.StageOutFailed, Err: errors.New("boom")}
	if e.Error() != "put file:///x: boom" {
		t.Errorf("Error() = %q", e.Error())
	}
	if !errors.Is(e, e.Err) {
		t.Error("Unwrap")
	}
	pe := e.AsPilotError()
	if pe.Code != jobdef.StageOutFailed || !errors.Is(pe, e.Err) {
		t.Errorf("AsPilotError = %+v", pe)
	}
}

func TestScheme(t *testing.T) {
	cases := map[string]string{
		"root://host//f":     "root",
		"DAVS://h/f":         "davs",
		"s3+rucio://b/k":     "s3+rucio",
		"file:///x":          "file",
		"/abs/path":          "file",
		"relative/path":      "",
		"":                   "",
		":nope":              "",
		"1abc://x":           "",
		"c:/windows":         "c",
		"a b://x":            "",
		"srm://se:8443/srm/": "srm",
	}
	for in, want := range cases {
		if got := movers.Scheme(in); got != want {
			t.Errorf("Scheme(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/../b/", "/b", true},
		{"/a/%41", "/a/%41", true}, // plain paths are literal
		{"file:///a/b", "/a/b", true},
		{"file://localhost/a/b", "/a/b", true},
		{"file:/a/b", "/a/b", true},
		{"file:///a/%41b", "/a/Ab", true},
		{"FILE:///a", "/a", true},
		{"file:///../etc", "/etc", true},
		{"file://host/a", "", false},
		{"file://", "", false},
		{"file:a/b", "", false},
		{"file:///a?x=1", "", false},
		{"file:///a#f", "", false},
		{"root://h//a", "", false},
		{"a/b", "", false},
		{"", "", false},
		{"/a\x00b", "", false},
		{"file:///a%00b", "", false},
	}
	for _, c := range cases {
		got, err := movers.LocalPath(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("LocalPath(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	if u := movers.FileURL("/a b/c"); u != "file:///a%20b/c" {
		t.Errorf("FileURL = %q", u)
	}
	if p, err := movers.LocalPath(movers.FileURL("/a b/c%d")); err != nil || p != "/a b/c%d" {
		t.Errorf("round trip = %q %v", p, err)
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/a/b", "file:///a", "file://localhost/x", "file:x", "file://h/x", "root://h//x", "", "file:///%zz", "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sch := movers.Scheme(s)
		p, err := movers.LocalPath(s)
		if err != nil {
			return
		}
		if sch != "file" {
			t.Fatalf("LocalPath(%q) accepted scheme %q", s, sch)
		}
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsRune(p, 0) {
			t.Fatalf("LocalPath(%q) = %q: not a clean absolute path", s, p)
		}
		// a FileURL of the result parses back to the same path
		if q, err := movers.LocalPath(movers.FileURL(p)); err != nil || q != p {
			t.Fatalf("round trip of %q: %q %v", p, q, err)
		}
	})
}

func TestInFilePath(t *testing.T) {
	raw := map[string]string{
		"inFiles":     "a.root,b.root,c.root,d.root",
		"inFilePaths": "/data/x/a.root, file:///data/y/renamed.root ,relative/c.root,/data/d/b.root",
	}
	cases := []struct {
		lfn, want string
		ok        bool
	}{
		{"a.root", "/data/x/a.root", true},
		{"b.root", "/data/d/b.root", true}, // base name match beats position
		{"c.root", "", false},              // relative entries are ignored
		{"d.root", "/data/d/b.root", true}, // by position
		{"e.root", "", false},              // not an input
		{"renamed.root", "file:///data/y/renamed.root", true},
	}
	for _, c := range cases {
		got, ok := movers.InFilePath(raw, c.lfn)
		if ok != c.ok || got != c.want {
			t.Errorf("InFilePath(%q) = %q,%v want %q,%v", c.lfn, got, ok, c.want, c.ok)
		}
	}
	if _, ok := movers.InFilePath(map[string]string{}, "a"); ok {
		t.Error("no inFilePaths: found something")
	}
}

func FuzzInFilePath(f *testing.F) {
	f.Add("a,b", "/x/a,/x/b", "a")
	f.Add("", "file:///x", "x")
	f.Add("a", ",,,", "")
	f.Fuzz(func(t *testing.T, files, paths, lfn string) {
		p, ok := movers.InFilePath(map[string]string{"inFiles": files, "inFilePaths": paths}, lfn)
		if !ok {
			return
		}
		if _, err := movers.LocalPath(p); err != nil {
			t.Fatalf("returned unusable path %q: %v", p, err)
		}
	})
}
