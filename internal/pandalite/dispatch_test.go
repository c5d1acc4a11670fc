package pandalite

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentDispatch has 20 pilots (half legacy, half v1) hammer the
// server for 50 jobs: every job must be handed out exactly once.
func TestConcurrentDispatch(t *testing.T) {
	const nJobs, nPilots = 50, 20
	e := newEnv(t, Options{})
	var jobs []string
	for i := 0; i < nJobs; i++ {
		jobs = append(jobs, fmt.Sprintf(`{"jobName": "job%d", "transformation": "sleep", "jobPars": "1", "prodSourceLabel": "managed", "currentPriority": %d}`, i, i%3))
	}
	ids := e.submitJSON(t, "PANDASTUB", "["+strings.Join(jobs, ",")+"]")
	if len(ids) != nJobs || ids[0] != FirstPandaID || ids[nJobs-1] != FirstPandaID+nJobs-1 {
		t.Fatalf("ids %v", ids)
	}

	var mu sync.Mutex
	got := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, nPilots)
	for p := 0; p < nPilots; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for {
				var id int64
				if p%2 == 0 {
					body := fmt.Sprintf(`{"siteName": "PANDASTUB", "prodSourceLabel": "managed", "node": "n%d", "mem": 2000.5, "diskSpace": 5000}`, p)
					a, err := postErr(e.url+"/server/panda/getJob", gzipErr([]byte(body)), map[string]string{"Content-Type": "application/json"})
					if err != nil {
						errs <- err
						return
					}
					qs := parseQS(a.body)
					if len(qs["StatusCode"]) == 1 && qs["StatusCode"][0] == "20" {
						return
					}
					if len(qs["StatusCode"]) != 1 || qs["StatusCode"][0] != "0" || len(qs["PandaID"]) != 1 {
						errs <- fmt.Errorf("pilot %d: %s", p, a.body)
						return
					}
					id, _ = strconv.ParseInt(qs["PandaID"][0], 10, 64)
				} else {
					body := fmt.Sprintf(`{"site_name": "PANDASTUB", "prod_source_label": "managed", "node": "n%d"}`, p)
					a, err := postErr(e.url+"/api/v1/pilot/acquire_jobs", gzipErr([]byte(body)),
						map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip", "Accept": "application/json"})
					if err != nil {
						errs <- err
						return
					}
					var m struct {
						Success bool
						Message string
						Data    struct{ Jobs []struct{ PandaID int64 } }
					}
					if err := json.Unmarshal([]byte(a.body), &m); err != nil {
						errs <- fmt.Errorf("pilot %d: %s: %v", p, a.body, err)
						return
					}
					if !m.Success {
						if m.Message != "No jobs in PanDA" {
							errs <- fmt.Errorf("pilot %d: %s", p, a.body)
						}
						return
					}
					if len(m.Data.Jobs) != 1 {
						errs <- fmt.Errorf("pilot %d: %s", p, a.body)
						return
					}
					id = m.Data.Jobs[0].PandaID
				}
				mu.Lock()
				got[id]++
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(got) != nJobs {
		t.Fatalf("%d distinct jobs handed out, want %d", len(got), nJobs)
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("job %d handed out %d times", id, got[id])
		}
	}
	all, err := e.store.Jobs(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range all {
		if j.State != StateSent || j.NSent != 1 {
			t.Errorf("job %d: state %s nSent %d", j.PandaID, j.State, j.NSent)
		}
	}
}

// TestSelection checks the getJob filters, one job at a time.
func TestSelection(t *testing.T) {
	jobs := `[
	 {"PandaID": 11, "jobName": "managed", "prodSourceLabel": "managed", "taskID": 7, "maxDiskCount": 1000, "minRamCount": 2000, "maxWalltime": 3600, "resource_type": "SCORE"},
	 {"PandaID": 12, "jobName": "user", "prodSourceLabel": "user", "taskID": 8},
	 {"PandaID": 13, "jobName": "ptest", "prodSourceLabel": "ptest"},
	 {"PandaID": 14, "jobName": "gangarobot", "prodSourceLabel": "rc_test", "processingType": "gangarobot-rctest"},
	 {"PandaID": 15, "jobName": "other site", "prodSourceLabel": "managed", "computingSite": "ELSEWHERE"},
	 {"PandaID": 16, "jobName": "prod_test", "prodSourceLabel": "prod_test", "resource_type": "MCORE"}
	]`
	tests := []struct {
		name string
		req  map[string]string // getJob form fields
		want string            // jobName handed out, "" for none
	}{
		{"wrong site", map[string]string{"siteName": "NOWHERE"}, ""},
		{"label managed", map[string]string{"prodSourceLabel": "managed"}, "managed"},
		{"label empty is managed", map[string]string{}, "managed"},
		{"label user", map[string]string{"prodSourceLabel": "user"}, "user"},
		{"label ptest exact", map[string]string{"prodSourceLabel": "ptest"}, "ptest"},
		{"label rc_test2 nothing", map[string]string{"prodSourceLabel": "rc_test2"}, ""},
		{"label test gangarobot", map[string]string{"prodSourceLabel": "test", "resourceType": "SCORE_X"}, ""},
		{"label test", map[string]string{"prodSourceLabel": "test"}, "gangarobot"},
		{"task filter", map[string]string{"prodSourceLabel": "unified", "taskID": "8"}, "user"},
		{"task filter none", map[string]string{"prodSourceLabel": "managed", "taskID": "9"}, ""},
		{"task NULL ignored", map[string]string{"prodSourceLabel": "managed", "taskID": "NULL"}, "managed"},
		{"disk too small", map[string]string{"prodSourceLabel": "managed", "diskSpace": "999", "resourceType": "SCORE"}, ""},
		{"disk enough", map[string]string{"prodSourceLabel": "managed", "diskSpace": "1000", "resourceType": "SCORE"}, "managed"},
		{"mem too small", map[string]string{"prodSourceLabel": "managed", "mem": "1999.9", "resourceType": "SCORE"}, ""},
		{"mem enough", map[string]string{"prodSourceLabel": "managed", "mem": "2000.0", "resourceType": "SCORE"}, "managed"},
		{"resource type", map[string]string{"prodSourceLabel": "managed", "resourceType": "MCORE"}, "prod_test"},
		{"remaining time", map[string]string{"prodSourceLabel": "managed", "remaining_time": "100", "resourceType": "SCORE"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{})
			e.submitJSON(t, "PANDASTUB", jobs)
			fields := []string{"siteName=PANDASTUB"}
			for k, v := range tc.req {
				if k == "siteName" {
					fields[0] = "siteName=" + v
					continue
				}
				fields = append(fields, k+"="+v)
			}
			a := pilotForm(t, e.url, "getJob", strings.Join(fields, "&"))
			var m map[string]any
			if err := json.Unmarshal([]byte(a.body), &m); err != nil {
				t.Fatalf("%s: %v", a.body, err)
			}
			got, _ := m["jobName"].(string)
			if got != tc.want {
				t.Fatalf("got job %q (%s), want %q", got, a.body, tc.want)
			}
		})
	}
}

