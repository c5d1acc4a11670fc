package credentials

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const testGridmap = `# grid-mapfile
"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=John Doe" atlas001,atlas002
   "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1" .atlasprd
"/DC=org/DC=example/CN=Quote \"Q\" User" quser
"/DC=org/DC=example/CN=Jos\xC3\xA9" jose
"/C=DE/O=GermanGrid/Email=a@b.de/CN=Mail" mailuser
/O=Test/OU=Users/CN=NoSpaces unquoted  trailing words ignored
"/O=Test/CN=robot 42" robot42
"/O=Test/CN=first" first
"/O=Test/CN=first" second
"/O=Test/CN=unterminated
"/O=Test/CN=noaccount"
"/O=Test/CN=dot" .

"/O=Test/CN=crlf" crlfuser` + "\r\n" + `"/O=Test/CN=last" lastuser`

func TestGridMapLookup(t *testing.T) {
	t.Parallel()
	g, err := ParseGridMapfile(strings.NewReader(testGridmap))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Malformed, []int{11, 12, 13}) {
		t.Errorf("Malformed = %v", g.Malformed)
	}
	tests := []struct {
		dn      string
		account string
		pool    bool
		err     error
	}{
		{userDNString, "atlas001", false, nil},
		{userDNString + "/CN=987654321", "atlas001", false, nil},
		{userDNString + "/CN=proxy/CN=proxy", "atlas001", false, nil},
		{userDNString + "/CN=limited proxy", "atlas001", false, nil},
		{"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1/CN=1234", "atlasprd", true, nil},
		{`/DC=org/DC=example/CN=Quote "Q" User`, "quser", false, nil},
		{`/DC=org/DC=example/CN=Jos\xC3\xA9`, "jose", false, nil},
		{"/DC=org/DC=example/CN=José", "jose", false, nil},
		{"/C=DE/O=GermanGrid/emailAddress=a@b.de/CN=Mail", "mailuser", false, nil},
		{"/O=Test/OU=Users/CN=NoSpaces", "unquoted", false, nil},
		{"/O=Test/CN=robot 42", "robot42", false, nil},
		{"/O=Test/CN=first", "first", false, nil},
		{"/O=Test/CN=crlf", "crlfuser", false, nil},
		{"/O=Test/CN=last", "lastuser", false, nil},
		{"/O=Test/CN=robot", "", false, ErrUnmappedDN},
		{"/O=Test/CN=noaccount", "", false, ErrUnmappedDN},
		{"/CN=123", "", false, ErrUnmappedDN},
		{"", "", false, ErrUnmappedDN},
	}
	for _, tc := range tests {
		acct, pool, err := g.Lookup(tc.dn)
		if acct != tc.account || pool != tc.pool || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Lookup(%q) = %q %v %v, want %q %v %v", tc.dn, acct, pool, err, tc.account, tc.pool, tc.err)
		}
	}
	if g.Len() != 10 {
		t.Errorf("Len = %d", g.Len())
	}
}

func TestStripProxyCN(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/O=a/CN=x/CN=123", "/O=a/CN=x"},
		{"/O=a/CN=x/CN=proxy", "/O=a/CN=x"},
		{"/O=a/CN=x/CN=limited proxy", "/O=a/CN=x"},
		{"/O=a/CN=x", "/O=a/CN=x"},
		{"/O=a/CN=x1", "/O=a/CN=x1"},
		{"/CN=123", "/CN=123"},
	}
	for _, tc := range tests {
		if got, _ := StripProxyCN(tc.in); got != tc.want {
			t.Errorf("StripProxyCN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPoolAccounts(t *testing.T) {
	t.Parallel()
	passwd := `atlasprd010:x:5010:5000::/home/atlasprd010:/bin/bash
atlasprd002:x:5002:5000::/home/atlasprd002:/bin/bash
atlasprd:x:5000:5000::/home/atlasprd:/bin/bash
atlasprdx01:x:5100:5000::/:/bin/sh
atlasprd1:x:5001:5000::/:/bin/sh
atlasprd002:x:5002:5000::/home/atlasprd002:/bin/bash
atlas001:x:6001:6000::/:/bin/sh
`
	got, err := PoolAccounts(strings.NewReader(passwd), "atlasprd")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"atlasprd1", "atlasprd002", "atlasprd010"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, _ := PoolAccounts(strings.NewReader(passwd), "cms"); len(got) != 0 {
		t.Fatalf("cms: %v", got)
	}
}

func FuzzParseGridMapfile(f *testing.F) {
	f.Add(testGridmap, userDNString)
	f.Add(`"\x`, `\`)
	f.Add("a b\n\"c\\\"\" d", "/CN=1/CN=proxy")
	f.Fuzz(func(t *testing.T, file, dn string) {
		g, err := ParseGridMapfile(strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		acct, _, err := g.Lookup(dn)
		if err == nil && acct == "" {
			t.Fatal("empty account without error")
		}
		if err != nil && !errors.Is(err, ErrUnmappedDN) {
			t.Fatal(err)
		}
	})
}
