package credentials

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Identity is a local account a payload can run as.
type Identity struct {
	Name string
	UID  uint32
	GID  uint32 // primary group
	// Groups is the exact supplementary group list the payload gets: the primary gid plus
	// every group that lists the account as a member, sorted ascending, without duplicates.
	Groups []uint32
	Home   string
	Shell  string // login shell from /etc/passwd; "" when the account is not in that file
}

// LookupIdentity looks up a local account by name through os/user (so NSS sources are seen
// when the binary uses cgo) and completes it from /etc/passwd (the shell). Group ids come
// from os/user; when os/user cannot list them, /etc/group is read instead. An unknown
// account gives an error wrapping ErrUnknownAccount.
func LookupIdentity(name string) (*Identity, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrUnknownAccount)
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, name)
		}
		return nil, fmt.Errorf("look up account %s: %w", name, err)
	}
	id := &Identity{Name: u.Username, Home: u.HomeDir}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("account %s: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	id.UID, id.GID = uint32(uid), uint32(gid)
	var gids []uint32
	if strs, err := u.GroupIds(); err == nil {
		for _, s := range strs {
			g, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("account %s: non-numeric group id %q", name, s)
			}
			gids = append(gids, uint32(g))
		}
	} else {
		f, ferr := os.Open("/etc/group")
		if ferr != nil {
			return nil, fmt.Errorf("account %s: groups: %v; %v", name, err, ferr)
		}
		gids, err = memberGroups(f, u.Username)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", name, err)
		}
	}
	id.Groups = normaliseGroups(id.GID, gids)
	if f, err := os.Open("/etc/passwd"); err == nil {
		if e, ok, _ := findPasswd(f, u.Username); ok {
			id.Shell = e.shell
		}
		f.Close()
	}
	return id, nil
}

// normaliseGroups returns primary plus others, sorted, without duplicates, in a new slice.
func normaliseGroups(primary uint32, others []uint32) []uint32 {
	out := make([]uint32, 0, len(others)+1)
	out = append(out, primary)
	out = append(out, others...)
	slices.Sort(out)
	return slices.Compact(out)
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
	shell    string
}

// parsePasswdLine parses "name:pw:uid:gid:gecos:home:shell"; ok is false for comments,
// blank lines, NIS "+"/"-" lines and malformed lines.
func parsePasswdLine(line string) (passwdEntry, bool) {
	if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
		return passwdEntry{}, false
	}
	f := strings.Split(line, ":")
	if len(f) != 7 || f[0] == "" {
		return passwdEntry{}, false
	}
	uid, err1 := strconv.ParseUint(f[2], 10, 32)
	gid, err2 := strconv.ParseUint(f[3], 10, 32)
	if err1 != nil || err2 != nil {
		return passwdEntry{}, false
	}
	return passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5], shell: f[6]}, true
}

func findPasswd(r io.Reader, name string) (passwdEntry, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if e, ok := parsePasswdLine(sc.Text()); ok && e.name == name {
			return e, true, nil
		}
	}
	return passwdEntry{}, false, sc.Err()
}

// memberGroups lists the gids of the /etc/group entries ("name:pw:gid:member,member")
// that list name as a member, in file order.
func memberGroups(r io.Reader, name string) ([]uint32, error) {
	var out []uint32
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if strings.TrimSpace(m) == name {
				out = append(out, uint32(gid))
				break
			}
		}
	}
	return out, sc.Err()
}

// identityFromFiles builds an Identity from passwd and group files alone.
func identityFromFiles(name string, passwd, group io.Reader) (*Identity, error) {
	e, ok, err := findPasswd(passwd, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, name)
	}
	gids, err := memberGroups(group, name)
	if err != nil {
		return nil, err
	}
	return &Identity{Name: e.name, UID: e.uid, GID: e.gid, Groups: normaliseGroups(e.gid, gids),
		Home: e.home, Shell: e.shell}, nil
}

// Credential returns the credential for exec.Cmd.SysProcAttr: uid, gid and exactly Groups
// as supplementary groups (a copy).
func (id *Identity) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: slices.Clone(id.Groups)}
}

// Env returns a copy of base (KEY=VALUE entries) in which HOME, USER and LOGNAME are set
// to the account's values: every earlier entry of these keys is removed and the three are
// appended in that order. Other entries keep their order.
func (id *Identity) Env(base []string) []string {
	out := make([]string, 0, len(base)+3)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "USER" || k == "LOGNAME" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+id.Home, "USER="+id.Name, "LOGNAME="+id.Name)
}

// Apply makes cmd run as the identity: it sets cmd.SysProcAttr.Credential (creating
// SysProcAttr if needed, keeping its other fields) and cmd.Env = Env(cmd.Env), where a nil
// cmd.Env stands for os.Environ() as in os/exec.
func (id *Identity) Apply(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = id.Credential()
	base := cmd.Env
	if base == nil {
		base = os.Environ()
	}
	cmd.Env = id.Env(base)
}

const (
	capSetGID = 6
	capSetUID = 7
)

// CanSwitch reports whether this process may run children under another uid and gid: it
// needs CAP_SETUID and CAP_SETGID in its effective capability set (/proc/self/status
// CapEff), which root normally has. When /proc cannot be read, euid 0 counts as enough.
// Otherwise the error wraps ErrNoPrivilege and says what is missing.
func CanSwitch() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return canSwitch(nil, os.Geteuid())
	}
	defer f.Close()
	return canSwitch(f, os.Geteuid())
}

func canSwitch(status io.Reader, euid int) error {
	if status == nil {
		if euid == 0 {
			return nil
		}
		return fmt.Errorf("%w: running as uid %d (not root) and /proc/self/status is unreadable", ErrNoPrivilege, euid)
	}
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return fmt.Errorf("%w: unreadable CapEff %q", ErrNoPrivilege, strings.TrimSpace(v))
		}
		var missing []string
		if caps&(1<<capSetUID) == 0 {
			missing = append(missing, "CAP_SETUID")
		}
		if caps&(1<<capSetGID) == 0 {
			missing = append(missing, "CAP_SETGID")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: uid %d lacks %s in its effective capabilities (CapEff %016x); run the pilot as root or grant CAP_SETUID and CAP_SETGID, or use an identity wrapper such as sudo",
				ErrNoPrivilege, euid, strings.Join(missing, " and "), caps)
		}
		return nil
	}
	if euid == 0 {
		return nil
	}
	return fmt.Errorf("%w: uid %d is not root and no CapEff line was found", ErrNoPrivilege, euid)
}
