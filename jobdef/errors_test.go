package jobdef

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCodeTableMatchesDoc checks every row of the error-code document (a copy of
// ERRORCODES.md in testdata) against the table: code, name, message and shell exit.
func TestCodeTableMatchesDoc(t *testing.T) {
	f, err := os.Open("testdata/ERRORCODES.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\| (\d{4}) \| (\w+) \| (.*?) \|\s*(\d*)\s*\|$`)
	var docCodes []ErrorCode
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		c := ErrorCode(n)
		docCodes = append(docCodes, c)
		if !c.Known() {
			t.Errorf("code %d missing from the table", n)
			continue
		}
		if c.Name() != m[2] {
			t.Errorf("code %d: Name() = %q, doc %q", n, c.Name(), m[2])
		}
		if want := strings.ReplaceAll(m[3], "`", ""); c.Message() != want {
			t.Errorf("code %d: Message() = %q, doc %q", n, c.Message(), want)
		}
		wantShell := 1
		if m[4] != "" {
			wantShell, _ = strconv.Atoi(m[4])
		}
		if c.ShellExit() != wantShell {
			t.Errorf("code %d: ShellExit() = %d, doc %d", n, c.ShellExit(), wantShell)
		}
	}
	if len(docCodes) != 147 {
		t.Fatalf("doc rows = %d, want 147", len(docCodes))
	}
	codes := Codes()
	if len(codes) != len(docCodes) {
		t.Fatalf("Codes() has %d entries, doc %d", len(codes), len(docCodes))
	}
	for i := range codes {
		if codes[i] != docCodes[i] {
			t.Errorf("Codes()[%d] = %d, doc %d", i, codes[i], docCodes[i])
		}
		if i > 0 && codes[i] <= codes[i-1] {
			t.Errorf("Codes() not ascending at %d", i)
		}
	}
}

func TestErrorCodeMethods(t *testing.T) {
	tests := []struct {
		code  ErrorCode
		value int
		name  string
		shell int
	}{
		{0, 0, "OK", 0},
		{GeneralError, 1008, "GENERALERROR", 65},
		{NoLocalSpace, 1098, "NOLOCALSPACE", 69},
		{StageInFailed, 1099, "STAGEINFAILED", 1},
		{NoSuchFile, 1103, "NOSUCHFILE", 67},
		{QueueDataError, 1116, "QUEUEDATA", 71},
		{QueueDataNotOK, 1117, "QUEUEDATANOTOK", 72},
		{StageOutFailed, 1137, "STAGEOUTFAILED", 1},
		{PandaKill, 1144, "PANDAKILL", 1},
		{NoProxy, 1163, "NOPROXY", 68},
		{MkdirFailed, 1199, "MKDIR", 66},
		{KillSignal, 1200, "KILLSIGNAL", 137},
		{SigTerm, 1201, "SIGTERM", 143},
		{SigQuit, 1202, "SIGQUIT", 131},
		{SigSegv, 1203, "SIGSEGV", 139},
		{SigXCPU, 1204, "SIGXCPU", 152},
		{SigBus, 1206, "SIGBUS", 135},
		{SigUsr1, 1207, "SIGUSR1", 138},
		{SigInt, 1208, "SIGINT", 130},
		{ReachedMaxTime, 1213, "REACHEDMAXTIME", 81},
		{UnknownException, 1301, "UNKNOWNEXCEPTION", 70},
		{PayloadExecutionFailure, 1305, "PAYLOADEXECUTIONFAILURE", 1},
		{CommunicationFailure, 1318, "COMMUNICATIONFAILURE", 79},
		{MissingInputFile, 1331, "MISSINGINPUTFILE", 77},
		{PandaQueueNotActive, 1359, "PANDAQUEUENOTACTIVE", 78},
		{CVMFSIsNotAlive, 1377, "CVMFSISNOTALIVE", 64},
		{ProxyTooShort, 1382, "PROXYTOOSHORT", 80},
		{NoJobsInPanda, 1385, "NOJOBSINPANDA", 82},
		{PandaQueueNotOnline, 1386, "PANDAQUEUENOTONLINE", 83},
		{ErrorCode(1135), 1135, "UNKNOWN(1135)", 1},
	}
	for _, tc := range tests {
		if int(tc.code) != tc.value {
			t.Errorf("%s = %d, want %d", tc.name, int(tc.code), tc.value)
		}
		if got := tc.code.Name(); got != tc.name {
			t.Errorf("%d.Name() = %q, want %q", tc.value, got, tc.name)
		}
		if got := tc.code.ShellExit(); got != tc.shell {
			t.Errorf("%d.ShellExit() = %d, want %d", tc.value, got, tc.shell)
		}
		if got, want := tc.code.String(), fmt.Sprintf("%d %s", tc.value, tc.name); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if StageInFailed.Message() != "an input file could not be transferred" {
		t.Errorf("StageInFailed.Message() = %q", StageInFailed.Message())
	}
}

func TestNewErrorDiag(t *testing.T) {
	cause := errors.New("connection refused")
	long := strings.Repeat("é", 300) // 2 bytes each
	tests := []struct {
		name     string
		err      *PilotError
		wantDiag string
		wantMax  int
	}{
		{"standard", NewError(StageInFailed, "", nil), "an input file could not be transferred", 0},
		{"specific", NewError(StageInFailed, "xrdcp exit 54", cause), "an input file could not be transferred: xrdcp exit 54", 0},
		{"already prefixed", NewError(StageInFailed, "an input file could not be transferred: x", nil), "an input file could not be transferred: x", 0},
		{"cut", NewError(GeneralError, long, nil), "", MaxDiagLen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantDiag != "" && tc.err.Diag != tc.wantDiag {
				t.Errorf("Diag = %q, want %q", tc.err.Diag, tc.wantDiag)
			}
			if tc.wantMax > 0 {
				if len(tc.err.Diag) > tc.wantMax {
					t.Errorf("len(Diag) = %d > %d", len(tc.err.Diag), tc.wantMax)
				}
				if !strings.HasPrefix(tc.err.Diag, GeneralError.Message()+": é") || !isValidUTF8(tc.err.Diag) {
					t.Errorf("Diag not cut on a rune boundary: %q", tc.err.Diag)
				}
			}
		})
	}
	e := NewError(StageInFailed, "xrdcp exit 54", cause)
	if !errors.Is(e, cause) {
		t.Error("errors.Is(e, cause) = false")
	}
	if got := e.Error(); got != "an input file could not be transferred: xrdcp exit 54 (1099 STAGEINFAILED): connection refused" {
		t.Errorf("Error() = %q", got)
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

func TestErrorfCodeOfDiagOf(t *testing.T) {
	base := &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}
	e := Errorf(NoSuchFile, "reading %s: %w", "/x", base)
	if !errors.Is(e, syscall.ENOENT) {
		t.Error("Errorf does not wrap the %w cause")
	}
	if e.Diag != "a file or directory that was needed does not exist: reading /x: open /x: no such file or directory" {
		t.Errorf("Diag = %q", e.Diag)
	}
	wrapped := fmt.Errorf("outer: %w", e)
	multi := Errorf(GeneralError, "%w and %w", errors.New("a"), errors.New("b"))
	if multi.Err == nil || multi.Err.Error() != "a\nb" {
		t.Errorf("multi %%w cause = %v", multi.Err)
	}
	tests := []struct {
		err  error
		code ErrorCode
		diag string
	}{
		{nil, 0, ""},
		{errors.New("plain"), GeneralError, "plain"},
		{wrapped, NoSuchFile, e.Diag},
		{&PilotError{Code: StageOutFailed}, StageOutFailed, StageOutFailed.Message()},
	}
	for _, tc := range tests {
		if got := CodeOf(tc.err); got != tc.code {
			t.Errorf("CodeOf(%v) = %d, want %d", tc.err, got, tc.code)
		}
		if got := DiagOf(tc.err); got != tc.diag {
			t.Errorf("DiagOf(%v) = %q, want %q", tc.err, got, tc.diag)
		}
	}
}

func TestSignalCodes(t *testing.T) {
	tests := []struct {
		sig        syscall.Signal
		job, pilot ErrorCode
	}{
		{syscall.SIGTERM, 1201, 1201},
		{syscall.SIGQUIT, 1202, 1202},
		{syscall.SIGSEGV, 1203, 1203},
		{syscall.SIGXCPU, 1204, 1204},
		{syscall.SIGBUS, 1206, 1206},
		{syscall.SIGUSR1, 1207, 1207},
		{syscall.SIGINT, 1200, 1208},
		{syscall.SIGKILL, 1200, 1200},
		{syscall.SIGHUP, 1200, 1200},
		{syscall.SIGUSR2, 1200, 1200},
	}
	for _, tc := range tests {
		if got := SignalCode(tc.sig); got != tc.job {
			t.Errorf("SignalCode(%v) = %d, want %d", tc.sig, got, tc.job)
		}
		if got := PilotSignalCode(tc.sig); got != tc.pilot {
			t.Errorf("PilotSignalCode(%v) = %d, want %d", tc.sig, got, tc.pilot)
		}
	}
	// Shell exit codes of the signal errors are 128 + signal number.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGKILL} {
		c := PilotSignalCode(sig)
		if sig == syscall.SIGKILL {
			c = KillSignal
		}
		if got := c.ShellExit(); got != 128+int(sig) {
			t.Errorf("%v: ShellExit = %d, want %d", sig, got, 128+int(sig))
		}
	}
}

func TestTransformErrorCode(t *testing.T) {
	tests := []struct {
		exit int
		want ErrorCode
	}{
		{0, 0}, {1, 1305}, {2, 1378}, {3, 1368}, {65, 1305}, {137, 1305}, {251, 1315}, {-1, 1315},
		{1367, 1367}, {255, 1305}, {-9, 1305},
	}
	for _, tc := range tests {
		if got := TransformErrorCode(tc.exit); got != tc.want {
			t.Errorf("TransformErrorCode(%d) = %d, want %d", tc.exit, got, tc.want)
		}
	}
}
