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
