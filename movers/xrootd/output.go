package xrootd

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers/internal/toolrun"
)

// PrintedChecksum is what "xrdcp --cksum <type>:print" reports for a copy.
type PrintedChecksum struct {
	Checksum jobdef.Checksum // type as printed (lower case), value normalised
	Target   string          // the file the checksum is about (the destination)
	Size     int64
}

// ParsePrinted finds the line "<type>: <hex> <target> <size>" that xrdcp prints with
// "--cksum <type>:print" (e.g. "adler32: 4e7a35c7 /tmp/f 5000000"; xrdcp drops leading
// zeros, "adler32: 1 ... 0") and returns it, adler32 values padded to 8 digits. ok is false
// when no such line is present.
func ParsePrinted(output string) (p PrintedChecksum, ok bool) {
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		typ := strings.ToLower(strings.TrimSuffix(f[0], ":"))
		if typ == "" || !isHex(f[1]) {
			continue
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || size < 0 {
			continue
		}
		val, valid := normalize(jobdef.ChecksumType(typ), f[1])
		if !valid {
			continue
		}
		p = PrintedChecksum{Checksum: jobdef.Checksum{Type: jobdef.ChecksumType(typ), Value: val}, Target: f[2], Size: size}
		ok = true
	}
	return p, ok
}

// ParseQueryChecksum parses the answer of "xrdfs <host> query checksum <path>":
// "<type> <hex>" (e.g. "adler32 4e7a35c7"), adler32 values padded to 8 digits.
func ParseQueryChecksum(output string) (jobdef.Checksum, error) {
	for _, line := range strings.Split(output, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !isHex(f[1]) {
			continue
		}
		typ := jobdef.ChecksumType(strings.ToLower(f[0]))
		if val, ok := normalize(typ, f[1]); ok {
			return jobdef.Checksum{Type: typ, Value: val}, nil
		}
	}
	return jobdef.Checksum{}, fmt.Errorf("no checksum in xrdfs output %q", toolrun.Clip(output, 200))
}

// normalize lower-cases a hex value and pads adler32 to 8 digits; it refuses an adler32
// value longer than 8 digits.
func normalize(t jobdef.ChecksumType, v string) (string, bool) {
	v = strings.ToLower(v)
	if t == jobdef.Adler32 {
		if len(v) > 8 {
			return "", false
		}
		v = strings.Repeat("0", 8-len(v)) + v
	}
	return v, true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
