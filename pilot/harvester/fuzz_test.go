package harvester

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/pilot/server"
)

// FuzzSourceJobFile feeds any content as a Harvester job file: GetJob must
// not panic, must consume the file, and must return a job, no job, a bad
// job naming a PandaID, or an error.
func FuzzSourceJobFile(f *testing.F) {
	for _, s := range []string{harvesterJob, cgiJob, "{}", "", `{"1": {}}`, `{"12": {"coreCount": "x"}}`, "PandaID=3&coreCount=x",
		`{"StatusCode": 0, "jobs": [{"PandaID": 5}]}`, "\xff\xfe", `{"9223372036854775807": {"attemptNr": 99999999999}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		work := t.TempDir()
		p := filepath.Join(work, JobDataFile)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		src := &Source{Mode: Push, Home: work, Candidates: []string{p}}
		job, err := src.GetJob(context.Background(), server.JobRequest{})
		if _, serr := os.Stat(p); serr == nil {
			t.Fatal("the job file was not consumed")
		}
		var bad *server.BadJobError
		switch {
		case err == nil:
			if job == nil || src.Job(job.PandaID) != job {
				t.Fatal("job not recorded")
			}
		case errors.As(err, &bad):
			if bad.PandaID <= 0 {
				t.Fatalf("bad job without PandaID: %v", err)
			}
		}
		if b, rerr := os.ReadFile(filepath.Join(work, JobDefinitionCopy)); rerr != nil || !bytes.Equal(b, data) {
			t.Fatalf("job_definition.json differs: %v", rerr)
		}
	})
}

// FuzzShrinkJobReport: never panics; output is a JSON object without
// logfileReport content.
func FuzzShrinkJobReport(f *testing.F) {
	for _, s := range []string{`{"executor": [{"logfileReport": {"a": 1}}]}`, `{}`, `[]`, `{"executor": [1, null, {"logfileReport": null}]}`, `{"a": 1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ShrinkJobReport(data)
		if err != nil {
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, b)
		}
		if ex, ok := m["executor"].([]any); ok {
			for _, e := range ex {
				if em, ok := e.(map[string]any); ok {
					if lr, has := em["logfileReport"]; has && len(lr.(map[string]any)) != 0 {
						t.Fatalf("logfileReport kept: %s", b)
					}
				}
			}
		}
	})
}

// FuzzBuildEventStatus: any output report builds an event status or an
// error, never a panic; every entry points inside the search directory.
func FuzzBuildEventStatus(f *testing.F) {
	for _, s := range []string{finalXML, "", "{}", `{"x": {"fsize": 1, "adler32": "1", "surl": "/../../etc/passwd"}}`, `{"../a": {}}`} {
		f.Add(s, "log.4100.tgz")
	}
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "out.root"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "log.4100.tgz"), []byte("x"), 0o644)
	f.Fuzz(func(t *testing.T, xml, logLFN string) {
		rep := &jobdef.UpdateReport{JobID: 1, State: "finished", Final: true, XML: xml, Timestamp: time.Now().String()}
		es, _, err := BuildEventStatus(rep, logLFN, dir)
		if err != nil {
			return
		}
		for _, e := range es["1"] {
			if filepath.Dir(e.Path) != dir {
				t.Fatalf("entry outside the search directory: %+v", e)
			}
		}
		if _, err := WorkerAttributes(rep, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
}
