package jobdef

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBodySize is the largest getJob answer, job file, queue or storage description (and
// output report) accepted, in bytes (64 MiB).
const MaxBodySize = 64 << 20

// MaxJobsPerResponse bounds the number of jobs accepted from one getJob answer.
const MaxJobsPerResponse = 10000

// GetJobResponse is a parsed getJob answer. StatusCode 0 with at least one job means jobs were
// dispatched; any other StatusCode (20 = no jobs, 10 = timeout, 60 = role, ...) means no job.
type GetJobResponse struct {
	StatusCode  int
	ErrorDialog string
	Jobs        []*Job
}

// ParseGetJobResponse parses the body of a getJob (legacy) or acquire_jobs (v1) answer. Forms:
//
//   - the plain text "Succeeded" -> StatusCode 0 and no jobs;
//   - a JSON object: the v1 envelope {"success", "message", "data": {"StatusCode", "jobs"}}
//     (recognised by its "success" key), else a legacy JSON answer with native types whose
//     job is at top level or in a "jobs" list (a JSON list or a string holding one);
//   - anything else is a legacy urlencoded answer (values kept even if empty; first value of
//     a repeated key wins; a "jobs" value is a JSON list).
//
// StatusCode may be a number or numeric text; a legacy answer without StatusCode is accepted
// when it carries a PandaID (StatusCode 0). A v1 answer with success=false is StatusCode 20
// (ErrorDialog = message) when the message says there are no jobs, else an error; success=true
// without jobs is StatusCode 20. Jobs are built with JobFromFields; any invalid job makes the
// whole answer an error. Bodies over MaxBodySize, non-UTF-8 bodies and unrecognised answers
// (e.g. "ERROR : method getJob is forbidden") are *PilotError CommunicationFailure; job field
// errors keep their own codes.
func ParseGetJobResponse(body []byte) (*GetJobResponse, error) {
	return parseAnswer(body, CommunicationFailure)
}

func parseAnswer(body []byte, code ErrorCode) (*GetJobResponse, error) {
	if len(body) > MaxBodySize {
		return nil, Errorf(code, "answer of %d bytes exceeds the limit of %d bytes", len(body), MaxBodySize)
	}
	if !utf8.Valid(body) {
		return nil, Errorf(code, "answer is not valid UTF-8")
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(body), "\ufeff"))
	switch {
	case s == "":
		return nil, Errorf(code, "empty answer")
	case s == "Succeeded":
		return &GetJobResponse{StatusCode: 0}, nil
	case s[0] == '{':
		return parseJSONAnswer([]byte(s), code)
	}
	return parseFormAnswer(s, code)
}

// parseJSONAnswer handles the JSON forms (v1 envelope and legacy).
func parseJSONAnswer(b []byte, code ErrorCode) (*GetJobResponse, error) {
	top, err := decodeObject(b)
	if err != nil {
		return nil, Errorf(code, "answer is not a JSON object: %s", nestedDiag(err))
	}
	if raw, ok := top["success"]; ok {
		return parseV1Answer(top, raw, code)
	}
	return parseLegacyObject(top, code)
}

func parseV1Answer(top map[string]json.RawMessage, rawSuccess json.RawMessage, code ErrorCode) (*GetJobResponse, error) {
	var success bool
	if err := json.Unmarshal(rawSuccess, &success); err != nil {
		return nil, Errorf(code, "v1 answer: \"success\" is not a boolean")
	}
	var msg string
	if raw, ok := top["message"]; ok {
		msg, _ = jsonText(raw)
		if msg == "None" {
			msg = ""
		}
	}
	if !success {
		if strings.Contains(strings.ToLower(msg), "no job") {
			return &GetJobResponse{StatusCode: 20, ErrorDialog: msg}, nil
		}
		return nil, Errorf(code, "server refused: %s", cutForDiag(msg))
	}
	raw, ok := top["data"]
	if !ok || isJSONNull(raw) {
		return &GetJobResponse{StatusCode: 20, ErrorDialog: msg}, nil
	}
	data, err := decodeObject(raw)
	if err != nil {
		return nil, Errorf(code, "v1 answer: \"data\" is not an object: %v", err)
	}
	resp, err := parseLegacyObject(data, code)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == 0 && len(resp.Jobs) == 0 {
		resp.StatusCode = 20
		if resp.ErrorDialog == "" {
			resp.ErrorDialog = msg
		}
	}
	return resp, nil
}

