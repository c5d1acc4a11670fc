package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/gopilot/gopilot/pilot"
	"github.com/gopilot/gopilot/pilot/journal"
)

// inspect prints the journal of every job directory in the work directory
// (or of the PandaIDs given): header, state history, payload runs and
// staged files.
func inspect(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("inspect", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	workdir := fs.StringP("workdir", "a", ".", "work directory holding the job directories")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pilot inspect [--workdir DIR] [PANDAID...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	want := map[string]bool{}
	for _, id := range fs.Args() {
		want[pilot.JobDirPrefix+id] = true
	}
	paths, err := journal.Find(*workdir)
	if err != nil {
		fmt.Fprintln(stderr, "pilot inspect:", err)
		return 1
	}
	shown := 0
	for _, p := range paths {
		if len(want) > 0 && !want[filepath.Base(filepath.Dir(p))] {
			continue
		}
		h, err := journal.Replay(p)
		if err != nil {
			fmt.Fprintln(stderr, "pilot inspect:", err)
			continue
		}
		if shown > 0 {
			fmt.Fprintln(stdout)
		}
		if err := journal.Render(stdout, h); err != nil {
			fmt.Fprintln(stderr, "pilot inspect:", err)
			return 1
		}
		shown++
	}
	if shown == 0 {
		fmt.Fprintln(stderr, "pilot inspect: no job journal found in", *workdir)
		return 1
	}
	return 0
}
