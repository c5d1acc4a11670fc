package timedcmd_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gopilot/gopilot/timedcmd"
)

// A tool run: argument vector, exact environment, a timeout, and the
// output kept as a bounded tail.
func ExampleRun() {
	res, err := timedcmd.Run(context.Background(), timedcmd.Spec{
		Path:    "/bin/sh",
		Args:    []string{"sh", "-c", "echo copied; echo 'no space left' >&2; exit 3"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Timeout: time.Minute,
	})
	if err != nil {
		fmt.Println("could not start:", err)
		return
	}
	fmt.Printf("exit %d, stdout %q, stderr %q\n", res.ExitCode, res.StdoutTail, res.StderrTail)
	// Output: exit 3, stdout "copied\n", stderr "no space left\n"
}

// A payload run: its own session, a subreaper so that daemons it leaves
// behind are found, and a stop with the reason for it.
func ExampleRunner() {
	r, err := timedcmd.NewRunner(timedcmd.RunnerOptions{Subreaper: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	c, err := r.Start(ctx, timedcmd.Spec{
		Path:       "/bin/sh",
		Args:       []string{"sh", "-c", "(setsid sleep 600 &); sleep 600"},
		Env:        []string{"PATH=/usr/bin:/bin"},
		NewSession: true,
		Grace:      time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	errKilled := errors.New("job killed by the server")
	cancel(errKilled)
	res, _ := c.Wait()
	fmt.Println(res.Signal, errors.Is(res.Cause, errKilled), len(res.Survivors))
	// Output: terminated true 0
}
