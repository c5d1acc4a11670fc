package jobdef

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits applied to untrusted job definitions.
const (
	// MaxFileSize is the largest file size accepted in a job definition or report (1 PiB).
	MaxFileSize int64 = 1 << 50
	// MaxFilesPerJob bounds the number of entries of each per-file list of a job.
	MaxFilesPerJob = 100000
	// MaxLFNLength is the longest accepted logical file name, in bytes.
	MaxLFNLength = 255
)

// ChecksumType names a checksum algorithm.
type ChecksumType string

// Checksum algorithms known to PanDA.
const (
	Adler32 ChecksumType = "adler32"
	MD5     ChecksumType = "md5"
)

// Checksum is a typed checksum value. Value is lower-case hex: exactly 8 digits for Adler32,
// 32 for MD5. The zero value means "no checksum".
type Checksum struct {
	Type  ChecksumType
	Value string
}

// ParseChecksum parses a checksum as PanDA writes it: "ad:<hex>" or "adler32:<hex>" (adler32),
// "md5:<hex>" or "md:<hex>" (md5); the prefix is case-insensitive and surrounding white space is
// ignored. A value without prefix is adler32 when it has 8 hex digits and md5 when it has 32.
// Adler32 values with fewer than 8 digits (leading zeros dropped by some producers) are padded
// to 8; md5 values must have exactly 32 digits. Hex digits are returned in lower case.
// Anything else, including "" and an unknown prefix, is a *PilotError UnknownChecksumType whose
// diag quotes the value. (Pilot 3 maps unknown prefixes to adler32; gopilot rejects them.)
func ParseChecksum(s string) (Checksum, error) {
	t := strings.TrimSpace(s)
	typ, val := ChecksumType(""), t
	if i := strings.IndexByte(t, ':'); i >= 0 {
		switch strings.ToLower(t[:i]) {
		case "ad", "adler32":
			typ = Adler32
		case "md", "md5":
			typ = MD5
		default:
			return Checksum{}, Errorf(UnknownChecksumType, "checksum %q: unknown type %q", s, t[:i])
		}
		val = t[i+1:]
	} else {
		switch len(val) {
		case 8:
			typ = Adler32
		case 32:
			typ = MD5
		default:
			return Checksum{}, Errorf(UnknownChecksumType, "checksum %q: no type prefix and not an 8- or 32-digit hex value", s)
		}
	}
	if !isHex(val) {
		return Checksum{}, Errorf(UnknownChecksumType, "checksum %q: value is not hexadecimal", s)
	}
	val = strings.ToLower(val)
	switch typ {
	case Adler32:
		if len(val) > 8 {
			return Checksum{}, Errorf(UnknownChecksumType, "checksum %q: adler32 has more than 8 hex digits", s)
		}
		val = strings.Repeat("0", 8-len(val)) + val
	case MD5:
		if len(val) != 32 {
			return Checksum{}, Errorf(UnknownChecksumType, "checksum %q: md5 needs 32 hex digits", s)
		}
	}
	return Checksum{Type: typ, Value: val}, nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// String returns "ad:<hex>" for adler32, "md5:<hex>" for md5 and "" for the zero value (or an
// unknown type).
func (c Checksum) String() string {
	switch c.Type {
	case Adler32:
		return "ad:" + c.Value
	case MD5:
		return "md5:" + c.Value
	}
	return ""
}

// IsZero reports whether c carries no checksum.
func (c Checksum) IsZero() bool { return c.Type == "" && c.Value == "" }

// FileKind tells what role a file plays in a job.
type FileKind int

// File kinds.
const (
	Input FileKind = iota
	Output
	Log
)

// String returns "input", "output" or "log".
func (k FileKind) String() string {
	switch k {
	case Input:
		return "input"
	case Output:
		return "output"
	case Log:
		return "log"
	}
	return "FileKind(" + strconv.Itoa(int(k)) + ")"
}

// FileStatus is the transfer state of a file, set by the stager.
type FileStatus string

// File transfer states.
const (
	StatusNone        FileStatus = ""
	StatusTransferred FileStatus = "transferred"
	StatusFailed      FileStatus = "failed"
	StatusRemoteIO    FileStatus = "remote_io"
	StatusNoTransfer  FileStatus = "no_transfer"
)

// FileSpec describes one input, output or log file of a job.
//
// Inputs: LFN, GUID, Scope, Size, Checksum, Dataset (realDatasetsIn), DDMEndpoint
// (ddmEndPointIn), ProdDBlockToken come from the job definition. Outputs and the log: LFN,
// Scope (scopeOut / scopeLog), Dataset (realDatasets), DDMEndpoint (ddmEndPointOut),
// DestinationDBlockToken, ProdDBlockToken (prodDBlockTokenForOutput); GUID only for the log
// (logGUID) - output GUIDs are not sent by the server. Unset values are "" / 0 / zero.
type FileSpec struct {
	Kind                   FileKind
	LFN                    string
	GUID                   string
	Scope                  string
	Size                   int64 // bytes, 0 = unknown
	Checksum               Checksum
	Dataset                string
	DDMEndpoint            string
	ProdDBlockToken        string
	DestinationDBlockToken string

	// Runtime state, filled by the stager.
	Status     FileStatus
	StatusCode ErrorCode
	SURL       string // remote URL read from / written to
	TURL       string
	Mover      string
	LocalPath  string
}

// ValidateLFN checks that lfn is a plain file name: non-empty, at most MaxLFNLength (255)
// bytes, valid UTF-8, not "." or "..", and free of '/', "..", NUL and other control characters
// (bytes < 0x20 and 0x7f). The error is a *PilotError LFNTooLong for a name longer than 255
// bytes and BadOutputFileName otherwise; its diag quotes the name (%q).
func ValidateLFN(lfn string) error {
	if len(lfn) > MaxLFNLength {
		return Errorf(LFNTooLong, "file name of %d bytes (at most %d allowed): %q", len(lfn), MaxLFNLength, lfn)
	}
	switch {
	case lfn == "":
		return Errorf(BadOutputFileName, "empty file name %q", lfn)
	case lfn == "." || strings.Contains(lfn, ".."):
		return Errorf(BadOutputFileName, "file name %q contains \"..\" or is \".\"", lfn)
	case strings.Contains(lfn, "/"):
		return Errorf(BadOutputFileName, "file name %q contains '/'", lfn)
	case !utf8.ValidString(lfn):
		return Errorf(BadOutputFileName, "file name %q is not valid UTF-8", lfn)
	}
	for i := 0; i < len(lfn); i++ {
		if c := lfn[i]; c < 0x20 || c == 0x7f {
			return Errorf(BadOutputFileName, "file name %q contains a control character", lfn)
		}
	}
	return nil
}

// Directives are the pilot options found in jobPars (PROTOCOL.md §2.5).
// OverwriteQueueData, OverwriteStorageData, ZipMap and ContainerImage are removed from
// Job.JobPars; --accessmode=... and --useLocalIO stay in JobPars and are only interpreted.
type Directives struct {
	// OverwriteQueueData holds --overwriteQueueData={dict}; values are as returned by
	// ParsePythonLiteral (string, int64, float64, bool, nil, []any, map[string]any).
	OverwriteQueueData map[string]any
	// OverwriteStorageData holds --overwriteStorageData={dict}.
	OverwriteStorageData map[string]any
	// ZipMap is the text between <ZIP_MAP> and </ZIP_MAP>.
	ZipMap string
	// ContainerImage is the value of --containerImage (quotes removed); "" when absent (see
	// Job.Image for the fallback to container_name).
	ContainerImage string
	// AccessMode is "copy" when jobPars has --accessmode=copy or --useLocalIO, else "direct"
	// when it has --accessmode=direct, else "".
	AccessMode string
	// UseLocalIO reports --useLocalIO.
	UseLocalIO bool
}

// Job is one PanDA job definition as received from getJob or a job file.
//
// Every field of PROTOCOL.md §2.4 is kept in Raw exactly as received (JSON values rendered as
// text: numbers as written, true/false as "True"/"False", null as "None", objects and arrays
// as compact JSON). The typed fields below are derived from Raw by JobFromFields.
type Job struct {
	PandaID, JobsetID, TaskID, JobDefinitionID, ReqID int64

	JobName, ProdSourceLabel, Transformation string
	JobPars                                  string // directives stripped
	HomePackage, SwRelease, CmtConfig        string
	ContainerName, ResourceType, Cloud       string
	Nucleus, DestinationSE, SourceSite       string
	ProcessingType, TransferType, ProdUserID string
	LogFile, LogGUID, AltStageOut, CredName  string
	MyProxy, Secrets, PilotSecrets           string
	WriteToFile                              string
	CloneJob, SchedulerIP, SessionIP         string

	CoreCount       int // >= 1 (the server sends 1 for NULL; 0 or unset become 1)
	AttemptNr       int
	NSent           int
	CurrentPriority int64 // may be negative
	MinRamCount     int64 // MB
	MaxDiskCount    int64 // MB
	MaxCpuCount     int64 // s, 0 = unset
	MaxWalltime     int64 // s, 0 = unset

	Debug, EventService, EventServiceMerge, NoExecStrCnv, UseVP, IsHPO bool
	PutLogToOS, UsePrefetcher, InFilePosEvtNum, OnSiteMerging          bool
	LoopingCheck                                                       bool // true unless the server sent loopingCheck=false

	AllowNoOutput []string

	// MultiStep holds the multi-step keys (preprocess, postprocess, coprocess,
	// containerOptions) whose value is a JSON object or a Python dict literal, e.g.
	// {"command": ..., "args": ...}.
	MultiStep map[string]map[string]any

	Inputs  []FileSpec
	Outputs []FileSpec // data outputs only, in outFiles order
	Log     FileSpec

	Directives Directives
	Raw        map[string]string // every received field, string form, as received
}

// IsUnset reports whether a received field value means "not set": "", "NULL", "None" or
// "null" (surrounding white space ignored).
func IsUnset(v string) bool {
	switch strings.TrimSpace(v) {
	case "", "NULL", "None", "null":
		return true
	}
	return false
}

// Scalar field tables: the single place that names the wire keys of the typed Job fields.
var (
	stringFields = []struct {
		key string
		p   func(*Job) *string
	}{
		{"jobName", func(j *Job) *string { return &j.JobName }},
		{"prodSourceLabel", func(j *Job) *string { return &j.ProdSourceLabel }},
		{"transformation", func(j *Job) *string { return &j.Transformation }},
		{"homepackage", func(j *Job) *string { return &j.HomePackage }},
		{"swRelease", func(j *Job) *string { return &j.SwRelease }},
		{"cmtConfig", func(j *Job) *string { return &j.CmtConfig }},
		{"container_name", func(j *Job) *string { return &j.ContainerName }},
		{"resource_type", func(j *Job) *string { return &j.ResourceType }},
		{"cloud", func(j *Job) *string { return &j.Cloud }},
		{"nucleus", func(j *Job) *string { return &j.Nucleus }},
		{"destinationSE", func(j *Job) *string { return &j.DestinationSE }},
		{"sourceSite", func(j *Job) *string { return &j.SourceSite }},
		{"processingType", func(j *Job) *string { return &j.ProcessingType }},
		{"transferType", func(j *Job) *string { return &j.TransferType }},
		{"prodUserID", func(j *Job) *string { return &j.ProdUserID }},
		{"logFile", func(j *Job) *string { return &j.LogFile }},
		{"logGUID", func(j *Job) *string { return &j.LogGUID }},
		{"altStageOut", func(j *Job) *string { return &j.AltStageOut }},
		{"credname", func(j *Job) *string { return &j.CredName }},
		{"myproxy", func(j *Job) *string { return &j.MyProxy }},
		{"secrets", func(j *Job) *string { return &j.Secrets }},
		{"pilotSecrets", func(j *Job) *string { return &j.PilotSecrets }},
		{"writeToFile", func(j *Job) *string { return &j.WriteToFile }},
		{"cloneJob", func(j *Job) *string { return &j.CloneJob }},
		{"scheduler_ip", func(j *Job) *string { return &j.SchedulerIP }},
		{"session_ip", func(j *Job) *string { return &j.SessionIP }},
	}
	int64Fields = []struct {
		key      string
		p        func(*Job) *int64
		min, max int64
	}{
		{"PandaID", func(j *Job) *int64 { return &j.PandaID }, 0, 1<<63 - 1},
		{"jobsetID", func(j *Job) *int64 { return &j.JobsetID }, 0, 1<<63 - 1},
		{"taskID", func(j *Job) *int64 { return &j.TaskID }, 0, 1<<63 - 1},
		{"jobDefinitionID", func(j *Job) *int64 { return &j.JobDefinitionID }, 0, 1<<63 - 1},
		{"reqID", func(j *Job) *int64 { return &j.ReqID }, 0, 1<<63 - 1},
		{"currentPriority", func(j *Job) *int64 { return &j.CurrentPriority }, -1 << 62, 1 << 62},
		{"minRamCount", func(j *Job) *int64 { return &j.MinRamCount }, 0, 1 << 40},
		{"maxDiskCount", func(j *Job) *int64 { return &j.MaxDiskCount }, 0, 1 << 40},
		{"maxCpuCount", func(j *Job) *int64 { return &j.MaxCpuCount }, 0, 1 << 40},
		{"maxWalltime", func(j *Job) *int64 { return &j.MaxWalltime }, 0, 1 << 40},
	}
	intFields = []struct {
		key      string
		p        func(*Job) *int
		min, max int64
	}{
		{"coreCount", func(j *Job) *int { return &j.CoreCount }, 0, 1 << 20},
		{"attemptNr", func(j *Job) *int { return &j.AttemptNr }, 0, 1 << 30},
		{"nSent", func(j *Job) *int { return &j.NSent }, 0, 1 << 30},
	}
	boolFields = []struct {
		key string
		p   func(*Job) *bool
	}{
		{"debug", func(j *Job) *bool { return &j.Debug }},
		{"eventService", func(j *Job) *bool { return &j.EventService }},
		{"eventServiceMerge", func(j *Job) *bool { return &j.EventServiceMerge }},
		{"noExecStrCnv", func(j *Job) *bool { return &j.NoExecStrCnv }},
		{"useVP", func(j *Job) *bool { return &j.UseVP }},
		{"isHPO", func(j *Job) *bool { return &j.IsHPO }},
		{"putLogToOS", func(j *Job) *bool { return &j.PutLogToOS }},
		{"usePrefetcher", func(j *Job) *bool { return &j.UsePrefetcher }},
		{"inFilePosEvtNum", func(j *Job) *bool { return &j.InFilePosEvtNum }},
		{"onSiteMerging", func(j *Job) *bool { return &j.OnSiteMerging }},
	}
	multiStepKeys = []string{"preprocess", "postprocess", "coprocess", "containerOptions"}
)

// fieldError returns a *PilotError with code naming the field.
func fieldError(code ErrorCode, key, format string, args ...any) *PilotError {
	return Errorf(code, "field %q: "+format, append([]any{key}, args...)...)
}

// parseIntValue parses an integer field leniently in form (surrounding spaces, "12.0") and
// strictly in meaning (integral, within [min, max]). Unset values give 0.
func parseIntValue(key, v string, min, max int64) (int64, error) {
	return parseIntCode(ConversionFailure, key, v, min, max)
}

// parseIntCode is parseIntValue with the error code chosen by the caller.
func parseIntCode(code ErrorCode, key, v string, min, max int64) (int64, error) {
	if IsUnset(v) {
		return 0, nil
	}
	t := strings.TrimSpace(v)
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(t, 64)
		if ferr != nil || math.IsNaN(f) || f < -9.2e18 || f > 9.2e18 || f != float64(int64(f)) {
			return 0, fieldError(code, key, "%q is not an integer", cutForDiag(v))
		}
		n = int64(f)
	}
	if n < min || n > max {
		return 0, fieldError(code, key, "%d is out of range [%d, %d]", n, min, max)
	}
	return n, nil
}

