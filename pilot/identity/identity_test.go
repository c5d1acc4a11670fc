package identity

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

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func codeOf(err error) jobdef.ErrorCode { return jobdef.CodeOf(err) }

func TestNewValidation(t *testing.T) {
	requireRoot(t)
	acct := newAccount(t, randomName("gpt", 8))
	dir := t.TempDir()
	gm := writeFile(t, filepath.Join(dir, "grid-mapfile"), `"/O=Test/CN=A" `+acct.Name+"\n", 0o644)
	tests := []struct {
		name string
		opts Options
		code jobdef.ErrorCode
		is   error
	}{
		{"nothing configured", Options{}, 0, nil},
		{"fixed account", Options{PayloadUser: acct.Name}, 0, nil},
		{"pool prefix", Options{PayloadUser: ".gpnosuchpool"}, 0, nil},
		{"grid-mapfile", Options{GridMapfile: gm}, 0, nil},
		{"sudo wrapper", Options{PayloadUser: acct.Name, Wrapper: "sudo -n -u {user} --"}, 0, nil},
		{"both sources", Options{PayloadUser: acct.Name, GridMapfile: gm}, jobdef.UnknownException, nil},
		{"wrapper without source", Options{Wrapper: "sudo -n -u {user} --"}, jobdef.UnknownException, nil},
		{"wrapper without placeholder", Options{PayloadUser: acct.Name, Wrapper: "sudo -n --"}, jobdef.UnknownException, credentials.ErrBadWrapper},
		{"wrapper with shell operator", Options{PayloadUser: acct.Name, Wrapper: "sudo -u {user} ; rm"}, jobdef.UnknownException, credentials.ErrBadWrapper},
		{"wrapper not installed", Options{PayloadUser: acct.Name, Wrapper: "/nonexistent/glexec {user}"}, jobdef.UnknownException, os.ErrNotExist},
		{"unknown account", Options{PayloadUser: "gpnosuchaccount"}, jobdef.UnknownException, credentials.ErrUnknownAccount},
		{"root account", Options{PayloadUser: "root"}, jobdef.UnknownException, nil},
		{"empty pool prefix", Options{PayloadUser: "."}, jobdef.UnknownException, credentials.ErrUnknownAccount},
		{"missing grid-mapfile", Options{GridMapfile: filepath.Join(dir, "none")}, jobdef.UnknownException, os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Log = testLog(t)
			s, err := New(tc.opts)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s.Enabled() != (tc.opts.PayloadUser != "" || tc.opts.GridMapfile != "") {
					t.Errorf("Enabled() = %v", s.Enabled())
				}
				return
			}
			if codeOf(err) != tc.code {
				t.Fatalf("New: %v (code %d), want code %d", err, codeOf(err), tc.code)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("New: %v does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestNoPrivilegeIsReported(t *testing.T) {
	tests := []struct {
		status string
		ok     bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true},
		{"CapEff:\t0000000000000000\n", false},
		{"CapEff:\t0000000000000001\n", false}, // CAP_CHOWN only
		{"CapEff:\t0000000000000020\n", false}, // CAP_KILL only
		{"CapEff:\t0000000000000021\n", true},
		{"CapEff:\tzz\n", false},
		{"Name:\tx\n", false},
	}
	for _, tc := range tests {
		caps, err := parseCapEff(strings.NewReader(tc.status))
		ok := err == nil && caps&(1<<capChown) != 0 && caps&(1<<capKill) != 0
		if ok != tc.ok {
			t.Errorf("%q: caps %x err %v, ok %v want %v", tc.status, caps, err, ok, tc.ok)
		}
	}
}

// New makes the pilot's proxy private to the pilot.
func TestNewSecuresPilotProxy(t *testing.T) {
	requireRoot(t)
	acct := newAccount(t, randomName("gpt", 8))
	proxy := writeFile(t, filepath.Join(t.TempDir(), "x509up"), "PILOT-SECRET", 0o644)
	if err := os.Chown(proxy, int(acct.UID), int(acct.GID)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{PayloadUser: acct.Name, PilotProxy: proxy, Log: testLog(t)}); err != nil {
		t.Fatal(err)
	}
	uid, _, mode := fileOwner(t, proxy)
	if uid != uint32(os.Geteuid()) || mode.Perm() != 0o600 {
		t.Errorf("pilot proxy uid %d mode %v, want %d 0600", uid, mode, os.Geteuid())
	}
	// a symbolic link is refused rather than followed
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(proxy, link); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{PayloadUser: acct.Name, PilotProxy: link}); err == nil {
		t.Error("a symbolic link as pilot proxy was accepted")
	}
}

func TestAccountResolution(t *testing.T) {
	requireRoot(t)
	fixed := newAccount(t, randomName("gpt", 8))
	mapped := newAccount(t, randomName("gpt", 8))
	prefix := randomName("gpp", 6)
	newAccount(t, prefix+"001")
	newAccount(t, prefix+"002")
	dir := t.TempDir()
	gm := writeFile(t, filepath.Join(dir, "grid-mapfile"), strings.Join([]string{
		`"/DC=ch/DC=cern/OU=Users/CN=mapped" ` + mapped.Name,
		`"/DC=ch/DC=cern/OU=Users/CN=pooled" .` + prefix,
		`"/DC=ch/DC=cern/OU=Users/CN=ghost" gpnosuchaccount`,
		`"/DC=ch/DC=cern/OU=Users/CN=root" root`,
	}, "\n")+"\n", 0o644)
	leases := filepath.Join(dir, "leases")

	tests := []struct {
		name    string
		opts    Options
		owner   string
		account string
		pool    bool
		code    jobdef.ErrorCode
		is      error
	}{
		{"fixed user", Options{PayloadUser: fixed.Name}, "whoever", fixed.Name, false, 0, nil},
		{"fixed pool", Options{PayloadUser: "." + prefix, PoolLeaseDir: leases}, "", "", true, 0, nil},
		{"mapped DN", Options{GridMapfile: gm}, "/DC=ch/DC=cern/OU=Users/CN=mapped", mapped.Name, false, 0, nil},
		{"mapped proxy DN", Options{GridMapfile: gm}, "/DC=ch/DC=cern/OU=Users/CN=mapped/CN=proxy/CN=12345", mapped.Name, false, 0, nil},
		{"pool DN", Options{GridMapfile: gm, PoolLeaseDir: leases}, "/DC=ch/DC=cern/OU=Users/CN=pooled", "", true, 0, nil},
		{"unmapped DN", Options{GridMapfile: gm}, "/DC=ch/DC=cern/OU=Users/CN=stranger", "", false, jobdef.NoProxy, credentials.ErrUnmappedDN},
		{"no DN", Options{GridMapfile: gm}, "pandastub", "", false, jobdef.NoProxy, credentials.ErrUnmappedDN},
		{"empty owner", Options{GridMapfile: gm}, "", "", false, jobdef.NoProxy, credentials.ErrUnmappedDN},
		{"unknown account", Options{GridMapfile: gm}, "/DC=ch/DC=cern/OU=Users/CN=ghost", "", false, jobdef.SetupFailure, credentials.ErrUnknownAccount},
		{"root account", Options{GridMapfile: gm}, "/DC=ch/DC=cern/OU=Users/CN=root", "", false, jobdef.SetupFailure, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Log = testLog(t)
			s, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			jobDir := newJobDir(t)
			plan, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: 7, ProdUserID: tc.owner}, jobDir)
			if tc.code != 0 {
				if codeOf(err) != tc.code || (tc.is != nil && !errors.Is(err, tc.is)) {
					t.Fatalf("Prepare: %v (code %d), want code %d wrapping %v", err, codeOf(err), tc.code, tc.is)
				}
				if uid, _, _ := fileOwner(t, jobDir); uid != uint32(os.Geteuid()) {
					t.Errorf("failed Prepare left the job directory to uid %d", uid)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			defer plan.Release()
			if tc.pool {
				if !strings.HasPrefix(plan.Account, prefix) {
					t.Errorf("account %q, want one of pool %s", plan.Account, prefix)
				}
			} else if plan.Account != tc.account {
				t.Errorf("account %q, want %q", plan.Account, tc.account)
			}
			id := plan.Identity
			if id == nil || id.Name != plan.Account || plan.Credential == nil || plan.Credential.Uid != id.UID ||
				plan.Credential.Gid != id.GID || !slices.Equal(plan.Credential.Groups, id.Groups) {
				t.Fatalf("identity %+v credential %+v", id, plan.Credential)
			}
			if uid, gid, _ := fileOwner(t, jobDir); uid != id.UID || gid != id.GID {
				t.Errorf("job directory owned by %d:%d, want %d:%d", uid, gid, id.UID, id.GID)
			}
			if err := plan.Release(); err != nil {
				t.Fatal(err)
			}
			if uid, gid, _ := fileOwner(t, jobDir); uid != uint32(os.Geteuid()) || gid != uint32(os.Getegid()) {
				t.Errorf("after Release the job directory is owned by %d:%d", uid, gid)
			}
		})
	}
}

