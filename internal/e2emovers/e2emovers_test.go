// Package e2emovers runs the built pilot against pandalite with each mover chosen by the
// queue's acopytools: real inputs are staged in and real outputs staged out through copy,
// symlink, mv, xrdcp, gfal, davs and s3 against real storage servers on 127.0.0.1 (local
// disk, xrootd, XrdHttp, nginx WebDAV, Versity S3 Gateway), and what lands on the storage,
// what the server recorded and which mover moved each file are checked.
package e2emovers

import (
	"fmt"
	"hash/adler32"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers/moverstest"
)

var bin string

func TestMain(m *testing.M) { os.Exit(sitetest.Main(m, &bin)) }

// store is a storage element as the tests see it: where a file of scope e2e lives on disk.
type store struct {
	rse sitetest.RSE
	// local returns the path on disk of the file with this LFN (scope e2e).
	local func(lfn string) string
	// put stores an input file.
	put func(t *testing.T, lfn string, data []byte)
}

// serverStore is a store on a gridtest server whose data directory holds prefix as the
// RSE's path.
func serverStore(srv interface {
	WriteFile(string, []byte) error
	Path(string) string
}, rse sitetest.RSE, prefix string) store {
	rel := func(lfn string) string { return path.Join(prefix, jobdef.RucioPath("e2e", lfn)) }
	return store{rse: rse,
		local: func(lfn string) string { return srv.Path(rel(lfn)) },
		put: func(t *testing.T, lfn string, data []byte) {
			if err := srv.WriteFile(rel(lfn), data); err != nil {
				t.Fatal(err)
			}
		}}
}

// diskStore is E2E_DISK of the site.
func diskStore(s *sitetest.Site) store {
	return store{rse: sitetest.RSE{Name: "E2E_DISK", Endpoint: "file://localhost", Path: s.RSE},
		local: func(lfn string) string { return s.RsePath("e2e", lfn) },
		put: func(t *testing.T, lfn string, data []byte) {
			p := s.RsePath("e2e", lfn)
			sitetest.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			sitetest.Must(t, os.WriteFile(p, data, 0o644))
		}}
}

// servers are the grid storage servers shared by the cases of one test.
type servers struct {
	x *gridtest.Xrootd
	n *gridtest.Nginx
	s *gridtest.S3
}

func startServers(t *testing.T) servers {
	gridtest.NeedPrograms(t, gridtest.XrootdPackages, "xrdcp", "xrdfs")
	gridtest.NeedPrograms(t, "gfal2-util-scripts", "gfal-copy", "gfal-sum", "gfal-rm")
	sv := servers{x: gridtest.StartXrootd(t), n: gridtest.StartNginxDAV(t), s: gridtest.StartS3(t)}
	sitetest.Must(t, sv.s.MakeBucket("pilot"))
	return sv
}

func (sv servers) xrootdStore() store {
	return serverStore(sv.x, sitetest.RSE{Name: "E2E_XROOTD", Endpoint: sv.x.RootURL, Path: "/rucio"}, "rucio")
}

func (sv servers) xrdHTTPStore() store {
	return serverStore(sv.x, sitetest.RSE{Name: "E2E_XRDHTTP", Endpoint: sv.x.HTTPURL, Path: "/dav"}, "dav")
}

func (sv servers) nginxStore() store {
	return serverStore(sv.n, sitetest.RSE{Name: "E2E_NGINX", Endpoint: sv.n.URL, Path: "/rucio"}, "rucio")
}

// s3Store names its keys in the protocol settings, as object-store RSEs do; the pilot
// finds them in environment variables of those names (see s3Env).
func (sv servers) s3Store() store {
	return serverStore(sv.s, sitetest.RSE{Name: "E2E_S3", Endpoint: "s3://" + sv.s.Endpoint, Path: "/pilot",
		Settings: map[string]any{"access_key": "E2E_S3_PUBLIC", "secret_key": "E2E_S3_PRIVATE", "is_secure": false}}, "pilot")
}

func (sv servers) s3Env() []string {
	return []string{"E2E_S3_PUBLIC=" + sv.s.AccessKey, "E2E_S3_PRIVATE=" + sv.s.SecretKey}
}

