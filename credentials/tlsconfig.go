package credentials

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TLSConfig returns a client TLS configuration that authenticates with the proxy file and
// verifies servers against the CA directory.
//
// The proxy file (certificates and key in one PEM file) is the client certificate chain
// (tls.X509KeyPair(pem, pem)); it is offered to every server that asks for a client
// certificate, whatever CA names the server lists. The file is read again at a handshake
// when its size or modification time changed, so a proxy renewed in place is picked up; if
// the renewed file cannot be used the previous chain is kept.
//
// caDir is a hashed CA directory (X509_CERT_DIR): every "*.0" .. "*.9" and "*.pem" file in
// it is loaded (CRLs "*.r0", signing policies and namespaces files are ignored). When caDir
// is "" or does not exist, the system trust store is used instead. An existing directory
// without any loadable CA certificate is an error.
func TLSConfig(proxyPath, caDir string) (*tls.Config, error) {
	src := &proxySource{path: proxyPath}
	if err := src.load(); err != nil {
		return nil, err
	}
	roots, err := LoadCADir(caDir)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return src.get(), nil
		},
	}, nil
}

// LoadCADir builds a certificate pool from a hashed CA directory as TLSConfig describes;
// "" or a missing directory gives the system pool.
func LoadCADir(caDir string) (*x509.CertPool, error) {
	if caDir == "" {
		return x509.SystemCertPool()
	}
	entries, err := os.ReadDir(caDir)
	if errors.Is(err, os.ErrNotExist) {
		return x509.SystemCertPool()
	}
	if err != nil {
		return nil, fmt.Errorf("CA directory: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if !(len(ext) == 2 && ext[1] >= '0' && ext[1] <= '9') && ext != ".pem" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(caDir, name))
		if err != nil {
			continue // dangling links and unreadable files are skipped, as OpenSSL does
		}
		if pool.AppendCertsFromPEM(data) {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("CA directory %s: no CA certificates", caDir)
	}
	return pool, nil
}

// proxySource caches the parsed proxy file and reloads it when the file changes.
type proxySource struct {
	path string

	mu      sync.Mutex
	cert    *tls.Certificate
	size    int64
	modTime time.Time
}

func (s *proxySource) load() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNoProxy, s.path)
		}
		return fmt.Errorf("%w: %v", ErrInvalidProxy, err)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidProxy, err)
	}
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidProxy, s.path, err)
	}
	s.mu.Lock()
	s.cert, s.size, s.modTime = &cert, fi.Size(), fi.ModTime()
	s.mu.Unlock()
	return nil
}

func (s *proxySource) get() *tls.Certificate {
	fi, err := os.Stat(s.path)
	s.mu.Lock()
	changed := err == nil && (fi.Size() != s.size || !fi.ModTime().Equal(s.modTime))
	s.mu.Unlock()
	if changed {
		_ = s.load() // keep the previous chain when the new file is unusable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert
}
