package jobdef

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// UpdateReport is one updateJob report (PROTOCOL.md §3.2), independent of the naming scheme.
// Zero values of the fields documented "0 = omit" / "omit if empty" are left out of the
// encodings; Final adds the fields only final (finished/failed) updates carry.
type UpdateReport struct {
	JobID                         int64  // PandaID; 0 is sent as "NULL" (legacy)
	State                         string // starting, running, finished, failed (also holding, transferring)
	Timestamp                     string // ISO-8601 with offset (legacy only)
	SiteName, Node                string
	AttemptNr                     int
	SchedulerID, PilotID, BatchID string  // BatchID: omit if ""
	StartTime, EndTime            float64 // epoch s, 0 = omit
	XML                           string  // job output report (OutputReport.JSON), "" for non-final updates
	MetaData                      *string // nil = omit
	Stdout                        string  // omit if ""
	CoreCount                     int     // 0 = omit
	MeanCoreCount                 float64 // 0 = omit
	NEvents                       int64   // 0 = omit
	CPUConsumptionTime            int64   // s; omitted unless 0 < value <= 1e9
	CPUConsumptionUnit            string
	CPUConversionFactor           float64 // sent with CPUConsumptionTime; 0 means 1.0
	CPUArchitectureLevel          string  // omit if ""
	MaxRSS, MaxVMEM, MaxSWAP      int64   // kB, 0 = omit
	MaxPSS, AvgRSS, AvgVMEM       int64   // kB, 0 = omit
	AvgSWAP, AvgPSS               int64   // kB, 0 = omit
	JobMetrics                    string  // omit if ""
	Final                         bool    // adds pilotTiming, pilotLog, endTime and the error fields
	PilotTiming, PilotLog         string
	PilotErrorCode                int
	PilotErrorDiag                string
	TransExitCode                 int
	ExeErrorCode                  int
	ExeErrorDiag                  string
	// Extra holds further legacy-named fields (totRCHAR, rateWBYTES, source_site, ...). Keys
	// that the encodings already produce from the typed fields are ignored.
	Extra map[string]string
}

// maxCPUConsumptionTime: larger values are dropped as bogus (Pilot 3 does the same).
const maxCPUConsumptionTime = 1_000_000_000

// Legacy returns the report with Pilot 3's camelCase keys and native JSON types, for the gzip
// JSON body of /server/panda/updateJob. Key set (OBSERVED.md): always jobId (string),
// state, timestamp, siteName, node, attemptNr (int), schedulerID, pilotID, xml,
// cpuConsumptionUnit; startTime (float) when set; metaData when non-nil; coreCount (int),
// meanCoreCount (float), nEvents, cpuConsumptionTime with cpuConversionFactor (float),
// cpu_architecture_level, batchID, stdout, the memory fields (int) and jobMetrics when set;
// final reports add pilotTiming, pilotLog, endTime (float, when set), pilotErrorCode,
// pilotErrorDiag, transExitCode, exeErrorCode, exeErrorDiag. Extra keys are added as strings.
func (r *UpdateReport) Legacy() map[string]any {
	m := map[string]any{
		"jobId":              legacyJobID(r.JobID),
		"state":              r.State,
		"timestamp":          r.Timestamp,
		"siteName":           r.SiteName,
		"node":               r.Node,
		"attemptNr":          r.AttemptNr,
		"schedulerID":        r.SchedulerID,
		"pilotID":            r.PilotID,
		"xml":                r.XML,
		"cpuConsumptionUnit": r.CPUConsumptionUnit,
	}
	if r.BatchID != "" {
		m["batchID"] = r.BatchID
	}
	if r.StartTime != 0 {
		m["startTime"] = r.StartTime
	}
	if r.MetaData != nil {
		m["metaData"] = *r.MetaData
	}
	if r.Stdout != "" {
		m["stdout"] = r.Stdout
	}
	if r.CoreCount > 0 {
		m["coreCount"] = r.CoreCount
	}
	if r.MeanCoreCount != 0 {
		m["meanCoreCount"] = r.MeanCoreCount
	}
	if r.NEvents != 0 {
		m["nEvents"] = r.NEvents
	}
	if r.CPUConsumptionTime > 0 && r.CPUConsumptionTime <= maxCPUConsumptionTime {
		m["cpuConsumptionTime"] = r.CPUConsumptionTime
		m["cpuConversionFactor"] = r.conversionFactor()
	}
	if r.CPUArchitectureLevel != "" {
		m["cpu_architecture_level"] = r.CPUArchitectureLevel
	}
	for _, f := range r.memFields() {
		if *f.v != 0 {
			m[f.legacy] = *f.v
		}
	}
	if r.JobMetrics != "" {
		m["jobMetrics"] = r.JobMetrics
	}
	if r.Final {
		m["pilotTiming"] = r.PilotTiming
		m["pilotLog"] = r.PilotLog
		if r.EndTime != 0 {
			m["endTime"] = r.EndTime
		}
		m["pilotErrorCode"] = r.PilotErrorCode
		m["pilotErrorDiag"] = r.PilotErrorDiag
		m["transExitCode"] = r.TransExitCode
		m["exeErrorCode"] = r.ExeErrorCode
		m["exeErrorDiag"] = r.ExeErrorDiag
	}
	for k, v := range r.Extra {
		if _, taken := m[k]; !taken && !reportKeys[k] {
			m[k] = v
		}
	}
	return m
}

