package pandalite

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// argKind is the Python type annotation of a v1 API argument.
type argKind int

const (
	kindAny      argKind = iota // no annotation: anything
	kindStr                     // str
	kindInt                     // int
	kindNumber                  // int | float
	kindBool                    // bool
	kindIntList                 // List[int]
	kindStrOrAny                // str | dict (accepted as is)
)

func (k argKind) String() string {
	switch k {
	case kindStr:
		return "str"
	case kindInt:
		return "int"
	case kindNumber:
		return "float"
	case kindBool:
		return "bool"
	case kindIntList:
		return "list"
	}
	return "object"
}

// argSpec is one argument of a v1 method.
type argSpec struct {
	name     string
	kind     argKind
	required bool
}

// v1Method describes the arguments of one v1 method.
type v1Method struct {
	post bool // POST (state changing) rather than GET
	args []argSpec
}

var acquireJobsArgs = v1Method{post: true, args: []argSpec{
	{"site_name", kindStr, true}, {"timeout", kindInt, false}, {"memory", kindInt, false},
	{"disk_space", kindInt, false}, {"prod_source_label", kindStr, false}, {"node", kindStr, false},
	{"computing_element", kindStr, false}, {"prod_user_id", kindStr, false}, {"get_proxy_key", kindAny, false},
	{"task_id", kindInt, false}, {"n_jobs", kindInt, false}, {"background", kindBool, false},
	{"resource_type", kindStr, false}, {"harvester_id", kindStr, false}, {"worker_id", kindInt, false},
	{"scheduler_id", kindStr, false}, {"job_type", kindStr, false}, {"via_topic", kindBool, false},
	{"remaining_time", kindAny, false}, {"target_architecture", kindStrOrAny, false},
}}

// updateJobArgs are the arguments of update_job with the legacy name each
// one corresponds to (PROTOCOL.md §9.3).
var updateJobArgs = v1Method{post: true, args: []argSpec{
	{"job_id", kindInt, true}, {"job_status", kindStr, true}, {"job_output_report", kindStr, false},
	{"node", kindStr, false}, {"cpu_consumption_time", kindInt, false}, {"cpu_consumption_unit", kindStr, false},
	{"scheduler_id", kindStr, false}, {"pilot_id", kindStr, false}, {"site_name", kindStr, false},
	{"pilot_log", kindStr, false}, {"meta_data", kindStr, false}, {"cpu_conversion_factor", kindNumber, false},
	{"trans_exit_code", kindInt, false}, {"pilot_error_code", kindInt, false}, {"pilot_error_diag", kindStr, false},
	{"exe_error_code", kindInt, false}, {"exe_error_diag", kindStr, false}, {"pilot_timing", kindStr, false},
	{"start_time", kindStr, false}, {"end_time", kindStr, false}, {"n_events", kindInt, false},
	{"n_input_files", kindInt, false}, {"batch_id", kindStr, false}, {"attempt_nr", kindInt, false},
	{"job_metrics", kindStr, false}, {"stdout", kindStr, false}, {"job_sub_status", kindStr, false},
	{"core_count", kindInt, false}, {"max_rss", kindNumber, false}, {"max_vmem", kindNumber, false},
	{"max_swap", kindNumber, false}, {"max_pss", kindNumber, false}, {"avg_rss", kindNumber, false},
	{"avg_vmem", kindNumber, false}, {"avg_swap", kindNumber, false}, {"avg_pss", kindNumber, false},
	{"tot_rchar", kindNumber, false}, {"tot_wchar", kindNumber, false}, {"tot_rbytes", kindNumber, false},
	{"tot_wbytes", kindNumber, false}, {"rate_rchar", kindNumber, false}, {"rate_wchar", kindNumber, false},
	{"rate_rbytes", kindNumber, false}, {"rate_wbytes", kindNumber, false}, {"corrupted_files", kindStr, false},
	{"mean_core_count", kindInt, false}, {"cpu_architecture_level", kindStr, false}, {"grid", kindStr, false},
	{"source_site", kindStr, false}, {"destination_site", kindStr, false}, {"timeout", kindInt, false},
}}

