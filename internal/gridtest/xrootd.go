package gridtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// XrootdPackages are the Debian packages the XRootD server and its clients come from.
const XrootdPackages = "xrootd-server xrootd-client"

// XrootdOptions configures LaunchXrootd.
type XrootdOptions struct {
	// Dir is an existing directory owned by the caller in which the server keeps its
	// configuration, logs and data (Dir/data). It is made traversable by other users.
	Dir string
	// NoHTTP leaves out the HTTP/WebDAV protocol plugin (XrdHttp).
	NoHTTP bool
}

// Xrootd is a running standalone XRootD data server without authentication, computing
// adler32 checksums, that serves Dir/data as "/" (root://127.0.0.1:PORT//path) and, unless
// disabled, plain HTTP/WebDAV with RFC 3230 "Digest: adler32=..." answers on a second port.
type Xrootd struct {
	// RootURL is "root://127.0.0.1:PORT" (append "//path" for a file).
	RootURL string
	// HTTPURL is "http://127.0.0.1:PORT" of XrdHttp, empty with NoHTTP.
	HTTPURL string
	// Dir is the server's directory; DataDir (Dir/data) is exported as "/".
	Dir, DataDir string

	owner owner
	srv   *server
	name  string
}

// LaunchXrootd starts an XRootD server as described by opts. A missing xrootd binary is a
// *MissingError. The caller must Stop it.
func LaunchXrootd(opts XrootdOptions) (*Xrootd, error) {
	if err := LookPrograms("xrootd-server", "xrootd"); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("gridtest: XrootdOptions.Dir is empty")
	}
	if err := reachable(opts.Dir); err != nil {
		return nil, err
	}
	o, err := serverOwner("xrootd")
	if err != nil {
		return nil, err
	}
	x := &Xrootd{Dir: opts.Dir, DataDir: filepath.Join(opts.Dir, "data"), owner: o}
	if err := o.mkdirs(opts.Dir, x.DataDir, filepath.Join(opts.Dir, "admin"), filepath.Join(opts.Dir, "run"),
		filepath.Join(opts.Dir, "log")); err != nil {
		return nil, err
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	// A unique instance name keeps parallel servers from sharing /tmp/xrootd.<name>.env.
	x.name = "gt" + hex.EncodeToString(suffix[:])
	return launch(func() (*Xrootd, error) { return x.start(opts) })
}

func (x *Xrootd) start(opts XrootdOptions) (*Xrootd, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort := 0
	if !opts.NoHTTP {
		if httpPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(x.Dir, "xrootd.cfg")
	var b strings.Builder
	fmt.Fprintf(&b, "all.export /\noss.localroot %s\nall.adminpath %s\nall.pidpath %s\nxrd.port %d\n",
		x.DataDir, filepath.Join(x.Dir, "admin"), filepath.Join(x.Dir, "run"), port)
	// xrootd binds every interface; only loopback clients are let in.
	b.WriteString("xrd.allow host localhost\nxrd.allow host 127.0.0.1\nxrootd.chksum adler32\n")
	if httpPort != 0 {
		fmt.Fprintf(&b, "xrd.protocol XrdHttp:%d libXrdHttp.so\n", httpPort)
	}
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	argv := []string{"xrootd", "-n", x.name, "-c", cfg, "-l", filepath.Join(x.Dir, "log", "xrootd.log")}
	if x.owner.asRoot {
		argv = append(argv, "-R", x.owner.name) // xrootd refuses to run as root
	}
	rootAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
	probe := func(ctx context.Context) error {
		if err := xrootdHandshake(ctx, rootAddr); err != nil {
			return err
		}
		if httpPort != 0 {
			return httpProbe(ctx, "http://"+httpAddr+"/", "XrootD")
		}
		return nil
	}
	srv, err := start("xrootd", argv, filepath.Join(x.Dir, "stdout.log"),
		[]string{filepath.Join(x.Dir, "log", "*"), filepath.Join(x.Dir, "log", "*", "*")}, probe)
	if err != nil {
		return nil, err
	}
	x.srv = srv
	x.RootURL = "root://" + rootAddr
	if httpPort != 0 {
		x.HTTPURL = "http://" + httpAddr
	}
	return x, nil
}

// Stop stops the server (SIGTERM to its process group, SIGKILL after a grace period) and
// waits for it. It also removes the instance file xrootd leaves in /tmp.
func (x *Xrootd) Stop() error {
	err := x.srv.stop()
	envFile := filepath.Join(os.TempDir(), "xrootd."+x.name+".env")
	if data, rerr := os.ReadFile(envFile); rerr == nil && strings.Contains(string(data), "inst="+x.name) {
		os.Remove(envFile)
	}
	return err
}

// WriteFile stores data as the file rel (a slash-separated path below the exported root)
// directly in the data directory, creating directories, owned by the server's account.
func (x *Xrootd) WriteFile(rel string, data []byte) error {
	return x.owner.writeFile(x.DataDir, rel, data)
}

// Path returns the local path of rel (a path below the exported root) in the data directory.
func (x *Xrootd) Path(rel string) string {
	p, err := inside(x.DataDir, rel)
	if err != nil {
		return filepath.Join(x.DataDir, "invalid-path")
	}
	return p
}

// Logs returns the end of the server's logs (for test failure messages).
func (x *Xrootd) Logs() string { return x.srv.logTail() }

// StartXrootd starts an XRootD server with XrdHttp in a fresh t.TempDir() and stops it in
// t.Cleanup. It skips t (or fails it, see Required) when xrootd is not installed.
func StartXrootd(t testing.TB) *Xrootd {
	t.Helper()
	x, err := LaunchXrootd(XrootdOptions{Dir: t.TempDir()})
	if err != nil {
		startFailed(t, err)
	}
	t.Cleanup(func() {
		if err := x.Stop(); err != nil {
			t.Errorf("stopping xrootd: %v", err)
		}
	})
	return x
}

// xrootdHandshake performs the XRootD initial handshake on addr: 12 zero bytes, 4 and
// 2012, answered by an 8-byte response header (stream id 0, status 0, length 8) and 8 bytes
// of protocol version and server type.
func xrootdHandshake(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var req [20]byte
	binary.BigEndian.PutUint32(req[12:], 4)
	binary.BigEndian.PutUint32(req[16:], 2012)
	if _, err := c.Write(req[:]); err != nil {
		return err
	}
	var resp [16]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		return fmt.Errorf("xrootd handshake: %w", err)
	}
	if status, n := binary.BigEndian.Uint16(resp[2:]), binary.BigEndian.Uint32(resp[4:]); status != 0 || n != 8 {
		return fmt.Errorf("xrootd handshake: unexpected answer %x", resp)
	}
	return nil
}

// httpProbe sends OPTIONS to url and wants a response whose Server header contains server.
func httpProbe(ctx context.Context, url, server string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if !strings.Contains(strings.ToLower(resp.Header.Get("Server")), strings.ToLower(server)) {
		return fmt.Errorf("%s answered with server %q, status %s", url, resp.Header.Get("Server"), resp.Status)
	}
	return nil
}