func (r *UpdateReport) conversionFactor() float64 {
	if r.CPUConversionFactor == 0 {
		return 1.0
	}
	return r.CPUConversionFactor
}

func legacyJobID(id int64) string {
	if id == 0 {
		return "NULL"
	}
	return strconv.FormatInt(id, 10)
}

type memField struct {
	legacy, v1 string
	v          *int64
}

func (r *UpdateReport) memFields() []memField {
	return []memField{
		{"maxRSS", "max_rss", &r.MaxRSS}, {"maxVMEM", "max_vmem", &r.MaxVMEM},
		{"maxSWAP", "max_swap", &r.MaxSWAP}, {"maxPSS", "max_pss", &r.MaxPSS},
		{"avgRSS", "avg_rss", &r.AvgRSS}, {"avgVMEM", "avg_vmem", &r.AvgVMEM},
		{"avgSWAP", "avg_swap", &r.AvgSWAP}, {"avgPSS", "avg_pss", &r.AvgPSS},
	}
}

// reportKeys are the legacy keys produced from typed fields (never taken from Extra).
var reportKeys = map[string]bool{
	"jobId": true, "state": true, "timestamp": true, "siteName": true, "node": true, "attemptNr": true,
	"schedulerID": true, "pilotID": true, "batchID": true, "startTime": true, "endTime": true, "xml": true,
	"metaData": true, "stdout": true, "coreCount": true, "meanCoreCount": true, "nEvents": true,
	"cpuConsumptionTime": true, "cpuConsumptionUnit": true, "cpuConversionFactor": true,
	"cpu_architecture_level": true, "maxRSS": true, "maxVMEM": true, "maxSWAP": true, "maxPSS": true,
	"avgRSS": true, "avgVMEM": true, "avgSWAP": true, "avgPSS": true, "jobMetrics": true,
	"pilotTiming": true, "pilotLog": true, "pilotErrorCode": true, "pilotErrorDiag": true,
	"transExitCode": true, "exeErrorCode": true, "exeErrorDiag": true,
}

// LegacyJSON returns Legacy() encoded as JSON the way Pilot 3's json.dumps writes it: floats
// keep a fraction or exponent (1.0, 1795297337.0192606), so a Python server decodes them as
// floats; keys are sorted. Non-finite floats become null.
func (r *UpdateReport) LegacyJSON() []byte {
	m := r.Legacy()
	out := make(map[string]any, len(m))
	for k, v := range m {
		if f, ok := v.(float64); ok {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				out[k] = nil
				continue
			}
			out[k] = json.RawMessage(pyFloat(f))
			continue
		}
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Only strings, integers and finite floats are present; Marshal cannot fail.
		return []byte("{}")
	}
	return b
}

// LegacyForm returns the Legacy fields as form values the way Pilot 3's curl path renders
// them (Python str()): integers in decimal, floats as Python repr (2000.0, 1795297337.0192606,
// 1e+16), booleans True/False, strings unchanged.
func (r *UpdateReport) LegacyForm() url.Values {
	v := url.Values{}
	for k, x := range r.Legacy() {
		v.Set(k, PyStr(x))
	}
	return v
}

