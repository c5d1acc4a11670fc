package harvester

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

const harvesterJob = `{"4100": {"PandaID": 4100, "jobsetID": 1, "taskID": 9, "attemptNr": 2, "transformation": "run.sh",
 "jobPars": "-n 1", "inFiles": "", "outFiles": "out.root,log.4100.tgz", "logFile": "log.4100.tgz",
 "logGUID": "00000000-0000-4000-8000-000000004100", "scopeOut": "s", "scopeLog": "s", "realDatasets": "d.out,d.log",
 "ddmEndPointOut": "DISK,DISK", "GUID": "", "prodSourceLabel": "managed"}}`

const cgiJob = "StatusCode=0&PandaID=4200&attemptNr=1&transformation=run.sh&jobPars=&inFiles=&outFiles=log.4200.tgz" +
	"&logFile=log.4200.tgz&logGUID=00000000-0000-4000-8000-000000004200&scopeLog=s&realDatasets=d.log&ddmEndPointOut=DISK"

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestSourcePush(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    func(root string) Options
		place   string // path relative to root
		content string
		wantID  int64
	}{
		{"harvester JSON in the work dir", func(string) Options { return Options{} }, "work/pandaJobData.out", harvesterJob, 4100},
		{"urlencoded in the launch dir", func(string) Options { return Options{} }, "launch/pandaJobData.out", cgiJob, 4200},
		{"above the launch dir", func(string) Options { return Options{} }, "pandaJobData.out", cgiJob, 4200},
		{"data dir", func(r string) Options { return Options{Datadir: filepath.Join(r, "data")} }, "data/pandaJobData.out", harvesterJob, 4100},
		{"HPCJobs.json in the access point", func(r string) Options { return Options{Workdir: filepath.Join(r, "ap")} }, "ap/HPCJobs.json", harvesterJob, 4100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			work := filepath.Join(root, "work")
			writeFile(t, filepath.Join(root, c.place), c.content)
			os.MkdirAll(work, 0o755)
			os.MkdirAll(filepath.Join(root, "launch"), 0o755)
			src := &Source{Mode: Push, Home: work, Candidates: JobFileCandidates(c.opts(root), filepath.Join(root, "launch"), work, envOf(nil))}
			job, err := src.GetJob(testCtx(t), server.JobRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if job.PandaID != c.wantID || job.Transformation != "run.sh" {
				t.Fatalf("job %+v", job)
			}
			if exists(filepath.Join(root, c.place)) {
				t.Fatal("the job file is still there: it could be taken twice")
			}
			if b, err := os.ReadFile(filepath.Join(work, JobDefinitionCopy)); err != nil || string(b) != c.content {
				t.Fatalf("job_definition.json = %q, %v", b, err)
			}
			if src.Job(c.wantID) != job || src.Taken() != 1 {
				t.Fatal("the job is not recorded")
			}
			// After the job: ask Harvester once, do not wait, no job.
			_, err = src.GetJob(testCtx(t), server.JobRequest{})
			if !errors.Is(err, server.ErrNoJob) {
				t.Fatalf("second GetJob: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(work, JobRequestFile)); err != nil || string(b) != "{\"nJobs\": 1}\n" {
				t.Fatalf("request %q, %v", b, err)
			}
			if err := src.Close(); err != nil || exists(filepath.Join(work, JobRequestFile)) {
				t.Fatalf("Close left the request: %v", err)
			}
		})
	}
}

func TestSourcePushNoFile(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	src := &Source{Mode: Push, Home: work, Candidates: []string{filepath.Join(work, JobDataFile)}, Wait: time.Hour}
	for i := 0; i < 2; i++ {
		if _, err := src.GetJob(testCtx(t), server.JobRequest{}); !errors.Is(err, server.ErrNoJob) {
			t.Fatalf("GetJob: %v", err)
		}
	}
	if exists(filepath.Join(work, JobRequestFile)) {
		t.Fatal("PUSH asked for the first job")
	}
	// A directory named like the job file is no job file.
	os.Mkdir(filepath.Join(work, JobDataFile), 0o755)
	if _, err := src.GetJob(testCtx(t), server.JobRequest{}); !errors.Is(err, server.ErrNoJob) {
		t.Fatalf("GetJob: %v", err)
	}
}

// harvester plays Harvester's messenger: it waits for the job request,
// writes the job file in two steps (as json.dump does) and then removes the
// request.
func harvester(t *testing.T, work, jobFile, content string, done chan<- error) {
	req := filepath.Join(work, JobRequestFile)
	deadline := time.Now().Add(time.Minute)
	for !exists(req) {
		if time.Now().After(deadline) {
			done <- errors.New("no job request")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, err := os.ReadFile(req)
	if err != nil || string(b) != "{\"nJobs\": 1}\n" {
		done <- errors.New("bad request: " + string(b))
		return
	}
	f, err := os.Create(jobFile)
	if err != nil {
		done <- err
		return
	}
	half := len(content) / 2
	f.WriteString(content[:half])
	f.Sync()
	time.Sleep(20 * time.Millisecond)
	f.WriteString(content[half:])
	f.Close()
	done <- os.Remove(req)
}

func TestSourcePull(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content string
		wantID  int64
	}{{"harvester JSON", harvesterJob, 4100}, {"urlencoded", cgiJob, 4200}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			jobFile := filepath.Join(work, JobDataFile)
			src := &Source{Mode: Pull, Home: work, Candidates: []string{jobFile}, Wait: time.Minute, Poll: time.Millisecond}
			for round := 0; round < 2; round++ {
				done := make(chan error, 1)
				go harvester(t, work, jobFile, c.content, done)
				job, err := src.GetJob(testCtx(t), server.JobRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if herr := <-done; herr != nil {
					t.Fatal(herr)
				}
				if job.PandaID != c.wantID {
					t.Fatalf("job %d", job.PandaID)
				}
				if exists(jobFile) || exists(filepath.Join(work, JobRequestFile)) {
					t.Fatal("job file or request left behind")
				}
			}
			if src.Taken() != 2 {
				t.Fatalf("taken %d", src.Taken())
			}
		})
	}
}

func TestSourcePullNoAnswer(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	src := &Source{Mode: Pull, Home: work, Candidates: []string{filepath.Join(work, JobDataFile)}, Wait: 30 * time.Millisecond, Poll: time.Millisecond}
	if _, err := src.GetJob(testCtx(t), server.JobRequest{}); !errors.Is(err, server.ErrNoJob) {
		t.Fatalf("GetJob: %v", err)
	}
	if !exists(filepath.Join(work, JobRequestFile)) {
		t.Fatal("the request must stay for Harvester to answer later")
	}
	cause := errors.New("pilot stops")
	ctx, cancel := context.WithCancelCause(testCtx(t))
	src.Wait = time.Hour
	go func() {
		// Cancel once GetJob is waiting; a cancel before it is equally valid.
		time.Sleep(10 * time.Millisecond)
		cancel(cause)
	}()
	if _, err := src.GetJob(ctx, server.JobRequest{}); !errors.Is(err, cause) {
		t.Fatalf("GetJob after cancel: %v", err)
	}
	if err := src.Close(); err != nil || exists(filepath.Join(work, JobRequestFile)) {
		t.Fatalf("Close: %v", err)
	}
}

func TestSourceCompleteness(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	jobFile := filepath.Join(work, JobDataFile)
	clock := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	src := &Source{Mode: Pull, Home: work, Candidates: []string{jobFile}, clock: func() time.Time { return clock }}
	if err := src.request(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		content string // "-" keeps the file
		mtime   time.Time
		advance time.Duration
		want    bool
	}{
		{"first sight", harvesterJob[:10], clock, 0, false},
		{"unchanged, not settled", "-", time.Time{}, Settle / 2, false},
		{"grown", harvesterJob, clock.Add(time.Second), Settle, false},
		{"unchanged for less than Settle", "-", time.Time{}, Settle - time.Millisecond, false},
		{"settled", "-", time.Time{}, time.Millisecond, true},
		{"emptied", "", clock.Add(2 * time.Second), 0, false},
		{"empty and settled", "-", time.Time{}, 2 * Settle, false},
	}
	for _, st := range steps {
		if st.content != "-" {
			writeFile(t, jobFile, st.content)
			os.Chtimes(jobFile, st.mtime, st.mtime)
		}
		clock = clock.Add(st.advance)
		if got := src.lookOnce() != ""; got != st.want {
			t.Fatalf("%s: complete = %v, want %v", st.name, got, st.want)
		}
	}
	os.Remove(filepath.Join(work, JobRequestFile))
	if p := src.lookOnce(); p != jobFile {
		t.Fatal("the file is complete once Harvester removed the request")
	}
}

func TestSourceBadFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		content  string
		noJob    bool
		badID    int64
		badTry   int
		wantCode jobdef.ErrorCode
	}{
		{"empty object is no job", "{}", true, 0, 0, 0},
		{"empty file is fatal", "", false, 0, 0, jobdef.ConversionFailure},
		{"garbage is fatal", "\x00\x01not a job", false, 0, 0, jobdef.ConversionFailure},
		{"harvester job with bad fields", `{"4300": {"attemptNr": 3, "coreCount": "many"}}`, false, 4300, 3, 0},
		{"urlencoded job with bad fields", "PandaID=4400&coreCount=x", false, 4400, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			jobFile := filepath.Join(work, JobDataFile)
			writeFile(t, jobFile, c.content)
			src := &Source{Mode: Push, Home: work, Candidates: []string{jobFile}}
			_, err := src.GetJob(testCtx(t), server.JobRequest{})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, server.ErrNoJob) != c.noJob {
				t.Fatalf("ErrNoJob = %v: %v", !c.noJob, err)
			}
			var bad *server.BadJobError
			if c.badID != 0 {
				if !errors.As(err, &bad) || bad.PandaID != c.badID || bad.AttemptNr != c.badTry {
					t.Fatalf("want BadJobError %d/%d, got %v", c.badID, c.badTry, err)
				}
			} else if errors.As(err, &bad) {
				t.Fatalf("unexpected BadJobError %v", err)
			}
			if c.wantCode != 0 && jobdef.CodeOf(err) != c.wantCode {
				t.Fatalf("code %d, want %d: %v", jobdef.CodeOf(err), c.wantCode, err)
			}
			if exists(jobFile) {
				t.Fatal("a consumed file is still there")
			}
		})
	}
}

