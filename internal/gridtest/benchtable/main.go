// Command benchtable measures the grid movers against the bare tools on real servers
// started on 127.0.0.1 (nginx WebDAV, XRootD and Versity S3 Gateway, see internal/gridtest)
// and prints a Markdown table: the davs mover against curl (GET and PUT, nginx), the xrdcp
// mover against bare xrdcp (with and without xrdcp's own adler32), the gfal mover against
// bare gfal-copy and the s3 mover against curl --aws-sigv4, each pair measured in the same
// run on the same file, alternating which goes first. Rates are MB/s (10^6 bytes per
// second), the median of -runs rounds; CPU is the client's user+system time (the mover's
// process and the tools it runs), median too, which other work on the machine disturbs much
// less than the rates. Used by "make bench".
//
//	go run ./internal/gridtest/benchtable -size 256MiB -runs 3 [-only xrdcp]
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/davs"
	"github.com/gopilot/gopilot/movers/gfal"
	"github.com/gopilot/gopilot/movers/s3"
	"github.com/gopilot/gopilot/movers/xrootd"
	"github.com/gopilot/gopilot/timedcmd"
)

func main() {
	sizeFlag := flag.String("size", "256MiB", "file size: bytes or with a unit (KiB, MiB, GiB, KB, MB, GB)")
	runsFlag := flag.Int("runs", 3, "rounds; the table shows the median of each method")
	dirFlag := flag.String("dir", os.TempDir(), "parent directory for the servers and files")
	onlyFlag := flag.String("only", "", "run only the rows whose transfer, tool or mover contains one of these comma-separated texts")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err == nil && size <= 0 {
		err = errors.New("size must be positive")
	}
	if err == nil {
		err = run(context.Background(), size, max(*runsFlag, 1), *dirFlag, *onlyFlag)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// parseSize parses "256MiB", "1GB", "1000" and the like.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	units := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20,
		"G": 1 << 30, "GIB": 1 << 30, "KB": 1e3, "MB": 1e6, "GB": 1e9}
	m, ok := units[strings.ToUpper(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit", s)
	}
	return n * m, nil
}

// randomData returns n incompressible bytes.
func randomData(n int64) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(n))
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// pair is one line of the table: a bare tool and the mover doing the same transfer.
type pair struct {
	what       string
	bare, mvr  string
	bareRun    func(round int) error
	moverRun   func(round int) error
	bareTimes  []time.Duration
	moverTimes []time.Duration
	bareCPU    []time.Duration
	moverCPU   []time.Duration
	skip       string
}

// selected reports whether row contains one of the comma-separated terms of only.
func selected(row, only string) bool {
	for _, term := range strings.Split(only, ",") {
		if term != "" && strings.Contains(row, term) {
			return true
		}
	}
	return false
}

// cpuTime is the user+system time of this process and of its waited-for children.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

