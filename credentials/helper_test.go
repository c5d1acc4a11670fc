package credentials

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The test binary re-executes itself as a helper process (TestHelperProcess) for tests
// that need a second process: another pool-lease holder, or a process without privileges.
const helperEnv = "GOPILOT_CREDENTIALS_HELPER"

func helperCommand(t *testing.T, exe, mode string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(exe, append([]string{"-test.run=^TestHelperProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	switch mode {
	case "canswitch":
		if err := CanSwitch(); err != nil {
			fmt.Println("ERR", err)
		} else {
			fmt.Println("OK")
		}
	case "lease":
		// args: dir prefix holder candidates...
		p, err := NewPoolLeases(args[0])
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		acct, release, err := p.Acquire(args[1], args[3:], args[2])
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("LEASED", acct)
		// Hold the lease until stdin says "release" or closes.
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if strings.TrimSpace(line) == "release" {
			if err := release(); err != nil {
				fmt.Println("ERR", err)
				os.Exit(1)
			}
			fmt.Println("RELEASED")
		}
	default:
		fmt.Println("ERR unknown mode", mode)
	}
	os.Exit(0)
}