// TestSourceAcrossFileSystems takes a job file from another file system
// (tmpfs), where it cannot be renamed into the work directory.
func TestSourceAcrossFileSystems(t *testing.T) {
	t.Parallel()
	other, err := os.MkdirTemp("/dev/shm", "gopilot-harvester-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	work := t.TempDir()
	jobFile := filepath.Join(other, JobDataFile)
	writeFile(t, jobFile, harvesterJob)
	src := &Source{Mode: Push, Home: work, Candidates: []string{jobFile}}
	job, err := src.GetJob(testCtx(t), server.JobRequest{})
	if err != nil || job.PandaID != 4100 {
		t.Fatalf("%v %v", job, err)
	}
	if exists(jobFile) {
		t.Fatal("original left")
	}
	if b, _ := os.ReadFile(filepath.Join(work, JobDefinitionCopy)); string(b) != harvesterJob {
		t.Fatal("copy differs")
	}
}

// TestSourceStuckFile: a job file in a directory the pilot may not change
// is copied, and never taken a second time.
func TestSourceStuckFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root may change any directory")
	}
	root := t.TempDir()
	ro := filepath.Join(root, "ro")
	work := filepath.Join(root, "work")
	os.MkdirAll(work, 0o755)
	writeFile(t, filepath.Join(ro, JobDataFile), harvesterJob)
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	src := &Source{Mode: Push, Home: work, Candidates: []string{filepath.Join(ro, JobDataFile)}}
	if _, err := src.GetJob(testCtx(t), server.JobRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.GetJob(testCtx(t), server.JobRequest{}); !errors.Is(err, server.ErrNoJob) {
		t.Fatalf("the same file was taken twice: %v", err)
	}
}
