package pilot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gopilot/gopilot/timedcmd"
)

// operatorVerb returns the program for a command an operator may ask for
// through the server's back channel; their output goes back in the next
// update's stdout.
func operatorVerb(name string) (string, bool) {
	switch name {
	case "tail":
		return "/usr/bin/tail", true
	case "ls":
		return "/bin/ls", true
	case "ps":
		return "/bin/ps", true
	case "du":
		return "/usr/bin/du", true
	}
	return "", false
}

// ParseOperatorCommand validates an operator command such as
// "tail -30 payload.stdout" and returns its argument vector. Only tail, ls,
// ps and du are allowed; shell syntax (; | & $ ` < > and quotes) is refused,
// and file arguments must stay inside the job directory (no absolute
// paths, no "..").
func ParseOperatorCommand(cmd string) ([]string, error) {
	if strings.ContainsAny(cmd, ";|&$`<>\\\"'\n\r\x00") {
		return nil, fmt.Errorf("operator command %q: shell syntax is not allowed", cmd)
	}
	words := strings.Fields(cmd)
	if len(words) == 0 {
		return nil, fmt.Errorf("empty operator command")
	}
	path, ok := operatorVerb(words[0])
	if !ok {
		return nil, fmt.Errorf("operator command %q: only tail, ls, ps and du are allowed", words[0])
	}
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "-") {
			continue
		}
		if strings.HasPrefix(w, "/") || w == ".." || strings.HasPrefix(w, "../") || strings.Contains(w, "/../") || strings.HasSuffix(w, "/..") {
			return nil, fmt.Errorf("operator command %q: %q is outside the job directory", cmd, w)
		}
	}
	return append([]string{path}, words[1:]...), nil
}

// OperatorCommand runs an allowed operator command in the job directory
// (30 s at most) and returns the tail of its output.
func OperatorCommand(ctx context.Context, cmd, dir string) (string, error) {
	argv, err := ParseOperatorCommand(cmd)
	if err != nil {
		return "", err
	}
	res, err := timedcmd.Run(ctx, timedcmd.Spec{
		Path: argv[0], Args: argv, Dir: dir, Env: []string{"PATH=/usr/bin:/bin", "LC_ALL=C"},
		Timeout: 30 * time.Second, Grace: time.Second, TailBytes: 2048,
	})
	if err != nil {
		return "", err
	}
	out := string(res.StdoutTail)
	if len(res.StderrTail) > 0 {
		out += string(res.StderrTail)
	}
	return out, nil
}