// acopytools gives every activity the same copytools, inputs (pr) possibly others.
func acopytools(in, out []string) map[string][]string {
	return map[string][]string{"pr": in, "read_lan": in, "pw": out, "write_lan": out, "pl": out, "default": out}
}

func astorages(rse string) map[string][]string {
	return map[string][]string{"read_lan": {rse}, "write_lan": {rse}, "pl": {rse}}
}

// job is one job whose payload doubles its input: cat in in > out.
type job struct {
	id          int64
	in, out     string
	inData      []byte
	outData     []byte
	definition  map[string]any
	inputOnDisk bool // the input is placed by the test (not on the storage)
}

func newJob(id int64, rse string, size int) job {
	j := job{id: id, in: fmt.Sprintf("e2e.%d.in.dat", id), out: fmt.Sprintf("e2e.%d.out.dat", id)}
	j.inData = moverstest.Data(size)
	j.outData = append(append([]byte{}, j.inData...), j.inData...)
	d := sitetest.BaseJob(id, "cat", fmt.Sprintf("%s %s > %s", j.in, j.in, j.out))
	d["inFiles"], d["GUID"], d["fsize"], d["checksum"] = j.in, "11111111-1111-4111-8111-111111111111",
		fmt.Sprint(len(j.inData)), "ad:"+adler(j.inData)
	d["scopeIn"], d["realDatasetsIn"], d["ddmEndPointIn"], d["prodDBlockToken"] = "e2e", "e2e.in", rse, "NULL"
	d["outFiles"] = j.out + "," + d["logFile"].(string)
	d["scopeOut"], d["realDatasets"], d["ddmEndPointOut"] = "e2e", "e2e.out,e2e.log", rse+","+rse
	j.definition = d
	return j
}

func (j job) logLFN() string { return j.definition["logFile"].(string) }

func adler(b []byte) string { return fmt.Sprintf("%08x", adler32.Checksum(b)) }

func adlerOfFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return adler(b)
}

// surl is the URL of a file of scope e2e on rse.
func surl(rse sitetest.RSE, lfn string) string {
	return strings.TrimRight(rse.Endpoint, "/") + "/" + strings.Trim(rse.Path, "/") + "/" + jobdef.RucioPath("e2e", lfn)
}

// runJob submits j, runs one pilot with env and returns its log.
func runJob(t *testing.T, s *sitetest.Site, j job, env []string) string {
	t.Helper()
	s.Submit(j.definition)
	code, log := s.RunPilotEnv(env, "--cleanup=false")
	if code != 0 {
		t.Fatalf("pilot exit %d\n%s", code, log)
	}
	return log
}

// checkFinished checks the job's state history and the output report the server
// registered: the output and the log with their sizes, adler32 and SURLs on rse.
func checkFinished(t *testing.T, s *sitetest.Site, j job, rse sitetest.RSE, log string) []pandalite.FileRecord {
	t.Helper()
	info := s.Job(j.id)
	if info.State != "finished" || info.PilotErrorCode != 0 {
		t.Fatalf("job %d: state %s code %d (%s)\n%s", j.id, info.State, info.PilotErrorCode, info.PilotErrorDiag, log)
	}
	if got := s.States(j.id); !reflect.DeepEqual(got, []string{"starting", "running", "finished"}) {
		t.Errorf("job %d states %v", j.id, got)
	}
	files, err := s.Store().Files(t.Context(), j.id)
	sitetest.Must(t, err)
	byLFN := map[string]pandalite.FileRecord{}
	for _, f := range files {
		byLFN[f.LFN] = f
	}
	out, ok := byLFN[j.out]
	if !ok {
		t.Fatalf("the server registered no output %s: %+v", j.out, files)
	}
	if out.Checksum != "ad:"+adler(j.outData) || out.FSize != int64(len(j.outData)) || out.Kind != "output" {
		t.Errorf("registered output %+v, want ad:%s and %d bytes", out, adler(j.outData), len(j.outData))
	}
	if out.Endpoint != rse.Name || out.SURL != surl(rse, j.out) {
		t.Errorf("registered output on %s at %s, want %s at %s", out.Endpoint, out.SURL, rse.Name, surl(rse, j.out))
	}
	lg, ok := byLFN[j.logLFN()]
	if !ok || lg.Kind != "log" || lg.Endpoint != rse.Name || lg.SURL != surl(rse, j.logLFN()) {
		t.Errorf("registered log %+v (present %v), want it on %s at %s", lg, ok, rse.Name, surl(rse, j.logLFN()))
	}
	return files
}

