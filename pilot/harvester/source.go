package harvester

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// DefaultPoll is the interval between looks for the job file while a
// GetJob waits for Harvester.
const DefaultPoll = 250 * time.Millisecond

// Settle is how long a job file must stay unchanged (size and modification
// time) before it is read while the pilot's job request is still there.
const Settle = time.Second

// Source hands out the jobs Harvester places in job files; it implements
// the pilot's JobSource and never talks to the server.
//
// A GetJob looks at Candidates in order and takes the first job file found:
// the file is moved to Home/job_definition.json (copied and removed when a
// rename is impossible; a file that cannot be removed is remembered and
// never taken again), an outstanding worker_requestjob.json is withdrawn,
// and the file's first job is returned. When there is no file:
//
//   - PUSH, first job: no job (server.ErrNoJob); Harvester placed the file
//     before the pilot started, and the pilot's loop looks again later;
//   - otherwise (PULL, or PUSH after a job): Home/worker_requestjob.json
//     {"nJobs": 1} is written (once per outstanding request); in PULL mode
//     GetJob then waits up to Wait for the job file, looking every Poll, and
//     returns server.ErrNoJob when none came (the request stays for
//     Harvester to answer later). In PUSH mode it does not wait.
//
// While a request is outstanding, a job file counts as complete only once
// Harvester has removed the request (it does so after writing the job file)
// or the file is not empty and its size and modification time stayed the
// same for Settle.
//
// A file holding the empty object {} is no job. A file that does not parse
// is a *server.BadJobError when its PandaID can be read (the pilot reports
// that job failed) and an error with the parse error's code otherwise.
type Source struct {
	// Mode is Harvester's submit mode.
	Mode SubmitMode
	// Candidates are the job file paths, first existing wins (see
	// JobFileCandidates).
	Candidates []string
	// Home is the pilot's work directory ($PILOT_HOME): job_definition.json
	// and worker_requestjob.json go there.
	Home string
	// Wait bounds one GetJob's wait for Harvester's answer in PULL mode;
	// 0 means look once.
	Wait time.Duration
	// Poll is the interval between looks while waiting; 0 means DefaultPoll.
	Poll time.Duration
	// Log receives the source's messages; nil discards them.
	Log logrus.FieldLogger

	get sync.Mutex // serialises GetJob

	mu        sync.Mutex
	taken     int                   // jobs handed out
	jobs      map[int64]*jobdef.Job // handed-out jobs by PandaID
	requested bool                  // a request of ours may be outstanding
	last      seen                  // the job file as seen at the previous look
	stuck     []os.FileInfo         // taken files that could not be removed
	clock     func() time.Time      // nil means time.Now
}

// seen is a job file's identity at one look.
type seen struct {
	path  string
	size  int64
	mtime time.Time
	since time.Time // first look at which the file was like this
}

func (s *Source) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

func (s *Source) log() logrus.FieldLogger {
	if s.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		return l
	}
	return s.Log
}

// GetJob returns the next job Harvester provides (see Source). ctx bounds
// the wait; when it ends, GetJob returns its cause.
func (s *Source) GetJob(ctx context.Context, _ server.JobRequest) (*jobdef.Job, error) {
	s.get.Lock()
	defer s.get.Unlock()
	s.mu.Lock()
	first := s.taken == 0
	s.mu.Unlock()

	if path := s.lookOnce(); path != "" {
		return s.take(path)
	}
	if s.Mode == Push && first {
		return nil, fmt.Errorf("%w: no Harvester job file at %s", server.ErrNoJob, strings.Join(s.Candidates, ", "))
	}
	if err := s.request(); err != nil {
		return nil, jobdef.NewError(jobdef.FileHandlingFailure, "cannot ask Harvester for a job", err)
	}
	wait := s.Wait
	if s.Mode == Push {
		wait = 0
	}
	path, err := s.await(ctx, wait)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%w: Harvester has not answered the job request (waited %s)", server.ErrNoJob, wait)
	}
	return s.take(path)
}

// Job returns a job this source handed out, nil when unknown.
func (s *Source) Job(pandaID int64) *jobdef.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[pandaID]
}

// Taken returns the number of jobs handed out.
func (s *Source) Taken() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken
}

// Close withdraws an outstanding job request, so that Harvester does not
// feed a job to a pilot that is ending.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.withdrawLocked()
}