// parseLegacyObject handles a legacy JSON answer (or the data object of a v1 answer).
func parseLegacyObject(top map[string]json.RawMessage, code ErrorCode) (*GetJobResponse, error) {
	resp := &GetJobResponse{}
	if raw, ok := top["errorDialog"]; ok {
		if s, _ := jsonText(raw); s != "None" {
			resp.ErrorDialog = s
		}
	}
	rawSC, hasSC := top["StatusCode"]
	_, hasJobs := top["jobs"]
	_, hasID := top["PandaID"]
	switch {
	case hasSC:
		t, _ := jsonText(rawSC)
		n, err := parseIntValue("StatusCode", t, -1<<31, 1<<31-1)
		if err != nil || IsUnset(t) {
			return nil, Errorf(code, "StatusCode %q is not an integer", cutForDiag(t))
		}
		resp.StatusCode = int(n)
	case hasID || hasJobs:
	default:
		return nil, Errorf(code, "answer has neither StatusCode nor PandaID")
	}
	if resp.StatusCode != 0 {
		return resp, nil
	}
	if raw, ok := top["jobs"]; ok {
		if s, isStr := jsonString(raw); isStr {
			raw = json.RawMessage(s)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, Errorf(code, "\"jobs\" is not a JSON list: %v", err)
		}
		if len(list) > MaxJobsPerResponse {
			return nil, Errorf(code, "answer has %d jobs, more than %d", len(list), MaxJobsPerResponse)
		}
		for i, el := range list {
			obj, err := decodeObject(el)
			if err != nil {
				return nil, Errorf(code, "jobs[%d] is not a JSON object: %s", i, nestedDiag(err))
			}
			job, err := JobFromFields(objectFields(obj))
			if err != nil {
				return nil, err
			}
			resp.Jobs = append(resp.Jobs, job)
		}
		return resp, nil
	}
	if !hasID {
		return resp, nil
	}
	job, err := JobFromFields(objectFields(top))
	if err != nil {
		return nil, err
	}
	resp.Jobs = []*Job{job}
	return resp, nil
}

// parseFormAnswer handles a legacy urlencoded answer.
func parseFormAnswer(s string, code ErrorCode) (*GetJobResponse, error) {
	f, err := parseForm(s)
	if err != nil {
		return nil, Errorf(code, "answer is neither JSON nor valid urlencoded text: %s", nestedDiag(err))
	}
	resp := &GetJobResponse{}
	sc, hasSC := f["StatusCode"]
	_, hasID := f["PandaID"]
	_, hasJobs := f["jobs"]
	switch {
	case hasSC:
		n, err := parseIntValue("StatusCode", sc, -1<<31, 1<<31-1)
		if err != nil || IsUnset(sc) {
			return nil, Errorf(code, "StatusCode %q is not an integer", cutForDiag(sc))
		}
		resp.StatusCode = int(n)
	case hasID || hasJobs:
	default:
		return nil, Errorf(code, "answer %q has neither StatusCode nor PandaID", cutForDiag(s))
	}
	resp.ErrorDialog = f["errorDialog"]
	if resp.StatusCode != 0 {
		return resp, nil
	}
	if hasJobs {
		wrapped, err := json.Marshal(map[string]any{"StatusCode": 0, "jobs": json.RawMessage(f["jobs"])})
		if err != nil {
			return nil, Errorf(code, "\"jobs\" is not a JSON list: %v", err)
		}
		r, err := parseJSONAnswer(wrapped, code)
		if err != nil {
			return nil, err
		}
		resp.Jobs = r.Jobs
		return resp, nil
	}
	if !hasID {
		return resp, nil
	}
	job, err := JobFromFields(f)
	if err != nil {
		return nil, err
	}
	resp.Jobs = []*Job{job}
	return resp, nil
}