// checkStored checks that the output and the log are on the storage with the registered
// adler32.
func checkStored(t *testing.T, st store, j job, files []pandalite.FileRecord) {
	t.Helper()
	got, err := os.ReadFile(st.local(j.out))
	if err != nil || adler(got) != adler(j.outData) || len(got) != len(j.outData) {
		t.Errorf("output on the storage: %d bytes, adler32 %s, %v; want %d bytes %s", len(got), adler(got), err,
			len(j.outData), adler(j.outData))
	}
	for _, f := range files {
		if f.LFN == j.logLFN() {
			if sum := "ad:" + adlerOfFile(t, st.local(f.LFN)); sum != f.Checksum {
				t.Errorf("log on the storage has %s, the server registered %s", sum, f.Checksum)
			}
		}
	}
}

// movers returns the mover that moved each file of job id, from the job's journal.
func movers(t *testing.T, s *sitetest.Site, id int64) map[string]string {
	t.Helper()
	out, err := exec.Command(filepath.Join(s.Bin, "pilot"), "inspect", "--workdir", s.Work, fmt.Sprint(id)).CombinedOutput()
	if err != nil {
		t.Fatalf("pilot inspect: %v\n%s", err, out)
	}
	m := map[string]string{}
	inFiles := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.TrimSpace(line) == "Files":
			inFiles = true
			continue
		case inFiles && strings.TrimSpace(line) == "":
			inFiles = false
		}
		f := strings.Fields(line) // DIR LFN SIZE CHECKSUM MOVER TIME URL
		if inFiles && len(f) >= 5 && f[0] != "DIR" {
			m[f[0]+" "+f[1]] = f[4]
		}
	}
	return m
}

func checkMovers(t *testing.T, s *sitetest.Site, j job, in, out string) {
	t.Helper()
	got := movers(t, s, j.id)
	want := map[string]string{"in " + j.in: in, "out " + j.out: out, "log " + j.logLFN(): out}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("journal of job %d: %s moved by %q, want %q (all: %v)", j.id, k, got[k], v, got)
		}
	}
}

const inputSize = 2<<20 + 12345 // several chunks, not a multiple of any

// TestMovers stages one job's input in and its output and log out through each mover.
func TestMovers(t *testing.T) {
	sv := startServers(t)
	for i, c := range []struct {
		mover     string
		in, out   []string // acopytools for inputs and outputs
		store     func(s *sitetest.Site) store
		extraRSEs []sitetest.RSE
		env       []string
	}{
		{mover: "copy", in: []string{"copy"}, out: []string{"copy"}, store: diskStore},
		{mover: "xrdcp", in: []string{"xrdcp"}, out: []string{"xrdcp"}, store: func(*sitetest.Site) store { return sv.xrootdStore() }},
		{mover: "gfal", in: []string{"gfal"}, out: []string{"gfalcopy"}, store: func(*sitetest.Site) store { return sv.xrdHTTPStore() }},
		{mover: "davs", in: []string{"davs"}, out: []string{"davs"}, store: func(*sitetest.Site) store { return sv.nginxStore() }},
		{mover: "s3", in: []string{"objectstore"}, out: []string{"s3"}, store: func(*sitetest.Site) store { return sv.s3Store() }, env: sv.s3Env()},
	} {
		t.Run(c.mover, func(t *testing.T) {
			t.Parallel()
			id := int64(5100 + i)
			var rse sitetest.RSE
			var s *sitetest.Site
			if c.mover == "copy" {
				s = sitetest.NewWithStorage(t, bin, sitetest.MoverQueueJSON(acopytools(c.in, c.out), astorages("E2E_DISK")))
			} else {
				rse = c.store(nil).rse
				s = sitetest.NewWithStorage(t, bin, sitetest.MoverQueueJSON(acopytools(c.in, c.out), astorages(rse.Name)), rse)
			}
			st := c.store(s)
			j := newJob(id, st.rse.Name, inputSize)
			st.put(t, j.in, j.inData)
			log := runJob(t, s, j, c.env)
			files := checkFinished(t, s, j, st.rse, log)
			checkStored(t, st, j, files)
			checkMovers(t, s, j, c.mover, c.mover)
			if t.Failed() {
				t.Log(log)
			}
		})
	}
}

