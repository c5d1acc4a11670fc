package pilot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// HeartbeatFile is the file that receives every update when the pilot does
// not talk to the server (-z, offline mode).
const HeartbeatFile = "heartbeat.json"

// FileSource hands out one job read from a job file, then reports no job.
type FileSource struct {
	Path string

	mu   sync.Mutex
	done bool
}

// GetJob returns the file's job the first time, and server.ErrNoJob after.
func (s *FileSource) GetJob(ctx context.Context, _ server.JobRequest) (*jobdef.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil, fmt.Errorf("%w: the job file was used", server.ErrNoJob)
	}
	s.done = true
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, jobdef.NewError(jobdef.NoSuchFile, "job file "+s.Path, err)
	}
	if len(data) > jobdef.MaxBodySize {
		return nil, jobdef.NewError(jobdef.UnknownException, "job file "+s.Path+" is too large", nil)
	}
	job, err := jobdef.ParseJobFile(data)
	if err != nil {
		err = fmt.Errorf("job file %s: %w", s.Path, err)
		if id, attempt, ok := jobdef.JobIdentity(data); ok {
			// The job is known by its PandaID: report it failed.
			return nil, &server.BadJobError{PandaID: id, AttemptNr: attempt, Err: err}
		}
		return nil, err
	}
	return job, nil
}

// FileReporter writes every update to Dir/heartbeat.json (overwritten each
// time, written atomically) instead of sending it, as Pilot 3 does without
// server updates.
type FileReporter struct {
	Dir string

	mu sync.Mutex
}

// UpdateJob writes the update's legacy dictionary and acknowledges it.
func (w *FileReporter) UpdateJob(ctx context.Context, rep *jobdef.UpdateReport) (*server.Reply, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := json.MarshalIndent(rep.Legacy(), "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(w.Dir, HeartbeatFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return &server.Reply{}, nil
}
