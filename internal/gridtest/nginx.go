package gridtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// NginxPackages are the Debian packages of nginx with full WebDAV support.
const NginxPackages = "nginx libnginx-mod-http-dav-ext"

// davExtModule is where Debian installs the PROPFIND/OPTIONS module.
const davExtModule = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"

// NginxOptions configures LaunchNginxDAV.
type NginxOptions struct {
	// Dir is an existing directory owned by the caller in which nginx keeps its
	// configuration, logs, temporary files and data (Dir/data, served as "/").
	Dir string
	// BearerToken, when set, makes every request without "Authorization: Bearer <token>"
	// fail with 401.
	BearerToken string
	// TLS, when set, serves HTTPS with its server certificate and requires a client
	// certificate signed by its CA.
	TLS *TLSFiles
	// Workers is the number of worker processes (default 1).
	Workers int
	// NoCreatePutPath makes a PUT into a missing collection fail with 409 Conflict (as
	// most WebDAV servers do) instead of creating the collections.
	NoCreatePutPath bool
}

// TLSFiles names PEM files for an HTTPS server that verifies client certificates.
type TLSFiles struct {
	CertFile, KeyFile string // server certificate chain and key
	ClientCAFile      string // CA certificates accepted for client certificates
}

// Nginx is a running nginx WebDAV server (PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND,
// OPTIONS; PUT creates missing parent collections) listening on 127.0.0.1 only.
type Nginx struct {
	// URL is "http://127.0.0.1:PORT" ("https://..." with TLS).
	URL string
	// Dir is the server's directory; DataDir (Dir/data) is served as "/".
	Dir, DataDir string

	owner owner
	srv   *server
}