// PyStr renders a scalar like Python's str(): int types in decimal, float64 as repr (shortest
// round-trip digits, ".0" for integral values, exponent form below 1e-4 and from 1e16, "inf",
// "-inf", "nan"), bool as True/False, nil as None, strings unchanged. Other values are
// rendered as compact JSON.
func PyStr(x any) string {
	switch v := x.(type) {
	case nil:
		return "None"
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return pyFloat(v)
	}
	b, _ := json.Marshal(x)
	return string(b)
}

func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// V1 returns the report for POST /api/v1/pilot/update_job: snake_case names and the types
// of PROTOCOL.md §9.3 (job_id int, attempt_nr int, mean_core_count rounded to int,
// start_time/end_time as "YYYY-MM-DD HH:MM:SS" UTC, no timestamp). Omission rules are those
// of Legacy, except that job_output_report is left out when XML is "" and
// cpu_consumption_unit when empty. Extra keys with a v1 name (LegacyToV1Name) are added under
// that name, numeric ones (tot*, rate*, nInputFiles, timeout) as numbers; others are dropped
// because the v1 server rejects unknown arguments.
func (r *UpdateReport) V1() map[string]any {
	m := map[string]any{
		"job_id":       r.JobID,
		"job_status":   r.State,
		"site_name":    r.SiteName,
		"node":         r.Node,
		"attempt_nr":   r.AttemptNr,
		"scheduler_id": r.SchedulerID,
		"pilot_id":     r.PilotID,
	}
	if r.BatchID != "" {
		m["batch_id"] = r.BatchID
	}
	if r.StartTime != 0 {
		m["start_time"] = v1Time(r.StartTime)
	}
	if r.XML != "" {
		m["job_output_report"] = r.XML
	}
	if r.MetaData != nil {
		m["meta_data"] = *r.MetaData
	}
	if r.Stdout != "" {
		m["stdout"] = r.Stdout
	}
	if r.CoreCount > 0 {
		m["core_count"] = r.CoreCount
	}
	if r.MeanCoreCount != 0 {
		m["mean_core_count"] = int64(math.Round(r.MeanCoreCount))
	}
	if r.NEvents != 0 {
		m["n_events"] = r.NEvents
	}
	if r.CPUConsumptionTime > 0 && r.CPUConsumptionTime <= maxCPUConsumptionTime {
		m["cpu_consumption_time"] = r.CPUConsumptionTime
		m["cpu_conversion_factor"] = r.conversionFactor()
	}
	if r.CPUConsumptionUnit != "" {
		m["cpu_consumption_unit"] = r.CPUConsumptionUnit
	}
	if r.CPUArchitectureLevel != "" {
		m["cpu_architecture_level"] = r.CPUArchitectureLevel
	}
	for _, f := range r.memFields() {
		if *f.v != 0 {
			m[f.v1] = *f.v
		}
	}
	if r.JobMetrics != "" {
		m["job_metrics"] = r.JobMetrics
	}
	if r.Final {
		m["pilot_timing"] = r.PilotTiming
		m["pilot_log"] = r.PilotLog
		if r.EndTime != 0 {
			m["end_time"] = v1Time(r.EndTime)
		}
		m["pilot_error_code"] = r.PilotErrorCode
		m["pilot_error_diag"] = r.PilotErrorDiag
		m["trans_exit_code"] = r.TransExitCode
		m["exe_error_code"] = r.ExeErrorCode
		m["exe_error_diag"] = r.ExeErrorDiag
	}
	for k, v := range r.Extra {
		if reportKeys[k] {
			continue
		}
		name, ok := LegacyToV1Name(k)
		if !ok {
			continue
		}
		if _, taken := m[name]; taken {
			continue
		}
		if extraNumeric[k] {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				m[name] = n
				continue
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				m[name] = f
				continue
			}
		}
		m[name] = v
	}
	return m
}

// v1TimeLayout is the v1 API time format (UTC).
const v1TimeLayout = "2006-01-02 15:04:05"

func v1Time(epoch float64) string {
	sec, frac := math.Modf(epoch)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(v1TimeLayout)
}

