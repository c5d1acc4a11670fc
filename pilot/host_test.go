package pilot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetectBatch(t *testing.T) {
	t.Parallel()
	ad := filepath.Join(t.TempDir(), "job.ad")
	if err := os.WriteFile(ad, []byte("Owner = \"u\"\nGlobalJobId = \"schedd#123.0#1700000000\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		want BatchInfo
	}{
		{"none", nil, BatchInfo{}},
		{"slurm", map[string]string{"SLURM_JOB_ID": "4242"}, BatchInfo{"SLURM", "4242"}},
		{"pbs before slurm", map[string]string{"PBS_JOBID": "7.pbs", "SLURM_JOB_ID": "1"}, BatchInfo{"PBS", "7.pbs"}},
		{"condor job ad", map[string]string{"_CONDOR_JOB_AD": ad}, BatchInfo{"Condor", "schedd#123.0#1700000000"}},
		{"lsf", map[string]string{"LSB_JOBID": "99"}, BatchInfo{"LSF", "99"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := DetectBatch(func(k string) string { return c.env[k] })
			if got != c.want {
				t.Fatalf("DetectBatch = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestPilotID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		gtag string
		b    BatchInfo
		want string
	}{
		{"", BatchInfo{}, "unknown|PR|" + Version},
		{"https://logs/1.out", BatchInfo{"SLURM", "1"}, "https://logs/1.out|SLURM|PR|" + Version},
	}
	for _, c := range cases {
		if got := PilotID(c.gtag, c.b, "PR"); got != c.want {
			t.Errorf("PilotID(%q, %+v) = %q, want %q", c.gtag, c.b, got, c.want)
		}
	}
}
