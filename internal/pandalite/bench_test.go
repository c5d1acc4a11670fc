package pandalite

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkJobCycle measures one job's server work over HTTP on loopback:
// getJob plus the starting, running and finished updates (gzip JSON, the
// finished one with a one-file output report), as Pilot 3 sends them.
func BenchmarkJobCycle(b *testing.B) {
	e := newEnv(b, Options{})
	jobs := make([]string, b.N)
	for i := range jobs {
		jobs[i] = `{"logFile": "l.tgz", "outFiles": "l.tgz", "transformation": "sleep", "jobPars": "1"}`
	}
	ids := e.submitJSON(b, "PANDASTUB", "["+strings.Join(jobs, ",")+"]")
	get := []byte(`{"siteName": "PANDASTUB", "computingElement": "PANDASTUB", "prodSourceLabel": "ptest", "diskSpace": 20000, "workingGroup": "", "cpu": 2000.0, "mem": 24105.55, "node": "vm", "allowOtherCountry": false}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if a := pilotJSON(b, e.url, "getJob", get); !strings.HasPrefix(a.body, "StatusCode=0&") {
			b.Fatal(a.body)
		}
		for _, st := range []string{"starting", "running"} {
			u := fmt.Sprintf(`{"jobId": "%d", "state": "%s", "attemptNr": 1, "node": "vm", "xml": "", "metaData": ""}`, ids[i], st)
			if a := pilotJSON(b, e.url, "updateJob", []byte(u)); a.body != "StatusCode=0&command=NULL" {
				b.Fatal(a.body)
			}
		}
		u := fmt.Sprintf(`{"jobId": "%d", "state": "finished", "attemptNr": 1, "pilotErrorCode": 0, "transExitCode": 0, "xml": "{\"l.tgz\": {\"guid\": \"g\", \"fsize\": 9527, \"adler32\": \"39127286\", \"surl\": \"s\", \"endpoint\": \"E\"}}"}`, ids[i])
		if a := pilotJSON(b, e.url, "updateJob", []byte(u)); a.body != "StatusCode=0&command=NULL" {
			b.Fatal(a.body)
		}
	}
}

// BenchmarkGetJobNoJob measures an unanswerable getJob (StatusCode=20).
func BenchmarkGetJobNoJob(b *testing.B) {
	e := newEnv(b, Options{})
	get := []byte(`{"siteName": "PANDASTUB", "prodSourceLabel": "ptest", "node": "vm"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if a := pilotJSON(b, e.url, "getJob", get); a.body != "StatusCode=20" {
			b.Fatal(a.body)
		}
	}
}

// benchStore is a store holding n trivial jobs of site PANDASTUB.
func benchStore(b *testing.B, n int) (*Store, []int64) {
	b.Helper()
	st := openTestStore(b)
	jobs := make([]Object, n)
	for i := range jobs {
		jobs[i] = Object{{"jobName", fmt.Sprintf("j%d", i)}, {"prodSourceLabel", "managed"}, {"transformation", "sleep"},
			{"jobPars", "1"}, {"logFile", fmt.Sprintf("j%d.log.tgz", i)}, {"outFiles", fmt.Sprintf("j%d.log.tgz", i)}}
	}
	ids, err := st.Submit(testCtx(b), "PANDASTUB", jobs...)
	if err != nil {
		b.Fatal(err)
	}
	return st, ids
}

// BenchmarkDispatchAcquire measures the store's side of one getJob: the
// activated -> sent transaction and the request record, one caller.
func BenchmarkDispatchAcquire(b *testing.B) {
	st, _ := benchStore(b, b.N)
	ctx := testCtx(b)
	req := JobRequest{API: "legacy", Method: "getJob", SiteName: "PANDASTUB", ProdSourceLabel: "managed", NJobs: 1,
		Node: "vm", DiskSpace: 20000, Mem: 16000, Raw: Object{{"siteName", "PANDASTUB"}, {"node", "vm"}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := st.Acquire(ctx, req)
		if err != nil || len(got) != 1 {
			b.Fatal(got, err)
		}
	}
}

// BenchmarkDispatchUpdates measures the store's side of a job's three
// updates (starting, running, finished with a one-file output report),
// one caller.
func BenchmarkDispatchUpdates(b *testing.B) {
	st, ids := benchStore(b, b.N)
	ctx := testCtx(b)
	one := int64(1)
	zero := int64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, state := range []string{"starting", "running", "finished"} {
			u := Update{API: "legacy", JobID: ids[i], State: state, AttemptNr: &one, Node: "vm",
				Raw: Object{{"jobId", fmt.Sprint(ids[i])}, {"state", state}}}
			if state == "finished" {
				u.PilotErrorCode, u.TransExitCode = &zero, &zero
				u.XML = fmt.Sprintf(`{"j%d.log.tgz": {"guid": "g", "fsize": 10, "adler32": "0a0b0c0d", "surl": "s", "endpoint": "E"}}`, i)
			}
			res, err := st.ApplyUpdate(ctx, u)
			if err != nil || res.Outcome != OutcomeUpdated {
				b.Fatal(res, err)
			}
		}
	}
}

// BenchmarkDispatchCycleParallel measures the store's side of whole job
// cycles (Acquire and three updates) with 64 callers at once, the way a
// busy server drives it: concurrent writes share transactions.
func BenchmarkDispatchCycleParallel(b *testing.B) {
	st, _ := benchStore(b, b.N)
	ctx := testCtx(b)
	one, zero := int64(1), int64(0)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := JobRequest{API: "legacy", Method: "getJob", SiteName: "PANDASTUB", ProdSourceLabel: "managed", NJobs: 1, Node: "vm"}
		for pb.Next() {
			got, err := st.Acquire(ctx, req)
			if err != nil || len(got) != 1 {
				b.Error(got, err)
				return
			}
			id := got[0].PandaID
			for _, state := range []string{"starting", "running", "finished"} {
				u := Update{API: "legacy", JobID: id, State: state, AttemptNr: &one, Raw: Object{{"jobId", fmt.Sprint(id)}, {"state", state}}}
				if state == "finished" {
					u.PilotErrorCode, u.TransExitCode = &zero, &zero
					u.XML = fmt.Sprintf(`{"%s": {"guid": "g", "fsize": 10, "adler32": "0a0b0c0d", "surl": "s", "endpoint": "E"}}`, got[0].Fields.Str("logFile"))
				}
				if res, err := st.ApplyUpdate(ctx, u); err != nil || res.Outcome != OutcomeUpdated {
					b.Error(res, err)
					return
				}
			}
		}
	})
}