// legacyToV1 is the name table of PROTOCOL.md §9.3 (plus the legacy server parameters that
// Pilot 3 never sends but v1 accepts).
var legacyToV1 = map[string]string{
	"jobId": "job_id", "state": "job_status", "xml": "job_output_report", "metaData": "meta_data",
	"pilotLog": "pilot_log", "stdout": "stdout", "node": "node", "siteName": "site_name",
	"schedulerID": "scheduler_id", "pilotID": "pilot_id", "batchID": "batch_id", "attemptNr": "attempt_nr",
	"startTime": "start_time", "endTime": "end_time", "cpuConsumptionTime": "cpu_consumption_time",
	"cpuConsumptionUnit": "cpu_consumption_unit", "cpuConversionFactor": "cpu_conversion_factor",
	"cpu_architecture_level": "cpu_architecture_level", "coreCount": "core_count",
	"meanCoreCount": "mean_core_count", "nEvents": "n_events", "transExitCode": "trans_exit_code",
	"pilotErrorCode": "pilot_error_code", "pilotErrorDiag": "pilot_error_diag",
	"exeErrorCode": "exe_error_code", "exeErrorDiag": "exe_error_diag", "pilotTiming": "pilot_timing",
	"jobMetrics": "job_metrics",
	"maxRSS":     "max_rss", "maxVMEM": "max_vmem", "maxSWAP": "max_swap", "maxPSS": "max_pss",
	"avgRSS": "avg_rss", "avgVMEM": "avg_vmem", "avgSWAP": "avg_swap", "avgPSS": "avg_pss",
	"totRCHAR": "tot_rchar", "totWCHAR": "tot_wchar", "totRBYTES": "tot_rbytes", "totWBYTES": "tot_wbytes",
	"rateRCHAR": "rate_rchar", "rateWCHAR": "rate_wchar", "rateRBYTES": "rate_rbytes", "rateWBYTES": "rate_wbytes",
	"source_site": "source_site", "destination_site": "destination_site",
	"jobSubStatus": "job_sub_status", "nInputFiles": "n_input_files", "corruptedFiles": "corrupted_files",
	"grid": "grid", "timeout": "timeout",
}

// extraNumeric are Extra keys sent as numbers in V1.
var extraNumeric = map[string]bool{
	"totRCHAR": true, "totWCHAR": true, "totRBYTES": true, "totWBYTES": true,
	"rateRCHAR": true, "rateWCHAR": true, "rateRBYTES": true, "rateWBYTES": true,
	"nInputFiles": true, "timeout": true,
}

// v1ToLegacy is the inverse of legacyToV1.
var v1ToLegacy = func() map[string]string {
	m := make(map[string]string, len(legacyToV1))
	for k, v := range legacyToV1 {
		m[v] = k
	}
	return m
}()

// LegacyToV1Name maps a Pilot 3 updateJob field name to its v1 update_job argument name
// (PROTOCOL.md §9.3), e.g. "jobId" -> "job_id", "maxRSS" -> "max_rss". It reports false for
// names without a v1 counterpart (e.g. "timestamp").
func LegacyToV1Name(legacy string) (string, bool) {
	v, ok := legacyToV1[legacy]
	return v, ok
}

// V1ToLegacyName is the inverse of LegacyToV1Name.
func V1ToLegacyName(v1 string) (string, bool) {
	v, ok := v1ToLegacy[v1]
	return v, ok
}

// FieldsFromJSON decodes a JSON object (e.g. a gunzipped legacy updateJob body) into string
// fields as a legacy server sees them: strings unchanged, numbers as written, true/false as
// "True"/"False", null as "None", objects and arrays as compact JSON. Bodies over MaxBodySize
// or not valid UTF-8 are errors.
func FieldsFromJSON(body []byte) (map[string]string, error) {
	if len(body) > MaxBodySize {
		return nil, Errorf(ConversionFailure, "body of %d bytes exceeds the limit of %d bytes", len(body), MaxBodySize)
	}
	if !utf8.Valid(body) {
		return nil, Errorf(ConversionFailure, "body is not valid UTF-8")
	}
	obj, err := decodeObject(bytes.TrimSpace(body))
	if err != nil {
		return nil, Errorf(ConversionFailure, "body is not a JSON object: %s", nestedDiag(err))
	}
	return objectFields(obj), nil
}

