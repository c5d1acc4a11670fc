package local_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/local"
	"github.com/gopilot/gopilot/movers/moverstest"
)

// fileRemote is a "remote side" made of a local directory reached through file:// URLs.
type fileRemote struct{ dir string }

func (r fileRemote) newRemote(t *testing.T, name string, data []byte) string {
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return movers.FileURL(p)
}

// remoteURL puts new files two directory levels down, so Put must create directories.
func (r fileRemote) remoteURL(t *testing.T, name string) string {
	return movers.FileURL(filepath.Join(r.dir, "sc/ab/cd", name))
}

func readURL(t *testing.T, url string) ([]byte, error) {
	p, err := movers.LocalPath(url)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func stray(t *testing.T, url string) []string {
	p, err := movers.LocalPath(url)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Dir(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != filepath.Base(p) && strings.Contains(e.Name(), filepath.Base(p)) {
			out = append(out, e.Name())
		}
	}
	return out
}

func (r fileRemote) slow(t *testing.T, name string) (string, <-chan struct{}) {
	p := filepath.Join(r.dir, name)
	started := moverstest.SlowFIFO(t, p, moverstest.Data(movers.ChunkSize))
	return movers.FileURL(p), started
}

func TestCopyConformance(t *testing.T) {
	for _, sync := range []bool{false, true} {
		name := "nosync"
		if sync {
			name = "sync"
		}
		t.Run(name, func(t *testing.T) {
			r := fileRemote{dir: t.TempDir()}
			moverstest.Run(t, moverstest.Env{
				Mover:      &local.Copy{Sync: sync},
				NewRemote:  r.newRemote,
				RemoteURL:  r.remoteURL,
				ReadRemote: readURL,
				Stray:      stray,
				SlowRemote: r.slow,
				SlowLocal:  true,
			})
		})
	}
}

func TestSymlinkConformance(t *testing.T) {
	r := fileRemote{dir: t.TempDir()}
	moverstest.Run(t, moverstest.Env{
		Mover:      local.NewSymlink(),
		NewRemote:  r.newRemote,
		RemoteURL:  r.remoteURL,
		ReadRemote: readURL,
		NoPut:      true,
	})
}

// mvSite is the ARC layout: <site>/<job> is the job directory, inputs and outputs live in
// <site>. URLs are storage URLs the mover never contacts.
type mvSite struct{ site, job string }

func newMvSite(t *testing.T) mvSite {
	site := t.TempDir()
	job := filepath.Join(site, "PanDA_Pilot-1")
	if err := os.Mkdir(job, 0o755); err != nil {
		t.Fatal(err)
	}
	return mvSite{site: site, job: job}
}

func (m mvSite) url(name string) string {
	return "root://se.example.org:1094//atlas/rucio/sc/ab/cd/" + name
}

func (m mvSite) env(mv *local.Mv) moverstest.Env {
	return moverstest.Env{
		Mover: mv,
		NewRemote: func(t *testing.T, name string, data []byte) string {
			if err := os.WriteFile(filepath.Join(m.site, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			return m.url(name)
		},
		RemoteURL: func(t *testing.T, name string) string { return m.url(name) },
		ReadRemote: func(t *testing.T, url string) ([]byte, error) {
			return os.ReadFile(filepath.Join(m.site, url[strings.LastIndexByte(url, '/')+1:]))
		},
		LocalDir:          func(t *testing.T) string { return m.job },
		PutConsumesSource: true,
	}
}

func TestMvConformance(t *testing.T) {
	t.Run("derived-dir", func(t *testing.T) {
		s := newMvSite(t)
		moverstest.Run(t, s.env(local.NewMv(local.MvOptions{})))
	})
	t.Run("explicit-dir-copy-inputs", func(t *testing.T) {
		s := newMvSite(t)
		env := s.env(local.NewMv(local.MvOptions{Dir: s.site, CopyInputs: true}))
		env.SlowRemote = func(t *testing.T, name string) (string, <-chan struct{}) {
			return s.url(name), moverstest.SlowFIFO(t, filepath.Join(s.site, name), moverstest.Data(movers.ChunkSize))
		}
		moverstest.Run(t, env)
	})
}

func TestMvOutputList(t *testing.T) {
	s := newMvSite(t)
	mv := local.NewMv(local.MvOptions{})
	data := moverstest.Data(5000)
	for _, lfn := range []string{"HITS.1.pool.root.1", "log.1.tgz"} {
		src := filepath.Join(s.job, lfn)
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := mv.Put(t.Context(), movers.Transfer{Source: src, Destination: s.url(lfn), LFN: lfn})
		if err != nil {
			t.Fatal(err)
		}
		if res.Checksum != moverstest.Adler32(data) {
			t.Errorf("checksum %v, want %v", res.Checksum, moverstest.Adler32(data))
		}
		if _, err := os.Stat(filepath.Join(s.site, lfn)); err != nil {
			t.Errorf("output not moved to the site directory: %v", err)
		}
	}
	got, err := os.ReadFile(filepath.Join(s.site, local.OutputListName))
	if err != nil {
		t.Fatal(err)
	}
	sum := moverstest.Adler32(data).Value
	want := "HITS.1.pool.root.1 " + s.url("HITS.1.pool.root.1") + ":checksumtype=adler32:checksumvalue=" + sum + "\n" +
		"log.1.tgz " + s.url("log.1.tgz") + ":checksumtype=adler32:checksumvalue=" + sum + "\n"
	if string(got) != want {
		t.Errorf("output.list =\n%s\nwant\n%s", got, want)
	}
}

func TestMvFinalDestination(t *testing.T) {
	s := newMvSite(t)
	final := filepath.Join(t.TempDir(), "rse", "f.root")
	mv := local.NewMv(local.MvOptions{FinalDestination: true})
	src := filepath.Join(s.job, "f.root")
	if err := os.WriteFile(src, []byte("payload output"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := mv.Put(t.Context(), movers.Transfer{Source: src, Destination: movers.FileURL(final), LFN: "f.root"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(final); err != nil || string(b) != "payload output" {
		t.Fatalf("final destination: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(s.site, local.OutputListName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("output.list must not be written for a final destination: %v", err)
	}
}

func TestMvInputIsSymlink(t *testing.T) {
	s := newMvSite(t)
	if err := os.WriteFile(filepath.Join(s.site, "in.root"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(s.job, "in.root")
	if _, err := local.NewMv(local.MvOptions{}).Get(t.Context(), movers.Transfer{Source: "davs://whatever/in.root", Destination: dst}); err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(dst)
	if err != nil || target != filepath.Join(s.site, "in.root") {
		t.Errorf("link target %q %v, want %s", target, err, filepath.Join(s.site, "in.root"))
	}
}

func TestCopyRefusesSameFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := local.NewCopy().Get(t.Context(), movers.Transfer{Source: p, Destination: p})
	if err == nil {
		t.Fatal("copy onto itself succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "abc" {
		t.Fatalf("source damaged: %q", b)
	}
}

func TestCopyBadURLs(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ src, dst string }{
		{"relative/path", filepath.Join(dir, "x")},
		{"file://otherhost/etc/passwd", filepath.Join(dir, "x")},
		{"root://host//file", filepath.Join(dir, "x")},
		{filepath.Join(dir, "x"), "relative"},
	} {
		_, err := local.NewCopy().Get(context.Background(), movers.Transfer{Source: c.src, Destination: c.dst})
		var me *movers.Error
		if !errors.As(err, &me) || me.Code != jobdef.StageInFailed {
			t.Errorf("Get(%q -> %q) = %v, want a 1099 *movers.Error", c.src, c.dst, err)
		}
	}
}

func TestRemoveAndRemoteChecksum(t *testing.T) {
	c := local.NewCopy()
	p := filepath.Join(t.TempDir(), "f")
	data := moverstest.Data(777)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := c.RemoteChecksum(t.Context(), movers.FileURL(p), jobdef.MD5)
	if err != nil || sum != moverstest.MD5(data) {
		t.Errorf("RemoteChecksum = %v %v, want %v", sum, err, moverstest.MD5(data))
	}
	for range 2 { // the second remove finds nothing: not an error
		if err := c.Remove(t.Context(), movers.FileURL(p)); err != nil {
			t.Errorf("Remove: %v", err)
		}
	}
}
