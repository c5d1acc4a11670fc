package movers_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/local"
	"github.com/gopilot/gopilot/movers/moverstest"
)

const scope = "mc16_13TeV"

// fixture is a pilot work area on real directories: <base>/rse is a file:// RSE,
// <base>/work/job the job directory.
type fixture struct {
	base, rse, logs, jobDir string
	queue                   *jobdef.QueueData
	storage                 jobdef.StorageData
}

// newFixture builds queue data with the given acopytools JSON and astorages JSON.
func newFixture(t *testing.T, acopytools, astorages string) *fixture {
	t.Helper()
	base := t.TempDir()
	fx := &fixture{base: base, rse: filepath.Join(base, "rse"), logs: filepath.Join(base, "logs"),
		jobDir: filepath.Join(base, "work", "job")}
	for _, d := range []string{fx.rse, fx.logs, fx.jobDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	qjson := fmt.Sprintf(`{"TEST_QUEUE": {"nickname": "TEST_QUEUE", "state": "ACTIVE", "status": "online",
		"maxwdir": 100000, "maxinputsize": 100000,
		"copytools": {"copy": {"setup": ""}, "symlink": {"setup": ""}},
		"acopytools": %s, "astorages": %s}}`, acopytools, astorages)
	q, err := jobdef.ParseQueueData([]byte(qjson), "TEST_QUEUE")
	if err != nil {
		t.Fatal(err)
	}
	fx.queue = q
	proto := func(dir string) string {
		return fmt.Sprintf(`[{"endpoint": "file://", "path": %q, "flavour": "POSIX", "id": 1}]`, dir)
	}
	sjson := fmt.Sprintf(`{
		"TEST_DATADISK": {"name": "TEST_DATADISK", "is_deterministic": true, "state": "ACTIVE",
			"arprotocols": {"read_lan": %s, "write_lan": %s}},
		"TEST_LOGS": {"name": "TEST_LOGS", "is_deterministic": true,
			"arprotocols": {"write_wan": %s}},
		"TEST_TAPE": {"name": "TEST_TAPE", "is_deterministic": false,
			"arprotocols": {"read_lan": %s, "write_lan": %s}},
		"TEST_NOPROTO": {"name": "TEST_NOPROTO", "is_deterministic": true, "arprotocols": {}}
	}`, proto(fx.rse), proto(fx.rse), proto(fx.logs), proto(fx.rse), proto(fx.rse))
	if fx.storage, err = jobdef.ParseStorageData([]byte(sjson)); err != nil {
		t.Fatal(err)
	}
	return fx
}

func defaultFixture(t *testing.T) *fixture {
	return newFixture(t, `{"pr": ["copy"], "pw": ["copy"], "pl": ["copy"]}`,
		`{"read_lan": ["TEST_DATADISK"], "pw": ["TEST_DATADISK"], "pl": ["TEST_LOGS"]}`)
}

// onRSE writes data as lfn on the RSE directory dir and returns its path.
func onRSE(t *testing.T, dir, lfn string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, jobdef.RucioPath(scope, lfn))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type input struct {
	lfn      string
	data     []byte
	checksum string // as in the job ("ad:..." / "md5:..."); "" = computed adler32
	rse      string
}

// newJob builds a job through jobdef.JobFromFields with the given inputs, outputs
// out1.root and out2.root (to TEST_DATADISK) and the log log.tgz (to TEST_LOGS).
func newJob(t *testing.T, ins []input, extra map[string]string) *jobdef.Job {
	t.Helper()
	var lfns, scopes, sizes, sums, guids, rses []string
	for i, in := range ins {
		lfns = append(lfns, in.lfn)
		scopes = append(scopes, scope)
		sizes = append(sizes, fmt.Sprint(len(in.data)))
		c := in.checksum
		if c == "" {
			c = "ad:" + moverstest.Adler32(in.data).Value
		}
		sums = append(sums, c)
		guids = append(guids, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		rse := in.rse
		if rse == "" {
			rse = "TEST_DATADISK"
		}
		rses = append(rses, rse)
	}
	f := map[string]string{
		"PandaID":        "4711",
		"outFiles":       "out1.root,out2.root,log.tgz",
		"logFile":        "log.tgz",
		"logGUID":        "6872598f-658b-4ecb-9a61-0e1945e44dac",
		"scopeOut":       scope + "," + scope,
		"scopeLog":       scope,
		"ddmEndPointOut": "TEST_DATADISK,TEST_DATADISK,TEST_LOGS",
		"realDatasets":   "ds.out,ds.out,ds.log",
	}
	if len(ins) > 0 {
		f["inFiles"] = strings.Join(lfns, ",")
		f["scopeIn"] = strings.Join(scopes, ",")
		f["fsize"] = strings.Join(sizes, ",")
		f["checksum"] = strings.Join(sums, ",")
		f["GUID"] = strings.Join(guids, ",")
		f["ddmEndPointIn"] = strings.Join(rses, ",")
	}
	for k, v := range extra {
		f[k] = v
	}
	job, err := jobdef.JobFromFields(f)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func (fx *fixture) stager(t *testing.T, ms ...movers.Mover) *movers.Stager {
	t.Helper()
	if len(ms) == 0 {
		ms = []movers.Mover{local.NewCopy(), local.NewSymlink()}
	}
	reg, err := movers.NewRegistry(ms...)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(testWriter{t})
	log.SetLevel(logrus.DebugLevel)
	return &movers.Stager{Registry: reg, Queue: fx.queue, Storage: fx.storage, Log: log,
		Retries: 1, Backoff: time.Millisecond}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func wantPilotCode(t *testing.T, err error, code jobdef.ErrorCode) {
	t.Helper()
	var pe *jobdef.PilotError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *jobdef.PilotError; want code %d", err, err, code)
	}
	if pe.Code != code {
		t.Fatalf("code = %d (%s), want %d", pe.Code, pe.Diag, code)
	}
}

func writeOutputs(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func outputsOf(job *jobdef.Job) []*jobdef.FileSpec {
	var fs []*jobdef.FileSpec
	for i := range job.Outputs {
		fs = append(fs, &job.Outputs[i])
	}
	return fs
}

func TestStageInAndOut(t *testing.T) {
	fx := defaultFixture(t)
	a, b := moverstest.Data(3*movers.ChunkSize+17), moverstest.Data(1000)
	onRSE(t, fx.rse, "in1.root", a)
	onRSE(t, fx.rse, "in2.root", b)
	job := newJob(t, []input{{lfn: "in1.root", data: a}, {lfn: "in2.root", data: b, checksum: "md5:" + moverstest.MD5(b).Value}}, nil)
	s := fx.stager(t)

	if err := s.StageIn(t.Context(), job, fx.jobDir); err != nil {
		t.Fatalf("StageIn: %v", err)
	}
	for i, data := range [][]byte{a, b} {
		f := job.Inputs[i]
		got, err := os.ReadFile(filepath.Join(fx.jobDir, f.LFN))
		if err != nil || string(got) != string(data) {
			t.Fatalf("%s: content differs (%v)", f.LFN, err)
		}
		wantURL := "file://" + filepath.Join(fx.rse, jobdef.RucioPath(scope, f.LFN))
		if f.Status != jobdef.StatusTransferred || f.StatusCode != 0 || f.Mover != "copy" ||
			f.SURL != wantURL || f.LocalPath != filepath.Join(fx.jobDir, f.LFN) {
			t.Errorf("input %s: %+v (want SURL %s)", f.LFN, f, wantURL)
		}
	}

	outs := map[string][]byte{"out1.root": moverstest.Data(2 * movers.ChunkSize), "out2.root": []byte("small"), "log.tgz": []byte("log tarball")}
	writeOutputs(t, fx.jobDir, outs)
	if err := s.StageOut(t.Context(), job, fx.jobDir, outputsOf(job), movers.OutputActivities(job, fx.queue)); err != nil {
		t.Fatalf("StageOut outputs: %v", err)
	}
	if err := s.StageOut(t.Context(), job, fx.jobDir, []*jobdef.FileSpec{&job.Log}, movers.LogActivities(job, fx.queue)); err != nil {
		t.Fatalf("StageOut log: %v", err)
	}
	for _, f := range append(outputsOf(job), &job.Log) {
		dir := fx.rse
		if f.Kind == jobdef.Log {
			dir = fx.logs
		}
		p := filepath.Join(dir, jobdef.RucioPath(scope, f.LFN))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(outs[f.LFN]) {
			t.Fatalf("%s on the RSE: %v", f.LFN, err)
		}
		if f.Status != jobdef.StatusTransferred || f.SURL != "file://"+p || f.Size != int64(len(outs[f.LFN])) ||
			f.Checksum != moverstest.Adler32(outs[f.LFN]) || f.GUID == "" || f.Mover != "copy" {
			t.Errorf("output %s: %+v", f.LFN, f)
		}
	}
	if job.Log.GUID != "6872598f-658b-4ecb-9a61-0e1945e44dac" {
		t.Errorf("log GUID changed to %s", job.Log.GUID)
	}
	if job.Outputs[0].GUID == job.Outputs[1].GUID {
		t.Error("generated GUIDs are equal")
	}
	rep := jobdef.BuildOutputReport(append(job.Outputs, job.Log))
	if e, ok := rep["out2.root"]; !ok || e.Adler32 != moverstest.Adler32([]byte("small")).Value || e.FSize != 5 {
		t.Errorf("output report entry: %+v", rep["out2.root"])
	}
	// a second stage-out skips what was transferred
	os.Remove(filepath.Join(fx.jobDir, "out1.root"))
	if err := s.StageOut(t.Context(), job, fx.jobDir, outputsOf(job), movers.OutputActivities(job, fx.queue)); err != nil {
		t.Fatalf("repeated StageOut: %v", err)
	}
}

func TestStageInErrors(t *testing.T) {
	data := moverstest.Data(5000)
	cases := []struct {
		name  string
		in    input
		setup func(t *testing.T, fx *fixture, s *movers.Stager)
		code  jobdef.ErrorCode
	}{
		{"missing input", input{lfn: "gone.root", data: data}, nil, jobdef.MissingInputFile},
		{"bad adler32", input{lfn: "bad.root", data: data, checksum: "ad:00000001"}, nil, jobdef.GetADMismatch},
		{"bad md5", input{lfn: "bad.root", data: data, checksum: "md5:00000000000000000000000000000001"}, nil, jobdef.GetMD5Mismatch},
		{"unknown RSE", input{lfn: "f.root", data: data, rse: "NO_SUCH_RSE"}, nil, jobdef.NoStorage},
		{"non-deterministic RSE", input{lfn: "f.root", data: data, rse: "TEST_TAPE"}, nil, jobdef.NonDeterministicDDM},
		{"no protocol", input{lfn: "f.root", data: data, rse: "TEST_NOPROTO"}, nil, jobdef.NoStorageProtocol},
		{"unknown copytool", input{lfn: "f.root", data: data}, func(t *testing.T, fx *fixture, s *movers.Stager) {
			fx.queue.ACopytools = map[string][]string{"pr": {"rucio"}}
		}, jobdef.UnknownCopytool},
		{"no copytool for the scheme", input{lfn: "f.root", data: data}, func(t *testing.T, fx *fixture, s *movers.Stager) {
			fx.storage["TEST_DATADISK"].ARProtocols["read_lan"][0].Endpoint = "root://se.example.org:1094"
		}, jobdef.NoStorageProtocol},
		{"not enough local space", input{lfn: "f.root", data: data}, func(t *testing.T, fx *fixture, s *movers.Stager) {
			s.FreeSpace = func(string) (int64, error) { return 4999, nil }
		}, jobdef.NoLocalSpace},
		{"larger than maxwdir", input{lfn: "big.root", data: moverstest.Data(1<<20 + 1)}, func(t *testing.T, fx *fixture, s *movers.Stager) {
			fx.queue.MaxWDir = 1
		}, jobdef.SizeTooLarge},
		{"timeout", input{lfn: "slow.root", data: nil}, func(t *testing.T, fx *fixture, s *movers.Stager) {
			dir := filepath.Join(fx.base, "slow")
			os.Mkdir(dir, 0o755)
			moverstest.SlowFIFO(t, filepath.Join(dir, "slow.root"), moverstest.Data(movers.ChunkSize))
			s.InputDir = dir
			s.MaxTimeout = 300 * time.Millisecond
		}, jobdef.StageInTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := defaultFixture(t)
			if c.in.lfn != "gone.root" {
				onRSE(t, fx.rse, c.in.lfn, c.in.data)
			}
			job := newJob(t, []input{c.in}, nil)
			s := fx.stager(t)
			if c.setup != nil {
				c.setup(t, fx, s)
			}
			err := s.StageIn(t.Context(), job, fx.jobDir)
			wantPilotCode(t, err, c.code)
			f := job.Inputs[0]
			if f.Status != jobdef.StatusFailed || f.StatusCode != c.code {
				t.Errorf("FileSpec status %q code %d", f.Status, f.StatusCode)
			}
			if ents, _ := os.ReadDir(fx.jobDir); len(ents) != 0 {
				t.Errorf("job directory not empty after a failed stage-in: %v", ents)
			}
		})
	}
}

func TestStageInSpaceCheckSkippedForLinks(t *testing.T) {
	fx := newFixture(t, `{"pr": ["symlink"]}`, `{"read_lan": ["TEST_DATADISK"]}`)
	data := moverstest.Data(3000)
	src := onRSE(t, fx.rse, "in.root", data)
	job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	s := fx.stager(t)
	s.FreeSpace = func(string) (int64, error) { return 0, nil }
	if err := s.StageIn(t.Context(), job, fx.jobDir); err != nil {
		t.Fatalf("StageIn: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(fx.jobDir, "in.root")); err != nil || target != src {
		t.Errorf("link %q %v, want %s", target, err, src)
	}
	if job.Inputs[0].Mover != "symlink" {
		t.Errorf("mover %q", job.Inputs[0].Mover)
	}
}

// broken fails every call with a retryable error and counts the calls.
type broken struct{ calls atomic.Int32 }

func (b *broken) Name() string      { return "broken" }
func (b *broken) Schemes() []string { return []string{"file"} }
func (b *broken) Get(_ context.Context, t movers.Transfer) (movers.Result, error) {
	b.calls.Add(1)
	return movers.Result{}, &movers.Error{Op: movers.OpGet, URL: t.Source, Code: jobdef.StageInFailed, Retryable: true, Err: errors.New("storage hiccup")}
}
func (b *broken) Put(_ context.Context, t movers.Transfer) (movers.Result, error) {
	b.calls.Add(1)
	return movers.Result{}, &movers.Error{Op: movers.OpPut, URL: t.Destination, Code: jobdef.StageOutFailed, Retryable: true, Err: errors.New("storage hiccup")}
}

// liar claims success but writes other bytes and reports no checksum.
type liar struct{}

func (liar) Name() string      { return "liar" }
func (liar) Schemes() []string { return []string{"file"} }
func (liar) Get(_ context.Context, t movers.Transfer) (movers.Result, error) {
	data := moverstest.Data(int(t.Size))
	data[0]++
	if err := os.WriteFile(t.Destination, data, 0o644); err != nil {
		return movers.Result{}, err
	}
	return movers.Result{Bytes: t.Size}, nil
}
func (liar) Put(_ context.Context, t movers.Transfer) (movers.Result, error) {
	return movers.Result{}, errors.New("unused")
}

func TestStageFallback(t *testing.T) {
	fx := newFixture(t, `{"pr": ["broken", "copy"], "pw": ["broken", "copy"]}`,
		`{"read_lan": ["TEST_DATADISK"], "pw": ["TEST_DATADISK"]}`)
	data := moverstest.Data(10000)
	onRSE(t, fx.rse, "in.root", data)
	job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	b := &broken{}
	s := fx.stager(t, b, local.NewCopy())
	s.Retries = 2
	if err := s.StageIn(t.Context(), job, fx.jobDir); err != nil {
		t.Fatalf("StageIn: %v", err)
	}
	if n := b.calls.Load(); n != 3 {
		t.Errorf("broken mover called %d times, want 1+Retries = 3", n)
	}
	if job.Inputs[0].Mover != "copy" {
		t.Errorf("input moved by %q, want copy", job.Inputs[0].Mover)
	}
	writeOutputs(t, fx.jobDir, map[string][]byte{"out1.root": data, "out2.root": data})
	if err := s.StageOut(t.Context(), job, fx.jobDir, outputsOf(job), []string{"pw"}); err != nil {
		t.Fatalf("StageOut: %v", err)
	}
	if n := b.calls.Load(); n != 9 {
		t.Errorf("broken mover called %d times in total, want 9", n)
	}
	// only the broken mover: its code comes back, the file is failed
	fx.queue.ACopytools["pr"] = []string{"broken"}
	job2 := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	fx2dir := filepath.Join(fx.base, "work", "job2")
	os.Mkdir(fx2dir, 0o755)
	wantPilotCode(t, s.StageIn(t.Context(), job2, fx2dir), jobdef.StageInFailed)
}

func TestStageInDetectsBadMoverOutput(t *testing.T) {
	fx := newFixture(t, `{"pr": ["liar"]}`, `{"read_lan": ["TEST_DATADISK"]}`)
	data := moverstest.Data(4096)
	onRSE(t, fx.rse, "in.root", data)
	job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	err := fx.stager(t, liar{}).StageIn(t.Context(), job, fx.jobDir)
	wantPilotCode(t, err, jobdef.GetADMismatch)
	if _, err := os.Stat(filepath.Join(fx.jobDir, "in.root")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("corrupt input left in the job directory: %v", err)
	}
}

func TestStageInSources(t *testing.T) {
	data := moverstest.Data(2000)
	t.Run("inFilePaths", func(t *testing.T) {
		fx := defaultFixture(t)
		p := filepath.Join(fx.base, "harvester", "in.root")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
		job := newJob(t, []input{{lfn: "in.root", data: data, rse: "NO_SUCH_RSE"}}, map[string]string{"inFilePaths": p})
		if err := fx.stager(t).StageIn(t.Context(), job, fx.jobDir); err != nil {
			t.Fatal(err)
		}
		if job.Inputs[0].SURL != p {
			t.Errorf("SURL %q, want %q", job.Inputs[0].SURL, p)
		}
	})
	t.Run("InputDir", func(t *testing.T) {
		fx := defaultFixture(t)
		dir := filepath.Join(fx.base, "inputs")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "in.root"), data, 0o644)
		job := newJob(t, []input{{lfn: "in.root", data: data, rse: "NO_SUCH_RSE"}}, nil)
		s := fx.stager(t)
		s.InputDir = dir
		if err := s.StageIn(t.Context(), job, fx.jobDir); err != nil {
			t.Fatal(err)
		}
		if job.Inputs[0].SURL != filepath.Join(dir, "in.root") {
			t.Errorf("SURL %q", job.Inputs[0].SURL)
		}
	})
	t.Run("queue storage when the file has no RSE", func(t *testing.T) {
		fx := defaultFixture(t)
		onRSE(t, fx.rse, "in.root", data)
		job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
		job.Inputs[0].DDMEndpoint = ""
		if err := fx.stager(t).StageIn(t.Context(), job, fx.jobDir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no RSE anywhere", func(t *testing.T) {
		fx := newFixture(t, `{"pr": ["copy"]}`, `{}`)
		job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
		job.Inputs[0].DDMEndpoint = ""
		wantPilotCode(t, fx.stager(t).StageIn(t.Context(), job, fx.jobDir), jobdef.NoStorage)
	})
}

func TestStageOutErrors(t *testing.T) {
	good := map[string][]byte{"out1.root": []byte("one"), "out2.root": []byte("two")}
	cases := []struct {
		name  string
		files map[string][]byte
		setup func(t *testing.T, fx *fixture, job *jobdef.Job)
		code  jobdef.ErrorCode // of out1.root
	}{
		{"missing output", map[string][]byte{"out2.root": []byte("two")}, nil, jobdef.MissingOutputFile},
		{"zero size", map[string][]byte{"out1.root": nil, "out2.root": []byte("two")}, nil, jobdef.ZeroFileSize},
		{"expected checksum differs", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			job.Outputs[0].Checksum = jobdef.Checksum{Type: jobdef.Adler32, Value: "00000001"}
		}, jobdef.PutADMismatch},
		{"expected md5 differs", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			job.Outputs[0].Checksum = jobdef.Checksum{Type: jobdef.MD5, Value: "00000000000000000000000000000001"}
		}, jobdef.PutMD5Mismatch},
		{"symlink to /etc/passwd", map[string][]byte{"out2.root": []byte("two")}, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			if err := os.Symlink("/etc/passwd", filepath.Join(fx.jobDir, "out1.root")); err != nil {
				t.Fatal(err)
			}
		}, jobdef.FileHandlingFailure},
		{"relative symlink leaving the job dir", map[string][]byte{"out2.root": []byte("two")}, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			os.WriteFile(filepath.Join(fx.base, "secret"), []byte("secret"), 0o600)
			if err := os.Symlink("../../secret", filepath.Join(fx.jobDir, "out1.root")); err != nil {
				t.Fatal(err)
			}
		}, jobdef.FileHandlingFailure},
		{"directory", map[string][]byte{"out2.root": []byte("two")}, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			os.Mkdir(filepath.Join(fx.jobDir, "out1.root"), 0o755)
		}, jobdef.FileHandlingFailure},
		{"fifo", map[string][]byte{"out2.root": []byte("two")}, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			moverstest.SlowFIFO(t, filepath.Join(fx.jobDir, "out1.root"), []byte("x"))
		}, jobdef.FileHandlingFailure},
		{"local path outside", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			job.Outputs[0].LocalPath = filepath.Join(fx.base, "elsewhere")
		}, jobdef.FileHandlingFailure},
		{"hostile LFN", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			job.Outputs[0].LFN = "../../secret"
		}, jobdef.BadOutputFileName},
		{"no storage", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			fx.queue.AStorages = nil
			job.Outputs[0].DDMEndpoint = ""
		}, jobdef.NoStorage},
		{"non-deterministic RSE", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			fx.queue.AStorages = map[string][]string{"pw": {"TEST_TAPE"}}
		}, jobdef.NonDeterministicDDM},
		{"RSE without write protocol", good, func(t *testing.T, fx *fixture, job *jobdef.Job) {
			fx.queue.AStorages = map[string][]string{"pw": {"TEST_NOPROTO"}}
		}, jobdef.NoStorageProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := defaultFixture(t)
			job := newJob(t, nil, nil)
			writeOutputs(t, fx.jobDir, c.files)
			if c.setup != nil {
				c.setup(t, fx, job)
			}
			err := fx.stager(t).StageOut(t.Context(), job, fx.jobDir, outputsOf(job), movers.OutputActivities(job, fx.queue))
			wantPilotCode(t, err, c.code)
			f := job.Outputs[0]
			if f.Status != jobdef.StatusFailed || f.StatusCode != c.code {
				t.Errorf("FileSpec status %q code %d", f.Status, f.StatusCode)
			}
			if c.code != jobdef.NoStorage && c.code != jobdef.NonDeterministicDDM && c.code != jobdef.NoStorageProtocol {
				// out2.root is still staged out
				if job.Outputs[1].Status != jobdef.StatusTransferred {
					t.Errorf("out2.root: %q %d", job.Outputs[1].Status, job.Outputs[1].StatusCode)
				}
			}
			if _, err := os.Stat(filepath.Join(fx.rse, jobdef.RucioPath(scope, "out1.root"))); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("out1.root reached the RSE: %v", err)
			}
			var leaked []string
			filepath.WalkDir(fx.rse, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasSuffix(p, "out2.root") {
					leaked = append(leaked, p)
				}
				return nil
			})
			if len(leaked) > 0 {
				t.Errorf("unexpected files on the RSE: %v", leaked)
			}
		})
	}
}

