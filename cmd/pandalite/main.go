// Command pandalite is a small PanDA-compatible job server with its jobs
// in SQLite: it serves the legacy /server/panda API of Pilot 3 and the
// /api/v1 pilot API, plus queue, storage and transformation files, and
// has subcommands to submit jobs, list them, kill them and place input
// files. See README.md.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/gopilot/gopilot/internal/pandalite"
)

const usage = `usage: pandalite <command> [flags] [args]

commands:
  serve     run the job server
  submit    load job definitions (JSON files) into the database
  status    list the jobs
  kill      kill a job (its next update answers tobekilled)
  debug     switch a job's debug mode on or off
  put-file  copy a local file into a file:// RSE at its Rucio path
  load      run many simulated pilots against a server and print a table

Run "pandalite <command> --help" for the flags of a command.
The database defaults to $PANDALITE_DB, else ./pandalite.db.
`

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage error")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"serve": cmdServe, "submit": cmdSubmit, "status": cmdStatus, "kill": cmdKill,
		"debug": cmdDebug, "put-file": cmdPutFile, "load": cmdLoad,
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "pandalite: unknown command %q\n\n%s", name, usage)
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "pandalite %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "pandalite %s: %v\n", name, err)
		return 1
	}
}

func defaultDB() string {
	if v := os.Getenv("PANDALITE_DB"); v != "" {
		return v
	}
	return "pandalite.db"
}

