package jobdef

import (
	"errors"
	"strings"
	"testing"
)

// A parse error that wraps another keeps one code in its text and names the
// field that is wrong.
func TestNestedDiagnostics(t *testing.T) {
	cases := []struct {
		name, in string
		parse    func([]byte) error
		code     ErrorCode
		words    []string
	}{
		{"escaped non-UTF-8 field in a job file", "PandaID=1&jobPars=caf%E9",
			func(b []byte) error { _, err := ParseJobFile(b); return err }, ConversionFailure, []string{`"jobPars"`, "UTF-8"}},
		{"escaped non-UTF-8 field in an answer", "StatusCode=0&PandaID=1&jobName=%ff",
			func(b []byte) error { _, err := ParseGetJobResponse(b); return err }, CommunicationFailure, []string{`"jobName"`, "UTF-8"}},
		{"null in a jobs list", `{"StatusCode": 0, "jobs": [null]}`,
			func(b []byte) error { _, err := ParseGetJobResponse(b); return err }, CommunicationFailure, []string{"jobs[0]", "null"}},
		{"300-byte input name: the sizes survive the cut to 256 bytes", "PandaID=1&inFiles=" + strings.Repeat("n", 300),
			func(b []byte) error { _, err := ParseJobFile(b); return err }, LFNTooLong, []string{`"inFiles"`, "300 bytes", "at most 255"}},
		{"bad checksum field", "PandaID=1&inFiles=a&checksum=zz:1",
			func(b []byte) error { _, err := ParseJobFile(b); return err }, UnknownChecksumType, []string{`"checksum"`, "zz"}},
	}
	for _, c := range cases {
		err := c.parse([]byte(c.in))
		if CodeOf(err) != c.code {
			t.Errorf("%s: code %v, want %v (%v)", c.name, CodeOf(err), c.code, err)
			continue
		}
		msg := err.Error()
		if n := strings.Count(msg, "("+c.code.String()+")"); n != 1 {
			t.Errorf("%s: the code appears %d times in %q", c.name, n, msg)
		}
		if n := strings.Count(msg, c.code.Message()); n != 1 {
			t.Errorf("%s: the standard message appears %d times in %q", c.name, n, msg)
		}
		for _, w := range c.words {
			if !strings.Contains(DiagOf(err), w) {
				t.Errorf("%s: diag %q lacks %q", c.name, DiagOf(err), w)
			}
		}
	}
}

// Error skips a wrapped PilotError already spelled out in the diag, but keeps
// that error's own cause.
func TestErrorSkipsRepeatedCause(t *testing.T) {
	inner := NewError(NoSuchFile, "job file x", errors.New("open x: permission denied"))
	outer := fieldWrap("jobFile", inner)
	msg := outer.Error()
	if strings.Count(msg, "(1103 NOSUCHFILE)") != 1 || !strings.Contains(msg, "permission denied") || !strings.Contains(msg, `"jobFile"`) {
		t.Errorf("Error() = %q", msg)
	}
	other := NewError(StageOutFailed, "copy failed", NewError(NoSuchFile, "elsewhere", nil))
	if msg := other.Error(); !strings.Contains(msg, "elsewhere (1103 NOSUCHFILE)") {
		t.Errorf("an unrelated PilotError cause is dropped: %q", msg)
	}
}