func (s *Source) withdrawLocked() error {
	if !s.requested {
		return nil
	}
	s.requested = false
	err := os.Remove(filepath.Join(s.Home, JobRequestFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// request writes the job request unless ours is still there.
func (s *Source) request() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.Home, JobRequestFile)
	if s.requested {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	if err := RequestJobs(s.Home, 1); err != nil {
		return err
	}
	s.requested = true
	s.log().WithField("file", path).Info("asked Harvester for a job")
	return nil
}

// find returns the first candidate that is a regular file not taken before.
func (s *Source) find() (string, os.FileInfo) {
	for _, p := range s.Candidates {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if s.isStuck(fi) {
			continue
		}
		return p, fi
	}
	return "", nil
}

func (s *Source) isStuck(fi os.FileInfo) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stuck {
		if os.SameFile(st, fi) {
			return true
		}
	}
	return false
}

// lookOnce returns a complete job file, or "".
func (s *Source) lookOnce() string {
	p, fi := s.find()
	if p == "" {
		s.mu.Lock()
		s.last = seen{}
		s.mu.Unlock()
		return ""
	}
	if s.complete(p, fi) {
		return p
	}
	return ""
}

// complete decides whether the job file at p can be read (see Source).
func (s *Source) complete(p string, fi os.FileInfo) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	cur := seen{path: p, size: fi.Size(), mtime: fi.ModTime(), since: t}
	prev := s.last
	if prev.path == cur.path && prev.size == cur.size && prev.mtime.Equal(cur.mtime) {
		cur.since = prev.since
	}
	s.last = cur
	if !s.requested {
		return true
	}
	if _, err := os.Stat(filepath.Join(s.Home, JobRequestFile)); errors.Is(err, os.ErrNotExist) {
		return true
	}
	return cur.size > 0 && t.Sub(cur.since) >= Settle
}

// await looks for a complete job file every Poll until wait has passed or
// ctx ends. It returns "" when the wait passed without one.
func (s *Source) await(ctx context.Context, wait time.Duration) (string, error) {
	if p := s.lookOnce(); p != "" {
		return p, nil
	}
	if wait <= 0 {
		return "", nil
	}
	poll := s.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-deadline.C:
			return s.lookOnce(), nil
		case <-tick.C:
			if p := s.lookOnce(); p != "" {
				return p, nil
			}
		}
	}
}

// take consumes the job file at path and parses its first job.
func (s *Source) take(path string) (*jobdef.Job, error) {
	lg := s.log().WithField("file", path)
	data, err := s.consume(path)
	if err != nil {
		return nil, jobdef.NewError(jobdef.FileHandlingFailure, "Harvester job file "+path, err)
	}
	s.mu.Lock()
	s.last = seen{}
	if err := s.withdrawLocked(); err != nil {
		lg.WithError(err).Warn("cannot remove the job request")
	}
	s.mu.Unlock()
	if string(bytes.TrimSpace(data)) == "{}" {
		lg.Info("the Harvester job file holds no job")
		return nil, fmt.Errorf("%w: the Harvester job file %s holds no job", server.ErrNoJob, path)
	}
	job, err := jobdef.ParseJobFile(data)
	if err != nil {
		if id, attempt, ok := jobdef.JobIdentity(data); ok {
			return nil, &server.BadJobError{PandaID: id, AttemptNr: attempt, Err: err}
		}
		return nil, fmt.Errorf("Harvester job file %s: %w", path, err)
	}
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs = map[int64]*jobdef.Job{}
	}
	s.jobs[job.PandaID] = job
	s.taken++
	s.mu.Unlock()
	lg.WithFields(logrus.Fields{"pandaid": job.PandaID, "copy": filepath.Join(s.Home, JobDefinitionCopy)}).Info("took the Harvester job file")
	return job, nil
}

// consume moves the job file to Home/job_definition.json and returns its
// content (at most jobdef.MaxBodySize+1 bytes).
func (s *Source) consume(path string) ([]byte, error) {
	dst := filepath.Join(s.Home, JobDefinitionCopy)
	if err := os.Rename(path, dst); err == nil {
		return readLimited(dst, jobdef.MaxBodySize)
	}
	// Another file system, or a directory the pilot may not change:
	// copy, then remove the original.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	data, err := readLimited(path, jobdef.MaxBodySize)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(dst, data); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log().WithError(err).WithField("file", path).Warn("cannot remove the Harvester job file; it will not be taken again")
		s.mu.Lock()
		s.stuck = append(s.stuck, fi)
		s.mu.Unlock()
	}
	return data, nil
}
