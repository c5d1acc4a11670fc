package timedcmd

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

const sampleStat = "8921 (cat) R 8919 8919 4812 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 122488 3133440 414 18446744073709551615 93891375288320 93891375308201 140735370385184 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 93891375324208 93891375325824 93891445334016 140735370386114 140735370386134 140735370386134 140735370387435 0\n"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want procStat
		ok   bool
	}{
		{"plain", sampleStat, procStat{pid: 8921, ppid: 8919, pgid: 8919, sid: 4812, state: 'R', start: 122488}, true},
		{"name with spaces and parens", strings.Replace(sampleStat, "(cat)", "(a) Z 1 2 (b c)", 1),
			procStat{pid: 8921, ppid: 8919, pgid: 8919, sid: 4812, state: 'R', start: 122488}, true},
		{"zombie", strings.Replace(sampleStat, ") R ", ") Z ", 1),
			procStat{pid: 8921, ppid: 8919, pgid: 8919, sid: 4812, state: 'Z', start: 122488}, true},
		{"empty", "", procStat{}, false},
		{"no name", "8921 R 1 2 3", procStat{}, false},
		{"short", "8921 (cat) R 8919 8919 4812 0", procStat{}, false},
		{"bad pid", "x (cat)" + sampleStat[10:], procStat{}, false},
		{"negative ppid", strings.Replace(sampleStat, "R 8919", "R -5", 1), procStat{}, false},
		{"long state", strings.Replace(sampleStat, ") R ", ") RR ", 1), procStat{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReadOwnStat(t *testing.T) {
	var sr statReader
	st, err := sr.read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.pid != os.Getpid() || st.ppid != os.Getppid() || st.start == 0 || st.dead() {
		t.Errorf("own stat %+v", st)
	}
	table, err := scanProcs()
	if err != nil {
		t.Fatal(err)
	}
	scanned := table.byPid[os.Getpid()]
	scanned.state = st.state // running or sleeping, whichever it was at the time
	if scanned != st {
		t.Errorf("scan has %+v, direct read %+v", scanned, st)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(sampleStat))
	f.Add([]byte("1 ((() R 0 0 0"))
	f.Add([]byte(strings.Replace(sampleStat, "(cat)", "(x) y)", 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err != nil {
			return
		}
		if st.pid <= 0 || st.ppid < 0 || st.pgid < 0 || st.sid < 0 {
			t.Errorf("accepted %+v from %q", st, b)
		}
	})
}

func TestFdinfoPid(t *testing.T) {
	tests := []struct {
		in   string
		pid  int
		isOK bool
	}{
		{"pos:\t0\nflags:\t02000002\nmnt_id:\t4\nino:\t41379\nPid:\t8923\nNSpid:\t8923\n", 8923, true},
		{"pos:\t0\nPid:\t-1\n", 0, false},
		{"pos:\t0\nflags:\t0100000\n", 0, false},
		{"Pid:x\n", 0, false},
	}
	for _, tc := range tests {
		pid, ok := fdinfoPid([]byte(tc.in))
		if pid != tc.pid && tc.isOK || ok != tc.isOK {
			t.Errorf("fdinfoPid(%q) = %d, %v", tc.in, pid, ok)
		}
	}
}

func FuzzFdinfoPid(f *testing.F) {
	f.Add([]byte("Pid:\t8923\n"))
	f.Add([]byte("Pid:\t-1\nNSpid:\t1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pid, ok := fdinfoPid(b); ok && pid <= 0 {
			t.Errorf("accepted pid %d", pid)
		}
	})
}

func TestParsePids(t *testing.T) {
	got := parsePids([]byte("12\n\n 7 \nx\n-3\n0\n99999\n"))
	if want := []int{12, 7, 99999}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzParsePids(f *testing.F) {
	f.Add([]byte("1\n2\n3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pid := range parsePids(b) {
			if pid <= 0 {
				t.Errorf("accepted pid %d", pid)
			}
		}
	})
}

func TestUnescapeMount(t *testing.T) {
	tests := map[string]string{
		`/sys/fs/cgroup`:       "/sys/fs/cgroup",
		`/mnt/with\040space`:   "/mnt/with space",
		`/trailing\04`:         `/trailing\04`,
		`/bad\999`:             `/bad\999`,
		`/tab\011and\134slash`: "/tab\tand\\slash",
	}
	for in, want := range tests {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTailBuffer compares the tail with the end of everything written, for
// many write splits.
func TestTailBuffer(t *testing.T) {
	for _, n := range []int{1, 7, 64} {
		for _, chunk := range []int{1, 3, 7, 63, 64, 65, 200} {
			t.Run(fmt.Sprintf("n%d/chunk%d", n, chunk), func(t *testing.T) {
				tb := newTail(n)
				var all bytes.Buffer
				for i := range 500 {
					p := bytes.Repeat([]byte{byte('a' + i%26)}, 1+(i*7)%chunk)
					tb.Write(p)
					all.Write(p)
					want := all.Bytes()[max(0, all.Len()-n):]
					if got := tb.bytes(); !bytes.Equal(got, want) {
						t.Fatalf("after %d writes: %q, want %q", i+1, got, want)
					}
				}
			})
		}
	}
}

func TestCapWriter(t *testing.T) {
	path := t.TempDir() + "/out"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &capWriter{f: f, max: 10}
	for _, s := range []string{"abc", "defg", "hijkl", "mno"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v: must never fail", s, n, err)
		}
	}
	if got := readFile(t, path); got != "abcdefghij" || !w.wasTruncated() {
		t.Errorf("file %q truncated %v", got, w.wasTruncated())
	}
	f.Close()
	if n, err := w.Write([]byte("x")); n != 1 || err != nil {
		t.Errorf("Write on a closed file = %d, %v: must never fail", n, err)
	}
}