// LaunchNginxDAV starts nginx as described by opts. A missing nginx binary or WebDAV module
// is a *MissingError. The caller must Stop it.
func LaunchNginxDAV(opts NginxOptions) (*Nginx, error) {
	if err := LookPrograms("nginx", "nginx"); err != nil {
		return nil, err
	}
	if _, err := os.Stat(davExtModule); err != nil {
		return nil, &MissingError{Programs: []string{davExtModule}, Package: "libnginx-mod-http-dav-ext"}
	}
	if opts.Dir == "" {
		return nil, errors.New("gridtest: NginxOptions.Dir is empty")
	}
	if err := reachable(opts.Dir); err != nil {
		return nil, err
	}
	o, err := serverOwner("www-data")
	if err != nil {
		return nil, err
	}
	n := &Nginx{Dir: opts.Dir, DataDir: filepath.Join(opts.Dir, "data"), owner: o}
	if err := o.mkdirs(n.DataDir, filepath.Join(opts.Dir, "tmp")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return launch(func() (*Nginx, error) { return n.start(opts) })
}

func (n *Nginx) start(opts NginxOptions) (*Nginx, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	cfg := filepath.Join(n.Dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(n.config(opts, addr)), 0o644); err != nil {
		return nil, err
	}
	errLog := filepath.Join(n.Dir, "logs", "error.log")
	argv := []string{"nginx", "-e", errLog, "-p", n.Dir, "-c", cfg}
	probe := func(ctx context.Context) error {
		if opts.TLS != nil { // a TLS handshake needs a client certificate: a connect must do
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}
		return httpProbe(ctx, "http://"+addr+"/", "nginx")
	}
	srv, err := start("nginx", argv, filepath.Join(n.Dir, "logs", "stdout.log"), []string{errLog}, probe)
	if err != nil {
		return nil, err
	}
	n.srv = srv
	n.URL = scheme + "://" + addr
	return n, nil
}

func (n *Nginx) config(opts NginxOptions, addr string) string {
	workers := max(opts.Workers, 1)
	tmp := filepath.Join(n.Dir, "tmp")
	var b strings.Builder
	fmt.Fprintf(&b, "load_module %s;\ndaemon off;\nworker_processes %d;\n", davExtModule, workers)
	if n.owner.asRoot {
		fmt.Fprintf(&b, "user %s;\n", n.owner.name)
	}
	fmt.Fprintf(&b, "pid %s;\nerror_log %s warn;\nevents { worker_connections 256; }\n",
		filepath.Join(n.Dir, "nginx.pid"), filepath.Join(n.Dir, "logs", "error.log"))
	b.WriteString("http {\n")
	fmt.Fprintf(&b, "  access_log %s;\n", filepath.Join(n.Dir, "logs", "access.log"))
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s;\n", k, filepath.Join(tmp, k))
	}
	b.WriteString("  client_max_body_size 0;\n  sendfile on;\n  server {\n")
	if opts.TLS != nil {
		fmt.Fprintf(&b, "    listen %s ssl;\n    ssl_certificate %s;\n    ssl_certificate_key %s;\n", addr, opts.TLS.CertFile, opts.TLS.KeyFile)
		fmt.Fprintf(&b, "    ssl_client_certificate %s;\n    ssl_verify_client on;\n    ssl_verify_depth 3;\n", opts.TLS.ClientCAFile)
	} else {
		fmt.Fprintf(&b, "    listen %s;\n", addr)
	}
	fmt.Fprintf(&b, "    root %s;\n    location / {\n", n.DataDir)
	if opts.BearerToken != "" {
		fmt.Fprintf(&b, "      if ($http_authorization != \"Bearer %s\") { return 401; }\n", opts.BearerToken)
	}
	// Collections need a trailing slash in nginx; clients that omit it on MKCOL or on a
	// directory DELETE would get 409 without these rewrites.
	b.WriteString("      if ($request_method = MKCOL) { rewrite ^(.*[^/])$ $1/ break; }\n")
	b.WriteString("      if (-d $request_filename) { rewrite ^(.*[^/])$ $1/ break; }\n")
	b.WriteString("      dav_methods PUT DELETE MKCOL COPY MOVE;\n      dav_ext_methods PROPFIND OPTIONS;\n")
	if !opts.NoCreatePutPath {
		b.WriteString("      create_full_put_path on;\n")
	}
	b.WriteString("      dav_access user:rw group:rw all:r;\n      autoindex on;\n")
	b.WriteString("    }\n  }\n}\n")
	return b.String()
}

// Stop stops nginx (SIGTERM to its process group, SIGKILL after a grace period) and waits.
func (n *Nginx) Stop() error { return n.srv.stop() }

// WriteFile stores data as the file rel (a slash-separated path below "/") directly in the
// data directory, creating directories, owned by the workers' account.
func (n *Nginx) WriteFile(rel string, data []byte) error {
	return n.owner.writeFile(n.DataDir, rel, data)
}

// Path returns the local path of rel (a path below "/") in the data directory.
func (n *Nginx) Path(rel string) string {
	p, err := inside(n.DataDir, rel)
	if err != nil {
		return filepath.Join(n.DataDir, "invalid-path")
	}
	return p
}

// Logs returns the end of the server's logs (for test failure messages).
func (n *Nginx) Logs() string { return n.srv.logTail() }

// StartNginxDAV starts an nginx WebDAV server on plain HTTP in a fresh t.TempDir() and stops
// it in t.Cleanup. It skips t (or fails it, see Required) when nginx is not installed.
func StartNginxDAV(t testing.TB) *Nginx {
	t.Helper()
	return StartNginxDAVWith(t, NginxOptions{})
}

// StartNginxDAVWith is StartNginxDAV with options; opts.Dir is ignored (a t.TempDir() is used).
func StartNginxDAVWith(t testing.TB, opts NginxOptions) *Nginx {
	t.Helper()
	opts.Dir = t.TempDir()
	n, err := LaunchNginxDAV(opts)
	if err != nil {
		startFailed(t, err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping nginx: %v", err)
		}
	})
	return n
}
