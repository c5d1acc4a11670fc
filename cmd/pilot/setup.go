package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/pilot"
	"github.com/gopilot/gopilot/pilot/identity"
	"github.com/gopilot/gopilot/pilot/server"
)

// userAgent is sent with every request.
func userAgent() string {
	return fmt.Sprintf("gopilot/%s (Go %s; %s %s)", pilot.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// setupPull wires pull mode: the server client, queue and storage data, the
// stager, and (with -z) the heartbeat file instead of server updates.
func setupPull(ctx context.Context, p *pilot.Pilot, redactor *credentials.Redactor) error {
	cfg := p.Cfg
	base, err := cfg.ServerURL()
	if err != nil {
		return jobdef.NewError(jobdef.CommunicationFailure, err.Error(), err)
	}
	api, err := server.ParseAPI(cfg.API)
	if err != nil {
		return err
	}
	tr, hdr, creds, err := transport(cfg, base, p.Log, redactor)
	if err != nil {
		return err
	}
	p.Credentials = creds
	client, err := server.New(server.Options{
		BaseURL: base, API: api, UserAgent: userAgent(), Log: p.Log, Header: hdr,
		HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		return jobdef.NewError(jobdef.CommunicationFailure, err.Error(), err)
	}
	p.ServerURL = base
	p.Source = client
	p.Reporter = client
	p.Fetch = client
	if cfg.NoServerUpdate {
		p.Reporter = &pilot.FileReporter{Dir: p.Workdir}
	}

	qctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	q, err := pilot.LoadQueueData(qctx, client, cfg.QueuedataURL, base, cfg.Queue, p.Workdir)
	if err != nil {
		return err
	}
	if err := pilot.CheckQueue(q); err != nil {
		return err
	}
	p.Queue = q
	if q.CatchallHas("curlgetjob") {
		// Pilot 3's curl path: form bodies answered in JSON.
		client, err = server.New(server.Options{
			BaseURL: base, API: api, UserAgent: userAgent(), Log: p.Log, FormEncoding: true, Header: hdr,
			HTTPClient: &http.Client{Transport: tr},
		})
		if err != nil {
			return err
		}
		p.Source = client
	}
	sd, err := pilot.LoadStorageData(qctx, client, cfg.StoragedataURL, base, p.Workdir)
	if err != nil {
		p.Log.WithError(err).Warn("no storage data: stage-in and stage-out through RSEs will fail")
		sd = jobdef.StorageData{}
	}
	return finishSetup(ctx, p, q, sd, tr.TLSClientConfig, redactor)
}

// transport builds the HTTP transport for the server: for https, the X.509
// proxy (--cacert, X509_USER_PROXY, /tmp/x509up_u<uid>) as client
// certificate and the CA directory (--capath, X509_CERT_DIR,
// /etc/grid-security/certificates) for verification; with PanDA OIDC tokens
// (OIDC_AUTH_TOKEN + OIDC_AUTH_ORIGIN) the bearer headers instead of the
// proxy. Tokens are registered with the log redactor. The returned checker
// holds the credentials the transport uses (the proxy as client
// certificate, the PanDA token), for the pilot's lifetime checks.
func transport(cfg pilot.Config, base string, lg logrus.FieldLogger, redactor *credentials.Redactor) (*http.Transport, http.Header, *credentials.Checker, error) {
	var srcs []credentials.Source
	tr, hdr, err := transportFor(cfg, base, lg, redactor, &srcs)
	if err != nil {
		return nil, nil, nil, err
	}
	return tr, hdr, credentials.NewChecker(srcs...), nil
}

func transportFor(cfg pilot.Config, base string, lg logrus.FieldLogger, redactor *credentials.Redactor, srcs *[]credentials.Source) (*http.Transport, http.Header, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var hdr http.Header
	auth, err := credentials.FindPandaAuth(os.Getenv)
	switch {
	case err == nil:
		redactor.Add(auth.Token)
		hdr = auth.Headers()
		*srcs = append(*srcs, credentials.PandaTokenSource(os.Getenv))
		lg.WithFields(logrus.Fields{"token_file": auth.Path, "origin": auth.Origin}).Info("using PanDA OIDC token authentication")
	case !errors.Is(err, credentials.ErrNotConfigured):
		return nil, nil, jobdef.NewError(jobdef.NoProxy, "OIDC token", err)
	}
	if !strings.HasPrefix(base, "https://") || !cfg.UseHTTPS {
		return tr, hdr, nil
	}
	caDir := credentials.FindCADir(cfg.CAPath, os.Getenv)
	proxy, perr := credentials.FindProxy(cfg.CACert, os.Getenv, os.Getuid())
	if hdr != nil || perr != nil {
		// No client certificate: tokens, or no proxy at all (the server decides).
		if perr != nil && hdr == nil {
			lg.WithError(perr).Warn("no X.509 proxy found; connecting without a client certificate")
		}
		roots, err := credentials.LoadCADir(caDir)
		if err != nil {
			return nil, nil, jobdef.NewError(jobdef.NoProxy, "CA directory "+caDir, err)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
		return tr, hdr, nil
	}
	tc, err := credentials.TLSConfig(proxy, caDir)
	if err != nil {
		return nil, nil, jobdef.NewError(jobdef.NoProxy, "proxy "+proxy, err)
	}
	if !cfg.NoProxyVerification {
		if px, err := credentials.LoadProxy(proxy); err == nil {
			lg.WithFields(logrus.Fields{"proxy": proxy, "identity": px.Identity, "time_left": px.TimeLeft(time.Now()).Round(time.Second)}).Info("using X.509 proxy")
			if px.TimeLeft(time.Now()) <= 0 {
				return nil, nil, jobdef.NewError(jobdef.CertificateHasExpired, "proxy "+proxy+" has expired", nil)
			}
		}
	}
	*srcs = append(*srcs, credentials.ProxySource(proxy))
	tr.TLSClientConfig = tc
	return tr, hdr, nil
}

// setupOffline wires `pilot exec`: one job from a file, updates written to
// heartbeat.json, the log tarball kept in the work directory.
func setupOffline(ctx context.Context, p *pilot.Pilot, jobFile, queuedataFile, storageFile string) error {
	p.Offline = true
	p.Cfg.Cleanup = false
	p.Source = &pilot.FileSource{Path: jobFile}
	p.Reporter = &pilot.FileReporter{Dir: p.Workdir}
	q := &jobdef.QueueData{Name: p.Cfg.Queue, ACopytools: map[string][]string{"default": {"copy"}}}
	if queuedataFile != "" {
		data, err := os.ReadFile(queuedataFile)
		if err != nil {
			return jobdef.NewError(jobdef.QueueDataError, "queue data file", err)
		}
		if q, err = jobdef.ParseQueueData(data, p.Cfg.Queue); err != nil {
			return err
		}
	}
	p.Queue = q
	sd := jobdef.StorageData{}
	if storageFile != "" {
		var err error
		if sd, err = pilot.LoadStorageData(ctx, nil, storageFile, "", ""); err != nil {
			return err
		}
	}
	return finishSetup(ctx, p, q, sd, nil, credentials.NewRedactor())
}

// setupIdentity builds the identity switcher when an identity option is set.
func setupIdentity(p *pilot.Pilot) error {
	c := p.Cfg
	if c.PayloadUser == "" && c.GridMapfile == "" && c.IdentityWrapper == "" && !c.MyProxyRetrieval && !c.ShareProxy {
		return nil
	}
	proxy, _ := credentials.FindProxy(c.CACert, os.Getenv, os.Getuid())
	sw, err := identity.New(identity.Options{
		PayloadUser: c.PayloadUser, GridMapfile: c.GridMapfile, PoolLeaseDir: c.PoolLeaseDir,
		Wrapper: c.IdentityWrapper, MyProxy: c.MyProxyRetrieval, MyProxyServer: c.MyProxyServer, MyProxyServerDN: c.MyProxyServerDN,
		ShareProxy: c.ShareProxy, PilotProxy: proxy, CADir: credentials.FindCADir(c.CAPath, os.Getenv),
		Log: p.Log,
	})
	if err != nil {
		return err
	}
	p.Identity = sw
	if proxy != "" && (c.MyProxyRetrieval || c.ShareProxy) {
		p.Credentials = p.Credentials.With(credentials.ProxySource(proxy))
	}
	return nil
}

// queueMovers lists the registered movers the queue's acopytools name, in
// name order; every registered mover when the queue names none.
func queueMovers(q *jobdef.QueueData, reg *movers.Registry) []string {
	if q == nil || len(q.ACopytools) == 0 {
		return reg.Names()
	}
	seen := map[string]bool{}
	var out []string
	for _, names := range q.ACopytools {
		for _, n := range names {
			if _, ok := reg.Get(n); ok && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// finishSetup builds what pull and offline mode share: the payload identity
// switcher and the stager with its movers.
//
// Storage sees only storage credentials: the davs mover gets the TLS client
// configuration (the proxy) and a WLCG bearer token (BEARER_TOKEN,
// BEARER_TOKEN_FILE, bt_u<uid>), never the PanDA server's OIDC token.
func finishSetup(ctx context.Context, p *pilot.Pilot, q *jobdef.QueueData, sd jobdef.StorageData, tlsConf *tls.Config, redactor *credentials.Redactor) error {
	if err := setupIdentity(p); err != nil {
		return err
	}
	var hdr http.Header
	if tok, src, err := credentials.FindBearerToken(os.Getenv, os.Getuid()); err == nil {
		redactor.Add(tok)
		hdr = http.Header{"Authorization": {"Bearer " + tok}}
		p.Log.WithField("source", src).Info("storage bearer token found")
	}
	if sk := os.Getenv("S3_SECRET_KEY"); sk != "" {
		redactor.Add(sk)
	}
	reg, err := newRegistry(tlsConf, hdr, q, sd, p.Runner, p.Log)
	if err != nil {
		return err
	}
	// Only the movers the queue uses are checked: a check may start an
	// external tool (gfal-copy is a Python program), which costs start-up time.
	checked := map[movers.Mover]bool{} // an alias names a mover already checked
	for _, name := range queueMovers(q, reg) {
		m, _ := reg.Get(name)
		if c, ok := m.(movers.Checker); ok && !checked[m] {
			checked[m] = true
			if err := c.Check(ctx); err != nil {
				p.Log.WithError(err).WithField("mover", name).Info("mover not usable on this node")
			}
		}
	}
	p.Stager = &movers.Stager{
		Registry: reg, Queue: q, Storage: sd, Log: p.Log,
		Retries: 2, Backoff: 2 * time.Second,
		MinTimeout: time.Duration(p.Cfg.StageinTimeout) * time.Second,
		InputDir:   p.Cfg.InputDir,
	}
	return nil
}
