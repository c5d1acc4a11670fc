package gfal

import (
	"strings"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/toolrun"
)

// rules returns the translation table, tried in order; the first rule whose patterns all
// occur in the output decides. The order follows Pilot 3's translation of transfer-tool
// output.
func rules() []toolrun.Rule {
	r := func(code func(string) jobdef.ErrorCode, retry bool, all ...string) toolrun.Rule {
		return toolrun.Rule{All: all, Code: code, Retryable: retry}
	}
	return []toolrun.Rule{
		r(toolrun.Fixed(jobdef.ChksumNotSup), false, "checksum", "not supported"),
		r(toolrun.AdlerMismatch, true, "checksum", "mismatch"),
		r(toolrun.AdlerMismatch, true, "checksum", "do not match"),
		r(toolrun.AdlerMismatch, true, "checksum error"),
		r(toolrun.AdlerMismatch, true, "failed xrdadler32"),
		r(toolrun.ByOp(jobdef.GetGlobusSysErr, jobdef.PutGlobusSysErr), true, "globus_xio:"),
		r(toolrun.Fixed(jobdef.FileExists), false, "file exists"),
		r(toolrun.Fixed(jobdef.FileExists), false, "srm_file_busy"),
		r(toolrun.ByOp(jobdef.MissingInputFile, jobdef.NoSuchFile), false, "no such file or directory"),
		r(toolrun.Fixed(jobdef.NoProxy), false, "could not establish context"),
		r(toolrun.Auth, false, "cannot authenticate"),
		r(toolrun.Auth, false, "permission denied"),
		r(toolrun.ByOp(jobdef.NoLocalSpace, jobdef.NoRemoteSpace), false, "no space left on device"),
		r(movers.TimeoutCode, true, "timed out"),
		r(movers.TimeoutCode, true, "timeout"),
		r(movers.TimeoutCode, true, "operation expired"),
		r(toolrun.Fixed(jobdef.ServiceNotAvailable), true, "service is not available"),
		r(toolrun.Fixed(jobdef.UnreachableNetwork), true, "network is unreachable"),
		r(toolrun.Fixed(jobdef.XrdcpError), true, "server responded with an error"),
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
	return toolrun.Classify(rules(), op, output)
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
