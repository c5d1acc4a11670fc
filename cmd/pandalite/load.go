package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/internal/loadgen"
	"github.com/gopilot/gopilot/internal/pandalite"
	"github.com/gopilot/gopilot/pilot/server"
)

// cmdLoad runs load rounds: for each pilot count, submit the jobs, run
// that many simulated pilots until no job is left, verify through the
// store, and print one table row.
func cmdLoad(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "", stderr)
	url := fs.String("url", "", "base URL of a running pandalite (needs --db, its database); default: a fresh server per round on 127.0.0.1")
	db := fs.String("db", "", "with --url: the server's database (jobs are submitted and checked there)")
	pilots := fs.String("pilots", "10,100,500", "comma-separated pilot counts, one round each")
	jobs := fs.Int("jobs", 0, "jobs per round (default: 20 per pilot, at least 2000)")
	api := fs.String("api", "legacy", "server API of the pilots: legacy or v1")
	form := fs.Bool("form", false, "legacy pilots use the curl path (form bodies, JSON answers)")
	site := fs.String("site", loadgen.DefaultSite, "site the jobs are submitted to and the pilots ask for")
	inProcess := fs.Bool("in-process", false, "run each round's server inside this process (default: a `pandalite serve` child, whose CPU time is measured)")
	serverBin := fs.String("server-bin", "", "pandalite binary to run as the child server (default: this program), e.g. to compare versions")
	serveFlags := fs.StringArray("serve-flag", nil, "extra flag for the child server, e.g. --serve-flag=--log-level=info (repeatable)")
	logLevel := fs.String("log-level", "warning", "log level of the load generator and of an in-process server (stderr)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if (*url == "") != (*db == "") {
		return fmt.Errorf("%w: --url and --db go together", errUsage)
	}
	if (*url != "" || *inProcess) && (len(*serveFlags) > 0 || *serverBin != "") {
		return fmt.Errorf("%w: --serve-flag and --server-bin need a child server (no --url, no --in-process)", errUsage)
	}
	if *url != "" && *inProcess {
		return fmt.Errorf("%w: --url excludes --in-process", errUsage)
	}
	counts, err := parseCounts(*pilots)
	if err != nil {
		return fmt.Errorf("%w: --pilots: %v", errUsage, err)
	}
	a, err := server.ParseAPI(*api)
	if err != nil || a == server.Auto {
		return fmt.Errorf("%w: --api %q: want legacy or v1", errUsage, *api)
	}
	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	logger := logrus.New()
	logger.SetOutput(stderr)
	logger.SetLevel(lvl)
	if os.Getenv("GOGC") == "" {
		// The simulated pilots share one heap, and their wire client makes
		// a gzip compressor (hundreds of kB) per request: collect garbage
		// less often so that this process's collector does not dominate the
		// measurement. A child server keeps the default.
		debug.SetGCPercent(400)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var st *pandalite.Store
	var dir, self string
	if *url != "" {
		if _, err := os.Stat(*db); err != nil {
			return err
		}
		if st, err = pandalite.Open(ctx, *db); err != nil {
			return err
		}
		defer st.Close()
	} else {
		if dir, err = os.MkdirTemp("", "pandalite-load-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		self = *serverBin
		if !*inProcess && self == "" {
			if self, err = os.Executable(); err != nil {
				return fmt.Errorf("finding this program to start the server: %w", err)
			}
		}
	}

	var rounds []*loadgen.Round
	failed := false
	for _, n := range counts {
		m := *jobs
		if m <= 0 {
			m = max(20*n, 2000)
		}
		cfg := loadgen.Config{URL: *url, Site: *site, Pilots: n, API: a, FormEncoding: *form, Log: logger}
		var r *loadgen.Round
		switch {
		case st != nil:
			prefix := fmt.Sprintf("load.%s.n%d", time.Now().UTC().Format("20060102T150405.000"), n)
			r, err = loadgen.RunRound(ctx, st, cfg, m, prefix)
		case *inProcess:
			r, err = loadgen.RunLocalRound(ctx, dir, cfg, m, logger)
		default:
			flags := append([]string{"--log-level", "warning"}, *serveFlags...)
			r, err = loadgen.RunProcessRound(ctx, self, dir, cfg, m, flags...)
		}
		if err != nil {
			return err
		}
		rounds = append(rounds, r)
		if !r.Check.OK() || r.Result.Errors > 0 {
			failed = true
			for _, e := range r.Result.FirstErrors {
				fmt.Fprintf(stderr, "pandalite load: %d pilots: %s\n", n, e)
			}
			for _, p := range r.Check.Problems {
				fmt.Fprintf(stderr, "pandalite load: %d pilots: %s\n", n, p)
			}
		}
	}
	if err := loadgen.WriteTable(stdout, rounds); err != nil {
		return err
	}
	if failed {
		return errors.New("errors, double dispatch or lost updates (see above)")
	}
	return nil
}

// parseCounts parses "10,100,500".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