// newFlags returns a flag set for a subcommand that reports its errors
// through the returned error.
func newFlags(name, argsUsage string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pandalite %s [flags] %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func cmdServe(args []string, _, stderr io.Writer) error {
	fs := newFlags("serve", "", stderr)
	db := fs.String("db", defaultDB(), "SQLite job database (created if missing)")
	addr := fs.String("addr", "127.0.0.1:25080", "listen address; port 0 picks a free port")
	addrFile := fs.String("addr-file", "", "write the server's base URL (e.g. http://127.0.0.1:41234) to this file once listening")
	queues := fs.StringArray("queue", nil, "queue description JSON (repeatable); served as /cache/schedconfig/<nickname>.all.json and .json")
	storage := fs.String("storage", "", "storage description JSON, served as /cache/ddmendpoints.json")
	trfDir := fs.String("trf-dir", "", "directory served under /trf/ (transformations)")
	cert := fs.String("tls-cert", "", "server certificate (PEM); with --tls-key serves HTTPS")
	key := fs.String("tls-key", "", "server key (PEM)")
	anyLabel := fs.Bool("any-label", false, "hand out jobs whatever prodSourceLabel the pilot asks with")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warning, error")
	logJSON := fs.Bool("log-json", false, "log as JSON lines")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if (*cert == "") != (*key == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}

	logger := logrus.New()
	logger.SetOutput(stderr)
	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	logger.SetLevel(lvl)
	if *logJSON {
		logger.SetFormatter(&logrus.JSONFormatter{})
	}

	opts := pandalite.Options{TrfDir: *trfDir, AnyLabel: *anyLabel, Log: logger}
	for _, path := range *queues {
		q, err := pandalite.LoadQueue(path)
		if err != nil {
			return err
		}
		opts.Queues = append(opts.Queues, q)
	}
	if *storage != "" {
		if opts.Storage, err = pandalite.LoadStorage(*storage); err != nil {
			return err
		}
	}
	if *trfDir != "" {
		if st, err := os.Stat(*trfDir); err != nil || !st.IsDir() {
			return fmt.Errorf("--trf-dir %s is not a directory", *trfDir)
		}
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	store, err := pandalite.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()

	var tc *tls.Config
	if *cert != "" {
		if tc, err = pandalite.TLSConfig(*cert, *key); err != nil {
			return err
		}
	}
	in, err := pandalite.Start(pandalite.NewServer(store, opts), *addr, tc, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pandalite: listening on %s\n", in.URL)
	if *addrFile != "" {
		if err := writeFileAtomic(*addrFile, []byte(in.URL+"\n")); err != nil {
			_ = in.Shutdown(context.Background())
			return err
		}
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeoutCause(context.Background(), 10*time.Second, errors.New("shutdown grace of 10 s exceeded"))
	defer cancel()
	if err := in.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so a reader never sees a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func openStore(db string) (*pandalite.Store, context.Context, context.CancelFunc, error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	store, err := pandalite.Open(ctx, db)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return store, ctx, stop, nil
}

func cmdSubmit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("submit", "JOB.json...", stderr)
	db := fs.String("db", defaultDB(), "SQLite job database (created if missing)")
	site := fs.String("site", "", "computingSite for jobs that name none (computingSite, else siteName)")
	unchecked := fs.Bool("unchecked", false, "store jobs without validating their fields (to test pilots against malformed jobs)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no job file given", errUsage)
	}
	var jobs []pandalite.Object
	for _, path := range fs.Args() {
		var data []byte
		var err error
		if path == "-" {
			data, err = io.ReadAll(io.LimitReader(os.Stdin, pandalite.MaxBodySize+1))
		} else {
			data, err = os.ReadFile(path)
		}
		if err != nil {
			return err
		}
		js, err := pandalite.ParseJobs(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		jobs = append(jobs, js...)
	}
	store, ctx, stop, err := openStore(*db)
	if err != nil {
		return err
	}
	defer stop()
	defer store.Close()
	submit := store.Submit
	if *unchecked {
		submit = store.SubmitUnchecked
	}
	ids, err := submit(ctx, *site, jobs...)
	if err != nil {
		return err
	}
	for _, id := range ids {
		fmt.Fprintln(stdout, id)
	}
	return nil
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "", stderr)
	db := fs.String("db", defaultDB(), "SQLite job database")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if _, err := os.Stat(*db); err != nil {
		return err
	}
	store, ctx, stop, err := openStore(*db)
	if err != nil {
		return err
	}
	defer stop()
	defer store.Close()
	jobs, err := store.Jobs(ctx)
	if err != nil {
		return err
	}
	return pandalite.WriteStatus(stdout, jobs, *asJSON)
}

func pandaIDArg(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %q is not a PandaID", errUsage, s)
	}
	return id, nil
}

func cmdKill(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kill", "PANDAID", stderr)
	db := fs.String("db", defaultDB(), "SQLite job database")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want exactly one PANDAID", errUsage)
	}
	id, err := pandaIDArg(fs.Arg(0))
	if err != nil {
		return err
	}
	store, ctx, stop, err := openStore(*db)
	if err != nil {
		return err
	}
	defer stop()
	defer store.Close()
	state, err := store.Kill(ctx, id)
	if err != nil {
		return err
	}
	if state == pandalite.StateCancelled {
		fmt.Fprintf(stdout, "%d cancelled (not yet dispatched)\n", id)
	} else {
		fmt.Fprintf(stdout, "%d %s: its next update answers tobekilled\n", id, state)
	}
	return nil
}

func cmdDebug(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("debug", "PANDAID on|off", stderr)
	db := fs.String("db", defaultDB(), "SQLite job database")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 || (fs.Arg(1) != "on" && fs.Arg(1) != "off") {
		return fmt.Errorf("%w: want PANDAID on|off", errUsage)
	}
	id, err := pandaIDArg(fs.Arg(0))
	if err != nil {
		return err
	}
	store, ctx, stop, err := openStore(*db)
	if err != nil {
		return err
	}
	defer stop()
	defer store.Close()
	if err := store.SetDebug(ctx, id, fs.Arg(1) == "on"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d debug %s\n", id, fs.Arg(1))
	return nil
}

func cmdPutFile(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("put-file", "PATH...", stderr)
	storage := fs.String("storage", "", "storage description JSON (required)")
	rse := fs.String("rse", "", "RSE (DDM endpoint) name (required)")
	scope := fs.String("scope", "", "Rucio scope (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *storage == "" || *rse == "" || *scope == "" || fs.NArg() == 0 {
		return fmt.Errorf("%w: --storage, --rse, --scope and a PATH are required", errUsage)
	}
	data, err := os.ReadFile(*storage)
	if err != nil {
		return err
	}
	for _, path := range fs.Args() {
		p, err := pandalite.PutFile(data, *rse, *scope, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %d %s\n", p.LFN, p.Size, p.Adler32)
	}
	return nil
}
