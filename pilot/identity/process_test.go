package identity

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/timedcmd"
)

// probeScript prints what the payload is and tries the pilot's proxy.
const probeScript = `id -u; id -g; id -G; umask
echo "home=$HOME user=$USER logname=$LOGNAME proxy=${X509_USER_PROXY-unset} token=${BEARER_TOKEN-unset} pandaid=${PANDAID-unset}"
echo "cwd=$(pwd)"
touch created.txt; mkdir createddir
cat "$PILOT_PROXY_PATH"`

type probe struct {
	uid, gid, groups, umask, vars, cwd string
	stdout, stderr                     string
	res                                *timedcmd.Result
}

// runProbe runs probeScript under the plan as the pilot would start the payload.
func runProbe(t *testing.T, plan *Plan, jobDir, pilotProxy string) probe {
	t.Helper()
	spec := timedcmd.Spec{
		Path: "/bin/bash", Args: []string{"/bin/bash", "-c", probeScript},
		Env: []string{"PATH=/usr/bin:/bin", "HOME=/root", "USER=root", "LOGNAME=root", "PANDAID=42",
			"X509_USER_PROXY=" + pilotProxy, "BEARER_TOKEN=pilot-token", "PILOT_PROXY_PATH=" + pilotProxy},
		Dir: jobDir, NewSession: true, Timeout: 2 * time.Minute, TailBytes: 8192,
	}
	if err := plan.Apply(&spec); err != nil {
		t.Fatal(err)
	}
	res, err := timedcmd.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	p := probe{stdout: string(res.StdoutTail), stderr: string(res.StderrTail), res: res}
	lines := strings.Split(strings.TrimRight(p.stdout, "\n"), "\n")
	if len(lines) < 6 {
		t.Fatalf("probe printed %q (stderr %q)", p.stdout, p.stderr)
	}
	p.uid, p.gid, p.groups, p.umask, p.vars, p.cwd = lines[0], lines[1], lines[2], lines[3], lines[4], lines[5]
	return p
}

func sortedFields(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return slices.Compact(f)
}

func TestPayloadRunsAsAccount(t *testing.T) {
	requireRoot(t)
	g1, g2 := newGroup(t), newGroup(t)
	for _, wrapper := range []string{"", "sudo -n -u {user} --"} {
		name := "credential"
		if wrapper != "" {
			name = "sudo"
		}
		t.Run(name, func(t *testing.T) {
			if wrapper != "" {
				requireTools(t, "sudo")
			}
			acct := newAccount(t, randomName("gpt", 8), g1, g2)
			if len(acct.Groups) != 3 {
				t.Fatalf("account groups %v, want its own and two more", acct.Groups)
			}
			pilotProxy := writeFile(t, filepath.Join(openDir(t), "x509up_u0"), "PILOT-PROXY-SECRET\n", 0o644)
			s, err := New(Options{PayloadUser: acct.Name, Wrapper: wrapper, PilotProxy: pilotProxy, Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			jobDir := newJobDir(t)
			writeFile(t, filepath.Join(jobDir, "staged-in.dat"), "input", 0o644)
			plan, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: 42}, jobDir)
			if err != nil {
				t.Fatal(err)
			}
			p := runProbe(t, plan, jobDir, pilotProxy)
			t.Logf("stdout:\n%sstderr:\n%s", p.stdout, p.stderr)

			var want []string
			for _, g := range acct.Groups {
				want = append(want, strconv.FormatUint(uint64(g), 10))
			}
			if p.uid != strconv.Itoa(int(acct.UID)) || p.gid != strconv.Itoa(int(acct.GID)) {
				t.Errorf("uid %s gid %s, want %d %d", p.uid, p.gid, acct.UID, acct.GID)
			}
			if got := sortedFields(p.groups); !slices.Equal(got, sortedFields(strings.Join(want, " "))) {
				t.Errorf("groups %v, want exactly %v", got, want)
			}
			if p.umask != "0077" {
				t.Errorf("umask %s, want 0077", p.umask)
			}
			wantVars := "home=" + acct.Home + " user=" + acct.Name + " logname=" + acct.Name + " proxy=unset token=unset pandaid=42"
			if p.vars != wantVars {
				t.Errorf("environment %q, want %q", p.vars, wantVars)
			}
			if p.cwd != "cwd="+jobDir {
				t.Errorf("%s, want the job directory", p.cwd)
			}
			// reading the pilot's proxy fails
			if strings.Contains(p.stdout, "PILOT-PROXY-SECRET") || !strings.Contains(p.stderr, "Permission denied") || p.res.ExitCode != 1 {
				t.Errorf("the payload read the pilot's proxy, or failed otherwise: exit %d stderr %q", p.res.ExitCode, p.stderr)
			}
			if uid, _, mode := fileOwner(t, pilotProxy); uid != 0 || mode.Perm() != 0o600 {
				t.Errorf("pilot proxy uid %d mode %v", uid, mode)
			}
			// files the payload makes are private to the account; what the pilot put there is the account's
			for _, f := range []struct {
				name string
				perm os.FileMode
			}{{"created.txt", 0o600}, {"createddir", 0o700}, {"staged-in.dat", 0o644}} {
				uid, gid, mode := fileOwner(t, filepath.Join(jobDir, f.name))
				if uid != acct.UID || gid != acct.GID || mode.Perm() != f.perm {
					t.Errorf("%s: %d:%d %v, want %d:%d %v", f.name, uid, gid, mode.Perm(), acct.UID, acct.GID, f.perm)
				}
			}
			if wrapper != "" {
				if _, err := os.Lstat(filepath.Join(jobDir, EnvFile)); !os.IsNotExist(err) {
					t.Errorf("environment file left behind: %v", err)
				}
			}
			if err := plan.Release(); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{".", "created.txt", "createddir", "staged-in.dat"} {
				if uid, gid, _ := fileOwner(t, filepath.Join(jobDir, f)); uid != 0 || gid != 0 {
					t.Errorf("after Release %s is %d:%d", f, uid, gid)
				}
			}
		})
	}
}