var getJobStatusArgs = v1Method{args: []argSpec{{"job_ids", kindIntList, true}, {"timeout", kindInt, false}}}

var updateWorkerStatusArgs = v1Method{post: true, args: []argSpec{
	{"worker_id", kindAny, true}, {"harvester_id", kindAny, true}, {"status", kindAny, true},
	{"timeout", kindAny, false}, {"node_id", kindAny, false},
}}

var updateWorkerNodeArgs = v1Method{post: true, args: []argSpec{
	{"site", kindStr, true}, {"host_name", kindStr, true}, {"cpu_model", kindStr, true},
	{"panda_queue", kindStr, false}, {"n_logical_cpus", kindInt, false}, {"n_sockets", kindInt, false},
	{"cores_per_socket", kindInt, false}, {"threads_per_core", kindInt, false},
	{"cpu_architecture", kindStr, false}, {"cpu_architecture_level", kindStr, false},
	{"clock_speed", kindNumber, false}, {"total_memory", kindInt, false}, {"total_local_disk", kindInt, false},
	{"timeout", kindInt, false},
}}

var updateWorkerNodeGPUArgs = v1Method{post: true, args: []argSpec{
	{"site", kindStr, true}, {"host_name", kindStr, true}, {"vendor", kindStr, true}, {"model", kindStr, true},
	{"count", kindInt, true}, {"vram", kindInt, false}, {"architecture", kindStr, false},
	{"framework", kindStr, false}, {"framework_version", kindStr, false}, {"driver_version", kindStr, false},
	{"timeout", kindInt, false},
}}

var updateJobsBulkArgs = v1Method{post: true, args: []argSpec{
	{"job_list", kindAny, true}, {"harvester_id", kindStr, false},
}}

// checkArgs validates o against m the way the v1 server does and returns
// the message of the first problem ("" when fine): unknown or missing
// arguments give "Argument error: ...", a value of the wrong JSON type
// "Type error: ...". For GET (fromQuery) the string values are cast to the
// annotated types in place. A null value counts as not given.
func checkArgs(m v1Method, o Object, fromQuery bool) string {
	known := make(map[string]argSpec, len(m.args))
	for _, a := range m.args {
		known[a.name] = a
	}
	var unknown []string
	for _, f := range o {
		if _, ok := known[f.Key]; !ok {
			unknown = append(unknown, f.Key)
		}
	}
	if len(unknown) > 0 {
		return fmt.Sprintf("Argument error: unexpected argument(s) %s", quoteList(unknown))
	}
	var missing []string
	for _, a := range m.args {
		if v, ok := o.Get(a.name); a.required && (!ok || v == nil) {
			missing = append(missing, a.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("Argument error: missing required argument(s) %s", quoteList(missing))
	}
	for i, f := range o {
		a := known[f.Key]
		if f.Value == nil {
			continue
		}
		if fromQuery {
			v, ok := castQuery(a.kind, pyStr(f.Value))
			if !ok {
				return fmt.Sprintf("Type error: '%s' could not be casted to type %s.", a.name, a.kind)
			}
			o[i].Value = v
			continue
		}
		if !typeOK(a.kind, f.Value) {
			return fmt.Sprintf("Type error: '%s' must be of type %s, got %s.", a.name, a.kind, pyTypeName(f.Value))
		}
	}
	return ""
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

// typeOK reports whether a decoded JSON value fits the annotation.
func typeOK(k argKind, v any) bool {
	switch k {
	case kindStr:
		_, ok := v.(string)
		return ok
	case kindInt:
		n, ok := v.(json.Number)
		return ok && !isFloatLiteral(n)
	case kindNumber:
		_, ok := v.(json.Number)
		return ok
	case kindBool:
		_, ok := v.(bool)
		return ok
	case kindIntList:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if !typeOK(kindInt, e) {
				return false
			}
		}
		return true
	}
	return true
}

// castQuery converts a query-string value to the annotated type.
func castQuery(k argKind, s string) (any, bool) {
	switch k {
	case kindInt:
		if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			return nil, false
		}
		return json.Number(strings.TrimSpace(s)), true
	case kindNumber:
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return nil, false
		}
		return json.Number(strings.TrimSpace(s)), true
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1", "yes":
			return true, true
		case "false", "0", "no", "":
			return false, true
		}
		return nil, false
	case kindIntList:
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "[") {
			v, err := parseValue([]byte(s))
			if err != nil || !typeOK(kindIntList, v) {
				return nil, false
			}
			return v, true
		}
		var out []any
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '+' }) {
			if _, err := strconv.ParseInt(p, 10, 64); err != nil {
				return nil, false
			}
			out = append(out, json.Number(p))
		}
		return out, true
	}
	return s, true
}

