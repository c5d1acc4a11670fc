package davs

import (
	"net/http"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

func TestParseDigest(t *testing.T) {
	for _, c := range []struct {
		values []string
		typ    jobdef.ChecksumType
		want   string
		ok     bool
	}{
		{[]string{"adler32=4e7a35c7"}, jobdef.Adler32, "4e7a35c7", true},
		{[]string{"ADLER32=4E7A35C7"}, jobdef.Adler32, "4e7a35c7", true},
		{[]string{"adler32=1"}, jobdef.Adler32, "00000001", true},
		{[]string{"md5=HUXZLQLMuI/KZ5KDcJPcOA==, adler32=0a1b2c3d"}, jobdef.Adler32, "0a1b2c3d", true},
		{[]string{"UNIXcksum=123", "adler32=\"ffffffff\""}, jobdef.Adler32, "ffffffff", true},
		{[]string{"md5=HUXZLQLMuI/KZ5KDcJPcOA=="}, jobdef.MD5, "1d45d92d02ccb88fca6792837093dc38", true},
		{[]string{"md5=HUXZLQLMuI/KZ5KDcJPc"}, jobdef.MD5, "", false},
		{[]string{"md5=1B2M2Y8AsgTpgAmY7PhCfg=="}, jobdef.MD5, "d41d8cd98f00b204e9800998ecf8427e", true},
		{[]string{"md5=d41d8cd98f00b204e9800998ecf8427e"}, jobdef.MD5, "d41d8cd98f00b204e9800998ecf8427e", true},
		{[]string{"adler32=123456789"}, jobdef.Adler32, "", false},
		{[]string{"adler32="}, jobdef.Adler32, "", false},
		{[]string{"adler32=zz"}, jobdef.Adler32, "", false},
		{[]string{"md5=4e7a35c7"}, jobdef.Adler32, "", false},
		{nil, jobdef.Adler32, "", false},
	} {
		got, ok := ParseDigest(c.values, c.typ)
		if ok != c.ok || (ok && got.Value != c.want) || (ok && got.Type != c.typ) {
			t.Errorf("ParseDigest(%q, %s) = %v, %v; want %q, %v", c.values, c.typ, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add("adler32=4e7a35c7, md5=HUXZLQLMuI/KZ5KDcJPcOA==", "adler32")
	f.Add("md5=1B2M2Y8AsgTpgAmY7PhCfg==", "md5")
	f.Fuzz(func(t *testing.T, v, typ string) {
		sum, ok := ParseDigest([]string{v}, jobdef.ChecksumType(typ))
		if !ok {
			return
		}
		switch sum.Type {
		case jobdef.Adler32:
			if len(sum.Value) != 8 {
				t.Errorf("adler32 %q", sum.Value)
			}
		case jobdef.MD5:
			if len(sum.Value) != 32 {
				t.Errorf("md5 %q", sum.Value)
			}
		default:
			t.Errorf("unexpected type %q", sum.Type)
		}
	})
}

func TestStatusCode(t *testing.T) {
	for _, c := range []struct {
		op     string
		status int
		code   jobdef.ErrorCode
		retry  bool
	}{
		{movers.OpGet, 404, jobdef.MissingInputFile, false},
		{movers.OpGet, 410, jobdef.MissingInputFile, false},
		{movers.OpPut, 404, jobdef.NoSuchFile, false},
		{movers.OpGet, 401, jobdef.StageInAuthenticationFailure, false},
		{movers.OpPut, 403, jobdef.StageOutAuthenticationFailure, false},
		{movers.OpPut, 507, jobdef.NoRemoteSpace, false},
		{movers.OpPut, 413, jobdef.NoRemoteSpace, false},
		{movers.OpGet, 504, jobdef.StageInTimeout, true},
		{movers.OpPut, 408, jobdef.StageOutTimeout, true},
		{movers.OpGet, 503, jobdef.ServiceNotAvailable, true},
		{movers.OpGet, 500, jobdef.StageInFailed, true},
		{movers.OpPut, 501, jobdef.StageOutFailed, false},
		{movers.OpPut, 400, jobdef.StageOutFailed, false},
		{movers.OpGet, 429, jobdef.StageInFailed, true},
	} {
		if code, retry := statusCode(c.op, c.status), retryableStatus(c.status); code != c.code || retry != c.retry {
			t.Errorf("%s %d -> %d, %v; want %d, %v", c.op, c.status, code, retry, c.code, c.retry)
		}
	}
}

func TestRedirectHeaders(t *testing.T) {
	m := New(Options{Header: http.Header{"Authorization": {"Bearer x"}}})
	first, _ := http.NewRequest("GET", "https://door.example.org/f", nil)
	next, _ := http.NewRequest("GET", "https://pool.example.org/f", nil)
	if err := m.redirect(next, []*http.Request{first}); err != nil || next.Header.Get("Authorization") != "Bearer x" {
		t.Errorf("redirect: %v, header %q", err, next.Header.Get("Authorization"))
	}
	down, _ := http.NewRequest("GET", "http://pool.example.org/f", nil)
	if err := m.redirect(down, []*http.Request{first}); err == nil {
		t.Error("a redirect from https to http was followed")
	}
}
