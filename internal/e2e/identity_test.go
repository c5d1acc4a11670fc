package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gopilot/gopilot/internal/sitetest"
)

// Identity switching end to end: the pilot runs as root and starts payloads as a throwaway
// local account, through --payload-user, --grid-mapfile or --identity-wrapper. These tests
// need root, useradd/userdel and (for the wrapper) sudo, and a pilot binary that links
// the identity package.

// identityReady skips the test unless it can run: root, the tools, and a pilot wired to
// the identity package.
func identityReady(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (creates local accounts, the pilot switches identity)")
	}
	var missing []string
	for _, tool := range append([]string{"useradd", "userdel"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("tools missing: %s (apt-get install -y $(cat pilot/identity/REQUIRED_PACKAGES))", strings.Join(missing, ", "))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: %s ***\n\n", t.Name(), msg)
		t.Skip(msg)
	}
	exe, err := os.ReadFile(filepath.Join(bin, "pilot"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(exe, []byte("gopilot/pilot/identity.")) {
		msg := "the pilot binary does not use package pilot/identity yet (flags not wired)"
		fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: %s ***\n\n", t.Name(), msg)
		t.Skip(msg)
	}
}

// identityAccount creates a throwaway local account, removed at the end.
func identityAccount(t *testing.T) (name string, uid int) {
	t.Helper()
	a := sitetest.NewAccount(t, "gpe")
	return a.Name, a.UID
}

// openSite makes the site's directories searchable by every account (test temporary
// directories are 0700) so that the payload can reach its job directory.
func openSite(t *testing.T, s *site) {
	t.Helper()
	for _, d := range []string{s.Dir, filepath.Dir(s.Dir)} {
		must(t, os.Chmod(d, 0o755))
	}
}

// pilotProxy writes a stand-in for the pilot's proxy, deliberately world-readable: the
// pilot must make it private before a payload runs.
func pilotProxy(t *testing.T, s *site) string {
	t.Helper()
	p := filepath.Join(s.Dir, "x509up_pilot")
	must(t, os.WriteFile(p, []byte("PILOT-PROXY-SECRET\n"), 0o644))
	must(t, os.Chmod(p, 0o644))
	return p
}

// A payload runs as the account chosen by --payload-user, --grid-mapfile or
// --identity-wrapper: it writes its uid, umask and X509_USER_PROXY into an output file.
func TestPayloadIdentitySwitch(t *testing.T) {
	tests := []struct {
		name  string
		tools []string
		args  func(s *site, account string) []string
	}{
		{"payload-user", nil, func(_ *site, account string) []string { return []string{"--payload-user", account} }},
		{"grid-mapfile", nil, func(s *site, account string) []string {
			gm := filepath.Join(s.Dir, "grid-mapfile")
			must(s.T, os.WriteFile(gm, []byte(`"/O=Test/OU=Users/CN=E2E Owner" `+account+"\n"), 0o644))
			return []string{"--grid-mapfile", gm}
		}},
		{"identity-wrapper", []string{"sudo"}, func(_ *site, account string) []string {
			return []string{"--payload-user", account, "--identity-wrapper", "sudo -n -u {user} --"}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			identityReady(t, tc.tools...)
			t.Parallel()
			account, uid := identityAccount(t)
			s := newSite(t, queueJSON(0, ""))
			openSite(t, s)
			proxy := pilotProxy(t, s)
			id := int64(2601 + i)
			lfn := fmt.Sprintf("e2e.identity.%d.txt", id)
			j := sitetest.WithOutput(baseJob(id, "echo", `"$(id -u) $(umask) ${X509_USER_PROXY-unset}" > `+lfn), lfn)
			j["prodUserID"] = "/O=Test/OU=Users/CN=E2E Owner/CN=proxy"
			s.Submit(j)

			code, log := s.RunPilotEnv([]string{"X509_USER_PROXY=" + proxy}, tc.args(s, account)...)
			jb := s.Job(id)
			if code != 0 || jb.State != "finished" {
				t.Fatalf("exit %d, job %s code %d %s\n%s", code, jb.State, jb.PilotErrorCode, jb.PilotErrorDiag, log)
			}
			got, err := os.ReadFile(s.RsePath("e2e", lfn))
			must(t, err)
			if want := fmt.Sprintf("%d 0077 unset\n", uid); string(got) != want {
				t.Errorf("payload wrote %q, want %q", got, want)
			}
			var st syscall.Stat_t
			must(t, syscall.Stat(proxy, &st))
			if st.Uid != 0 || st.Mode&0o777 != 0o600 {
				t.Errorf("pilot proxy uid %d mode %04o, want 0 0600", st.Uid, st.Mode&0o777)
			}
		})
	}
}

// A payload running as another account cannot read the pilot's proxy.
func TestPayloadCannotReadPilotProxy(t *testing.T) {
	identityReady(t)
	t.Parallel()
	account, _ := identityAccount(t)
	s := newSite(t, queueJSON(0, ""))
	openSite(t, s)
	proxy := pilotProxy(t, s)
	s.Submit(baseJob(2701, "cat", proxy))

	code, log := s.RunPilotEnv([]string{"X509_USER_PROXY=" + proxy}, "--payload-user", account)
	jb := s.Job(2701)
	if code != 0 || jb.State != "failed" || jb.TransExitCode != 1 {
		t.Fatalf("exit %d, job %s code %d transExit %d %s\n%s", code, jb.State, jb.PilotErrorCode, jb.TransExitCode, jb.PilotErrorDiag, log)
	}
	files := tarContents(t, s.RsePath("e2e", baseJob(2701, "", "")["logFile"].(string)))
	var stderr string
	for name, data := range files {
		if strings.Contains(data, "PILOT-PROXY-SECRET") {
			t.Errorf("the pilot's proxy content is in the log tarball (%s)", name)
		}
		if strings.HasSuffix(name, "/payload.stderr") {
			stderr = data
		}
	}
	if !strings.Contains(stderr, "Permission denied") {
		t.Errorf("payload.stderr %q, want a permission error", stderr)
	}
}

// tarContents returns the regular files of a gzipped tarball by name.
func tarContents(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			must(t, err)
			out[h.Name] = string(b)
		}
	}
}
