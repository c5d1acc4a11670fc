package sitetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/internal/pandalite"
)

// Run is the outcome of a pilot run started by RunWithin.
type Run struct {
	// ExitCode is the pilot's exit status (-1 when it died from a signal).
	ExitCode int
	// Log is the pilot's combined stdout and stderr.
	Log string
	// MaxRSSKB is the pilot process's peak resident set size in kB
	// (getrusage of the child; descendants not included).
	MaxRSSKB int64
	// TimedOut reports that the pilot did not end within the deadline and
	// was stopped (SIGTERM, then SIGKILL after 30 s).
	TimedOut bool
}

// RunWithin runs cmd (not started; e.g. from Site.PilotCmd or
// Site.ExecCommand) to completion, but for at most d: a pilot still running
// then gets SIGTERM, and SIGKILL 30 s later, so that a hanging pilot fails
// its test instead of the whole package. Only the started process is
// signalled; its payloads are its own to stop.
func RunWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) Run {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(done) }()
	res := Run{}
	select {
	case <-done:
	case <-time.After(d):
		res.TimedOut = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	res.Log = out.String()
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKB = ru.Maxrss
	}
	if werr != nil {
		if _, ok := werr.(*exec.ExitError); !ok {
			t.Fatalf("%s: %v", cmd.Path, werr)
		}
	}
	return res
}

// MountTmpfs mounts a tmpfs of size bytes on dir (which must exist) and
// unmounts it when the test ends. It needs root (CAP_SYS_ADMIN); without it
// the test fails with a message saying so, it is never skipped.
func MountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("mounting a %d-byte tmpfs on %s needs root: run this test as root (CI does)", size, dir)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Fatalf("mount tmpfs on %s: %v (needs root with CAP_SYS_ADMIN)", dir, err)
	}
	t.Cleanup(func() {
		// Lazy unmount: a straggler holding a file open must not fail the
		// cleanup of everything else.
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// Tree is a snapshot of a directory tree: each path (relative to the root,
// slash-separated) mapped to its type, size, modification time and, for
// symbolic links, target.
type Tree map[string]string

// Snapshot records the tree under root. Entries that vanish while it walks
// are left out.
func Snapshot(t *testing.T, root string) Tree {
	t.Helper()
	tr := Tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return nil
		}
		desc := fmt.Sprintf("%v %d %d", info.Mode().Type(), info.Size(), info.ModTime().UnixNano())
		if info.IsDir() {
			desc = "dir"
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			desc += " -> " + l
		}
		tr[filepath.ToSlash(rel)] = desc
		return nil
	})
	Must(t, err)
	return tr
}

// Changed lists the paths that are new or different in after, sorted, except
// those matching one of the allowed patterns (path.Match syntax on the
// slash-separated relative path, also applied to every parent, so "work/x*"
// allows the whole tree below a matching directory).
func (before Tree) Changed(after Tree, allowed ...string) []string {
	var out []string
	for p, desc := range after {
		if before[p] == desc || matchesAny(p, allowed) {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func matchesAny(p string, patterns []string) bool {
	for q := p; q != "." && q != "/" && q != ""; q = filepath.Dir(q) {
		for _, pat := range patterns {
			if ok, _ := filepath.Match(pat, q); ok {
				return true
			}
		}
	}
	return false
}

// SiteAllowed are the paths under Site.Dir that a pilot run against the site
// may create or change: the server's database, the pilot's own files in the
// work directory, job directories, and the storage element.
func SiteAllowed() []string {
	return []string{"pandalite.db*", "work/pilotlog.txt", "work/queuedata.json", "work/cric_ddmendpoints.json",
		"work/PanDA_Pilot-*", "work/*.log.tgz.part", "rse", "addr"}
}

// FinalUpdate returns the last update the server received for id in a final
// state (finished or failed) and whether there is one.
func (s *Site) FinalUpdate(id int64) (pandalite.UpdateRecord, bool) {
	s.T.Helper()
	ups, err := s.Store().Updates(context.Background(), id)
	Must(s.T, err)
	for i := len(ups) - 1; i >= 0; i-- {
		if st := ups[i].State; st == "finished" || st == "failed" {
			return ups[i], true
		}
	}
	return pandalite.UpdateRecord{}, false
}

// RSEFiles returns the content of every regular file in the storage element,
// keyed by its path relative to the RSE root.
func (s *Site) RSEFiles() map[string][]byte {
	s.T.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(s.RSE, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(s.RSE, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	Must(s.T, err)
	return out
}

// RSEHolding returns the storage-element files whose content contains
// needle; gzip-compressed files (log tarballs) are searched uncompressed.
func (s *Site) RSEHolding(needle []byte) []string {
	var out []string
	for p, b := range s.RSEFiles() {
		if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				if u, err := io.ReadAll(zr); err == nil || len(u) > 0 {
					b = append(b, u...)
				}
			}
		}
		if bytes.Contains(b, needle) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TarMembers lists the members of a gzip-compressed tarball: name mapped to
// its type flag and, for links, "-> target".
func TarMembers(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	Must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	Must(t, err)
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		Must(t, err)
		desc := string(h.Typeflag)
		if h.Linkname != "" {
			desc += " -> " + h.Linkname
		}
		out[h.Name] = desc
	}
}

// LogLFN is the log file name BaseJob gives job id.
func LogLFN(id int64) string { return BaseJob(id, "", "")["logFile"].(string) }

// Processes lists the pids of processes whose environment marks them as
// payloads of a pilot working in workdir (PILOT_HOME=workdir).
func Processes(workdir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if strings.Contains(string(env), "\x00PILOT_HOME="+workdir+"\x00") || strings.HasPrefix(string(env), "PILOT_HOME="+workdir+"\x00") {
			out = append(out, e.Name())
		}
	}
	return out
}

// ExecPilot returns a command running the pilot in bin with args, with debug
// logging, not tied to a site (e.g. `pilot exec`).
func ExecPilot(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "pilot"), args...)
	cmd.Env = append(os.Environ(), "PILOT_DEBUG=true")
	return cmd
}