func TestStageOutAllowNoOutput(t *testing.T) {
	fx := defaultFixture(t)
	job := newJob(t, nil, map[string]string{"allowNoOutput": "out1.root"})
	writeOutputs(t, fx.jobDir, map[string][]byte{"out2.root": []byte("two")})
	s := fx.stager(t)
	if err := s.StageOut(t.Context(), job, fx.jobDir, outputsOf(job), movers.OutputActivities(job, fx.queue)); err != nil {
		t.Fatalf("StageOut: %v", err)
	}
	if f := job.Outputs[0]; f.Status != jobdef.StatusNoTransfer || f.StatusCode != 0 {
		t.Errorf("out1.root: %q %d, want no_transfer", f.Status, f.StatusCode)
	}
	if f := job.Outputs[1]; f.Status != jobdef.StatusTransferred {
		t.Errorf("out2.root: %q", f.Status)
	}
	// a file not in the list is still required
	os.Remove(filepath.Join(fx.jobDir, "out2.root"))
	job2 := newJob(t, nil, map[string]string{"allowNoOutput": "out1.root"})
	wantPilotCode(t, s.StageOut(t.Context(), job2, fx.jobDir, outputsOf(job2), []string{"pw"}), jobdef.MissingOutputFile)
}

func TestStageOutDestinationChoice(t *testing.T) {
	fx := newFixture(t, `{"pw": ["copy"]}`, `{"pw": ["TEST_LOGS", "TEST_DATADISK"]}`)
	job := newJob(t, nil, nil)
	job.Outputs[1].DDMEndpoint = "SOMEWHERE_ELSE" // not allowed: first allowed RSE is used
	writeOutputs(t, fx.jobDir, map[string][]byte{"out1.root": []byte("one"), "out2.root": []byte("two")})
	if err := fx.stager(t).StageOut(t.Context(), job, fx.jobDir, outputsOf(job), []string{"pw"}); err != nil {
		t.Fatal(err)
	}
	// out1 asked for TEST_DATADISK (allowed, write_lan); out2 went to TEST_LOGS (write_wan)
	if f := job.Outputs[0]; f.DDMEndpoint != "TEST_DATADISK" || !strings.HasPrefix(f.SURL, "file://"+fx.rse+"/") {
		t.Errorf("out1: %s %s", f.DDMEndpoint, f.SURL)
	}
	if f := job.Outputs[1]; f.DDMEndpoint != "TEST_LOGS" || !strings.HasPrefix(f.SURL, "file://"+fx.logs+"/") {
		t.Errorf("out2: %s %s", f.DDMEndpoint, f.SURL)
	}
}

