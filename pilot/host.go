package pilot

import (
	"fmt"
	"os"
	"strings"
)

// BatchInfo identifies the batch system a pilot runs under.
type BatchInfo struct {
	// Type names the batch system (SLURM, Condor, PBS, LSF, SGE, ...); "" if none.
	Type string
	// ID is the batch job id; "" if none.
	ID string
}

// DetectBatch finds the batch system and job id from the environment, in
// Pilot 3's order. getenv is os.Getenv in production.
func DetectBatch(getenv func(string) string) BatchInfo {
	for _, c := range []struct{ env, typ string }{
		{"PBS_JOBID", "PBS"},
		{"LSB_JOBID", "LSF"},
		{"JOB_ID", "SGE"},
		{"clusterid", "Condor"},
		{"SLURM_JOB_ID", "SLURM"},
		{"K8S_JOB_ID", "k8s"},
		{"BQSCLUSTER", "BQS"},
	} {
		if v := strings.TrimSpace(getenv(c.env)); v != "" {
			return BatchInfo{Type: c.typ, ID: v}
		}
	}
	if ad := getenv("_CONDOR_JOB_AD"); ad != "" {
		if id := condorGlobalJobID(ad); id != "" {
			return BatchInfo{Type: "Condor", ID: id}
		}
	}
	return BatchInfo{}
}

// condorGlobalJobID reads GlobalJobId from an HTCondor job ad file.
func condorGlobalJobID(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "GlobalJobId" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// PilotID builds the pilotID field: <GTAG>|<batch type>|<version tag>|<version>,
// or without the batch type when none was found; GTAG falls back to "unknown".
func PilotID(gtag string, b BatchInfo, versionTag string) string {
	if gtag == "" {
		gtag = "unknown"
	}
	if b.Type != "" {
		return fmt.Sprintf("%s|%s|%s|%s", gtag, b.Type, versionTag, Version)
	}
	return fmt.Sprintf("%s|%s|%s", gtag, versionTag, Version)
}