// stringValue returns a string field with surrounding white space removed, "" when unset.
func stringValue(v string) string {
	if IsUnset(v) {
		return ""
	}
	return strings.TrimSpace(v)
}

// parseBoolValue parses a flag: "True"/"true"/"1"/"yes"/"on" are true, unset values and
// "False"/"false"/"0"/"no"/"off" are false (case-insensitive); anything else is an error.
func parseBoolValue(key, v string) (bool, error) {
	if IsUnset(v) {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "y", "on":
		return true, nil
	case "false", "0", "no", "n", "off":
		return false, nil
	}
	return false, fieldError(ConversionFailure, key, "%q is not a boolean", cutForDiag(v))
}

// splitList splits a comma-separated per-file list; an unset value is the empty list and each
// element has surrounding white space removed (an element may itself be unset, e.g. "NULL").
func splitList(v string) []string {
	if IsUnset(v) {
		return nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// item returns element i of list as a set value, or "" when missing or unset.
func item(list []string, i int) string {
	if i < len(list) && !IsUnset(list[i]) {
		return list[i]
	}
	return ""
}

// JobFromFields builds a Job from the string fields of a getJob answer or job file.
//
// Values "", "NULL", "None", "null" and missing keys mean unset. String fields are taken with
// surrounding white space removed (jobPars is kept as received apart from the directives;
// Raw always keeps the received text). Integer fields accept
// integral decimal text ("12", "12.0"); a non-integral or out-of-range value is a
// ConversionFailure naming the field, as is a flag that is not a boolean. PandaID must be set
// (> 0). f is copied into Job.Raw unchanged.
//
// Files (PROTOCOL.md §2.4):
//   - Input i is built from element i of inFiles, GUID, fsize, checksum, scopeIn,
//     realDatasetsIn, prodDBlockToken, ddmEndPointIn. Unset LFNs and repeated LFNs are
//     skipped. GUID, fsize, checksum and scopeIn must have exactly len(inFiles) elements when
//     set (NotSameLength naming the field); the other input lists may be shorter (missing
//     elements are unset).
//   - outFiles lists the data outputs and the log; the log is the element equal to logFile.
//     scopeOut holds the scopes of the data outputs only, so it must have len(outFiles)-1
//     elements when the log is among outFiles and len(outFiles) otherwise; realDatasets and
//     ddmEndPointOut, when set, must have len(outFiles) elements (len(outFiles)+1 when the log
//     is not among outFiles: the extra last element is the log's). destinationDBlockToken and
//     prodDBlockTokenForOutput may be shorter.
//   - When logFile is set but not among outFiles (seen in hand-edited samples), every outFiles
//     element is a data output and the log is still built from logFile, logGUID and scopeLog.
//     If then scopeOut has exactly len(outFiles)-1 elements (the server counted one element
//     as the log), the last data output takes scopeLog as its scope.
//   - Every LFN must pass ValidateLFN; repeated output LFNs are BadOutputFileName; sizes must
//     be integers in [0, MaxFileSize] (ConversionFailure naming "fsize"); checksums must parse
//     with ParseChecksum; each list may have at most MaxFilesPerJob elements.
//
// jobPars is stored in JobPars with the directives of PROTOCOL.md §2.5 removed; they are
// returned in Directives (a malformed --overwriteQueueData/--overwriteStorageData dict or an
// unterminated <ZIP_MAP> is a ConversionFailure naming jobPars). All values must be valid UTF-8.
// Errors are *PilotError.
func JobFromFields(f map[string]string) (*Job, error) {
	j := &Job{Raw: make(map[string]string, len(f))}
	for k, v := range f {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fieldError(ConversionFailure, strings.ToValidUTF8(k, "?"), "value is not valid UTF-8")
		}
		j.Raw[k] = v
	}
	if err := j.decodeScalars(f); err != nil {
		return nil, err
	}
	if j.PandaID <= 0 {
		return nil, fieldError(NotDefined, "PandaID", "job has no PandaID")
	}
	in, out, log, err := decodeFiles(f)
	if err != nil {
		return nil, err
	}
	j.Inputs, j.Outputs, j.Log = in, out, log
	return j, nil
}

// decodeScalars fills every non-file field of j from f.
func (j *Job) decodeScalars(f map[string]string) error {
	for _, d := range stringFields {
		*d.p(j) = stringValue(f[d.key])
	}
	for _, d := range int64Fields {
		n, err := parseIntValue(d.key, f[d.key], d.min, d.max)
		if err != nil {
			return err
		}
		*d.p(j) = n
	}
	for _, d := range intFields {
		n, err := parseIntValue(d.key, f[d.key], d.min, d.max)
		if err != nil {
			return err
		}
		*d.p(j) = int(n)
	}
	if j.CoreCount < 1 {
		j.CoreCount = 1
	}
	for _, d := range boolFields {
		b, err := parseBoolValue(d.key, f[d.key])
		if err != nil {
			return err
		}
		*d.p(j) = b
	}
	j.LoopingCheck = true
	if v, ok := f["loopingCheck"]; ok && !IsUnset(v) {
		b, err := parseBoolValue("loopingCheck", v)
		if err != nil {
			return err
		}
		j.LoopingCheck = b
	}
	j.AllowNoOutput = nil
	for _, s := range splitList(f["allowNoOutput"]) {
		if !IsUnset(s) {
			j.AllowNoOutput = append(j.AllowNoOutput, s)
		}
	}
	j.MultiStep = nil
	for _, k := range multiStepKeys {
		v := f[k]
		if IsUnset(v) {
			continue
		}
		m, err := decodeDictValue(v)
		if err != nil {
			return fieldError(ConversionFailure, k, "not a dict: %v", err)
		}
		if j.MultiStep == nil {
			j.MultiStep = map[string]map[string]any{}
		}
		j.MultiStep[k] = m
	}
	pars, dir, err := parseDirectives(f["jobPars"])
	if err != nil {
		return err
	}
	j.JobPars, j.Directives = pars, dir
	return nil
}

// decodeDictValue decodes a dict received as JSON text or as a Python dict literal.
func decodeDictValue(v string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err == nil && m != nil {
		return m, nil
	}
	x, err := ParsePythonLiteral(v)
	if err != nil {
		return nil, err
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("value is a %T", x)
	}
	return m, nil
}

// checkLen returns NotSameLength naming key when list is set and its length is not one of want.
func checkLen(key string, list []string, want ...int) error {
	if len(list) == 0 || slices.Contains(want, len(list)) {
		return nil
	}
	return fieldError(NotSameLength, key, "has %d elements, expected %d", len(list), want[0])
}

// decodeFiles builds inputs, data outputs and the log from the per-file lists of f.
func decodeFiles(f map[string]string) (inputs, outputs []FileSpec, log FileSpec, err error) {
	lists := map[string][]string{}
	for _, k := range []string{"inFiles", "GUID", "fsize", "checksum", "scopeIn", "realDatasetsIn",
		"prodDBlockToken", "ddmEndPointIn", "outFiles", "scopeOut", "realDatasets", "ddmEndPointOut",
		"destinationDBlockToken", "prodDBlockTokenForOutput"} {
		if n := strings.Count(f[k], ","); n >= MaxFilesPerJob {
			return nil, nil, FileSpec{}, fieldError(ConversionFailure, k, "more than %d elements", MaxFilesPerJob)
		}
		lists[k] = splitList(f[k])
	}

	// Inputs.
	inFiles := lists["inFiles"]
	for _, k := range []string{"GUID", "fsize", "checksum", "scopeIn"} {
		if err := checkLen(k, lists[k], len(inFiles)); err != nil {
			return nil, nil, FileSpec{}, err
		}
	}
	seen := make(map[string]bool, len(inFiles))
	if len(inFiles) > 0 {
		inputs = make([]FileSpec, 0, len(inFiles))
	}
	for i, lfn := range inFiles {
		if IsUnset(lfn) || seen[lfn] {
			continue
		}
		if err := ValidateLFN(lfn); err != nil {
			return nil, nil, FileSpec{}, fieldWrap("inFiles", err)
		}
		seen[lfn] = true
		fs := FileSpec{Kind: Input, LFN: lfn,
			GUID:            item(lists["GUID"], i),
			Scope:           item(lists["scopeIn"], i),
			Dataset:         item(lists["realDatasetsIn"], i),
			DDMEndpoint:     item(lists["ddmEndPointIn"], i),
			ProdDBlockToken: item(lists["prodDBlockToken"], i),
		}
		if fs.Size, err = parseIntValue("fsize", item(lists["fsize"], i), 0, MaxFileSize); err != nil {
			return nil, nil, FileSpec{}, err
		}
		if c := item(lists["checksum"], i); c != "" {
			if fs.Checksum, err = ParseChecksum(c); err != nil {
				return nil, nil, FileSpec{}, fieldWrap("checksum", err)
			}
		}
		inputs = append(inputs, fs)
	}

	// Outputs and log.
	outFiles := lists["outFiles"]
	logFile := strings.TrimSpace(f["logFile"])
	if IsUnset(logFile) {
		logFile = ""
	}
	logIdx := -1
	for i, lfn := range outFiles {
		if logFile != "" && lfn == logFile && logIdx < 0 {
			logIdx = i
		}
	}
	nData := len(outFiles)
	if logIdx >= 0 {
		nData--
	}
	scopeOut := lists["scopeOut"]
	if len(scopeOut) == 0 && nData == 1 && strings.TrimSpace(f["scopeOut"]) != "" {
		scopeOut = []string{""} // a single unset scope ("NULL")
	}
	scopeLog := strings.TrimSpace(f["scopeLog"])
	if IsUnset(scopeLog) {
		scopeLog = ""
	}
	lastTakesScopeLog := false
	if len(scopeOut) != nData {
		if logIdx < 0 && logFile != "" && nData > 0 && len(scopeOut) == nData-1 {
			lastTakesScopeLog = true
		} else if nData > 0 || len(scopeOut) > 0 {
			return nil, nil, FileSpec{}, fieldError(NotSameLength, "scopeOut",
				"has %d elements, expected %d (outFiles has %d elements, log among them: %v)",
				len(scopeOut), nData, len(outFiles), logIdx >= 0)
		}
	}
	perOut := []int{len(outFiles)}
	if logIdx < 0 && logFile != "" {
		perOut = append(perOut, len(outFiles)+1)
	}
	for _, k := range []string{"realDatasets", "ddmEndPointOut"} {
		if err := checkLen(k, lists[k], perOut...); err != nil {
			return nil, nil, FileSpec{}, err
		}
	}
	outSeen := make(map[string]bool, len(outFiles))
	if len(outFiles) > 0 {
		outputs = make([]FileSpec, 0, len(outFiles))
	}
	si := 0
	for i, lfn := range outFiles {
		if err := ValidateLFN(lfn); err != nil {
			return nil, nil, FileSpec{}, fieldWrap("outFiles", err)
		}
		if outSeen[lfn] {
			return nil, nil, FileSpec{}, fieldError(BadOutputFileName, "outFiles", "file name %q appears twice", lfn)
		}
		outSeen[lfn] = true
		fs := FileSpec{Kind: Output, LFN: lfn,
			Dataset:                item(lists["realDatasets"], i),
			DDMEndpoint:            item(lists["ddmEndPointOut"], i),
			DestinationDBlockToken: item(lists["destinationDBlockToken"], i),
			ProdDBlockToken:        item(lists["prodDBlockTokenForOutput"], i),
		}
		if i == logIdx {
			fs.Kind, fs.Scope, fs.GUID = Log, scopeLog, logGUIDOf(f)
			log = fs
			continue
		}
		if si < len(scopeOut) {
			fs.Scope = item(scopeOut, si)
			si++
		} else if lastTakesScopeLog {
			fs.Scope = scopeLog
		}
		outputs = append(outputs, fs)
	}
	if logFile != "" && logIdx < 0 {
		if err := ValidateLFN(logFile); err != nil {
			return nil, nil, FileSpec{}, fieldWrap("logFile", err)
		}
		if outSeen[logFile] {
			return nil, nil, FileSpec{}, fieldError(BadOutputFileName, "logFile", "file name %q appears twice", logFile)
		}
		n := len(outFiles)
		log = FileSpec{Kind: Log, LFN: logFile, Scope: scopeLog, GUID: logGUIDOf(f),
			Dataset:                item(lists["realDatasets"], n),
			DDMEndpoint:            item(lists["ddmEndPointOut"], n),
			DestinationDBlockToken: item(lists["destinationDBlockToken"], n),
			ProdDBlockToken:        item(lists["prodDBlockTokenForOutput"], n),
		}
	}
	if len(inputs) == 0 {
		inputs = nil
	}
	if len(outputs) == 0 {
		outputs = nil
	}
	return inputs, outputs, log, nil
}

func logGUIDOf(f map[string]string) string {
	if v := strings.TrimSpace(f["logGUID"]); !IsUnset(v) {
		return v
	}
	return ""
}

// fieldWrap prefixes a PilotError's diag with the field name, keeping its code. The wrapped
// PilotError, whose text the new diag repeats, gives way to its own cause.
func fieldWrap(key string, err error) error {
	code := CodeOf(err)
	cause := err
	if pe, ok := err.(*PilotError); ok && pe != nil {
		cause = pe.Err
	}
	return &PilotError{Code: code, Diag: FormatDiag(code, fmt.Sprintf("field %q: %s", key, nestedDiag(err))), Err: cause}
}

// Image returns the container image of the job: the --containerImage directive, else
// container_name, else "".
func (j *Job) Image() string {
	if j.Directives.ContainerImage != "" {
		return j.Directives.ContainerImage
	}
	return j.ContainerName
}

// Files returns pointers to all files of the job: inputs, outputs, then the log (when it has
// an LFN). The pointers alias the job's slices, so updates through them are visible in j.
func (j *Job) Files() []*FileSpec {
	out := make([]*FileSpec, 0, len(j.Inputs)+len(j.Outputs)+1)
	for i := range j.Inputs {
		out = append(out, &j.Inputs[i])
	}
	for i := range j.Outputs {
		out = append(out, &j.Outputs[i])
	}
	if j.Log.LFN != "" {
		out = append(out, &j.Log)
	}
	return out
}

// IsAnalysis reports whether the job is a user analysis job: its transformation is an http://
// or https:// URL (case-insensitive scheme).
func (j *Job) IsAnalysis() bool {
	t := strings.ToLower(strings.TrimSpace(j.Transformation))
	return strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://")
}

// Validate checks the invariants JobFromFields establishes, for jobs built or changed by
// hand: PandaID > 0, CoreCount >= 1, non-negative counts and limits, at most MaxFilesPerJob
// inputs and outputs, valid and unique LFNs (inputs among themselves; outputs and log among
// themselves), sizes within [0, MaxFileSize], checksums of a known type with a well-formed
// value, and file kinds matching their slice. Errors are *PilotError naming the field.
func (j *Job) Validate() error {
	if j == nil {
		return Errorf(NotDefined, "no job")
	}
	if j.PandaID <= 0 {
		return fieldError(NotDefined, "PandaID", "must be > 0, got %d", j.PandaID)
	}
	if j.CoreCount < 1 {
		return fieldError(ConversionFailure, "coreCount", "must be >= 1, got %d", j.CoreCount)
	}
	for _, c := range []struct {
		key string
		v   int64
	}{{"jobsetID", j.JobsetID}, {"taskID", j.TaskID}, {"jobDefinitionID", j.JobDefinitionID},
		{"reqID", j.ReqID}, {"attemptNr", int64(j.AttemptNr)}, {"nSent", int64(j.NSent)},
		{"minRamCount", j.MinRamCount}, {"maxDiskCount", j.MaxDiskCount},
		{"maxCpuCount", j.MaxCpuCount}, {"maxWalltime", j.MaxWalltime}} {
		if c.v < 0 {
			return fieldError(ConversionFailure, c.key, "must be >= 0, got %d", c.v)
		}
	}
	if len(j.Inputs) > MaxFilesPerJob {
		return fieldError(ConversionFailure, "inFiles", "more than %d elements", MaxFilesPerJob)
	}
	if len(j.Outputs) > MaxFilesPerJob {
		return fieldError(ConversionFailure, "outFiles", "more than %d elements", MaxFilesPerJob)
	}
	check := func(key string, want FileKind, fs *FileSpec, seen map[string]bool) error {
		if fs.Kind != want {
			return fieldError(ConversionFailure, key, "file %q has kind %v, expected %v", fs.LFN, fs.Kind, want)
		}
		if err := ValidateLFN(fs.LFN); err != nil {
			return fieldWrap(key, err)
		}
		if seen[fs.LFN] {
			return fieldError(BadOutputFileName, key, "file name %q appears twice", fs.LFN)
		}
		seen[fs.LFN] = true
		if fs.Size < 0 || fs.Size > MaxFileSize {
			return fieldError(ConversionFailure, "fsize", "size %d of %q is out of range [0, %d]", fs.Size, fs.LFN, MaxFileSize)
		}
		if !fs.Checksum.IsZero() {
			if _, err := ParseChecksum(fs.Checksum.String()); err != nil || fs.Checksum.Value != strings.ToLower(fs.Checksum.Value) ||
				(fs.Checksum.Type == Adler32 && len(fs.Checksum.Value) != 8) {
				return fieldError(UnknownChecksumType, "checksum", "file %q has invalid checksum %+v", fs.LFN, fs.Checksum)
			}
		}
		return nil
	}
	seen := map[string]bool{}
	for i := range j.Inputs {
		if err := check("inFiles", Input, &j.Inputs[i], seen); err != nil {
			return err
		}
	}
	seen = map[string]bool{}
	for i := range j.Outputs {
		if err := check("outFiles", Output, &j.Outputs[i], seen); err != nil {
			return err
		}
	}
	if j.Log.LFN != "" || j.LogFile != "" {
		if j.Log.LFN != j.LogFile {
			return fieldError(ConversionFailure, "logFile", "log file %q does not match logFile %q", j.Log.LFN, j.LogFile)
		}
		if err := check("logFile", Log, &j.Log, seen); err != nil {
			return err
		}
	}
	return nil
}