func TestStageOutSymlinkInsideJobDir(t *testing.T) {
	fx := defaultFixture(t)
	job := newJob(t, nil, nil)
	os.Mkdir(filepath.Join(fx.jobDir, "sub"), 0o755)
	writeOutputs(t, fx.jobDir, map[string][]byte{"sub/real.root": []byte("one"), "out2.root": []byte("two")})
	if err := os.Symlink("sub/real.root", filepath.Join(fx.jobDir, "out1.root")); err != nil {
		t.Fatal(err)
	}
	if err := fx.stager(t).StageOut(t.Context(), job, fx.jobDir, outputsOf(job), []string{"pw"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(fx.rse, jobdef.RucioPath(scope, "out1.root")))
	if err != nil || string(got) != "one" {
		t.Fatalf("uploaded %q %v", got, err)
	}
	fi, _ := os.Lstat(filepath.Join(fx.rse, jobdef.RucioPath(scope, "out1.root")))
	if fi.Mode()&fs.ModeSymlink != 0 {
		t.Error("a symlink was uploaded instead of the file")
	}
}

func TestStageInHostileLFN(t *testing.T) {
	fx := defaultFixture(t)
	data := []byte("evil")
	onRSE(t, fx.rse, "in.root", data)
	job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	for _, lfn := range []string{"../escape", "/etc/passwd", "a/b", "..", strings.Repeat("x", 256)} {
		job.Inputs[0].LFN = lfn
		job.Inputs[0].Status = ""
		err := fx.stager(t).StageIn(t.Context(), job, fx.jobDir)
		var pe *jobdef.PilotError
		if !errors.As(err, &pe) || (pe.Code != jobdef.BadOutputFileName && pe.Code != jobdef.LFNTooLong) {
			t.Errorf("LFN %q: %v, want 1371/1190", lfn, err)
		}
	}
	if _, err := os.Stat(filepath.Join(fx.base, "work", "escape")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a file escaped the job directory")
	}
}

// TestStageMvSiteLocal runs the ARC layout through the Stager with no storage at all.
func TestStageMvSiteLocal(t *testing.T) {
	fx := newFixture(t, `{"pr": ["mv"], "pw": ["mv"]}`, `{}`)
	site := filepath.Dir(fx.jobDir)
	data := moverstest.Data(3000)
	os.WriteFile(filepath.Join(site, "in.root"), data, 0o644)
	job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	job.Inputs[0].DDMEndpoint = ""
	s := fx.stager(t, local.NewMv(local.MvOptions{}))
	s.FreeSpace = func(string) (int64, error) { return 0, nil } // links: not checked
	if err := s.StageIn(t.Context(), job, fx.jobDir); err != nil {
		t.Fatalf("StageIn: %v", err)
	}
	if target, _ := os.Readlink(filepath.Join(fx.jobDir, "in.root")); target != filepath.Join(site, "in.root") {
		t.Errorf("link target %q", target)
	}
	writeOutputs(t, fx.jobDir, map[string][]byte{"out1.root": []byte("one"), "out2.root": []byte("two")})
	if err := s.StageOut(t.Context(), job, fx.jobDir, outputsOf(job), []string{"pw"}); err != nil {
		t.Fatalf("StageOut: %v", err)
	}
	for _, f := range job.Outputs {
		if f.Status != jobdef.StatusTransferred || f.Checksum.IsZero() || f.Size != 3 {
			t.Errorf("%s: %+v", f.LFN, f)
		}
		if _, err := os.Stat(filepath.Join(site, f.LFN)); err != nil {
			t.Errorf("%s not moved to the site directory: %v", f.LFN, err)
		}
	}
}

// TestStageMvWithStorage checks output.list carries the SURL from storage data.
func TestStageMvWithStorage(t *testing.T) {
	fx := newFixture(t, `{"pw": ["mv"]}`, `{"pw": ["TEST_DATADISK"]}`)
	site := filepath.Dir(fx.jobDir)
	job := newJob(t, nil, nil)
	writeOutputs(t, fx.jobDir, map[string][]byte{"out1.root": []byte("one"), "out2.root": []byte("two")})
	s := fx.stager(t, local.NewMv(local.MvOptions{}))
	if err := s.StageOut(t.Context(), job, fx.jobDir, outputsOf(job), []string{"pw"}); err != nil {
		t.Fatalf("StageOut: %v", err)
	}
	list, err := os.ReadFile(filepath.Join(site, local.OutputListName))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("out1.root file://%s:checksumtype=adler32:checksumvalue=%s\n", filepath.Join(fx.rse, jobdef.RucioPath(scope, "out1.root")), moverstest.Adler32([]byte("one")).Value)
	if !strings.HasPrefix(string(list), want) {
		t.Errorf("output.list =\n%s\nwant first line\n%s", list, want)
	}
}

func TestStageCancelled(t *testing.T) {
	fx := defaultFixture(t)
	data := moverstest.Data(1000)
	onRSE(t, fx.rse, "in.root", data)
	job := newJob(t, []input{{lfn: "in.root", data: data}}, nil)
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(jobdef.NewError(jobdef.SigTerm, "killed", nil))
	wantPilotCode(t, fx.stager(t).StageIn(ctx, job, fx.jobDir), jobdef.SigTerm)
	writeOutputs(t, fx.jobDir, map[string][]byte{"out1.root": []byte("one"), "out2.root": []byte("two")})
	wantPilotCode(t, fx.stager(t).StageOut(ctx, job, fx.jobDir, outputsOf(job), []string{"pw"}), jobdef.SigTerm)
}
