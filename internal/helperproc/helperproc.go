// Package helperproc lets a test binary (or any program) re-execute itself
// as a scripted child process, so that tests exercise real processes: slow
// output, ignored signals, double-forked daemons, grandchildren holding
// pipes, process trees of any size.
//
// A program opts in by calling Dispatch first thing in TestMain (or main).
// When the process was started through an Invocation, Dispatch runs the
// requested script or scenario and exits; otherwise it returns at once.
//
// The built-in script interpreter runs a list of steps (see Script). Steps
// that start children re-execute the same binary with the same environment,
// so whole trees can be described in one argument vector.
package helperproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const (
	// EnvSelect names the environment variable that turns a process into
	// a helper. Its value is "script" or the name of an extra scenario.
	EnvSelect = "GOPILOT_HELPERPROC"
	// EnvReportFD names the environment variable holding the descriptor
	// that the "report" step writes "<pid>\n" to. Children started by
	// "spawn", "run" and "tree" inherit it as descriptor 3.
	EnvReportFD = "GOPILOT_HELPERPROC_REPORT_FD"

	scriptSelector = "script"
)

// Func is the body of a named scenario. args are the arguments given after
// the scenario name; the return value is the process exit status.
type Func func(args []string) int

// Scenarios maps scenario names to their bodies.
type Scenarios map[string]Func

// Invocation says how to start a helper: it maps one to one onto the
// fields of an exec.Cmd or a timedcmd.Spec.
type Invocation struct {
	Path string   // the current executable
	Args []string // argv, including argv[0]
	Env  []string // the current environment plus the selector
}

// WithReportFD returns a copy of inv whose environment tells the helper to
// write its reports to descriptor fd (3 for the first extra file).
func (inv Invocation) WithReportFD(fd int) Invocation {
	inv.Env = setEnv(inv.Env, EnvReportFD, strconv.Itoa(fd))
	return inv
}

// WithEnv returns a copy of inv with key=value set in its environment.
func (inv Invocation) WithEnv(key, value string) Invocation {
	inv.Env = setEnv(inv.Env, key, value)
	return inv
}

// Script returns the invocation that runs the built-in interpreter on
// steps. Steps run in order; a step takes a fixed number of words, and a
// nested script is written between "[" and "]".
//
//	exit N            exit with status N
//	raise SIG         die by signal SIG (default action, no core file)
//	sleep D           sleep for D (a Go duration, or "forever")
//	ignore SIG        ignore signal SIG from now on
//	cpu D             burn CPU until the process has used D of CPU time
//	print N           write N numbered lines to stdout ("line 1" .. "line N")
//	eprint N          the same to stderr
//	write TEXT        write TEXT and a newline to stdout
//	ewrite TEXT       write TEXT and a newline to stderr
//	cat               copy stdin to stdout until end of file
//	stamp             write the wall clock in Unix nanoseconds and a newline
//	                  to stdout (for measuring exit latency)
//	closeout          close stdout and stderr
//	report            write "<pid>\n" to the report descriptor, if any
//	setsid            become a session leader, escaping the process group
//	                  (a process group leader stays where it is)
//	spawn [ ... ]     start a child running the nested script; do not wait
//	run [ ... ]       start a child running the nested script and wait for it
//	tree N [ ... ]    become the root of a tree of N processes (this one
//	                  included, fan-out 4); every node runs the nested
//	                  script first, then starts its subtrees, then sleeps
//	                  forever
//
// Signals are given by name without the SIG prefix (TERM, KILL, ...) or by
// number. Children inherit stdin, stdout, stderr and the report descriptor.
func Script(steps ...string) Invocation {
	return invocation(scriptSelector, steps)
}

// Scenario returns the invocation that runs the extra scenario name (as
// passed to Dispatch) with args.
func Scenario(name string, args ...string) Invocation {
	return invocation(name, args)
}

func invocation(selector string, args []string) Invocation {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	argv := append([]string{exe}, args...)
	env := setEnv(os.Environ(), EnvSelect, selector)
	// A binary built with -race sleeps a second at exit unless told not
	// to; helpers are many and short-lived.
	gorace := os.Getenv("GORACE")
	if !strings.Contains(gorace, "atexit_sleep_ms") {
		env = setEnv(env, "GORACE", strings.TrimSpace(gorace+" atexit_sleep_ms=0"))
	}
	return Invocation{Path: exe, Args: argv, Env: env}
}

// Dispatch runs the script or scenario selected by the environment and
// exits with its status, if this process was started as a helper. It
// returns at once otherwise. extra may be nil.
func Dispatch(extra Scenarios) {
	sel, ok := os.LookupEnv(EnvSelect)
	if !ok {
		return
	}
	args := os.Args[1:]
	if sel == scriptSelector {
		os.Exit(runScript(args))
	}
	f, ok := extra[sel]
	if !ok {
		fmt.Fprintf(os.Stderr, "helperproc: unknown scenario %q\n", sel)
		os.Exit(111)
	}
	os.Exit(f(args))
}

// ReadReports reads n report lines ("<pid>\n") from r and returns the pids
// in the order they arrived. It fails if r ends first.
func ReadReports(r *bufio.Reader, n int) ([]int, error) {
	pids := make([]int, 0, n)
	for len(pids) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return pids, fmt.Errorf("helperproc: %d of %d reports before end of input", len(pids), n)
			}
			return pids, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || pid <= 0 {
			return pids, fmt.Errorf("helperproc: bad report line %q", line)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}