// TestTestQueueLabel: on a queue in status test, managed pilots get test jobs.
func TestTestQueueLabel(t *testing.T) {
	q, err := ParseQueue([]byte(`{"nickname": "TQ", "status": "test"}`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{Queues: []*Queue{q}})
	e.submitJSON(t, "TQ", `[{"PandaID": 1, "prodSourceLabel": "managed"}, {"PandaID": 2, "prodSourceLabel": "prod_test"}]`)
	a := pilotForm(t, e.url, "getJob", "siteName=TQ&prodSourceLabel=managed")
	if !strings.Contains(a.body, `"PandaID": 2,`) {
		t.Fatalf("answer %s", a.body)
	}
}

// TestBulkGetJob: nJobs gives a "jobs" list (a JSON string when urlencoded).
func TestBulkGetJob(t *testing.T) {
	e := newEnv(t, Options{})
	e.submitJSON(t, "PANDASTUB", `[{"currentPriority": 1}, {"currentPriority": 5}, {"currentPriority": 1}]`)
	a := pilotJSON(t, e.url, "getJob", []byte(`{"siteName": "PANDASTUB", "nJobs": 2}`))
	qs := parseQS(a.body)
	if qs1(t, qs, "StatusCode") != "0" {
		t.Fatalf("answer %s", a.body)
	}
	var jobs []map[string]any
	if err := json.Unmarshal([]byte(qs1(t, qs, "jobs")), &jobs); err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, j := range jobs {
		got = append(got, j["PandaID"].(float64))
		if j["StatusCode"].(float64) != 0 {
			t.Errorf("job without StatusCode 0: %v", j)
		}
	}
	if !reflect.DeepEqual(got, []float64{1000002, 1000001}) {
		t.Fatalf("bulk PandaIDs %v (priority first)", got)
	}
	a = pilotForm(t, e.url, "getJob", "siteName=PANDASTUB&nJobs=5")
	var m struct {
		StatusCode int
		Jobs       []map[string]any `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(a.body), &m); err != nil || m.StatusCode != 0 || len(m.Jobs) != 1 {
		t.Fatalf("JSON bulk answer %s (%v)", a.body, err)
	}
}

func TestLabelSelection(t *testing.T) {
	tests := []struct {
		label, status string
		want          []string
		gangarobot    bool
	}{
		{"user", "online", []string{"user", "panda", "install"}, false},
		{"managed", "", []string{"managed", "test", "prod_test", "install"}, false},
		{"", "", []string{"managed", "test", "prod_test", "install"}, false},
		{"unified", "", []string{"managed", "test", "prod_test", "install", "user", "panda"}, false},
		{"test", "", []string{"prod_test", "install", "test"}, true},
		{"managed", "test", []string{"prod_test", "install", "test"}, true},
		{"ptest", "test", []string{"ptest"}, false},
		{"rc_alrb", "", []string{"rc_alrb"}, false},
	}
	for _, tc := range tests {
		got, gr := LabelSelection(tc.label, tc.status)
		sort.Strings(got)
		sort.Strings(tc.want)
		if !reflect.DeepEqual(got, tc.want) || gr != tc.gangarobot {
			t.Errorf("LabelSelection(%q, %q) = %v %v", tc.label, tc.status, got, gr)
		}
	}
}
