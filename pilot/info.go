package pilot

import (
	"context"

	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopilot/gopilot/jobdef"
)

// QueuedataCache is the queue description file in the work directory: used
// instead of downloading when present (a wrapper may pre-place it), and
// written after a download.
const QueuedataCache = "queuedata.json"

// StoragedataCache is the storage description cached in the work directory.
const StoragedataCache = "cric_ddmendpoints.json"

// Getter fetches a URL; server.Client implements it.
type Getter interface {
	Get(ctx context.Context, url string) ([]byte, error)
}

// LoadQueueData returns the description of queue: from src when it is a
// local file or a URL ({pandaqueue} is replaced by the queue name), else
// from workdir/queuedata.json when present, else from serverURL's
// /cache/schedconfig/<queue>.all.json. A downloaded description is cached in
// the work directory. Errors carry code 1116 (QUEUEDATA) or 1117.
func LoadQueueData(ctx context.Context, g Getter, src, serverURL, queue, workdir string) (*jobdef.QueueData, error) {
	if queue == "" {
		return nil, jobdef.NewError(jobdef.QueueDataError, "no queue name (-q/--queue)", nil)
	}
	cache := filepath.Join(workdir, QueuedataCache)
	var data []byte
	var err error
	switch {
	case src != "" && !strings.Contains(src, "://"):
		data, err = os.ReadFile(src)
	case src != "":
		data, err = g.Get(ctx, strings.ReplaceAll(src, "{pandaqueue}", queue))
	default:
		if b, rerr := os.ReadFile(cache); rerr == nil {
			data = b
			src = cache
		} else {
			data, err = g.Get(ctx, serverURL+"/cache/schedconfig/"+queue+".all.json")
		}
	}
	if err != nil {
		return nil, jobdef.NewError(jobdef.QueueDataError, "queue data for "+queue, err)
	}
	q, err := jobdef.ParseQueueData(data, queue)
	if err != nil {
		return nil, err
	}
	if src != cache {
		_ = writeFileSync(cache, data)
	}
	return q, nil
}

// CheckQueue applies Pilot 3's start-up checks to the queue description:
// state must be ACTIVE (else 1359) and status must not be offline (else 1386).
func CheckQueue(q *jobdef.QueueData) error {
	if q.State != "" && !strings.EqualFold(q.State, "ACTIVE") {
		return jobdef.NewError(jobdef.PandaQueueNotActive, fmt.Sprintf("queue %s is in state %s", q.Name, q.State), nil)
	}
	if strings.EqualFold(q.Status, "offline") {
		return jobdef.NewError(jobdef.PandaQueueNotOnline, fmt.Sprintf("queue %s is offline", q.Name), nil)
	}
	return nil
}

// LoadStorageData returns the DDM endpoint descriptions from src (a local
// file or a URL), else serverURL's /cache/ddmendpoints.json. An empty src and
// serverURL yields empty storage data.
func LoadStorageData(ctx context.Context, g Getter, src, serverURL, workdir string) (jobdef.StorageData, error) {
	var data []byte
	var err error
	switch {
	case src != "" && !strings.Contains(src, "://"):
		data, err = os.ReadFile(src)
	case src != "":
		data, err = g.Get(ctx, src)
	case serverURL != "":
		data, err = g.Get(ctx, serverURL+"/cache/ddmendpoints.json")
	default:
		return jobdef.StorageData{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage data: %w", err)
	}
	sd, err := jobdef.ParseStorageData(data)
	if err != nil {
		return nil, err
	}
	if workdir != "" {
		_ = writeFileSync(filepath.Join(workdir, StoragedataCache), data)
	}
	return sd, nil
}
