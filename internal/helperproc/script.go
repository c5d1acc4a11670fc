package helperproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// treeFanout is the number of subtrees each node of a "tree" step starts.
const treeFanout = 4

// exitScriptError is the status of a helper whose script is malformed.
const exitScriptError = 112

// step is one parsed script step.
type step struct {
	name   string
	arg    string   // the step's word argument, if it takes one
	nested []string // the nested script, for spawn, run and tree
}

// parseScript splits words into steps. It reports the first malformed step.
func parseScript(words []string) ([]step, error) {
	var steps []step
	for i := 0; i < len(words); {
		s := step{name: words[i]}
		i++
		switch s.name {
		case "cat", "closeout", "report", "setsid", "stamp":
		case "exit", "raise", "sleep", "ignore", "cpu", "print", "eprint", "write", "ewrite":
			if i >= len(words) {
				return nil, fmt.Errorf("step %q needs an argument", s.name)
			}
			s.arg = words[i]
			i++
		case "tree":
			if i >= len(words) {
				return nil, fmt.Errorf("step %q needs a size", s.name)
			}
			s.arg = words[i]
			i++
			fallthrough
		case "spawn", "run":
			nested, next, err := bracketed(words, i)
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", s.name, err)
			}
			s.nested, i = nested, next
		default:
			return nil, fmt.Errorf("unknown step %q", s.name)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// bracketed returns the words between the "[" at words[i] and its matching
// "]", and the index after the "]".
func bracketed(words []string, i int) ([]string, int, error) {
	if i >= len(words) || words[i] != "[" {
		return nil, 0, fmt.Errorf("expected [")
	}
	depth := 0
	for j := i; j < len(words); j++ {
		switch words[j] {
		case "[":
			depth++
		case "]":
			depth--
			if depth == 0 {
				return words[i+1 : j], j + 1, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("unbalanced [")
}

// runScript interprets words and returns the exit status.
func runScript(words []string) int {
	steps, err := parseScript(words)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helperproc: %v\n", err)
		return exitScriptError
	}
	in := &interp{report: reportFile()}
	defer runtime.KeepAlive(in.report)
	for _, s := range steps {
		if code, done := in.runStep(s); done {
			return code
		}
	}
	return 0
}

// interp runs steps. It holds the one *os.File for the report descriptor:
// a second one would close the descriptor when collected.
type interp struct {
	report *os.File // nil when there is no report descriptor
}

// runStep runs one step. done reports that the script ends with status code.
func (in *interp) runStep(s step) (code int, done bool) {
	fail := func(err error) (int, bool) {
		fmt.Fprintf(os.Stderr, "helperproc: %s: %v\n", s.name, err)
		return exitScriptError, true
	}
	switch s.name {
	case "exit":
		n, err := strconv.Atoi(s.arg)
		if err != nil {
			return fail(err)
		}
		return n, true
	case "raise":
		sig, err := parseSignal(s.arg)
		if err != nil {
			return fail(err)
		}
		raise(sig)
	case "sleep":
		if s.arg == "forever" {
			sleepForever()
		}
		d, err := time.ParseDuration(s.arg)
		if err != nil {
			return fail(err)
		}
		time.Sleep(d)
	case "ignore":
		sig, err := parseSignal(s.arg)
		if err != nil {
			return fail(err)
		}
		signal.Ignore(sig)
	case "cpu":
		d, err := time.ParseDuration(s.arg)
		if err != nil {
			return fail(err)
		}
		burn(d)
	case "print", "eprint":
		n, err := strconv.Atoi(s.arg)
		if err != nil {
			return fail(err)
		}
		out := os.Stdout
		if s.name == "eprint" {
			out = os.Stderr
		}
		w := bufio.NewWriter(out)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
		if err := w.Flush(); err != nil {
			return fail(err)
		}
	case "stamp":
		fmt.Fprintln(os.Stdout, time.Now().UnixNano())
	case "write":
		fmt.Fprintln(os.Stdout, s.arg)
	case "ewrite":
		fmt.Fprintln(os.Stderr, s.arg)
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			return fail(err)
		}
	case "closeout":
		if err := closeOutput(); err != nil {
			return fail(err)
		}
	case "report":
		if err := in.writeReport(); err != nil {
			return fail(err)
		}
	case "setsid":
		// A process group leader (a command's leader) cannot make a new
		// session; it stays where it is.
		if _, err := unix.Setsid(); err != nil && err != unix.EPERM {
			return fail(err)
		}
	case "spawn", "run":
		p, err := in.spawn(s.nested)
		if err != nil {
			return fail(err)
		}
		if s.name == "run" {
			_, _ = p.Wait()
		} else {
			_ = p.Release()
		}
	case "tree":
		n, err := strconv.Atoi(s.arg)
		if err != nil || n < 1 {
			return fail(fmt.Errorf("bad size %q", s.arg))
		}
		if err := in.tree(n, s.nested); err != nil {
			return fail(err)
		}
		sleepForever()
	}
	return 0, false
}

// tree runs pre, then starts subtrees holding n-1 processes in all.
func (in *interp) tree(n int, pre []string) error {
	for _, s := range mustParse(pre) {
		if code, done := in.runStep(s); done {
			return fmt.Errorf("nested script ended with status %d", code)
		}
	}
	rest := n - 1
	k := min(treeFanout, rest)
	for i := range k {
		size := rest / k
		if i < rest%k {
			size++
		}
		words := append([]string{"tree", strconv.Itoa(size), "["}, pre...)
		words = append(words, "]")
		p, err := in.spawn(words)
		if err != nil {
			return err
		}
		_ = p.Release()
	}
	return nil
}

func mustParse(words []string) []step {
	steps, err := parseScript(words)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helperproc: %v\n", err)
		os.Exit(exitScriptError)
	}
	return steps
}

// spawn starts a copy of this binary running script. The child inherits
// stdin, stdout, stderr, the environment and the report descriptor (as 3).
func (in *interp) spawn(script []string) (*os.Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	env := os.Environ()
	if in.report != nil {
		files = append(files, in.report)
		env = setEnv(env, EnvReportFD, "3")
	}
	return os.StartProcess(exe, append([]string{exe}, script...), &os.ProcAttr{Env: env, Files: files})
}

// reportFile returns the report descriptor, or nil when there is none.
func reportFile() *os.File {
	v, ok := os.LookupEnv(EnvReportFD)
	if !ok {
		return nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), "report")
}

func (in *interp) writeReport() error {
	f := in.report
	if f == nil {
		return nil
	}
	// One write of a short line into a pipe is atomic, so reports from
	// many processes never interleave.
	_, err := unix.Write(int(f.Fd()), []byte(strconv.Itoa(os.Getpid())+"\n"))
	return err
}

// closeOutput points stdout and stderr at /dev/null, dropping this
// process's hold on whatever they were.
func closeOutput() error {
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(null)
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(null, fd); err != nil {
			return err
		}
	}
	return nil
}

// raise makes the process die by sig: default disposition, no core file.
func raise(sig syscall.Signal) {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	if sig != unix.SIGKILL && sig != unix.SIGSTOP {
		// An all-zero kernel sigaction is SIG_DFL with no flags and an empty
		// mask, whatever the architecture's field order. The Go runtime has
		// no public way to restore SIG_DFL.
		var act [4]uint64
		_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		if errno != 0 {
			fmt.Fprintf(os.Stderr, "helperproc: rt_sigaction: %v\n", errno)
		}
	}
	_ = unix.Kill(os.Getpid(), sig)
	sleepForever()
}

func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// burn spins until this process has used d of CPU time (user plus
// system), however loaded the machine is.
func burn(d time.Duration) {
	x := uint64(1)
	for cpuTime() < d {
		for range 100000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 42 {
		fmt.Fprintln(os.Stderr, "improbable")
	}
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 1<<63 - 1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sleepForever blocks for good. A bare select{} would trip the runtime's
// deadlock detector when no other goroutine exists.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}