// TestSymlink links an input that is on the local storage into the job directory and
// copies the output out.
func TestSymlink(t *testing.T) {
	t.Parallel()
	s := sitetest.NewWithStorage(t, bin, sitetest.MoverQueueJSON(acopytools([]string{"symlink"}, []string{"copy"}), astorages("E2E_DISK")))
	st := diskStore(s)
	j := newJob(5201, "E2E_DISK", inputSize)
	st.put(t, j.in, j.inData)
	log := runJob(t, s, j, nil)
	files := checkFinished(t, s, j, st.rse, log)
	checkStored(t, st, j, files)
	checkMovers(t, s, j, "symlink", "copy")
	link := filepath.Join(s.Work, fmt.Sprintf("PanDA_Pilot-%d", j.id), j.in)
	if target, err := os.Readlink(link); err != nil || target != st.local(j.in) {
		t.Errorf("input in the job directory: link to %q (%v), want %s", target, err, st.local(j.in))
	}
}

// TestMv: the ARC / true-pilot model. The input is placed next to the job directory, the
// output and the log are moved there and listed in output.list with their SURLs and
// adler32 for the site to upload; the storage itself is not written.
func TestMv(t *testing.T) {
	t.Parallel()
	s := sitetest.NewWithStorage(t, bin, sitetest.MoverQueueJSON(acopytools([]string{"mv"}, []string{"mv"}), astorages("E2E_DISK")))
	rse := diskStore(s).rse
	j := newJob(5301, "E2E_DISK", inputSize)
	sitetest.Must(t, os.WriteFile(filepath.Join(s.Work, j.in), j.inData, 0o644))
	log := runJob(t, s, j, nil)
	files := checkFinished(t, s, j, rse, log)
	checkMovers(t, s, j, "mv", "mv")
	site := store{local: func(lfn string) string { return filepath.Join(s.Work, lfn) }}
	checkStored(t, site, j, files)
	list, err := os.ReadFile(filepath.Join(s.Work, "output.list"))
	sitetest.Must(t, err)
	for _, f := range files {
		want := fmt.Sprintf("%s %s:checksumtype=adler32:checksumvalue=%s", f.LFN, surl(rse, f.LFN), strings.TrimPrefix(f.Checksum, "ad:"))
		if !strings.Contains(string(list), want+"\n") {
			t.Errorf("output.list lacks %q:\n%s", want, list)
		}
	}
	if _, err := os.Stat(diskStore(s).local(j.out)); err == nil {
		t.Error("mv wrote the output to the storage itself")
	}
}

// TestFallback: the first copytools fail and the next one in acopytools moves the files.
// Stage-in: mv finds no input next to the job directory, gfal cannot run (its Python is
// missing on this "node"), xrdcp succeeds; stage-out: gfal fails again, xrdcp succeeds.
func TestFallback(t *testing.T) {
	sv := startServers(t)
	st := sv.xrootdStore()
	q := sitetest.MoverQueueJSON(acopytools([]string{"mv", "gfal", "xrdcp"}, []string{"gfal", "xrdcp"}), astorages(st.rse.Name))
	s := sitetest.NewWithStorage(t, bin, q, st.rse)
	j := newJob(5401, st.rse.Name, inputSize)
	st.put(t, j.in, j.inData)
	log := runJob(t, s, j, []string{"GFAL_PYTHONBIN=/nonexistent/python3"})
	files := checkFinished(t, s, j, st.rse, log)
	checkStored(t, st, j, files)
	checkMovers(t, s, j, "xrdcp", "xrdcp")
	for _, m := range []string{"mv", "gfal"} {
		if !strings.Contains(log, "mover="+m) || !strings.Contains(log, "transfer attempt failed") {
			t.Errorf("the pilot log shows no failed attempt with %s", m)
		}
	}
	if t.Failed() {
		t.Log(log)
	}
}
