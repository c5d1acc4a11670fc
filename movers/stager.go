package movers

import (
	"context"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/sirupsen/logrus"
)

// Stager stages a job's files in and out through the movers of a Registry.
type Stager struct {
	Registry *Registry
	Queue    *jobdef.QueueData
	Storage  jobdef.StorageData
	Log      logrus.FieldLogger
	// Retries is the number of extra attempts per mover for a retryable failure.
	Retries int
	// Backoff is the wait before the first retry; it doubles for each further retry.
	Backoff time.Duration
	// MinTimeout is the lower bound of the per-file timeout (see TimeoutFor).
	MinTimeout time.Duration
	// InputDir, when set, is a local directory holding the inputs as <InputDir>/<lfn>.
	InputDir string
}

// StageIn transfers job.Inputs into jobDir.
func (s *Stager) StageIn(ctx context.Context, job *jobdef.Job, jobDir string) error {
	return jobdef.NewError(jobdef.StageInFailed, "not implemented yet", nil)
}

// StageOut transfers files from jobDir to storage.
func (s *Stager) StageOut(ctx context.Context, job *jobdef.Job, jobDir string, files []*jobdef.FileSpec, activities []string) error {
	return jobdef.NewError(jobdef.StageOutFailed, "not implemented yet", nil)
}