// ParseLegacyUpdate parses the fields of a legacy updateJob request (form fields, or
// FieldsFromJSON of the JSON body) for a server. jobId is required: "NULL" (or another unset
// value) gives JobID 0, otherwise it must be a non-negative integer. Numbers are accepted as
// integers or float text (counts and memory values are rounded); startTime/endTime as epoch
// seconds or "YYYY-MM-DD HH:MM:SS" (UTC); unset values ("", "NULL", "None") are 0. metaData
// is non-nil when the key is present. Final is set when the state is finished or failed or a
// final-only key (pilotTiming, pilotErrorCode, endTime) is present. Other keys are kept in
// Extra; nothing unknown is an error. Malformed numbers are *PilotError ConversionFailure
// naming the field.
func ParseLegacyUpdate(fields map[string]string) (*UpdateReport, error) {
	get := func(k string) any {
		if v, ok := fields[k]; ok {
			return v
		}
		return nil
	}
	idText, ok := fields["jobId"]
	if !ok {
		return nil, fieldError(ConversionFailure, "jobId", "missing")
	}
	return buildReport(idText, get, func(k string) bool { _, ok := fields[k]; return ok },
		func(extra func(string, string)) {
			for k, v := range fields {
				if !reportKeys[k] {
					extra(k, v)
				}
			}
		}, legacyNames)
}

// ParseV1Update parses the arguments of a v1 update_job request (a decoded JSON object) for a
// server, with the rules of ParseLegacyUpdate under the v1 names (job_id required; job_id
// "NULL" allowed as 0). Keys with a legacy counterpart that have no typed field (tot_rchar,
// source_site, ...) go to Extra under their legacy name; other unknown keys are ignored.
func ParseV1Update(m map[string]any) (*UpdateReport, error) {
	idv, ok := m["job_id"]
	if !ok {
		return nil, fieldError(ConversionFailure, "job_id", "missing")
	}
	idText, err := anyString(ConversionFailure, "job_id", idv)
	if err != nil {
		return nil, err
	}
	get := func(k string) any { return m[k] }
	has := func(k string) bool { _, ok := m[k]; return ok }
	return buildReport(idText, get, has, func(extra func(string, string)) {
		for k, v := range m {
			legacy, ok := v1ToLegacy[k]
			if !ok || reportKeys[legacy] {
				continue
			}
			if s, err := anyString(ConversionFailure, k, v); err == nil {
				extra(legacy, s)
			}
		}
	}, v1Names)
}

// reportNames names the keys of one scheme for buildReport.
type reportNames struct {
	jobID, state, timestamp, siteName, node, attemptNr, schedulerID, pilotID, batchID string
	startTime, endTime, xml, metaData, stdout, coreCount, meanCoreCount, nEvents      string
	cpuTime, cpuUnit, cpuFactor, cpuLevel, jobMetrics, pilotTiming, pilotLog          string
	pilotErrorCode, pilotErrorDiag, transExitCode, exeErrorCode, exeErrorDiag         string
	v1MemNames                                                                        bool
}

var legacyNames = reportNames{
	jobID: "jobId", state: "state", timestamp: "timestamp", siteName: "siteName", node: "node",
	attemptNr: "attemptNr", schedulerID: "schedulerID", pilotID: "pilotID", batchID: "batchID",
	startTime: "startTime", endTime: "endTime", xml: "xml", metaData: "metaData", stdout: "stdout",
	coreCount: "coreCount", meanCoreCount: "meanCoreCount", nEvents: "nEvents",
	cpuTime: "cpuConsumptionTime", cpuUnit: "cpuConsumptionUnit", cpuFactor: "cpuConversionFactor",
	cpuLevel: "cpu_architecture_level", jobMetrics: "jobMetrics", pilotTiming: "pilotTiming",
	pilotLog: "pilotLog", pilotErrorCode: "pilotErrorCode", pilotErrorDiag: "pilotErrorDiag",
	transExitCode: "transExitCode", exeErrorCode: "exeErrorCode", exeErrorDiag: "exeErrorDiag",
}

var v1Names = reportNames{
	jobID: "job_id", state: "job_status", timestamp: "", siteName: "site_name", node: "node",
	attemptNr: "attempt_nr", schedulerID: "scheduler_id", pilotID: "pilot_id", batchID: "batch_id",
	startTime: "start_time", endTime: "end_time", xml: "job_output_report", metaData: "meta_data",
	stdout: "stdout", coreCount: "core_count", meanCoreCount: "mean_core_count", nEvents: "n_events",
	cpuTime: "cpu_consumption_time", cpuUnit: "cpu_consumption_unit", cpuFactor: "cpu_conversion_factor",
	cpuLevel: "cpu_architecture_level", jobMetrics: "job_metrics", pilotTiming: "pilot_timing",
	pilotLog: "pilot_log", pilotErrorCode: "pilot_error_code", pilotErrorDiag: "pilot_error_diag",
	transExitCode: "trans_exit_code", exeErrorCode: "exe_error_code", exeErrorDiag: "exe_error_diag",
	v1MemNames: true,
}

