package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/timedcmd"
)

// fetchMyProxy retrieves the job's credential from MyProxy into out (mode 0600, the
// pilot's until the job directory is handed over) and checks it.
func (s *Switcher) fetchMyProxy(ctx context.Context, job *jobdef.Job, out string) *jobdef.PilotError {
	server := strings.TrimSpace(job.MyProxy)
	if server == "" {
		server = s.opts.MyProxyServer
	}
	if server == "" {
		return jobdef.NewError(jobdef.NoProxy, "the job asks for a MyProxy credential but names no MyProxy server and none is configured", credentials.ErrNoProxy)
	}
	if s.opts.PilotProxy != "" {
		p, err := credentials.LoadProxy(s.opts.PilotProxy)
		if err != nil {
			return jobdef.NewError(jobdef.NoProxy, "the pilot's proxy cannot authenticate to MyProxy: "+err.Error(), err)
		}
		if err := p.CheckLifetime(time.Now(), 0); err != nil {
			return lifetimeError("the pilot's proxy", err)
		}
	}
	lifetime := s.opts.MyProxyLifetime
	if lifetime <= 0 {
		lifetime = max(DefaultMyProxyLifetime, time.Duration(job.MaxWalltime)*time.Second+time.Hour)
	}
	timeout := s.opts.MyProxyTimeout
	if timeout <= 0 {
		timeout = DefaultMyProxyTimeout
	}
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return jobdef.NewError(jobdef.NoProxy, "payload credential file", err)
	}
	argv := credentials.MyProxyLogonArgs(server, "", job.CredName, lifetime, out)
	res, err := s.opts.Runner.Run(ctx, timedcmd.Spec{
		Path: argv[0], Args: argv, Env: s.myproxyEnv(), Timeout: timeout, Grace: 5 * time.Second, TailBytes: 2048,
	})
	lg := s.log.WithFields(logrus.Fields{"pandaid": job.PandaID, "server": server, "username": job.CredName})
	if err != nil {
		os.Remove(out)
		return jobdef.NewError(jobdef.NoProxy, "cannot run myproxy-logon", err)
	}
	if !res.Success() {
		os.Remove(out)
		why := lastLine(string(res.StderrTail) + "\n" + string(res.StdoutTail))
		switch {
		case res.TimedOut:
			why = "timed out after " + timeout.String()
		case why == "":
			why = "exit status " + strconv.Itoa(res.ExitCode)
		}
		lg.WithField("reason", why).Warn("MyProxy retrieval failed")
		return jobdef.NewError(jobdef.NoProxy, fmt.Sprintf("MyProxy retrieval from %s failed: %s", server, why), credentials.ErrNoProxy)
	}
	p, err := credentials.LoadProxy(out)
	if err != nil {
		os.Remove(out)
		return jobdef.NewError(jobdef.NoProxy, "retrieved MyProxy credential: "+err.Error(), err)
	}
	minimum := s.opts.MyProxyMinLifetime
	if minimum == 0 {
		minimum = credentials.RunningMargin
	}
	if err := p.CheckLifetime(time.Now(), max(minimum, 0)); err != nil {
		os.Remove(out)
		return lifetimeError("the retrieved MyProxy credential", err)
	}
	if owner := strings.TrimSpace(job.ProdUserID); strings.HasPrefix(owner, "/") && !sameDN(owner, p.Identity) {
		os.Remove(out)
		return jobdef.NewError(jobdef.NoProxy, fmt.Sprintf("the MyProxy credential belongs to %q, the job to %q", p.Identity, owner), credentials.ErrInvalidProxy)
	}
	if err := os.Chmod(out, 0o600); err != nil {
		os.Remove(out)
		return jobdef.NewError(jobdef.NoProxy, "payload credential file", err)
	}
	lg.WithField("left", p.TimeLeft(time.Now()).Round(time.Second)).Info("payload credential retrieved from MyProxy")
	return nil
}

// myproxyEnv is the environment of myproxy-logon: this process's, with the pilot's proxy
// as the client credential (X509_USER_CERT/KEY would take precedence, so they go) and the
// configured CA directory and server DN.
func (s *Switcher) myproxyEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "X509_USER_CERT", "X509_USER_KEY", "X509_CERT_DIR", "MYPROXY_SERVER", "MYPROXY_SERVER_PORT", "MYPROXY_SERVER_DN":
			continue
		case "X509_USER_PROXY":
			if s.opts.PilotProxy != "" {
				continue
			}
		}
		env = append(env, kv)
	}
	if s.opts.PilotProxy != "" {
		env = append(env, "X509_USER_PROXY="+s.opts.PilotProxy)
	}
	ca := s.opts.CADir
	if ca == "" {
		ca = credentials.FindCADir("", os.Getenv)
	}
	if ca != "" {
		env = append(env, "X509_CERT_DIR="+ca)
	}
	if s.opts.MyProxyServerDN != "" {
		env = append(env, "MYPROXY_SERVER_DN="+s.opts.MyProxyServerDN)
	}
	return env
}

// lifetimeError maps a credentials lifetime error to its PanDA code (1373, 1382, 1177;
// see credentials.PilotError).
func lifetimeError(what string, err error) *jobdef.PilotError {
	var pe *jobdef.PilotError
	errors.As(credentials.PilotError(what, err), &pe)
	return pe
}

// sameDN reports whether two slash-form DNs name the same identity, compared as the
// grid-mapfile compares them (escapes, e-mail attribute spellings, trailing proxy CNs).
func sameDN(a, b string) bool {
	quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a)
	g, err := credentials.ParseGridMapfile(strings.NewReader(`"` + quoted + `" x` + "\n"))
	if err != nil || g.Len() != 1 {
		return a == b
	}
	if _, _, err := g.Lookup(b); err == nil {
		return true
	}
	// a may itself carry proxy CNs: compare the other way round too
	quoted = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(b)
	g, err = credentials.ParseGridMapfile(strings.NewReader(`"` + quoted + `" x` + "\n"))
	if err != nil || g.Len() != 1 {
		return false
	}
	_, _, err = g.Lookup(a)
	return err == nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 200 {
				l = l[:200] + "..."
			}
			return l
		}
	}
	return ""
}
