package xrootd

import (
	"strings"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

// rule maps a substring of a tool's output (matched case-insensitively) to a code.
type rule struct {
	pattern   string
	code      func(op string) jobdef.ErrorCode
	retryable bool
}

func fixed(c jobdef.ErrorCode) func(string) jobdef.ErrorCode {
	return func(string) jobdef.ErrorCode { return c }
}

func byOp(get, put jobdef.ErrorCode) func(string) jobdef.ErrorCode {
	return func(op string) jobdef.ErrorCode {
		if op == movers.OpPut {
			return put
		}
		return get
	}
}

func adlerMismatch(op string) jobdef.ErrorCode { return movers.MismatchCode(op, jobdef.Adler32) }

// rules returns the translation table, tried in order; the first pattern found in the
// output decides. The order follows Pilot 3's translation of transfer-tool output.
func rules() []rule {
	return []rule{
		{"checksum error", adlerMismatch, true},
		{"checksum mismatch", adlerMismatch, true},
		{"failed xrdadler32", adlerMismatch, true},
		{"file exists", fixed(jobdef.FileExists), false},
		{"no such file or directory", byOp(jobdef.MissingInputFile, jobdef.NoSuchFile), false},
		{"query chksum is not supported", fixed(jobdef.ChksumNotSup), false},
		{"could not establish context", fixed(jobdef.NoProxy), false},
		{"auth failed", byOp(jobdef.StageInAuthenticationFailure, jobdef.StageOutAuthenticationFailure), false},
		{"cannot authenticate", byOp(jobdef.StageInAuthenticationFailure, jobdef.StageOutAuthenticationFailure), false},
		{"no space left on device", byOp(jobdef.NoLocalSpace, jobdef.NoRemoteSpace), false},
		{"not enough space", byOp(jobdef.NoLocalSpace, jobdef.NoRemoteSpace), false},
		{"operation expired", movers.TimeoutCode, true},
		{"timed out", movers.TimeoutCode, true},
		{"timeout", movers.TimeoutCode, true},
		{"service is not available", fixed(jobdef.ServiceNotAvailable), true},
		{"network is unreachable", fixed(jobdef.UnreachableNetwork), true},
		{"server responded with an error", fixed(jobdef.XrdcpError), true},
	}
}

// Classify returns the PanDA code for a failed xrdcp or xrdfs run of operation op
// (movers.OpGet or movers.OpPut) from its output, and whether another attempt may succeed:
// checksum errors 1171/1172, "File exists" 1221, "No such file or directory" 1331 (get) or
// 1103 (put), unsupported checksum query 1242, "Could not establish context" 1163,
// authentication failures 1338/1383, no space 1098/1333, timeouts 1151/1152, "service is
// not available" 1324, "Network is unreachable" 1327, "Server responded with an error"
// 1362, and anything else 1099/1137 (retryable).
func Classify(op, output string) (jobdef.ErrorCode, bool) {
	low := strings.ToLower(output)
	for _, r := range rules() {
		if strings.Contains(low, r.pattern) {
			return r.code(op), r.retryable
		}
	}
	return movers.GenericCode(op), true
}
