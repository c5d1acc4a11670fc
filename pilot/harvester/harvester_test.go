package harvester

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// envOf returns a lookupEnv over a fixed environment.
func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	both := map[string]string{EnvHarvesterID: "h1", EnvHarvesterWorkerID: "7"}
	cases := []struct {
		name string
		o    Options
		env  map[string]string
		want bool
	}{
		{"nothing", Options{}, nil, false},
		{"-z alone is the no-server-update mode", Options{NoServerUpdate: true}, nil, false},
		{"-z with workdir", Options{NoServerUpdate: true, Workdir: "/ap"}, nil, true},
		{"-z with datadir", Options{NoServerUpdate: true, Datadir: "/d"}, nil, true},
		{"-z with event status dump", Options{NoServerUpdate: true, EventStatusDump: "x.json"}, nil, true},
		{"-z with worker attributes", Options{NoServerUpdate: true, WorkerAttributes: "x.json"}, nil, true},
		{"harvester options without -z", Options{Workdir: "/ap", Datadir: "/d"}, nil, false},
		{"env and PUSH", Options{SubmitMode: "PUSH"}, both, true},
		{"env and push lower case", Options{SubmitMode: "push"}, both, true},
		{"only HARVESTER_ID and PUSH", Options{SubmitMode: "PUSH"}, map[string]string{EnvHarvesterID: "h1"}, true},
		{"only HARVESTER_WORKER_ID and PUSH", Options{SubmitMode: "PUSH"}, map[string]string{EnvHarvesterWorkerID: "7"}, true},
		{"empty but present env and PUSH", Options{SubmitMode: "PUSH"}, map[string]string{EnvHarvesterID: ""}, true},
		{"env and PULL", Options{SubmitMode: "PULL"}, both, false},
		{"env and default mode", Options{}, both, false},
		{"PUSH without env", Options{SubmitMode: "PUSH"}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Enabled(c.o, envOf(c.env)); got != c.want {
				t.Fatalf("Enabled(%+v, %v) = %v, want %v", c.o, c.env, got, c.want)
			}
		})
	}
}

func TestParseSubmitMode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    SubmitMode
		wantErr bool
	}{{"", Pull, false}, {"PULL", Pull, false}, {"pull", Pull, false}, {" Push ", Push, false}, {"PUSH", Push, false}, {"both", "", true}}
	for _, c := range cases {
		got, err := ParseSubmitMode(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseSubmitMode(%q) = %q, %v", c.in, got, err)
		}
	}
}

func TestJobFileCandidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		o    Options
		env  map[string]string
		want []string
	}{
		{"defaults", Options{}, nil, []string{"/launch/sub/../pandaJobData.out", "/launch/sub/pandaJobData.out", "/work/pandaJobData.out"}},
		{"datadir replaces the three", Options{Datadir: "/data"}, nil, []string{"/data/pandaJobData.out"}},
		{"access point and env add HPCJobs.json", Options{Workdir: "/ap"}, map[string]string{EnvHarvesterWorkdir: "/hw"},
			[]string{"/launch/sub/../pandaJobData.out", "/launch/sub/pandaJobData.out", "/work/pandaJobData.out", "/ap/HPCJobs.json", "/hw/HPCJobs.json"}},
		{"empty HARVESTER_WORKDIR is ignored", Options{Datadir: "/data"}, map[string]string{EnvHarvesterWorkdir: ""}, []string{"/data/pandaJobData.out"}},
		{"duplicates dropped", Options{Workdir: "/ap"}, map[string]string{EnvHarvesterWorkdir: "/ap"},
			[]string{"/launch/sub/../pandaJobData.out", "/launch/sub/pandaJobData.out", "/work/pandaJobData.out", "/ap/HPCJobs.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := JobFileCandidates(c.o, "/launch/sub", "/work", envOf(c.env))
			// filepath.Join cleans "..": compare cleaned forms.
			var want []string
			for _, w := range c.want {
				want = append(want, filepath.Clean(w))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %q\nwant %q", got, want)
			}
		})
	}
	if got := JobFileCandidates(Options{}, "/w", "/w", envOf(nil)); len(got) != 2 {
		t.Fatalf("launch dir = work dir: %q", got)
	}
}

func TestReportPaths(t *testing.T) {
	t.Parallel()
	if d := ReportDir(Options{Workdir: "/ap"}, "/home"); d != "/ap" {
		t.Fatal(d)
	}
	if d := ReportDir(Options{}, "/home"); d != "/home" {
		t.Fatal(d)
	}
	cases := []struct{ flag, want string }{
		{"", "/ap/worker_attributes.json"},
		{"attrs.json", "/ap/attrs.json"},
		{"sub/attrs.json", "/ap/sub/attrs.json"},
		{"/abs/attrs.json", "/abs/attrs.json"},
	}
	for _, c := range cases {
		if got := ReportPath(c.flag, "/ap", WorkerAttributesFile); got != c.want {
			t.Errorf("ReportPath(%q) = %q, want %q", c.flag, got, c.want)
		}
	}
}

func TestFindFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("b/deep/x.root", "deep")
	mk("a/x.root", "a")
	mk("top.root", "top")
	mk("b/top.root", "b")
	mk("outside/hidden.root", "o")
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(root, "a", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "top.root"), filepath.Join(root, "a", "linked.root")); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, root, file, want string }{
		{"root files before subdirectories", root, "top.root", "top.root"},
		{"subdirectories in lexical order", root, "x.root", "a/x.root"},
		{"deep", filepath.Join(root, "b"), "x.root", "b/deep/x.root"},
		{"symlinked directory not followed", filepath.Join(root, "a"), "hidden.root", ""},
		{"symlink to a file counts", root, "linked.root", "a/linked.root"},
		{"missing", root, "nope", ""},
		{"not a base name", root, "a/x.root", ""},
		{"dot dot", root, "..", ""},
		{"missing root", filepath.Join(root, "none"), "x.root", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FindFile(c.root, c.file)
			want := ""
			if c.want != "" {
				want = filepath.Join(root, c.want)
			}
			if got != want {
				t.Fatalf("FindFile(%s, %q) = %q, want %q", c.root, c.file, got, want)
			}
		})
	}
}

func TestFileWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := RequestJobs(dir, 1); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, JobRequestFile))
	if err != nil || string(b) != "{\"nJobs\": 1}\n" {
		t.Fatalf("request file %q, %v", b, err)
	}
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if err := TouchKillWorker(dir, t0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KillWorkerFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	if err := TouchKillWorker(dir, t1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KillWorkerFile))
	if err != nil || fi.Size() != 0 || !fi.ModTime().Equal(t1) {
		t.Fatalf("kill_worker: %v %v", fi, err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "a.json"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "a.json"), []byte("22")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "a.json"), []byte("1")); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"a.json", KillWorkerFile, JobRequestFile}) {
		t.Fatalf("directory holds %q (temporary files left?)", names)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a.json")); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
