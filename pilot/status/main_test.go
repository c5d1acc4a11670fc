package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gopilot/gopilot/internal/helperproc"
)

func TestMain(m *testing.M) {
	helperproc.Dispatch(helperproc.Scenarios{"dial": dialScenario})
	os.Exit(m.Run())
}

// dialScenario connects to the unix socket args[0] and prints "connected"
// or the errno's name.
func dialScenario(args []string) int {
	if len(args) != 1 {
		return 2
	}
	c, err := net.Dial("unix", args[0])
	if err == nil {
		c.Close()
		fmt.Println("connected")
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) && en == syscall.EACCES {
		fmt.Println("EACCES")
		return 1
	}
	fmt.Println(err)
	return 1
}

// dialAs connects to the unix socket path as uid/gid from a copy of the
// test binary placed in dir (which must be reachable by uid) and returns
// the helper's verdict: "connected", "EACCES" or an error text.
func dialAs(t *testing.T, dir, path string, uid uint32) string {
	t.Helper()
	inv := helperproc.Scenario("dial", path)
	exe := filepath.Join(dir, "dial.test")
	if err := copyFileOnce(inv.Path, exe); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, inv.Args[1:]...)
	cmd.Env = inv.Env
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// copyFileOnce copies src to dst with mode 0755 unless dst exists.
func copyFileOnce(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
