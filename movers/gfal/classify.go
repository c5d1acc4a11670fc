package gfal

import (
	"strings"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

type rule struct {
	all       []string // every one must occur (lower case)
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

// rules returns the translation table, tried in order; the first rule whose patterns all
// occur in the output decides. The order follows Pilot 3's translation of transfer-tool
// output.
func rules() []rule {
	auth := byOp(jobdef.StageInAuthenticationFailure, jobdef.StageOutAuthenticationFailure)
	return []rule{
		{[]string{"checksum", "not supported"}, fixed(jobdef.ChksumNotSup), false},
		{[]string{"checksum", "mismatch"}, adlerMismatch, true},
		{[]string{"checksum", "do not match"}, adlerMismatch, true},
		{[]string{"checksum error"}, adlerMismatch, true},
		{[]string{"failed xrdadler32"}, adlerMismatch, true},
		{[]string{"globus_xio:"}, byOp(jobdef.GetGlobusSysErr, jobdef.PutGlobusSysErr), true},
		{[]string{"file exists"}, fixed(jobdef.FileExists), false},
		{[]string{"srm_file_busy"}, fixed(jobdef.FileExists), false},
		{[]string{"no such file or directory"}, byOp(jobdef.MissingInputFile, jobdef.NoSuchFile), false},
		{[]string{"could not establish context"}, fixed(jobdef.NoProxy), false},
		{[]string{"cannot authenticate"}, auth, false},
		{[]string{"permission denied"}, auth, false},
		{[]string{"no space left on device"}, byOp(jobdef.NoLocalSpace, jobdef.NoRemoteSpace), false},
		{[]string{"timed out"}, movers.TimeoutCode, true},
		{[]string{"timeout"}, movers.TimeoutCode, true},
		{[]string{"operation expired"}, movers.TimeoutCode, true},
		{[]string{"service is not available"}, fixed(jobdef.ServiceNotAvailable), true},
		{[]string{"network is unreachable"}, fixed(jobdef.UnreachableNetwork), true},
		{[]string{"server responded with an error"}, fixed(jobdef.XrdcpError), true},
	}
}

// Classify returns the PanDA code for a failed gfal-* run of operation op (movers.OpGet or
// movers.OpPut) from its output, and whether another attempt may succeed: unsupported
// checksums 1242, checksum mismatches 1171/1172, globus errors 1180/1181, existing files
// 1221, "No such file or directory" 1331 (get) or 1103 (put), "Could not establish
// context" 1163, refused credentials ("Permission denied", "Cannot authenticate")
// 1338/1383, no space 1098/1333, timeouts 1151/1152, "service is not available" 1324,
// "Network is unreachable" 1327, xrootd server errors 1362, anything else 1099/1137
// (retryable).
func Classify(op, output string) (jobdef.ErrorCode, bool) {
	low := strings.ToLower(output)
next:
	for _, r := range rules() {
		for _, p := range r.all {
			if !strings.Contains(low, p) {
				continue next
			}
		}
		return r.code(op), r.retryable
	}
	return movers.GenericCode(op), true
}

// checksumUnsupported reports whether gfal failed because the storage cannot compute the
// requested checksum (e.g. "DESTINATION CHECKSUM checksum calculation for ADLER32 not
// supported", errno 38).
func checksumUnsupported(output string) bool {
	code, _ := Classify(movers.OpPut, output)
	return code == jobdef.ChksumNotSup
}

// ParseSum parses the output of "gfal-sum URL TYPE": a line "<url> <value>". Values are
// lower-cased and adler32 values padded to 8 digits.
func ParseSum(output string, t jobdef.ChecksumType) (jobdef.Checksum, bool) {
	for _, line := range strings.Split(output, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !strings.Contains(f[0], ":") {
			continue
		}
		v := strings.ToLower(f[1])
		if !isHex(v) {
			continue
		}
		if t == jobdef.Adler32 {
			if len(v) > 8 {
				continue
			}
			v = strings.Repeat("0", 8-len(v)) + v
		}
		return jobdef.Checksum{Type: t, Value: v}, true
	}
	return jobdef.Checksum{}, false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}