func buildReport(idText string, get func(string) any, has func(string) bool,
	extras func(func(string, string)), n reportNames) (*UpdateReport, error) {
	const bad = ConversionFailure
	r := &UpdateReport{}
	id, err := parseIntCode(bad, n.jobID, idText, 0, 1<<63-1)
	if err != nil {
		return nil, err
	}
	r.JobID = id
	var firstErr error
	str := func(k string) string {
		if k == "" || firstErr != nil {
			return ""
		}
		s, err := anyString(bad, k, get(k))
		if err != nil {
			firstErr = err
		}
		return s
	}
	num := func(k string) float64 {
		if firstErr != nil {
			return 0
		}
		f, err := anyFloat(bad, k, get(k))
		if err != nil {
			firstErr = err
		}
		return f
	}
	integer := func(k string, min, max float64) int64 {
		f := math.Round(num(k))
		if firstErr == nil && (f < min || f > max) {
			firstErr = fieldError(bad, k, "%v is out of range", f)
		}
		return int64(f)
	}
	const big = 1 << 53
	r.State = str(n.state)
	r.Timestamp = str(n.timestamp)
	r.SiteName = str(n.siteName)
	r.Node = str(n.node)
	r.AttemptNr = int(integer(n.attemptNr, -1<<31, 1<<31-1))
	r.SchedulerID = str(n.schedulerID)
	r.PilotID = str(n.pilotID)
	r.BatchID = str(n.batchID)
	r.StartTime = epochOf(n.startTime, get(n.startTime), &firstErr)
	r.EndTime = epochOf(n.endTime, get(n.endTime), &firstErr)
	r.XML = str(n.xml)
	if has(n.metaData) {
		md := str(n.metaData)
		r.MetaData = &md
	}
	r.Stdout = str(n.stdout)
	r.CoreCount = int(integer(n.coreCount, 0, 1<<31-1))
	r.MeanCoreCount = num(n.meanCoreCount)
	r.NEvents = integer(n.nEvents, -big, big)
	r.CPUConsumptionTime = integer(n.cpuTime, -big, big)
	r.CPUConsumptionUnit = str(n.cpuUnit)
	r.CPUConversionFactor = num(n.cpuFactor)
	r.CPUArchitectureLevel = str(n.cpuLevel)
	for _, f := range r.memFields() {
		k := f.legacy
		if n.v1MemNames {
			k = f.v1
		}
		*f.v = integer(k, -big, big)
	}
	r.JobMetrics = str(n.jobMetrics)
	r.PilotTiming = str(n.pilotTiming)
	r.PilotLog = str(n.pilotLog)
	r.PilotErrorCode = int(integer(n.pilotErrorCode, -1<<31, 1<<31-1))
	r.PilotErrorDiag = str(n.pilotErrorDiag)
	r.TransExitCode = int(integer(n.transExitCode, -1<<31, 1<<31-1))
	r.ExeErrorCode = int(integer(n.exeErrorCode, -1<<31, 1<<31-1))
	r.ExeErrorDiag = str(n.exeErrorDiag)
	if firstErr != nil {
		return nil, firstErr
	}
	r.Final = r.State == "finished" || r.State == "failed" ||
		has(n.pilotTiming) || has(n.pilotErrorCode) || has(n.endTime)
	extras(func(k, v string) {
		if r.Extra == nil {
			r.Extra = map[string]string{}
		}
		r.Extra[k] = v
	})
	return r, nil
}

// epochOf converts epoch seconds (number or text) or "YYYY-MM-DD HH:MM:SS" (UTC, optional
// fraction) to epoch seconds; unset is 0.
func epochOf(key string, v any, firstErr *error) float64 {
	if *firstErr != nil || v == nil {
		return 0
	}
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if IsUnset(s) {
			return 0
		}
		if strings.Contains(s, "-") && strings.Contains(s, ":") {
			for _, layout := range []string{v1TimeLayout, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05"} {
				if t, err := time.Parse(layout, s); err == nil {
					return float64(t.UnixNano()) / 1e9
				}
			}
			*firstErr = fieldError(ConversionFailure, key, "%q is not a time", cutForDiag(s))
			return 0
		}
	}
	f, err := anyFloat(ConversionFailure, key, v)
	if err != nil {
		*firstErr = err
	}
	return f
}

