package loadgen

import (
	"context"
	"fmt"

	"github.com/gopilot/gopilot/internal/pandalite"
)

// Store is the part of the server's job store the check reads
// (*pandalite.Store implements it).
type Store interface {
	Jobs(ctx context.Context) ([]pandalite.JobInfo, error)
	Updates(ctx context.Context, pandaID int64) ([]pandalite.UpdateRecord, error)
	Requests(ctx context.Context) ([]pandalite.RequestRecord, error)
	Files(ctx context.Context, pandaID int64) ([]pandalite.FileRecord, error)
}

// Check is the server's view of a run, compared with the pilots' view.
type Check struct {
	// Jobs is the number of jobs the run was meant to process.
	Jobs int
	// Dispatched counts jobs the server handed out at least once.
	Dispatched int
	// DoubleDispatch counts jobs handed out more than once: nSent > 1,
	// several job requests that got the job, or several receipts by the
	// pilots.
	DoubleDispatch int
	// Foreign counts jobs the pilots received that are not among Jobs.
	Foreign int
	// NotFinished counts jobs whose state is not finished.
	NotFinished int
	// LostUpdates counts updates the server answered with StatusCode 0
	// that the store does not hold as applied, in the order sent.
	LostUpdates int
	// ExtraUpdates counts updates the store holds for a job that no pilot
	// sent.
	ExtraUpdates int
	// MissingFiles counts finished jobs whose log file is not registered.
	MissingFiles int
	// Problems describes the first few findings.
	Problems []string
}

// OK reports whether every job was handed out once, finished, with
// exactly the updates sent, and its log file registered.
func (c Check) OK() bool {
	return c.Dispatched == c.Jobs && c.DoubleDispatch == 0 && c.Foreign == 0 && c.NotFinished == 0 &&
		c.LostUpdates == 0 && c.ExtraUpdates == 0 && c.MissingFiles == 0
}

const maxProblems = 20

func (c *Check) problem(format string, args ...any) {
	if len(c.Problems) < maxProblems {
		c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
	}
}

// Verify compares the store's record of the jobs ids with what the pilots
// of res did. An update the pilots sent without an answer (the call
// failed) may or may not be in the store; every answered one must be, in
// order, as applied ("updated"), and nothing else may be. Only the jobs
// ids are examined in the store, so other jobs (other sites, earlier
// runs) do not disturb the check.
func Verify(ctx context.Context, st Store, ids []int64, res *Result) (Check, error) {
	c := Check{Jobs: len(ids)}
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}

	jobs, err := st.Jobs(ctx)
	if err != nil {
		return c, err
	}
	info := make(map[int64]*pandalite.JobInfo, len(ids))
	for i := range jobs {
		if want[jobs[i].PandaID] {
			info[jobs[i].PandaID] = &jobs[i]
		}
	}
	reqs, err := st.Requests(ctx)
	if err != nil {
		return c, err
	}
	handed := map[int64]int{}
	for _, r := range reqs {
		for _, id := range r.PandaIDs {
			if want[id] {
				handed[id]++
			}
		}
	}
	all, err := st.Updates(ctx, -1)
	if err != nil {
		return c, err
	}
	stored := map[int64][]pandalite.UpdateRecord{}
	for _, u := range all {
		if want[u.PandaID] {
			stored[u.PandaID] = append(stored[u.PandaID], u)
		}
	}
	files, err := st.Files(ctx, -1)
	if err != nil {
		return c, err
	}
	logs := map[int64]int{}
	for _, f := range files {
		if want[f.PandaID] && f.Kind == "log" {
			logs[f.PandaID]++
		}
	}

	for _, id := range sortedIDs(res.Jobs) {
		if !want[id] {
			c.Foreign++
			c.problem("job %d: received by pilots %v but not part of the run", id, res.Jobs[id].Pilots)
		}
	}
	for _, id := range ids {
		j, ok := info[id]
		if !ok {
			c.NotFinished++
			c.problem("job %d: not in the store", id)
			continue
		}
		tr := res.Jobs[id]
		receipts := 0
		if tr != nil {
			receipts = len(tr.Pilots)
		}
		if j.NSent > 0 || handed[id] > 0 || receipts > 0 {
			c.Dispatched++
		}
		if j.NSent > 1 || handed[id] > 1 || receipts > 1 {
			c.DoubleDispatch++
			c.problem("job %d: nSent %d, in %d job requests, received %d times", id, j.NSent, handed[id], receipts)
		}
		if j.State != pandalite.StateFinished {
			c.NotFinished++
			c.problem("job %d: state %s", id, j.State)
		} else if logs[id] != 1 {
			c.MissingFiles++
			c.problem("job %d: %d log files registered", id, logs[id])
		}
		var sent []SentUpdate
		if tr != nil {
			sent = tr.Updates
		}
		lost, extra := matchUpdates(sent, stored[id])
		if lost > 0 || extra > 0 {
			c.problem("job %d: %d updates lost, %d extra (sent %s, stored %s)", id, lost, extra,
				sentStates(sent), storedStates(stored[id]))
		}
		c.LostUpdates += lost
		c.ExtraUpdates += extra
	}
	return c, nil
}

// matchUpdates walks the updates sent for a job and those stored for it,
// both in order. An answered update must be the next stored record, with
// its state and outcome "updated"; an unanswered one may be. Stored
// records left over are extra.
func matchUpdates(sent []SentUpdate, stored []pandalite.UpdateRecord) (lost, extra int) {
	i := 0
	for _, s := range sent {
		if i < len(stored) && stored[i].State == s.State {
			if s.Answered && stored[i].Outcome != pandalite.OutcomeUpdated {
				lost++
			}
			i++
			continue
		}
		if s.Answered {
			lost++
		}
	}
	return lost, len(stored) - i
}

func sentStates(s []SentUpdate) string {
	out := "["
	for i, u := range s {
		if i > 0 {
			out += " "
		}
		out += u.State
		if !u.Answered {
			out += "?"
		}
	}
	return out + "]"
}

func storedStates(s []pandalite.UpdateRecord) string {
	out := "["
	for i, u := range s {
		if i > 0 {
			out += " "
		}
		out += u.State + ":" + string(u.Outcome)
	}
	return out + "]"
}