// Pool accounts are never leased to two running jobs at once.
func TestPoolLeasesAreNotShared(t *testing.T) {
	requireRoot(t)
	prefix := randomName("gpp", 6)
	var names []string
	for _, n := range []string{"001", "002", "003"} {
		names = append(names, newAccount(t, prefix+n).Name)
	}
	leases := filepath.Join(t.TempDir(), "leases")
	a, err := New(Options{PayloadUser: "." + prefix, PoolLeaseDir: leases, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	// a second Switcher (another pilot on the node) shares the lease directory
	b, err := New(Options{PayloadUser: "." + prefix, PoolLeaseDir: leases, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	var plans []*Plan
	var got []string
	for i, s := range []*Switcher{a, b, a} {
		p, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: int64(100 + i)}, newJobDir(t))
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		plans = append(plans, p)
		got = append(got, p.Account)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("leased %v, want %v", got, names)
	}
	_, err = b.Prepare(context.Background(), &jobdef.Job{PandaID: 200}, newJobDir(t))
	if codeOf(err) != jobdef.SetupFailure || !errors.Is(err, credentials.ErrPoolExhausted) {
		t.Fatalf("fourth job: %v, want 1110 wrapping ErrPoolExhausted", err)
	}
	if err := plans[1].Release(); err != nil {
		t.Fatal(err)
	}
	if err := plans[1].Release(); err != nil { // twice is harmless
		t.Fatal(err)
	}
	p, err := a.Prepare(context.Background(), &jobdef.Job{PandaID: 201}, newJobDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Account != names[1] {
		t.Errorf("after a release got %s, want %s", p.Account, names[1])
	}
	for _, p := range append(plans, p) {
		if err := p.Release(); err != nil {
			t.Error(err)
		}
	}
}

// A lease directory that others could write is refused.
func TestPoolLeaseDirMustBePrivate(t *testing.T) {
	requireRoot(t)
	prefix := randomName("gpp", 6)
	newAccount(t, prefix+"001")
	leases := filepath.Join(t.TempDir(), "leases")
	if err := os.Mkdir(leases, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(leases, 0o777); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{PayloadUser: "." + prefix, PoolLeaseDir: leases})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Prepare(context.Background(), &jobdef.Job{PandaID: 1}, newJobDir(t))
	if codeOf(err) != jobdef.SetupFailure || !strings.Contains(err.Error(), "lease directory") {
		t.Fatalf("Prepare: %v", err)
	}
}

// The hand-over of the job directory never leaves it.
func TestChownTreeIsConfined(t *testing.T) {
	requireRoot(t)
	acct := newAccount(t, randomName("gpt", 8))
	outside := t.TempDir()
	victim := writeFile(t, filepath.Join(outside, "victim"), "not yours", 0o644)
	victimDir := filepath.Join(outside, "dir")
	if err := os.Mkdir(victimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	jobDir := newJobDir(t)
	sub := filepath.Join(jobDir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	files := []string{
		writeFile(t, filepath.Join(jobDir, "top.txt"), "x", 0o644),
		writeFile(t, filepath.Join(sub, "deep.txt"), "x", 0o600),
		filepath.Join(jobDir, "a"), sub,
	}
	for _, l := range []struct{ target, name string }{
		{"/etc/passwd", "passwd-link"}, {victim, "victim-link"}, {victimDir, "dir-link"}, {"/etc", "a/etc-link"},
	} {
		if err := os.Symlink(l.target, filepath.Join(jobDir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(victim, filepath.Join(jobDir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	before := map[string][2]uint32{}
	for _, p := range []string{"/etc/passwd", "/etc", victim, victimDir} {
		uid, gid, _ := fileOwner(t, p)
		before[p] = [2]uint32{uid, gid}
	}

	if err := chownTree(jobDir, int(acct.UID), int(acct.GID)); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(files, jobDir, filepath.Join(jobDir, "passwd-link"), filepath.Join(jobDir, "a/etc-link")) {
		if uid, gid, _ := fileOwner(t, p); uid != acct.UID || gid != acct.GID {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, uid, gid, acct.UID, acct.GID)
		}
	}
	for p, was := range before {
		if uid, gid, _ := fileOwner(t, p); uid != was[0] || gid != was[1] {
			t.Errorf("%s outside the job directory changed owner: %d:%d, was %v", p, uid, gid, was)
		}
	}
	if err := chownTree(filepath.Join(jobDir, "dir-link"), int(acct.UID), int(acct.GID)); err == nil {
		t.Error("chownTree followed a symbolic link given as the top directory")
	}
}

func TestPayloadEnv(t *testing.T) {
	id := &credentials.Identity{Name: "gpuser", UID: 1234, GID: 1234, Home: "/home/gpuser"}
	base := []string{"PATH=/usr/bin:/bin", "HOME=/root", "USER=root", "X509_USER_PROXY=/tmp/x509up_u0",
		"X509_USER_CERT=/etc/grid-security/hostcert.pem", "X509_USER_KEY=/etc/grid-security/hostkey.pem",
		"BEARER_TOKEN=secret", "OIDC_AUTH_TOKEN=tok", "PANDA_AUTH_TOKEN=tok", "PANDAID=7", "X509_CERT_DIR=/etc/grid-security/certificates"}
	tests := []struct {
		name  string
		id    *credentials.Identity
		proxy string
		want  []string
	}{
		{"not switching", nil, "", base},
		{"not switching, MyProxy credential", nil, "/job/x509_payload_proxy", []string{"PATH=/usr/bin:/bin", "HOME=/root", "USER=root",
			"X509_USER_CERT=/etc/grid-security/hostcert.pem", "X509_USER_KEY=/etc/grid-security/hostkey.pem",
			"BEARER_TOKEN=secret", "OIDC_AUTH_TOKEN=tok", "PANDA_AUTH_TOKEN=tok", "PANDAID=7", "X509_CERT_DIR=/etc/grid-security/certificates",
			"X509_USER_PROXY=/job/x509_payload_proxy"}},
		{"switching", id, "", []string{"PATH=/usr/bin:/bin", "PANDAID=7", "X509_CERT_DIR=/etc/grid-security/certificates",
			"HOME=/home/gpuser", "USER=gpuser", "LOGNAME=gpuser"}},
		{"switching with a payload credential", id, "/job/x509_payload_proxy", []string{"PATH=/usr/bin:/bin", "PANDAID=7",
			"X509_CERT_DIR=/etc/grid-security/certificates", "HOME=/home/gpuser", "USER=gpuser", "LOGNAME=gpuser",
			"X509_USER_PROXY=/job/x509_payload_proxy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(base)
			got := payloadEnv(base, tc.id, tc.proxy)
			if !slices.Equal(got, tc.want) {
				t.Errorf("env\n got %q\nwant %q", got, tc.want)
			}
			if !slices.Equal(base, orig) {
				t.Error("base modified")
			}
		})
	}
}

// The Plan's argv: the umask step, or the wrapper then the environment-loading step.
func TestWrapArgv(t *testing.T) {
	requireRoot(t)
	acct := newAccount(t, randomName("gpt", 8))
	payload := []string{"/bin/bash", "-c", "echo hi"}
	tests := []struct {
		name    string
		wrapper string
		want    func(jobDir string) []string
	}{
		{"credential", "", func(string) []string {
			return []string{"/bin/sh", "-c", `umask 077 && exec "$@"`, "gopilot-payload", "/bin/bash", "-c", "echo hi"}
		}},
		{"sudo", "sudo -n -u {user} --", func(jobDir string) []string {
			return []string{"sudo", "-n", "-u", acct.Name, "--", "/bin/bash", "-c", wrappedScript, "gopilot-payload",
				filepath.Join(jobDir, EnvFile), "/bin/bash", "-c", "echo hi"}
		}},
		{"quoted words", `sudo -n --user='{user}' "--prompt=x y" --`, func(jobDir string) []string {
			return []string{"sudo", "-n", "--user=" + acct.Name, "--prompt=x y", "--", "/bin/bash", "-c", wrappedScript,
				"gopilot-payload", filepath.Join(jobDir, EnvFile), "/bin/bash", "-c", "echo hi"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{PayloadUser: acct.Name, Wrapper: tc.wrapper, Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			jobDir := newJobDir(t)
			plan, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: 1}, jobDir)
			if err != nil {
				t.Fatal(err)
			}
			defer plan.Release()
			if got := plan.WrapArgv(payload); !slices.Equal(got, tc.want(jobDir)) {
				t.Errorf("argv\n got %q\nwant %q", got, tc.want(jobDir))
			}
			if (tc.wrapper == "") != (plan.Credential != nil) {
				t.Errorf("credential %+v with wrapper %q", plan.Credential, tc.wrapper)
			}
		})
	}
}

// Without anything configured a Plan changes nothing.
func TestDisabledPlanIsIdentity(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Enabled() {
		t.Fatal("enabled")
	}
	dir := t.TempDir()
	plan, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: 1, CredName: "x"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{"/bin/bash", "-c", "true"}
	env := []string{"A=1", "X509_USER_PROXY=/p"}
	if got := plan.WrapArgv(argv); !slices.Equal(got, argv) {
		t.Errorf("argv %q", got)
	}
	if got := plan.Env(env); !slices.Equal(got, env) {
		t.Errorf("env %q", got)
	}
	if plan.Credential != nil || plan.Account != "" || plan.ProxyPath != "" {
		t.Errorf("plan %+v", plan)
	}
	if err := plan.Release(); err != nil {
		t.Error(err)
	}
}

// A job directory the account cannot reach is reported before anything is changed.
func TestUnreachableJobDir(t *testing.T) {
	requireRoot(t)
	acct := newAccount(t, randomName("gpt", 8))
	s, err := New(Options{PayloadUser: acct.Name, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	closed := filepath.Join(t.TempDir(), "closed") // t.TempDir is 0700
	jobDir := filepath.Join(closed, "PanDA_Pilot-1")
	if err := os.MkdirAll(jobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = s.Prepare(context.Background(), &jobdef.Job{PandaID: 1}, jobDir)
	if codeOf(err) != jobdef.SetupFailure || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("Prepare: %v", err)
	}
	if uid, _, _ := fileOwner(t, jobDir); uid != uint32(os.Geteuid()) {
		t.Errorf("job directory handed over anyway (uid %d)", uid)
	}
}

func TestLifetimeErrorCodes(t *testing.T) {
	now := time.Now()
	tests := []struct {
		err  error
		code jobdef.ErrorCode
	}{
		{credentials.CheckLifetime(now, now.Add(-time.Minute), 0), jobdef.CertificateHasExpired},
		{credentials.CheckLifetime(now, now.Add(time.Minute), time.Hour), jobdef.ProxyTooShort},
		{&credentials.LifetimeError{VOMS: true, Err: credentials.ErrExpired}, jobdef.NoVOMSProxy},
		{&credentials.LifetimeError{VOMS: true, Err: credentials.ErrTooShort}, jobdef.NoVOMSProxy},
		{credentials.ErrInvalidProxy, jobdef.NoProxy},
	}
	for _, tc := range tests {
		pe := lifetimeError("credential", tc.err)
		if pe.Code != tc.code || !errors.Is(pe, tc.err) {
			t.Errorf("%v: code %d, want %d", tc.err, pe.Code, tc.code)
		}
	}
}

func TestSameDN(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"/O=Test/CN=User", "/O=Test/CN=User", true},
		{"/O=Test/CN=User", "/O=Test/CN=User/CN=proxy", true},
		{"/O=Test/CN=User/CN=12345", "/O=Test/CN=User", true},
		{"/O=Test/CN=User/Email=u@x", "/O=Test/CN=User/emailAddress=u@x", true},
		{"/O=Test/CN=User", "/O=Test/CN=Other", false},
		{`/O=Test/CN=Quote"d`, `/O=Test/CN=Quote"d`, true},
		{`/O=Test/CN=Back\slash`, `/O=Test/CN=Back\slash`, true},
	}
	for _, tc := range tests {
		if got := sameDN(tc.a, tc.b); got != tc.same {
			t.Errorf("sameDN(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestEncodeEnv(t *testing.T) {
	env := []string{"A=1", "B=two words\nand a line", "A=3", "NOEQUALS", "=empty", "-x=1", "C=", "BASH_FUNC_f%%=() { :; }"}
	got := decodeEnv(encodeEnv(env))
	want := []string{"B=two words\nand a line", "A=3", "C=", "BASH_FUNC_f%%=() { :; }"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
}

func FuzzParseCapEff(f *testing.F) {
	f.Add("CapEff:\t000001ffffffffff\n")
	f.Add("Name:\tx\nCapEff: 0\n")
	f.Add("CapEff:\t\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseCapEff(strings.NewReader(s))
	})
}

func FuzzEncodeEnv(f *testing.F) {
	f.Add("A=1\x00B=2\x00A=3", byte(0))
	f.Add("=\x00-=\x00x", byte('\n'))
	f.Fuzz(func(t *testing.T, s string, sep byte) {
		if sep == 0 {
			sep = '\x01'
		}
		env := strings.Split(s, string(sep))
		enc := encodeEnv(env)
		dec := decodeEnv(enc)
		seen := map[string]bool{}
		for _, kv := range dec {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || k[0] == '-' || seen[k] || !slices.Contains(env, kv) {
				t.Fatalf("decoded %q from %q", kv, env)
			}
			seen[k] = true
		}
		if bytes.Count(enc, []byte{0}) != len(dec) {
			t.Fatalf("%d entries, %d NULs", len(dec), bytes.Count(enc, []byte{0}))
		}
	})
}

func FuzzSameDN(f *testing.F) {
	f.Add("/O=Test/CN=User", "/O=Test/CN=User/CN=proxy")
	f.Add(`/O="\`, "\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		_ = sameDN(a, b)
	})
}
