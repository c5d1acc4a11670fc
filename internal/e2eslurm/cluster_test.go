package e2eslurm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cluster is a one-node Slurm cluster started by scripts/slurm/start.sh in a
// directory of the test's own.
type cluster struct {
	t    *testing.T // the test that started the cluster (its cleanup stops it)
	root string     // repository root
	dir  string     // the cluster's directory (config, state, logs, pids)
	conf string     // slurm.conf
}

// repoRoot finds the repository root (the directory holding go.mod) above the
// package directory the test runs in.
func repoRoot(t *testing.T) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			t.Fatal("repository root (go.mod) not found above the test directory")
		}
		d = up
	}
}

// startCluster starts munged, slurmctld and slurmd with scripts/slurm/start.sh
// and stops exactly them (scripts/slurm/stop.sh) when the test ends. Not being
// root, or daemons that do not come up, fail the test with the reason and the
// daemons' logs.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the Slurm end-to-end tests must run as root: slurmd starts jobs as their owners " +
			"and munged runs as the account munge (make test runs as root in CI)")
	}
	c := &cluster{t: t, root: repoRoot(t)}
	td := t.TempDir()
	c.dir = filepath.Join(td, "slurm")
	c.conf = filepath.Join(c.dir, "slurm.conf")
	// munged drops root, so it must traverse every directory above its own:
	// t.TempDir makes two 0700 levels of the test's own (the test's directory
	// in os.TempDir() and the numbered one in it).
	for _, d := range []string{td, filepath.Dir(td)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.root, "scripts/slurm/start.sh"), c.dir)
	cmd.Env = cleanEnv(os.Environ())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Cleanup(func() { c.stop(err == nil) })
	if err != nil {
		t.Fatalf("the Slurm daemons did not start (scripts/slurm/start.sh %s: %v):\n%s", c.dir, err, out.String())
	}
	t.Logf("Slurm ready in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out.String()))
	return c
}

// stop shows the logs when the test failed after a good start (start.sh
// shows them itself when it fails), then cancels what is left of the
// cluster's jobs and stops the daemons start.sh recorded.
func (c *cluster) stop(started bool) {
	if started && c.t.Failed() {
		c.t.Logf("Slurm logs:\n%s", c.logs())
	}
	cmd := exec.Command(filepath.Join(c.root, "scripts/slurm/stop.sh"), c.dir)
	cmd.Env = c.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Errorf("scripts/slurm/stop.sh: %v\n%s", err, out)
	}
}

// logs returns the tails of the daemons' logs and of the batch jobs' outputs.
func (c *cluster) logs() string {
	var b strings.Builder
	var files []string
	for _, pat := range []string{"log/*", "munge/munged.log", "jobs/*"} {
		m, _ := filepath.Glob(filepath.Join(c.dir, pat))
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		fmt.Fprintf(&b, "==== %s\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}

// cleanEnv drops the Slurm, PBS/LSF/SGE/HTCondor and pilot variables the test
// process may have inherited, so the cluster and the pilots see only what the
// test sets.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SLURM_"), strings.HasPrefix(k, "PILOT_"), strings.HasPrefix(k, "SBATCH_"),
			k == "PBS_JOBID", k == "LSB_JOBID", k == "JOB_ID", k == "clusterid", k == "_CONDOR_JOB_AD", k == "K8S_JOB_ID":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// env is the environment of the cluster's clients (sbatch, scontrol, scancel).
func (c *cluster) env(extra ...string) []string {
	return append(append(cleanEnv(os.Environ()), "SLURM_CONF="+c.conf), extra...)
}

// run runs a Slurm client command and returns its output.
func (c *cluster) run(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// sbatch submits script with the given environment entries (on top of the
// test's cleaned environment) and sbatch options before the script, pilot
// arguments after it; it returns the Slurm job id.
func (c *cluster) sbatch(t *testing.T, extraEnv, opts []string, script string, args ...string) string {
	t.Helper()
	argv := append([]string{"--parsable", "--chdir=" + filepath.Join(c.dir, "jobs"),
		"--output=" + filepath.Join(c.dir, "jobs", "slurm-%j.out")}, opts...)
	argv = append(append(argv, script), args...)
	out, err := c.run(c.env(extraEnv...), "sbatch", argv...)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.Atoi(id); err != nil {
		t.Fatalf("sbatch answered %q", out)
	}
	return id
}

// jobInfo returns `scontrol show job` fields of a job (JobState, ExitCode, ...).
func (c *cluster) jobInfo(id string) (map[string]string, error) {
	out, err := c.run(c.env(), "scontrol", "show", "job", "-o", id)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			if _, seen := m[k]; !seen {
				m[k] = v
			}
		}
	}
	return m, nil
}

// killWait returns the cluster's KillWait: the time between the SIGTERM of
// scancel and the SIGKILL.
func (c *cluster) killWait(t *testing.T) time.Duration {
	t.Helper()
	data, err := os.ReadFile(c.conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "KillWait="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	t.Fatalf("no KillWait in %s", c.conf)
	return 0
}

// ended reports whether Slurm counts the job as ended (its processes may
// still be stopping: a cancelled job is CANCELLED at once).
func ended(state string) bool {
	switch state {
	case "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE":
		return true
	}
	return false
}

// markedProcesses lists the live processes whose environment holds
// E2E_SLURM_MARK=mark: every process of the batch jobs a test submitted (the
// pilot, the payload and anything the payload started) inherits it, and no
// other process has it.
func markedProcesses(mark string) []string {
	want := []byte("E2E_SLURM_MARK=" + mark + "\x00")
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !(bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...))) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue
			}
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, e.Name()+" "+strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return out
}
