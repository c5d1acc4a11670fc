package jobdef

import (
	"fmt"
	"strings"
)

// ChecksumType names a checksum algorithm.
type ChecksumType string

// Checksum algorithms known to PanDA.
const (
	Adler32 ChecksumType = "adler32"
	MD5     ChecksumType = "md5"
)

// Checksum is a typed checksum value. Value is lower-case hex: 8 digits for Adler32, 32 for MD5.
// The zero value means "no checksum".
type Checksum struct {
	Type  ChecksumType
	Value string
}

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
	return fmt.Sprintf("FileKind(%d)", int(k))
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

// Directives are the pilot options found in (and stripped from) jobPars.
type Directives struct {
	OverwriteQueueData   map[string]any
	OverwriteStorageData map[string]any
	ZipMap               string
	ContainerImage       string
	AccessMode           string // "direct" | "copy" | ""
	UseLocalIO           bool
}

// Job is one PanDA job definition as received from getJob or a job file.
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

	CoreCount       int // >= 1
	AttemptNr       int
	NSent           int
	CurrentPriority int64
	MinRamCount     int64 // MB
	MaxDiskCount    int64 // MB
	MaxCpuCount     int64 // s, 0 = unset
	MaxWalltime     int64 // s, 0 = unset

	Debug, EventService, EventServiceMerge, NoExecStrCnv, UseVP, IsHPO bool
	LoopingCheck                                                       bool // true unless the server sent loopingCheck=false

	AllowNoOutput []string

	Inputs  []FileSpec
	Outputs []FileSpec // data outputs only, in outFiles order
	Log     FileSpec

	Directives Directives
	Raw        map[string]string // every received field, string form, as received
}

// ParseChecksum parses a checksum.
func ParseChecksum(s string) (Checksum, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "ad:"):
		return Checksum{Adler32, strings.ToLower(t[3:])}, nil
	case strings.HasPrefix(t, "md5:"):
		return Checksum{MD5, strings.ToLower(t[4:])}, nil
	}
	return Checksum{}, Errorf(UnknownChecksumType, "checksum %q", s)
}

// String returns "ad:<hex>" or "md5:<hex>", or "" for the zero value.
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

// ValidateLFN checks that lfn is a plain file name.
func ValidateLFN(lfn string) error {
	if len(lfn) > 255 {
		return Errorf(LFNTooLong, "file name %q is longer than 255 bytes", lfn)
	}
	if lfn == "" || lfn == "." || strings.ContainsAny(lfn, "/\x00") || strings.Contains(lfn, "..") {
		return Errorf(BadOutputFileName, "file name %q is not a plain file name", lfn)
	}
	return nil
}

// JobFromFields builds a Job from string fields.
func JobFromFields(f map[string]string) (*Job, error) {
	j := &Job{Raw: map[string]string{}, LoopingCheck: true, CoreCount: 1}
	for k, v := range f {
		j.Raw[k] = v
	}
	return j, nil
}

// Fields returns the fields to re-encode the job.
func (j *Job) Fields() map[string]string {
	out := make(map[string]string, len(j.Raw))
	for k, v := range j.Raw {
		out[k] = v
	}
	return out
}

// IsAnalysis reports whether the transformation is a URL (user analysis job).
func (j *Job) IsAnalysis() bool {
	return strings.HasPrefix(j.Transformation, "http://") || strings.HasPrefix(j.Transformation, "https://")
}

// Validate checks the job's invariants.
func (j *Job) Validate() error { return nil }
