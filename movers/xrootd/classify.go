package xrootd

import (
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/toolrun"
)

// rules returns the translation table, tried in order; the first pattern found in the
// output decides. The order follows Pilot 3's translation of transfer-tool output.
func rules() []toolrun.Rule {
	r := func(pattern string, code func(string) jobdef.ErrorCode, retry bool) toolrun.Rule {
		return toolrun.Rule{All: []string{pattern}, Code: code, Retryable: retry}
	}
	noSpace := toolrun.ByOp(jobdef.NoLocalSpace, jobdef.NoRemoteSpace)
	return []toolrun.Rule{
		r("checksum error", toolrun.AdlerMismatch, true),
		r("checksum mismatch", toolrun.AdlerMismatch, true),
		r("failed xrdadler32", toolrun.AdlerMismatch, true),
		r("file exists", toolrun.Fixed(jobdef.FileExists), false),
		r("no such file or directory", toolrun.ByOp(jobdef.MissingInputFile, jobdef.NoSuchFile), false),
		r("query chksum is not supported", toolrun.Fixed(jobdef.ChksumNotSup), false),
		r("could not establish context", toolrun.Fixed(jobdef.NoProxy), false),
		r("auth failed", toolrun.Auth, false),
		r("cannot authenticate", toolrun.Auth, false),
		r("no space left on device", noSpace, false),
		r("not enough space", noSpace, false),
		r("operation expired", movers.TimeoutCode, true),
		r("timed out", movers.TimeoutCode, true),
		r("timeout", movers.TimeoutCode, true),
		r("service is not available", toolrun.Fixed(jobdef.ServiceNotAvailable), true),
		r("network is unreachable", toolrun.Fixed(jobdef.UnreachableNetwork), true),
		r("server responded with an error", toolrun.Fixed(jobdef.XrdcpError), true),
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
	return toolrun.Classify(rules(), op, output)
}