func run(ctx context.Context, size int64, runs int, parent, only string) error {
	base, err := os.MkdirTemp(parent, "gridbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		return err
	}
	mk := func(name string) (string, error) {
		d := filepath.Join(base, name)
		return d, os.Mkdir(d, 0o755)
	}
	nginxDir, err := mk("nginx")
	if err != nil {
		return err
	}
	xrdDir, err := mk("xrootd")
	if err != nil {
		return err
	}
	s3Dir, err := mk("s3")
	if err != nil {
		return err
	}
	work, err := mk("work")
	if err != nil {
		return err
	}
	data := randomData(size)
	src := filepath.Join(work, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		return err
	}
	n, err := gridtest.LaunchNginxDAV(gridtest.NginxOptions{Dir: nginxDir})
	if err != nil {
		return err
	}
	defer n.Stop()
	x, err := gridtest.LaunchXrootd(gridtest.XrootdOptions{Dir: xrdDir, NoHTTP: true})
	if err != nil {
		return err
	}
	defer x.Stop()
	s3srv, s3err := gridtest.LaunchS3(ctx, gridtest.S3Options{Dir: s3Dir})
	if s3err == nil {
		defer s3srv.Stop()
		if err := s3srv.WriteFile("bench/in/src.bin", data); err != nil {
			return err
		}
	}
	if err := n.WriteFile("in/src.bin", data); err != nil {
		return err
	}
	if err := x.WriteFile("in/src.bin", data); err != nil {
		return err
	}
	data = nil
	env := append(os.Environ(), "XRD_CONNECTIONWINDOW=10", "XRD_CONNECTIONRETRY=1", "GFAL_PYTHONBIN=/usr/bin/python3")
	tool := func(args ...string) error {
		res, err := timedcmd.Run(ctx, timedcmd.Spec{Path: args[0], Args: args, Env: env})
		if err != nil {
			return err
		}
		if !res.Success() {
			return fmt.Errorf("%s: exit %d: %s", strings.Join(args, " "), res.ExitCode, res.StderrTail)
		}
		return nil
	}
	dst := func(tag string, round int) string { return filepath.Join(work, fmt.Sprintf("%s.%d", tag, round)) }
	mover := func(m movers.Mover, get bool, from, to string) error {
		tr := movers.Transfer{Source: from, Destination: to, Size: size}
		var err error
		if get {
			_, err = m.Get(ctx, tr)
		} else {
			_, err = m.Put(ctx, tr)
		}
		return err
	}
	dm := davs.New(davs.Options{})
	xm := xrootd.New(xrootd.Options{})
	xmt := xrootd.New(xrootd.Options{ToolChecksum: true})
	gm := gfal.New(gfal.Options{})
	nurl := func(p string) string { return n.URL + p }
	xurl := func(p string) string { return x.RootURL + "/" + p }
	var sm *s3.Mover
	var surl, scurl func(p string) string
	var sigv4 []string
	if s3err == nil {
		sm = s3.New(s3.Options{AccessKey: s3srv.AccessKey, SecretKey: s3srv.SecretKey})
		surl = func(p string) string { return "s3://" + s3srv.Endpoint + "/bench" + p }
		scurl = func(p string) string { return s3srv.URL + "/bench" + p }
		sigv4 = []string{"--aws-sigv4", "aws:amz:us-east-1:s3", "--user", s3srv.AccessKey + ":" + s3srv.SecretKey,
			"-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"}
	}
	pairs := []*pair{
		{what: "GET nginx", bare: "curl", mvr: "davs mover (adler32 while streaming)",
			bareRun:  func(r int) error { return tool("curl", "-sSf", "-o", dst("curl-get", r), nurl("/in/src.bin")) },
			moverRun: func(r int) error { return mover(dm, true, nurl("/in/src.bin"), dst("davs-get", r)) }},
		{what: "PUT nginx", bare: "curl -T", mvr: "davs mover (adler32 while streaming)",
			bareRun: func(r int) error {
				return tool("curl", "-sSf", "-o", "/dev/null", "-T", src, nurl(fmt.Sprintf("/out/curl.%d", r)))
			},
			moverRun: func(r int) error { return mover(dm, false, src, nurl(fmt.Sprintf("/out/davs.%d", r))) }},
		{what: "get xrootd", bare: "xrdcp", mvr: "xrdcp mover (xrdcp to a pipe, adler32 in the mover)",
			bareRun:  func(r int) error { return tool("xrdcp", "-np", "-f", xurl("/in/src.bin"), dst("xrdcp-get", r)) },
			moverRun: func(r int) error { return mover(xm, true, xurl("/in/src.bin"), dst("xm-get", r)) }},
		{what: "get xrootd", bare: "xrdcp --cksum adler32:print", mvr: "xrdcp mover, ToolChecksum (--cksum adler32:print)",
			bareRun: func(r int) error {
				return tool("xrdcp", "-np", "-f", "--cksum", "adler32:print", xurl("/in/src.bin"), dst("xrdcpck-get", r))
			},
			moverRun: func(r int) error { return mover(xmt, true, xurl("/in/src.bin"), dst("xm2-get", r)) }},
		{what: "put xrootd", bare: "xrdcp", mvr: "xrdcp mover (file piped into xrdcp, adler32 in the mover vs the server's)",
			bareRun:  func(r int) error { return tool("xrdcp", "-np", "-f", src, xurl(fmt.Sprintf("/out/xrdcp.%d", r))) },
			moverRun: func(r int) error { return mover(xm, false, src, xurl(fmt.Sprintf("/out/xm.%d", r))) }},
		{what: "put xrootd", bare: "xrdcp --cksum adler32:print", mvr: "xrdcp mover, ToolChecksum (xrdcp reads the file)",
			bareRun: func(r int) error {
				return tool("xrdcp", "-np", "-f", "--cksum", "adler32:print", src, xurl(fmt.Sprintf("/out/xrdcpck.%d", r)))
			},
			moverRun: func(r int) error { return mover(xmt, false, src, xurl(fmt.Sprintf("/out/xmt.%d", r))) }},
		{what: "get xrootd", bare: "gfal-copy", mvr: "gfal mover (local adler32 after)",
			bareRun: func(r int) error {
				return tool("gfal-copy", "-f", xurl("/in/src.bin"), movers.FileURL(dst("gfal-get", r)))
			},
			moverRun: func(r int) error { return mover(gm, true, xurl("/in/src.bin"), dst("gm-get", r)) }},
		{what: "put xrootd", bare: "gfal-copy", mvr: "gfal mover (adler32 before, -K)",
			bareRun: func(r int) error {
				return tool("gfal-copy", "-f", movers.FileURL(src), xurl(fmt.Sprintf("/out/gfal.%d", r)))
			},
			moverRun: func(r int) error { return mover(gm, false, src, xurl(fmt.Sprintf("/out/gm.%d", r))) }},
		{what: "GET s3", bare: "curl --aws-sigv4", mvr: "s3 mover (adler32 while streaming)",
			bareRun: func(r int) error {
				return tool(append(append([]string{"curl", "-sSf"}, sigv4...), "-o", dst("curl-s3", r), scurl("/in/src.bin"))...)
			},
			moverRun: func(r int) error { return mover(sm, true, surl("/in/src.bin"), dst("s3-get", r)) }},
		{what: "PUT s3", bare: "curl --aws-sigv4 -T", mvr: "s3 mover (adler32 while streaming)",
			bareRun: func(r int) error {
				return tool(append(append([]string{"curl", "-sSf"}, sigv4...), "-o", "/dev/null", "-T", src, scurl(fmt.Sprintf("/out/curl.%d", r)))...)
			},
			moverRun: func(r int) error { return mover(sm, false, src, surl(fmt.Sprintf("/out/s3.%d", r))) }},
	}
	for _, p := range pairs {
		switch {
		case only != "" && !selected(p.what+" "+p.bare+" "+p.mvr, only):
			p.skip = "not selected (-only)"
		case strings.Contains(p.bare, "xrdcp") && gridtest.LookPrograms("xrootd-client", "xrdcp") != nil:
			p.skip = "xrdcp not installed"
		case strings.Contains(p.bare, "gfal") && gm.Check(ctx) != nil:
			p.skip = "gfal tools not installed or not runnable"
		case strings.Contains(p.what, "s3") && s3err != nil:
			p.skip = "no S3 server: " + strings.SplitN(s3err.Error(), "\n", 2)[0]
		}
	}
	for round := range runs {
		for _, p := range pairs {
			if p.skip != "" {
				continue
			}
			// alternate the order so neither side always runs on a warmer cache
			order := []bool{true, false} // bare first
			if round%2 == 1 {
				order = []bool{false, true}
			}
			for _, bare := range order {
				f, times, cpus := p.moverRun, &p.moverTimes, &p.moverCPU
				if bare {
					f, times, cpus = p.bareRun, &p.bareTimes, &p.bareCPU
				}
				cpu0, start := cpuTime(), time.Now()
				if err := f(round); err != nil {
					return fmt.Errorf("%s: %w", p.what, err)
				}
				*times = append(*times, time.Since(start))
				*cpus = append(*cpus, cpuTime()-cpu0)
			}
			cleanLocal(work)
		}
	}
	fmt.Printf("File of %d bytes (%.0f MiB), median of %d rounds, servers on 127.0.0.1; MB/s = 10^6 bytes/s.\n\n",
		size, float64(size)/(1<<20), runs)
	fmt.Println("| transfer | bare tool | MB/s | CPU s | mover | MB/s | CPU s | mover time / bare time |")
	fmt.Println("|---|---|---:|---:|---|---:|---:|---:|")
	for _, p := range pairs {
		if p.skip != "" {
			if only == "" || !strings.HasPrefix(p.skip, "not selected") {
				fmt.Printf("| %s | %s | – | – | %s | – | – | skipped: %s |\n", p.what, p.bare, p.mvr, p.skip)
			}
			continue
		}
		b, m := median(p.bareTimes), median(p.moverTimes)
		fmt.Printf("| %s | %s | %.0f | %.2f | %s | %.0f | %.2f | %.2f (%+.0f %%) |\n", p.what, p.bare, rate(size, b),
			median(p.bareCPU).Seconds(), p.mvr, rate(size, m), median(p.moverCPU).Seconds(),
			m.Seconds()/b.Seconds(), 100*(m.Seconds()/b.Seconds()-1))
	}
	return nil
}

// cleanLocal removes the downloaded files of a round (everything but the source).
func cleanLocal(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "src.bin" {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func rate(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
