package jobdef

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// JobReport holds the parts of a payload job report (jobReport.json, sent as metaData) that
// the pilot and the server read.
type JobReport struct {
	Name          string // transform name, e.g. "Sim_tf"
	ReportVersion string
	ExitCode      int
	ExitAcronym   string
	ExitMsg       string
	ExitMsgExtra  string
	Inputs        []JobReportFile // one per files.input[].subFiles[] entry
	Outputs       []JobReportFile // one per files.output[].subFiles[] entry
	Raw           map[string]any  // the whole decoded report
}

// JobReportFile is one sub-file of a job report file group.
type JobReportFile struct {
	Type     string // group "type", e.g. "HITS"
	ArgName  string // group "argName", e.g. "outputHITSFile"
	Dataset  string // group "dataset"
	Name     string // LFN
	GUID     string // "file_guid"
	Size     int64  // "file_size", 0 = unknown
	NEntries int64  // "nentries" of the sub-file (else of the group), 0 = unknown
}

// NEvents returns the number of events written: the sum of the output sub-files' NEntries.
func (r *JobReport) NEvents() int64 {
	var n int64
	for _, f := range r.Outputs {
		n += f.NEntries
	}
	return n
}

// ParseJobReport parses a job report. Missing parts are left zero; null values are unset.
// Input over MaxBodySize, non-UTF-8 input, a non-object, wrongly typed known keys, negative
// sizes or more than MaxFilesPerJob sub-files are *PilotError NoPayloadMetadata (1187) naming
// the key.
func ParseJobReport(data []byte) (*JobReport, error) {
	const bad = NoPayloadMetadata
	if len(data) > MaxBodySize {
		return nil, Errorf(bad, "job report of %d bytes exceeds the limit of %d bytes", len(data), MaxBodySize)
	}
	if !utf8.Valid(data) {
		return nil, Errorf(bad, "job report is not valid UTF-8")
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, Errorf(bad, "job report is not a JSON object: %v", err)
	}
	r := &JobReport{Raw: m}
	var err error
	for _, f := range []struct {
		k string
		p *string
	}{{"name", &r.Name}, {"reportVersion", &r.ReportVersion}, {"exitAcronym", &r.ExitAcronym},
		{"exitMsg", &r.ExitMsg}, {"exitMsgExtra", &r.ExitMsgExtra}} {
		if *f.p, err = anyString(bad, f.k, m[f.k]); err != nil {
			return nil, err
		}
	}
	code, err := anyInt(bad, "exitCode", m["exitCode"], -1<<31, 1<<31-1)
	if err != nil {
		return nil, err
	}
	r.ExitCode = int(code)
	switch files := m["files"].(type) {
	case nil:
	case map[string]any:
		if r.Inputs, err = reportFiles(bad, "files.input", files["input"]); err != nil {
			return nil, err
		}
		if r.Outputs, err = reportFiles(bad, "files.output", files["output"]); err != nil {
			return nil, err
		}
	default:
		return nil, fieldError(bad, "files", "%s is not a dict", describe(files))
	}
	return r, nil
}

func reportFiles(bad ErrorCode, key string, v any) ([]JobReportFile, error) {
	if v == nil {
		return nil, nil
	}
	groups, ok := v.([]any)
	if !ok {
		return nil, fieldError(bad, key, "%s is not a list", describe(v))
	}
	var out []JobReportFile
	for gi, gv := range groups {
		gk := key + "[" + strconv.Itoa(gi) + "]"
		g, ok := gv.(map[string]any)
		if !ok {
			return nil, fieldError(bad, gk, "%s is not a dict", describe(gv))
		}
		var base JobReportFile
		var err error
		if base.Type, err = anyString(bad, gk+".type", g["type"]); err != nil {
			return nil, err
		}
		if base.ArgName, err = anyString(bad, gk+".argName", g["argName"]); err != nil {
			return nil, err
		}
		if base.Dataset, err = anyString(bad, gk+".dataset", g["dataset"]); err != nil {
			return nil, err
		}
		if base.NEntries, err = anyInt(bad, gk+".nentries", g["nentries"], 0, 1<<53); err != nil {
			return nil, err
		}
		subs, ok := g["subFiles"].([]any)
		if !ok && g["subFiles"] != nil {
			return nil, fieldError(bad, gk+".subFiles", "%s is not a list", describe(g["subFiles"]))
		}
		for si, sv := range subs {
			sk := gk + ".subFiles[" + strconv.Itoa(si) + "]"
			s, ok := sv.(map[string]any)
			if !ok {
				return nil, fieldError(bad, sk, "%s is not a dict", describe(sv))
			}
			f := base
			if f.Name, err = anyString(bad, sk+".name", s["name"]); err != nil {
				return nil, err
			}
			if f.GUID, err = anyString(bad, sk+".file_guid", s["file_guid"]); err != nil {
				return nil, err
			}
			if f.Size, err = anyInt(bad, sk+".file_size", s["file_size"], 0, MaxFileSize); err != nil {
				return nil, err
			}
			if _, has := s["nentries"]; has {
				if f.NEntries, err = anyInt(bad, sk+".nentries", s["nentries"], 0, 1<<53); err != nil {
					return nil, err
				}
			}
			out = append(out, f)
			if len(out) > MaxFilesPerJob {
				return nil, fieldError(bad, key, "more than %d files", MaxFilesPerJob)
			}
		}
	}
	return out, nil
}
