package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServerProcess is a `pandalite serve` process started by StartProcess.
type ServerProcess struct {
	// URL is the server's base URL.
	URL string

	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// lockedBuffer is a bytes.Buffer safe to write from the exec copier and
// read from elsewhere.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartProcess runs `bin serve --db dbPath` on a free port of 127.0.0.1
// (bin is a pandalite binary) with the given extra serve flags, and
// returns once it listens, or an error if it does not within a minute.
// The process is told to die with the calling thread's process (Linux
// parent-death signal). Stop it with Stop.
func StartProcess(ctx context.Context, bin, dbPath string, extra ...string) (*ServerProcess, error) {
	addrFile := filepath.Join(filepath.Dir(dbPath), filepath.Base(dbPath)+".addr")
	_ = os.Remove(addrFile)
	args := append([]string{"serve", "--db", dbPath, "--addr", "127.0.0.1:0", "--addr-file", addrFile}, extra...)
	cmd := exec.Command(bin, args...)
	p := &ServerProcess{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Once the server has exited, do not wait long for its stderr: a
	// descendant could hold it open.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: start %s: %w", bin, err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			p.URL = strings.TrimSpace(string(b))
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("loadgen: %s serve exited: %v: %s", bin, p.err, p.stderr.String())
		case <-ctx.Done():
			p.kill()
			return nil, fmt.Errorf("loadgen: waiting for the server: %w", context.Cause(ctx))
		case <-deadline.C:
			p.kill()
			return nil, fmt.Errorf("loadgen: %s serve did not listen within a minute: %s", bin, p.stderr.String())
		case <-tick.C:
		}
	}
}

// kill ends the process this package started and waits for it.
func (p *ServerProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Stop asks the server to stop (SIGTERM), waits for it (killing it after
// a minute) and returns the CPU time (user + system) it used in all.
func (p *ServerProcess) Stop() (time.Duration, error) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.kill()
		return 0, fmt.Errorf("loadgen: stop server: %w", err)
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
		return 0, errors.New("loadgen: server did not stop within a minute of SIGTERM")
	}
	cpu := p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	if p.err != nil {
		return cpu, fmt.Errorf("loadgen: server: %v: %s", p.err, p.stderr.String())
	}
	return cpu, nil
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
