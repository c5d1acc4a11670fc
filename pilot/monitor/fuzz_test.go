package monitor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
)

func FuzzParseStat(f *testing.F) {
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"1 (init) S 0 1 1 0 -1 4194560 100 200 3 4 5 6 7 8 20 0 1 0 10 1000 50 18446744073709551615\n",
		"42 (a) b) (c) R 1 42 42 0 -1 0 0 0 0 0 1 2 -3 4 20 0 1 0 99 0 -7",
		"7 () Z 1 7 7",
		"9 (x\ny) D 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21",
		"(nopid) S 1 2 3",
		"-5 (neg) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21",
		"12 (big) S 1 2 3 4 5 6 7 8 9 10 99999999999999999999 12 13 14 15 16 17 18 19 20 21",
		"",
		")(",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err != nil {
			return
		}
		if st.pid <= 0 || st.ppid < 0 || st.pgid < 0 || st.sid < 0 || st.rss < 0 || int(st.commLen) > len(st.comm) {
			t.Fatalf("accepted %q as %+v", b, st)
		}
		if st.state == ' ' || st.state == '\n' {
			t.Fatalf("state %q from %q", st.state, b)
		}
	})
}

// FuzzStatRoundTrip formats a stat line from fuzzed values and checks that
// parseStat returns them, whatever the command name holds.
func FuzzStatRoundTrip(f *testing.F) {
	f.Add(1, "bash", byte('S'), 0, 1, 1, int64(5), int64(6), int64(7), int64(8), int64(100), int64(4000))
	f.Add(4242, "we ird) (name", byte('R'), 1, 4242, 4242, int64(0), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, pid int, comm string, state byte, ppid, pgid, sid int, ut, stt, cut, cst, start, rss int64) {
		if pid <= 0 || pid > 1<<30 || ppid < 0 || pgid < 0 || sid < 0 || ppid > 1<<30 || pgid > 1<<30 || sid > 1<<30 {
			return
		}
		if state <= ' ' || state == '(' || state == ')' || state >= 0x7f || len(comm) > 15 || bytes.ContainsAny([]byte(comm), "\x00") {
			return
		}
		for _, v := range []int64{ut, stt, cut, cst, start, rss} {
			if v < 0 || v > 1e17 {
				return
			}
		}
		line := fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 4194304 10 0 0 0 %d %d %d %d 20 0 1 0 %d 1234567 %d 18446744073709551615 1 1\n",
			pid, comm, state, ppid, pgid, sid, ut, stt, cut, cst, start, rss)
		st, err := parseStat([]byte(line))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got := fmt.Sprint(st.pid, string(st.comm[:st.commLen]), st.state, st.ppid, st.pgid, st.sid, st.utime, st.stime, st.cutime, st.cstime, st.start, st.rss)
		want := fmt.Sprint(pid, comm, state, ppid, pgid, sid, ut, stt, cut, cst, start, rss)
		if got != want {
			t.Fatalf("%q:\n got %s\nwant %s", line, got, want)
		}
	})
}

func FuzzParseSmapsRollup(f *testing.F) {
	if b, err := os.ReadFile("/proc/self/smaps_rollup"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"00400000-7ffd0000 ---p 00000000 00:00 0  [rollup]\nRss:  100 kB\nPss:  50 kB\nPss_Anon:  20 kB\n",
		"Pss:",
		"Pss: -5 kB\n",
		"Rss: 1 kB\nPss: 123456789012345678901234 kB",
		"Pss:\t7\tkB",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rss, pss, ok := parseSmapsRollup(b)
		if ok && (rss < 0 || pss < 0) {
			t.Fatalf("%q: rss %d pss %d", b, rss, pss)
		}
		if ok && !bytes.Contains(b, []byte("Pss:")) {
			t.Fatalf("%q accepted without a Pss line", b)
		}
	})
}

func FuzzParseBootTime(f *testing.F) {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("cpu 1 2\nbtime 1700000000\n"))
	f.Add([]byte("btime -1\n"))
	f.Add([]byte("btime \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, ok := parseBootTime(b); ok && v <= 0 {
			t.Fatalf("%q: %d", b, v)
		}
	})
}

func FuzzParsePID(f *testing.F) {
	for _, s := range []string{"1", "4194304", "0", "01", "self", "-1", "99999999999", "1073741824", "1073741825", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parsePID(s)
		n, err := strconv.Atoi(s)
		want := err == nil && n > 0 && n <= 1<<30 && strconv.Itoa(n) == s
		if ok != want || (ok && got != n) {
			t.Fatalf("parsePID(%q) = %d, %v; want %v", s, got, ok, want)
		}
	})
}