// argInt returns an integer argument (nil when absent or null).
func argInt(o Object, name string) *int64 {
	v, ok := o.Get(name)
	if !ok || v == nil {
		return nil
	}
	n, ok := lenientInt(pyStr(v))
	if !ok {
		return nil
	}
	return &n
}

// argStr returns a string argument ("" when absent or null).
func argStr(o Object, name string) string {
	v, ok := o.Get(name)
	if !ok || v == nil {
		return ""
	}
	return pyStr(v)
}

// argStrPtr returns a string argument, nil when absent or null.
func argStrPtr(o Object, name string) *string {
	v, ok := o.Get(name)
	if !ok || v == nil {
		return nil
	}
	s := pyStr(v)
	return &s
}

// LegacyUpdate normalises legacy updateJob arguments (raw as decoded:
// native JSON values from a gzip-JSON body, strings from a form).
// Malformed numbers are ignored as the server ignores them; a jobId that
// is neither "NULL" nor an integer is reported as an error.
func LegacyUpdate(raw Object) (Update, error) {
	u := Update{API: "legacy", Raw: raw}
	id := strings.TrimSpace(argStr(raw, "jobId"))
	switch {
	case id == "":
		return u, fmt.Errorf("jobId is missing")
	case id == "NULL":
		u.Null = true
	default:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return u, fmt.Errorf("jobId %q is not an integer", id)
		}
		u.JobID = n
	}
	u.State = argStr(raw, "state")
	u.AttemptNr = argInt(raw, "attemptNr")
	u.Node = argStr(raw, "node")
	u.BatchID = argStr(raw, "batchID")
	u.PilotID = argStr(raw, "pilotID")
	u.PilotErrorCode = argInt(raw, "pilotErrorCode")
	u.PilotErrorDiag = argStrPtr(raw, "pilotErrorDiag")
	u.TransExitCode = argInt(raw, "transExitCode")
	u.ExeErrorCode = argInt(raw, "exeErrorCode")
	u.ExeErrorDiag = argStrPtr(raw, "exeErrorDiag")
	u.XML = argStr(raw, "xml")
	return u, nil
}

// V1Update normalises checked update_job arguments.
func V1Update(o Object) Update {
	u := Update{API: "v1", Raw: o}
	if id := argInt(o, "job_id"); id != nil {
		u.JobID = *id
	}
	u.State = argStr(o, "job_status")
	u.AttemptNr = argInt(o, "attempt_nr")
	u.Node = argStr(o, "node")
	u.BatchID = argStr(o, "batch_id")
	u.PilotID = argStr(o, "pilot_id")
	u.PilotErrorCode = argInt(o, "pilot_error_code")
	u.PilotErrorDiag = argStrPtr(o, "pilot_error_diag")
	u.TransExitCode = argInt(o, "trans_exit_code")
	u.ExeErrorCode = argInt(o, "exe_error_code")
	u.ExeErrorDiag = argStrPtr(o, "exe_error_diag")
	u.XML = argStr(o, "job_output_report")
	return u
}
