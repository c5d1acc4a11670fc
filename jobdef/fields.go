package jobdef

import (
	"strconv"
	"strings"
)

// Fields returns the job as string fields ready to be encoded (EncodeURLEncoded, a job file):
// a copy of Raw, kept in sync with the typed fields. A typed scalar field whose value differs
// from what Raw decodes to is written back in canonical form (decimal integers, "True"/"False"
// flags, the string itself); when JobPars differs from Raw's jobPars with the directives
// removed, jobPars becomes JobPars (the directives are then not re-encoded). When the files
// (LFN, GUID, scope, size, checksum, dataset, RSE and tokens; runtime state is ignored) differ
// from the ones Raw decodes to, all per-file lists are regenerated from Inputs, Outputs and
// Log (outputs first, the log last in outFiles; unset list elements as "NULL"). For a job
// decoded by JobFromFields and not modified, Fields equals Raw.
func (j *Job) Fields() map[string]string {
	out := make(map[string]string, len(j.Raw)+8)
	for k, v := range j.Raw {
		out[k] = v
	}
	for _, d := range stringFields {
		v := *d.p(j)
		if stringValue(out[d.key]) != v {
			out[d.key] = v
		}
	}
	for _, d := range int64Fields {
		v := *d.p(j)
		if n, err := parseIntValue(d.key, out[d.key], d.min, d.max); err != nil || n != v {
			out[d.key] = strconv.FormatInt(v, 10)
		}
	}
	for _, d := range intFields {
		v := *d.p(j)
		n, err := parseIntValue(d.key, out[d.key], d.min, d.max)
		if d.key == "coreCount" && n < 1 {
			n = 1
		}
		if err != nil || int(n) != v {
			out[d.key] = strconv.Itoa(v)
		}
	}
	for _, d := range boolFields {
		v := *d.p(j)
		if b, err := parseBoolValue(d.key, out[d.key]); err != nil || b != v {
			if v {
				out[d.key] = "True"
			} else {
				out[d.key] = "False"
			}
		}
	}
	if raw, ok := out["loopingCheck"]; ok || !j.LoopingCheck {
		b, err := parseBoolValue("loopingCheck", raw)
		if IsUnset(raw) {
			b, err = true, nil
		}
		if err != nil || b != j.LoopingCheck {
			if j.LoopingCheck {
				out["loopingCheck"] = "True"
			} else {
				out["loopingCheck"] = "False"
			}
		}
	}
	if raw := out["allowNoOutput"]; strings.Join(nonEmpty(splitList(raw)), ",") != strings.Join(j.AllowNoOutput, ",") {
		out["allowNoOutput"] = strings.Join(j.AllowNoOutput, ",")
	}
	if stripped, _, err := parseDirectives(out["jobPars"]); err != nil || stripped != j.JobPars {
		if !(j.JobPars == "" && IsUnset(out["jobPars"])) {
			out["jobPars"] = j.JobPars
		}
	}
	in, outs, log, err := decodeFiles(out)
	if err != nil || !sameFiles(in, j.Inputs) || !sameFiles(outs, j.Outputs) || !sameFiles([]FileSpec{log}, []FileSpec{j.Log}) {
		for k, v := range encodeFiles(j) {
			out[k] = v
		}
	}
	return out
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if !IsUnset(s) {
			out = append(out, s)
		}
	}
	return out
}

// sameFiles compares the definition part of two file lists (runtime state ignored).
func sameFiles(a, b []FileSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Kind != y.Kind || x.LFN != y.LFN || x.GUID != y.GUID || x.Scope != y.Scope || x.Size != y.Size ||
			x.Checksum != y.Checksum || x.Dataset != y.Dataset || x.DDMEndpoint != y.DDMEndpoint ||
			x.ProdDBlockToken != y.ProdDBlockToken || x.DestinationDBlockToken != y.DestinationDBlockToken {
			return false
		}
	}
	return true
}

// encodeFiles renders the per-file lists of j (see Fields).
func encodeFiles(j *Job) map[string]string {
	join := func(vals []string) string {
		all := true
		for _, v := range vals {
			if v != "" {
				all = false
				break
			}
		}
		if all {
			return ""
		}
		out := make([]string, len(vals))
		for i, v := range vals {
			if v == "" {
				v = "NULL"
			}
			out[i] = v
		}
		return strings.Join(out, ",")
	}
	col := func(files []FileSpec, get func(*FileSpec) string) string {
		vals := make([]string, len(files))
		for i := range files {
			vals[i] = get(&files[i])
		}
		return join(vals)
	}
	m := map[string]string{}
	in := j.Inputs
	m["inFiles"] = col(in, func(f *FileSpec) string { return f.LFN })
	m["GUID"] = col(in, func(f *FileSpec) string { return f.GUID })
	m["fsize"] = col(in, func(f *FileSpec) string { return strconv.FormatInt(f.Size, 10) })
	m["checksum"] = col(in, func(f *FileSpec) string { return f.Checksum.String() })
	m["scopeIn"] = col(in, func(f *FileSpec) string { return f.Scope })
	m["realDatasetsIn"] = col(in, func(f *FileSpec) string { return f.Dataset })
	m["prodDBlockToken"] = col(in, func(f *FileSpec) string { return f.ProdDBlockToken })
	m["ddmEndPointIn"] = col(in, func(f *FileSpec) string { return f.DDMEndpoint })

	outs := append([]FileSpec(nil), j.Outputs...)
	// scopeOut must keep one element per data output even when all are unset.
	scopes := make([]string, len(outs))
	for i := range outs {
		scopes[i] = outs[i].Scope
		if scopes[i] == "" {
			scopes[i] = "NULL"
		}
	}
	m["scopeOut"] = strings.Join(scopes, ",")
	if j.Log.LFN != "" {
		outs = append(outs, j.Log)
	}
	m["outFiles"] = col(outs, func(f *FileSpec) string { return f.LFN })
	m["realDatasets"] = col(outs, func(f *FileSpec) string { return f.Dataset })
	m["ddmEndPointOut"] = col(outs, func(f *FileSpec) string { return f.DDMEndpoint })
	m["destinationDBlockToken"] = col(outs, func(f *FileSpec) string { return f.DestinationDBlockToken })
	m["prodDBlockTokenForOutput"] = col(outs, func(f *FileSpec) string { return f.ProdDBlockToken })
	m["logFile"] = j.Log.LFN
	m["logGUID"] = j.Log.GUID
	m["scopeLog"] = j.Log.Scope
	return m
}
