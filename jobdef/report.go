package jobdef

import (
	"encoding/json"
	"net/url"
)

// UpdateReport is an updateJob report.
type UpdateReport struct {
	JobID                            int64
	State                            string
	Timestamp                        string
	SiteName, Node                   string
	AttemptNr                        int
	SchedulerID, PilotID, BatchID    string
	StartTime, EndTime               float64 // epoch s, 0 = omit
	XML                              string
	MetaData                         *string // nil = omit
	Stdout                           string  // omit if ""
	CoreCount                        int
	MeanCoreCount                    float64 // 0 = omit
	NEvents                          int64
	CPUConsumptionTime               int64
	CPUConsumptionUnit               string
	CPUConversionFactor              float64
	CPUArchitectureLevel             string
	MaxRSS, MaxVMEM, MaxSWAP, MaxPSS int64 // kB, 0 = omit
	AvgRSS, AvgVMEM, AvgSWAP, AvgPSS int64 // kB, 0 = omit
	JobMetrics                       string
	Final                            bool
	PilotTiming, PilotLog            string
	PilotErrorCode                   int
	PilotErrorDiag                   string
	TransExitCode                    int
	ExeErrorCode                     int
	ExeErrorDiag                     string
	Extra                            map[string]string
}

// Legacy returns the camelCase report.
func (r *UpdateReport) Legacy() map[string]any { return map[string]any{} }

// LegacyForm returns the report as form values.
func (r *UpdateReport) LegacyForm() url.Values { return url.Values{} }

// V1 returns the snake_case report.
func (r *UpdateReport) V1() map[string]any { return map[string]any{} }

// ParseLegacyUpdate parses legacy updateJob fields.
func ParseLegacyUpdate(fields map[string]string) (*UpdateReport, error) {
	return &UpdateReport{}, nil
}

// ParseV1Update parses a v1 update.
func ParseV1Update(m map[string]any) (*UpdateReport, error) { return &UpdateReport{}, nil }

// LegacyToV1Name maps a legacy name to v1.
func LegacyToV1Name(legacy string) (string, bool) { return "", false }

// OutputEntry is one file of the job output report.
type OutputEntry struct {
	GUID     string `json:"guid"`
	FSize    int64  `json:"fsize"`
	Adler32  string `json:"adler32,omitempty"`
	MD5Sum   string `json:"md5sum,omitempty"`
	SURL     string `json:"surl"`
	Endpoint string `json:"endpoint"`
}

// OutputReport maps LFN to output entry.
type OutputReport map[string]OutputEntry

// BuildOutputReport builds the report from transferred files.
func BuildOutputReport(files []FileSpec) OutputReport {
	r := OutputReport{}
	for _, f := range files {
		if f.Status != StatusTransferred {
			continue
		}
		e := OutputEntry{GUID: f.GUID, FSize: f.Size, SURL: f.SURL, Endpoint: f.DDMEndpoint}
		switch f.Checksum.Type {
		case Adler32:
			e.Adler32 = f.Checksum.Value
		case MD5:
			e.MD5Sum = f.Checksum.Value
		}
		r[f.LFN] = e
	}
	return r
}

// JSON returns the report as JSON.
func (r OutputReport) JSON() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// ParseOutputReport parses a report.
func ParseOutputReport(s string) (OutputReport, error) {
	var r OutputReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, NewError(BadXML, err.Error(), err)
	}
	return r, nil
}