// parseForm decodes application/x-www-form-urlencoded text keeping empty values; for a
// repeated key the first value wins. Keys and values must decode to valid UTF-8.
func parseForm(s string) (map[string]string, error) {
	if !strings.Contains(s, "=") {
		return nil, Errorf(ConversionFailure, "no key=value pair in %q", cutForDiag(s))
	}
	out := map[string]string{}
	for _, part := range strings.Split(s, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, Errorf(ConversionFailure, "bad escape in key %q", cutForDiag(k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, Errorf(ConversionFailure, "bad escape in the value of %q", cutForDiag(key))
		}
		if !utf8.ValidString(key) || !utf8.ValidString(val) {
			return nil, Errorf(ConversionFailure, "field %q is not valid UTF-8", strings.ToValidUTF8(key, "?"))
		}
		if _, dup := out[key]; !dup {
			out[key] = val
		}
	}
	return out, nil
}

// ParseJobFile parses a job definition file (PROTOCOL.md §6.2) in any form:
//
//   - Harvester JSON {"<PandaID>": {job fields}, ...} (every key an integer, every value an
//     object): the job with the smallest numeric key is returned; its PandaID defaults to the
//     key and must equal it when present;
//   - a JSON getJob answer (legacy with StatusCode/jobs, or the v1 envelope): its first job;
//   - a plain JSON job object (StatusCode optional);
//   - one urlencoded line as in a legacy getJob answer (values kept even if empty).
//
// Empty files, files over MaxBodySize, non-UTF-8 content, answers without a job and invalid
// jobs are errors (*PilotError; ConversionFailure unless a job field error says otherwise).
func ParseJobFile(data []byte) (*Job, error) {
	const code = ConversionFailure
	if len(data) > MaxBodySize {
		return nil, Errorf(code, "job file of %d bytes exceeds the limit of %d bytes", len(data), MaxBodySize)
	}
	if !utf8.Valid(data) {
		return nil, Errorf(code, "job file is not valid UTF-8")
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(data), "\ufeff"))
	if s == "" {
		return nil, Errorf(code, "job file is empty")
	}
	if s[0] == '{' {
		top, err := decodeObject([]byte(s))
		if err != nil {
			return nil, Errorf(code, "job file is not a JSON object: %s", nestedDiag(err))
		}
		if key, ok := harvesterKey(top); ok {
			obj, err := decodeObject(top[key])
			if err != nil {
				return nil, Errorf(code, "job %s is not a JSON object: %s", key, nestedDiag(err))
			}
			f := objectFields(obj)
			if id, ok := f["PandaID"]; !ok || IsUnset(id) {
				f["PandaID"] = key
			}
			job, err := JobFromFields(f)
			if err != nil {
				return nil, err
			}
			if want, _ := strconv.ParseInt(key, 10, 64); job.PandaID != want {
				return nil, fieldError(code, "PandaID", "%d does not match the job file key %q", job.PandaID, key)
			}
			return job, nil
		}
	}
	resp, err := parseAnswer([]byte(s), code)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 0 || len(resp.Jobs) == 0 {
		return nil, Errorf(code, "job file holds no job (StatusCode %d %s)", resp.StatusCode, cutForDiag(resp.ErrorDialog))
	}
	return resp.Jobs[0], nil
}

// harvesterKey reports whether top has the Harvester layout and returns its first job key.
func harvesterKey(top map[string]json.RawMessage) (string, bool) {
	if len(top) == 0 {
		return "", false
	}
	best, bestN := "", int64(0)
	for k, v := range top {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil || n <= 0 {
			return "", false
		}
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
			return "", false
		}
		if best == "" || n < bestN || (n == bestN && k < best) {
			best, bestN = k, n
		}
	}
	return best, true
}

// EncodeURLEncoded encodes fields as application/x-www-form-urlencoded text with keys in
// sorted order (url.Values.Encode), empty values included ("key=").
func EncodeURLEncoded(fields map[string]string) string {
	v := make(url.Values, len(fields))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Set(k, fields[k])
	}
	return v.Encode()
}

// nestedDiag renders err for use inside another diagnostic: a *PilotError gives its diag
// without its code's standard message (and without the code its Error method appends), any
// other error its Error text.
func nestedDiag(err error) string {
	var pe *PilotError
	if !errors.As(err, &pe) || pe == nil {
		return err.Error()
	}
	d := DiagOf(pe)
	if std := pe.Code.Message() + ": "; strings.HasPrefix(d, std) {
		d = d[len(std):]
	}
	return d
}

// decodeObject decodes a JSON object keeping each value raw.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, Errorf(ConversionFailure, "null instead of an object")
	}
	return m, nil
}

// objectFields renders every value of a JSON object as the string a legacy urlencoded answer
// would carry (see jsonText).
func objectFields(obj map[string]json.RawMessage) map[string]string {
	f := make(map[string]string, len(obj))
	for k, raw := range obj {
		f[k], _ = jsonText(raw)
	}
	return f
}

// jsonText renders a raw JSON value as text: strings unquoted, numbers as written, true/false
// as "True"/"False", null as "None", objects and arrays as compact JSON. The boolean result
// reports whether the value was a JSON string.
func jsonText(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "", false
	}
	switch t[0] {
	case '"':
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s, true
		}
	case 't':
		return "True", false
	case 'f':
		return "False", false
	case 'n':
		return "None", false
	case '{', '[':
		var b bytes.Buffer
		if json.Compact(&b, t) == nil {
			return b.String(), false
		}
	}
	return string(t), false
}

func jsonString(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '"' {
		return "", false
	}
	return jsonText(t)
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}