// ValidState reports whether s is a job state the server accepts in updateJob.
func ValidState(s string) bool {
	switch s {
	case "starting", "running", "holding", "transferring", "finished", "failed":
		return true
	}
	return false
}

// OutputEntry is one file of the job output report ("xml" field, PROTOCOL.md §3.3).
type OutputEntry struct {
	GUID     string `json:"guid"`
	FSize    int64  `json:"fsize"`
	Adler32  string `json:"adler32,omitempty"`
	MD5Sum   string `json:"md5sum,omitempty"`
	SURL     string `json:"surl"`
	Endpoint string `json:"endpoint"`
}

// OutputReport maps LFN to its output entry.
type OutputReport map[string]OutputEntry

// BuildOutputReport returns the report of the files whose Status is StatusTransferred:
// guid, fsize (Size), adler32 or md5sum (by checksum type), surl (SURL) and endpoint
// (DDMEndpoint), keyed by LFN.
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

// JSON returns the report as compact JSON with keys in sorted order; an empty report is "{}".
func (r OutputReport) JSON() string {
	if len(r) == 0 {
		return "{}"
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// ParseOutputReport parses a job output report as the server receives it. "" (non-final
// updates) is an empty report. Otherwise s must be a JSON object of at most MaxFilesPerJob
// entries keyed by valid LFNs (ValidateLFN), each an object with "fsize" (integer or numeric
// text in [0, MaxFileSize]) and a checksum ("adler32": 1-8 hex digits, padded to 8, or
// "md5sum": 32 hex digits); guid, surl and endpoint are strings when present; other keys
// (e.g. full_lfn) are ignored. Like the server, any bad entry rejects the whole report
// (*PilotError BadXML naming the LFN and key). s over MaxBodySize is rejected.
func ParseOutputReport(s string) (OutputReport, error) {
	const bad = BadXML
	if len(s) > MaxBodySize {
		return nil, Errorf(bad, "output report of %d bytes exceeds the limit of %d bytes", len(s), MaxBodySize)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return OutputReport{}, nil
	}
	if !utf8.ValidString(t) {
		return nil, Errorf(bad, "output report is not valid UTF-8")
	}
	top, err := decodeObject([]byte(t))
	if err != nil {
		return nil, Errorf(bad, "output report is not a JSON object: %s", nestedDiag(err))
	}
	if len(top) > MaxFilesPerJob {
		return nil, Errorf(bad, "output report has %d entries, more than %d", len(top), MaxFilesPerJob)
	}
	r := make(OutputReport, len(top))
	for lfn, raw := range top {
		if err := ValidateLFN(lfn); err != nil {
			return nil, &PilotError{Code: bad, Diag: FormatDiag(bad, DiagOf(err)), Err: err}
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&m); err != nil || m == nil {
			return nil, Errorf(bad, "entry %q is not an object", lfn)
		}
		var e OutputEntry
		key := func(k string) string { return lfn + "." + k }
		if _, ok := m["fsize"]; !ok || m["fsize"] == nil {
			return nil, fieldError(bad, key("fsize"), "missing")
		}
		if e.FSize, err = anyInt(bad, key("fsize"), m["fsize"], 0, MaxFileSize); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			k string
			p *string
		}{{"guid", &e.GUID}, {"surl", &e.SURL}, {"endpoint", &e.Endpoint}} {
			if *f.p, err = anyString(bad, key(f.k), m[f.k]); err != nil {
				return nil, err
			}
		}
		ad, _ := m["adler32"].(string)
		md, _ := m["md5sum"].(string)
		switch {
		case ad != "":
			c, err := ParseChecksum("ad:" + ad)
			if err != nil {
				return nil, fieldError(bad, key("adler32"), "%q is not an adler32 value", cutForDiag(ad))
			}
			e.Adler32 = c.Value
		case md != "":
			c, err := ParseChecksum("md5:" + md)
			if err != nil {
				return nil, fieldError(bad, key("md5sum"), "%q is not an md5 value", cutForDiag(md))
			}
			e.MD5Sum = c.Value
		default:
			return nil, fieldError(bad, key("adler32"), "entry has no adler32 or md5sum checksum")
		}
		if ad != "" && md != "" {
			c, err := ParseChecksum("md5:" + md)
			if err != nil {
				return nil, fieldError(bad, key("md5sum"), "%q is not an md5 value", cutForDiag(md))
			}
			e.MD5Sum = c.Value
		}
		r[lfn] = e
	}
	return r, nil
}
