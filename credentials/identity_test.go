package credentials

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestIdentityFromFiles(t *testing.T) {
	t.Parallel()
	passwd := `root:x:0:0:root:/root:/bin/bash
# comment
+nisuser::::::
alice:x:1001:1001:Alice:/home/alice:/bin/zsh
bob:x:1002:500::/home/bob:/bin/sh
bobby:x:1003:1003::/home/bobby:/bin/sh
carol:x:1004:1004::/home/carol:
broken:x:notanumber:1:::
`
	group := `root:x:0:
users:x:500:alice,bobby
alice:x:1001:
wheel:x:10:alice, bob
docker:x:999:bob,alice,alice
bobgrp:x:500:bob
+nisgroup
empty:x:20:
odd:x:abc:alice
ssl:x:103:bobby
bob:x:1002:
`
	tests := []struct {
		name   string
		want   *Identity
		errIs  error
		groups []uint32
	}{
		{"alice", &Identity{Name: "alice", UID: 1001, GID: 1001, Home: "/home/alice", Shell: "/bin/zsh"}, nil, []uint32{10, 500, 999, 1001}},
		// primary group 500 is also listed (by gid) for bob through bobgrp: no duplicate, no zero
		{"bob", &Identity{Name: "bob", UID: 1002, GID: 500, Home: "/home/bob", Shell: "/bin/sh"}, nil, []uint32{10, 500, 999}},
		{"bobby", &Identity{Name: "bobby", UID: 1003, GID: 1003, Home: "/home/bobby", Shell: "/bin/sh"}, nil, []uint32{103, 500, 1003}},
		{"carol", &Identity{Name: "carol", UID: 1004, GID: 1004, Home: "/home/carol"}, nil, []uint32{1004}},
		{"root", &Identity{Name: "root", UID: 0, GID: 0, Home: "/root", Shell: "/bin/bash"}, nil, []uint32{0}},
		{"nobody", nil, ErrUnknownAccount, nil},
		{"broken", nil, ErrUnknownAccount, nil},
	}
	for _, tc := range tests {
		got, err := identityFromFiles(tc.name, strings.NewReader(passwd), strings.NewReader(group))
		if tc.errIs != nil {
			if !errors.Is(err, tc.errIs) {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		tc.want.Groups = tc.groups
		if got.Name != tc.want.Name || got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home ||
			got.Shell != tc.want.Shell || !slices.Equal(got.Groups, tc.want.Groups) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestNormaliseGroups(t *testing.T) {
	t.Parallel()
	in := []uint32{5, 3, 5, 1000}
	got := normaliseGroups(1000, in)
	if !slices.Equal(got, []uint32{3, 5, 1000}) {
		t.Fatalf("%v", got)
	}
	if !slices.Equal(in, []uint32{5, 3, 5, 1000}) {
		t.Fatalf("input modified: %v", in)
	}
	if got := normaliseGroups(7, nil); !slices.Equal(got, []uint32{7}) {
		t.Fatalf("%v", got)
	}
}

// localAccounts lists the names in /etc/passwd.
func localAccounts(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/etc/passwd")
	if err != nil {
		t.Skip("no /etc/passwd")
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, ok := parsePasswdLine(sc.Text()); ok {
			names = append(names, e.name)
		}
	}
	return names
}

// TestLookupIdentitySystem compares LookupIdentity for every local account with the
// passwd/group files and with `id -G`, which asks the C library. Other tests create and
// remove throwaway accounts meanwhile: a comparison during which /etc/passwd or
// /etc/group changed is made again, and an account that has gone is skipped.
func TestLookupIdentitySystem(t *testing.T) {
	t.Parallel()
	idTool, _ := exec.LookPath("id")
	stamp := func() string {
		pw, _ := os.ReadFile("/etc/passwd")
		gr, _ := os.ReadFile("/etc/group")
		return string(pw) + "\x00" + string(gr)
	}
	for _, n := range localAccounts(t) {
		for attempt := 0; ; attempt++ {
			before := stamp()
			err := compareIdentity(n, idTool)
			after := stamp()
			if err == nil {
				break
			}
			if before != after && attempt < 20 {
				continue // accounts changed meanwhile: compare again
			}
			if !strings.Contains("\n"+after, "\n"+n+":") {
				break // the account has gone
			}
			t.Error(err)
			break
		}
	}
	if _, err := LookupIdentity("no-such-user-gopilot"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := LookupIdentity(""); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("empty name: %v", err)
	}
}

// compareIdentity compares LookupIdentity(n) with the files and with `id -G` (when
// idTool is set).
func compareIdentity(n, idTool string) error {
	got, err := LookupIdentity(n)
	if err != nil {
		return fmt.Errorf("%s: %v", n, err)
	}
	pw, err := os.Open("/etc/passwd")
	if err != nil {
		return err
	}
	defer pw.Close()
	gr, err := os.Open("/etc/group")
	if err != nil {
		return err
	}
	defer gr.Close()
	files, err := identityFromFiles(n, pw, gr)
	if err != nil {
		return fmt.Errorf("%s from the files: %v", n, err)
	}
	if got.UID != files.UID || got.GID != files.GID || got.Home != files.Home || got.Shell != files.Shell ||
		!slices.Equal(got.Groups, files.Groups) {
		return fmt.Errorf("%s: LookupIdentity %+v, files %+v", n, got, files)
	}
	if idTool == "" {
		return nil
	}
	out, err := exec.Command(idTool, "-G", n).Output()
	if err != nil {
		return fmt.Errorf("id -G %s: %v", n, err)
	}
	var want []uint32
	for _, f := range strings.Fields(string(out)) {
		g, _ := strconv.ParseUint(f, 10, 32)
		want = append(want, uint32(g))
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(got.Groups, want) {
		return fmt.Errorf("%s: groups %v, id -G says %v", n, got.Groups, want)
	}
	return nil
}

func TestIdentityEnvAndCredential(t *testing.T) {
	t.Parallel()
	id := &Identity{Name: "atlasprd001", UID: 5001, GID: 5000, Groups: []uint32{5000, 6000}, Home: "/home/atlasprd001"}
	base := []string{"HOME=/root", "PATH=/bin", "USER=root", "X=1", "LOGNAME=root", "HOME=/again", "EMPTY="}
	got := id.Env(base)
	want := []string{"PATH=/bin", "X=1", "EMPTY=", "HOME=/home/atlasprd001", "USER=atlasprd001", "LOGNAME=atlasprd001"}
	if !slices.Equal(got, want) {
		t.Fatalf("Env = %v", got)
	}
	if len(base) != 7 || base[0] != "HOME=/root" {
		t.Fatalf("base modified: %v", base)
	}
	c := id.Credential()
	if c.Uid != 5001 || c.Gid != 5000 || !slices.Equal(c.Groups, []uint32{5000, 6000}) || c.NoSetGroups {
		t.Fatalf("%+v", c)
	}
	c.Groups[0] = 1
	if id.Groups[0] != 5000 {
		t.Fatal("Credential shares the group slice")
	}
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = []string{"A=b"}
	id.Apply(cmd)
	if !cmd.SysProcAttr.Setpgid || cmd.SysProcAttr.Credential.Uid != 5001 ||
		!slices.Equal(cmd.Env, []string{"A=b", "HOME=/home/atlasprd001", "USER=atlasprd001", "LOGNAME=atlasprd001"}) {
		t.Fatalf("Apply: %+v %v", cmd.SysProcAttr, cmd.Env)
	}
}

func TestCanSwitchStatus(t *testing.T) {
	t.Parallel()
	status := func(capEff string) io.Reader {
		return strings.NewReader("Name:\tpilot\nUid:\t1000\t1000\t1000\t1000\nCapEff:\t" + capEff + "\n")
	}
	tests := []struct {
		name    string
		status  io.Reader
		euid    int
		ok      bool
		mention string
	}{
		{"root full caps", status("000001ffffffffff"), 0, true, ""},
		{"setuid and setgid only", status("00000000000000c0"), 1000, true, ""},
		{"no caps", status("0000000000000000"), 1000, false, "CAP_SETUID and CAP_SETGID"},
		{"setgid only", status("0000000000000040"), 1000, false, "CAP_SETUID"},
		{"root without setuid", status("0000000000000040"), 0, false, "CAP_SETUID"},
		{"garbage", status("zz"), 0, false, "CapEff"},
		{"no CapEff line, root", strings.NewReader("Name:\tx\n"), 0, true, ""},
		{"no CapEff line, user", strings.NewReader("Name:\tx\n"), 1000, false, "not root"},
		{"no /proc, root", nil, 0, true, ""},
		{"no /proc, user", nil, 1000, false, "not root"},
	}
	for _, tc := range tests {
		err := canSwitch(tc.status, tc.euid)
		if tc.ok != (err == nil) || (err != nil && (!errors.Is(err, ErrNoPrivilege) || !strings.Contains(err.Error(), tc.mention))) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestSwitchIdentityReal runs a child under another account and checks what the kernel
// gave it: uid, gid and exactly the supplementary groups of the Identity. It also runs the
// test binary as an unprivileged account to see CanSwitch refuse.
func TestSwitchIdentityReal(t *testing.T) {
	if err := CanSwitch(); err != nil {
		t.Skipf("cannot switch identities here: %v", err)
	}
	// Prefer an account with supplementary groups, to see them applied exactly.
	var target *Identity
	for _, n := range localAccounts(t) {
		id, err := LookupIdentity(n)
		if err != nil || id.UID == 0 {
			continue
		}
		if target == nil || len(id.Groups) > len(target.Groups) {
			target = id
		}
	}
	if target == nil {
		t.Skip("no unprivileged local account")
	}
	t.Logf("switching to %s uid %d gid %d groups %v", target.Name, target.UID, target.GID, target.Groups)
	cmd := exec.Command("/bin/cat", "/proc/self/status")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	target.Apply(cmd)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run as %s: %v", target.Name, err)
	}
	fields := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			fields[k] = strings.Fields(v)
		}
	}
	u := strconv.FormatUint(uint64(target.UID), 10)
	g := strconv.FormatUint(uint64(target.GID), 10)
	if !slices.Equal(fields["Uid"], []string{u, u, u, u}) || !slices.Equal(fields["Gid"], []string{g, g, g, g}) {
		t.Errorf("Uid %v Gid %v, want %s %s", fields["Uid"], fields["Gid"], u, g)
	}
	var want []string
	for _, gid := range target.Groups {
		want = append(want, strconv.FormatUint(uint64(gid), 10))
	}
	if !slices.Equal(fields["Groups"], want) {
		t.Errorf("%s: kernel groups %v, want exactly %v", target.Name, fields["Groups"], want)
	}

	// The same binary run unprivileged must be refused by CanSwitch.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyExe := filepath.Join(dir, "credentials.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyExe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	child := helperCommand(t, copyExe, "canswitch")
	target.Apply(child)
	child.Dir = dir
	res, err := child.Output()
	if err != nil {
		t.Fatalf("unprivileged helper: %v (%s)", err, res)
	}
	if !strings.Contains(string(res), "ERR") || !strings.Contains(string(res), ErrNoPrivilege.Error()) {
		t.Errorf("CanSwitch as %s said %q", target.Name, res)
	}
}