// The wrapper step fails loudly when the environment file is missing.
func TestWrapperWithoutEnvFile(t *testing.T) {
	requireRoot(t)
	requireTools(t, "sudo")
	acct := newAccount(t, randomName("gpt", 8))
	s, err := New(Options{PayloadUser: acct.Name, Wrapper: "sudo -n -u {user} --", Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	jobDir := newJobDir(t)
	plan, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: 1}, jobDir)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Release()
	argv := plan.WrapArgv([]string{"/bin/true"})
	res, err := timedcmd.Run(context.Background(), timedcmd.Spec{Path: argv[0], Args: argv, Env: plan.Env([]string{"PATH=/usr/bin:/bin"}),
		Dir: jobDir, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 126 || !strings.Contains(string(res.StderrTail), "cannot read the payload environment") {
		t.Errorf("exit %d stderr %q", res.ExitCode, res.StderrTail)
	}
}

// treeScript starts a tree of sleepers (a background child, a grandchild in its own
// session) as the payload, records their pids, says it is ready once all four pids are
// recorded (the subshell writes its child's pid asynchronously) and waits.
const treeScript = `sleep 1000 & echo $! >> pids
setsid sleep 1000 & echo $! >> pids
(sleep 1000 & echo $! >> pids; wait) &
echo $$ >> pids
until [ "$(wc -l < pids)" -ge 4 ]; do sleep 0.05; done
echo started > ready
wait`

// A payload running as another account, directly or behind sudo, is killed with its
// whole tree when it times out.
func TestTimedOutPayloadTreeDies(t *testing.T) {
	requireRoot(t)
	for _, wrapper := range []string{"", "sudo -n -u {user} --"} {
		name := "credential"
		if wrapper != "" {
			name = "sudo"
		}
		t.Run(name, func(t *testing.T) {
			if wrapper != "" {
				requireTools(t, "sudo")
			}
			acct := newAccount(t, randomName("gpt", 8))
			s, err := New(Options{PayloadUser: acct.Name, Wrapper: wrapper, Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			jobDir := newJobDir(t)
			plan, err := s.Prepare(context.Background(), &jobdef.Job{PandaID: 9}, jobDir)
			if err != nil {
				t.Fatal(err)
			}
			defer plan.Release()
			spec := timedcmd.Spec{Path: "/bin/bash", Args: []string{"/bin/bash", "-c", treeScript},
				Env: []string{"PATH=/usr/bin:/bin"}, Dir: jobDir, NewSession: true, Timeout: 10 * time.Second, Grace: 2 * time.Second}
			if err := plan.Apply(&spec); err != nil {
				t.Fatal(err)
			}
			cmd, err := timedcmd.Start(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			// note the tree (with start times) while it runs
			type proc struct{ pid, start string }
			var tree []proc
			deadline := time.Now().Add(2 * time.Minute)
			for len(tree) == 0 {
				if _, err := os.Stat(filepath.Join(jobDir, "ready")); err == nil {
					data, _ := os.ReadFile(filepath.Join(jobDir, "pids"))
					for _, pid := range strings.Fields(string(data)) {
						if st, ok := procStat(pid); ok {
							tree = append(tree, proc{pid, st.start})
							if st.uid != acct.UID {
								t.Errorf("tree process %s runs as uid %d", pid, st.uid)
							}
						}
					}
					if len(tree) == 0 {
						t.Fatal("no tree process found")
					}
				}
				select {
				case <-cmd.Done():
					if len(tree) == 0 {
						res, _ := cmd.Wait()
						t.Fatalf("payload ended before its tree was seen: %+v", res)
					}
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("the payload tree did not start")
				}
			}
			if len(tree) != 4 {
				t.Errorf("tree %v, want 4 processes", tree)
			}
			res, err := cmd.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if !res.TimedOut || len(res.Survivors) > 0 {
				t.Errorf("result: timed out %v survivors %v", res.TimedOut, res.Survivors)
			}
			for _, p := range tree {
				if st, ok := procStat(p.pid); ok && st.start == p.start && !st.dead {
					t.Errorf("process %s of the payload tree survived (state %c)", p.pid, st.state)
				}
			}
		})
	}
}

type procInfo struct {
	start string
	state byte
	dead  bool
	uid   uint32
}

// procStat reads a process's start time, state and real uid; ok is false when it is gone.
func procStat(pid string) (procInfo, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	info := procInfo{start: f[19], state: f[0][0]}
	info.dead = info.state == 'Z' || info.state == 'X'
	var st syscall.Stat_t
	if syscall.Stat("/proc/"+pid, &st) == nil {
		info.uid = st.Uid
	}
	return info, true
}
