package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/timedcmd"
)

// File names inside the job directory.
const (
	// PayloadProxyFile is the payload's own credential (MyProxy, or the shared pilot proxy).
	PayloadProxyFile = "x509_payload_proxy"
	// EnvFile carries the payload environment across an identity wrapper.
	EnvFile = ".gopilot-payload-env"
)

// Defaults for zero Options fields.
const (
	DefaultPoolLeaseDir    = "/var/lib/gopilot/pool-leases"
	DefaultMyProxyLifetime = 12 * time.Hour
	DefaultMyProxyTimeout  = 2 * time.Minute
)

// Options configure a Switcher. The zero value switches nothing and retrieves nothing.
type Options struct {
	// PayloadUser is a fixed account for every payload, or ".prefix" for a pool of
	// accounts prefix001, prefix002, ... Exclusive with GridMapfile.
	PayloadUser string
	// GridMapfile maps the job owner's DN (prodUserID) to an account or a pool.
	GridMapfile string
	// PoolLeaseDir holds the pool-account leases; empty means DefaultPoolLeaseDir. It must
	// belong to the pilot's uid and not be writable by group or others.
	PoolLeaseDir string
	// Wrapper is an identity-wrapper template such as "sudo -n -u {user} --" used instead
	// of a Credential.
	Wrapper string
	// MyProxy enables retrieving a job's credential from MyProxy (credname/myproxy).
	MyProxy bool
	// MyProxyServer ("host" or "host:port") is used when a job names no server.
	MyProxyServer string
	// MyProxyServerDN, when set, is given to myproxy-logon as MYPROXY_SERVER_DN (needed
	// when the server's certificate does not name the host dialled).
	MyProxyServerDN string
	// MyProxyLifetime is the lifetime requested; 0 means the larger of
	// DefaultMyProxyLifetime and the job's maxWalltime plus one hour.
	MyProxyLifetime time.Duration
	// MyProxyMinLifetime is the least a retrieved credential must have left; 0 means
	// credentials.RunningMargin (a payload given less would be stopped at once by the
	// credential check while it runs), a negative value only requires that it has not
	// expired.
	MyProxyMinLifetime time.Duration
	// MyProxyTimeout bounds one myproxy-logon run; 0 means DefaultMyProxyTimeout.
	MyProxyTimeout time.Duration
	// CADir is X509_CERT_DIR for myproxy-logon; empty means credentials.FindCADir("",
	// os.Getenv).
	CADir string
	// ShareProxy lets a switched payload use a copy of the pilot's proxy (the queue allows
	// it). Otherwise the pilot's proxy is not available to the payload.
	ShareProxy bool
	// PilotProxy is the pilot's own proxy file: secured by New, used to authenticate to
	// MyProxy, copied for ShareProxy. May be empty.
	PilotProxy string
	// Runner runs myproxy-logon; nil means timedcmd's package-level Run.
	Runner *timedcmd.Runner
	// Log receives warnings and progress; nil discards them.
	Log logrus.FieldLogger
}

// Switcher prepares the identity of each payload. It is safe for concurrent use.
type Switcher struct {
	opts     Options
	log      logrus.FieldLogger
	fixed    string // fixed account (PayloadUser without a pool)
	pool     string // fixed pool prefix (PayloadUser ".prefix")
	gridmap  *credentials.GridMap
	wrapper  []string // parsed wrapper template
	leases   *credentials.PoolLeases
	leaseMu  sync.Mutex
	pilotUID int
	pilotGID int
}

// New checks the options and builds a Switcher. When an account source is configured
// (PayloadUser or GridMapfile) it checks that the pilot may switch (credentials.CanSwitch,
// unless a Wrapper is used) and may hand the job directory over and kill the payload
// (CAP_CHOWN and CAP_KILL); it parses the wrapper and the grid-mapfile once, checks that a
// fixed account exists, and secures PilotProxy (mode 0600, owned by the pilot's uid). With
// MyProxy it checks that myproxy-logon is installed. Errors are *jobdef.PilotError.
func New(opts Options) (*Switcher, error) {
	s := &Switcher{opts: opts, log: opts.Log, pilotUID: os.Geteuid(), pilotGID: os.Getegid()}
	if s.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		s.log = l
	}
	if opts.PayloadUser != "" && opts.GridMapfile != "" {
		return nil, configError("--payload-user and --grid-mapfile are exclusive", nil)
	}
	if opts.Wrapper != "" && !s.Enabled() {
		return nil, configError("an identity wrapper needs --payload-user or --grid-mapfile", nil)
	}
	if s.Enabled() {
		if opts.Wrapper != "" {
			words, err := credentials.ParseWrapper(opts.Wrapper)
			if err != nil {
				return nil, configError("identity wrapper", err)
			}
			if !strings.Contains(opts.Wrapper, credentials.UserPlaceholder) {
				return nil, configError("identity wrapper "+strconv.Quote(opts.Wrapper)+" has no "+credentials.UserPlaceholder,
					credentials.ErrBadWrapper)
			}
			if _, err := exec.LookPath(words[0]); err != nil {
				return nil, configError("identity wrapper", err)
			}
			s.wrapper = words
		} else if err := credentials.CanSwitch(); err != nil {
			return nil, configError("cannot run payloads as another account", err)
		}
		if err := requireCaps(); err != nil {
			return nil, configError("cannot manage payloads of another account", err)
		}
		if opts.PayloadUser != "" {
			if p, ok := strings.CutPrefix(opts.PayloadUser, "."); ok {
				if p == "" {
					return nil, configError("empty pool prefix in --payload-user", credentials.ErrUnknownAccount)
				}
				s.pool = p
			} else {
				id, err := credentials.LookupIdentity(opts.PayloadUser)
				if err != nil {
					return nil, configError("payload account", err)
				}
				if id.UID == 0 {
					return nil, configError("payload account "+id.Name+" is root", nil)
				}
				s.fixed = opts.PayloadUser
			}
		}
		if opts.GridMapfile != "" {
			g, err := credentials.LoadGridMapfile(opts.GridMapfile)
			if err != nil {
				return nil, configError("grid-mapfile", err)
			}
			if len(g.Malformed) > 0 {
				s.log.WithFields(logrus.Fields{"file": opts.GridMapfile, "lines": g.Malformed}).Warn("grid-mapfile lines skipped")
			}
			s.gridmap = g
		}
		if opts.PilotProxy != "" {
			if err := s.securePilotProxy(); err != nil {
				return nil, configError("pilot proxy", err)
			}
		}
	}
	if opts.MyProxy {
		if _, err := exec.LookPath("myproxy-logon"); err != nil {
			return nil, configError("MyProxy retrieval enabled but myproxy-logon is not installed", err)
		}
	}
	return s, nil
}

func configError(diag string, err error) *jobdef.PilotError {
	if err != nil {
		diag += ": " + err.Error()
	}
	return jobdef.NewError(jobdef.UnknownException, diag, err)
}

// Enabled reports whether payloads run as another account (PayloadUser or GridMapfile).
func (s *Switcher) Enabled() bool {
	return s != nil && (s.opts.PayloadUser != "" || s.opts.GridMapfile != "")
}

// securePilotProxy makes the pilot's proxy a 0600 regular file owned by the pilot's uid.
// A missing file is not an error (the pilot may use a token).
func (s *Switcher) securePilotProxy() error {
	fd, err := unix.Open(s.opts.PilotProxy, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		s.log.WithField("file", s.opts.PilotProxy).Warn("pilot proxy not found; nothing to protect")
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.opts.PilotProxy, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file", s.opts.PilotProxy)
	}
	if int(st.Uid) != s.pilotUID {
		if err := unix.Fchown(fd, s.pilotUID, -1); err != nil {
			return fmt.Errorf("%s belongs to uid %d: %w", s.opts.PilotProxy, st.Uid, err)
		}
		s.log.WithFields(logrus.Fields{"file": s.opts.PilotProxy, "uid": st.Uid}).Warn("pilot proxy given back to the pilot's uid")
	}
	if st.Mode&0o7777 != 0o600 {
		if err := unix.Fchmod(fd, 0o600); err != nil {
			return fmt.Errorf("%s: %w", s.opts.PilotProxy, err)
		}
		s.log.WithFields(logrus.Fields{"file": s.opts.PilotProxy, "mode": fmt.Sprintf("%04o", st.Mode&0o7777)}).Warn("pilot proxy made private (0600)")
	}
	return nil
}

// Plan is how one payload is run. Build it with Prepare; apply it to the payload's Spec
// with Apply (or use its parts); call Release once the payload's process tree is gone.
type Plan struct {
	// Account is the account the payload runs as; "" when it runs as the pilot's user.
	Account string
	// Identity is the account's identity; nil when not switching.
	Identity *credentials.Identity
	// Credential is for timedcmd.Spec.Credential; nil with a wrapper or without switching.
	Credential *syscall.Credential
	// ProxyPath is the payload's credential (PayloadProxyFile in the job directory) handed
	// over as X509_USER_PROXY; "" when there is none.
	ProxyPath string
	// WrapArgv returns the argv to start instead of argv (argv[0] is the program): the
	// identity wrapper, if any, and the umask step, then argv. Identity without switching.
	WrapArgv func(argv []string) []string
	// Env returns the payload environment built from base (a new slice): the pilot's
	// credential variables removed and HOME/USER/LOGNAME set when switching, and
	// X509_USER_PROXY set to ProxyPath when there is a payload credential.
	Env func(base []string) []string
	// Release gives the job directory back to the pilot's uid and gid (the same confined
	// walk), deletes the payload credential and the environment file, and frees the pool
	// lease. Call it after the payload's Wait and before reading the job directory's files
	// for stage-out or the log tarball. Calling it again does nothing and returns the
	// first result.
	Release func() error

	envFile string // wrapper mode: where Apply writes the environment
}

// Apply applies the plan to spec: Credential, the environment (Env of spec.Env), and the
// argv (WrapArgv of Path and Args[1:]; Path becomes the new argv[0]). With a wrapper it
// also writes EnvFile for the payload. It must be called once per Spec, before Start.
func (p *Plan) Apply(spec *timedcmd.Spec) error {
	argv := []string{spec.Path}
	if len(spec.Args) > 1 {
		argv = append(argv, spec.Args[1:]...)
	}
	env := p.Env(spec.Env)
	if p.envFile != "" {
		if err := writeEnvFile(p.envFile, env, int(p.Identity.UID), int(p.Identity.GID)); err != nil {
			return jobdef.NewError(jobdef.SetupFailure, "payload environment for the identity wrapper", err)
		}
	}
	argv = p.WrapArgv(argv)
	spec.Path, spec.Args, spec.Env = argv[0], argv, env
	spec.Credential = p.Credential
	return nil
}

// Prepare resolves the account for job (leasing a pool account when needed), retrieves
// the job's MyProxy credential or copies the pilot's proxy when allowed, hands jobDir over
// to the account and returns the Plan. With nothing configured it returns a Plan that
// changes nothing. On error nothing is left leased or changed. Errors are
// *jobdef.PilotError.
func (s *Switcher) Prepare(ctx context.Context, job *jobdef.Job, jobDir string) (*Plan, error) {
	jobDir, err := filepath.Abs(jobDir)
	if err != nil {
		return nil, jobdef.NewError(jobdef.SetupFailure, "job directory", err)
	}
	r := &release{s: s, jobDir: jobDir}
	plan := &Plan{
		WrapArgv: func(argv []string) []string { return append([]string(nil), argv...) },
		Release:  r.do,
	}
	fail := func(pe *jobdef.PilotError) (*Plan, error) {
		if err := r.do(); err != nil {
			s.log.WithError(err).Warn("undoing a failed payload identity preparation")
		}
		return nil, pe
	}
	if s.Enabled() {
		account, release, pe := s.resolve(job)
		if pe != nil {
			return nil, pe
		}
		r.lease = release
		id, err := credentials.LookupIdentity(account)
		if err != nil {
			return fail(jobdef.NewError(jobdef.SetupFailure, "payload account "+account, err))
		}
		if id.UID == 0 {
			return fail(jobdef.NewError(jobdef.SetupFailure, "payload account "+account+" is root", nil))
		}
		if err := reachable(jobDir, id); err != nil {
			return fail(jobdef.NewError(jobdef.SetupFailure, err.Error(), err))
		}
		plan.Account, plan.Identity = account, id
	}

	proxy := filepath.Join(jobDir, PayloadProxyFile)
	switch {
	case s.opts.MyProxy && (job.CredName != "" || job.MyProxy != ""):
		r.proxy = proxy
		if pe := s.fetchMyProxy(ctx, job, proxy); pe != nil {
			return fail(pe)
		}
		plan.ProxyPath = proxy
	case plan.Identity != nil && s.opts.ShareProxy && s.opts.PilotProxy != "":
		r.proxy = proxy
		if err := copyPrivate(s.opts.PilotProxy, proxy); err != nil {
			return fail(jobdef.NewError(jobdef.NoProxy, "sharing the pilot's proxy with the payload", err))
		}
		plan.ProxyPath = proxy
	}

	id := plan.Identity
	if id != nil {
		r.chowned = true
		if err := chownTree(jobDir, int(id.UID), int(id.GID)); err != nil {
			return fail(jobdef.NewError(jobdef.SetupFailure, "handing the job directory to "+id.Name, err))
		}
		if plan.ProxyPath != "" {
			if err := ownPrivate(plan.ProxyPath, int(id.UID), int(id.GID)); err != nil {
				return fail(jobdef.NewError(jobdef.NoProxy, "payload credential", err))
			}
		}
		if s.wrapper != nil {
			prefix, err := credentials.ExpandWrapper(s.wrapper, id.Name)
			if err != nil {
				return fail(jobdef.NewError(jobdef.SetupFailure, "identity wrapper", err))
			}
			envFile := filepath.Join(jobDir, EnvFile)
			plan.envFile, r.envFile = envFile, envFile
			plan.WrapArgv = func(argv []string) []string {
				out := append(append([]string(nil), prefix...), "/bin/bash", "-c", wrappedScript, "gopilot-payload", envFile)
				return append(out, argv...)
			}
		} else {
			plan.Credential = id.Credential()
			plan.WrapArgv = func(argv []string) []string {
				return append([]string{"/bin/sh", "-c", umaskScript, "gopilot-payload"}, argv...)
			}
		}
	}
	plan.Env = func(base []string) []string { return payloadEnv(base, id, plan.ProxyPath) }
	s.log.WithFields(logrus.Fields{"pandaid": job.PandaID, "account": plan.Account, "wrapper": s.wrapper != nil,
		"credential": plan.ProxyPath != ""}).Info("payload identity prepared")
	return plan, nil
}

// resolve picks the account for job and, for a pool, leases one.
func (s *Switcher) resolve(job *jobdef.Job) (account string, release func() error, pe *jobdef.PilotError) {
	account, pool := s.fixed, s.pool
	if s.gridmap != nil {
		dn := strings.TrimSpace(job.ProdUserID)
		if !strings.HasPrefix(dn, "/") {
			err := fmt.Errorf("%w: the job's prodUserID %q is not a DN", credentials.ErrUnmappedDN, dn)
			return "", nil, jobdef.NewError(jobdef.NoProxy, err.Error(), err)
		}
		acct, isPool, err := s.gridmap.Lookup(dn)
		if err != nil {
			return "", nil, jobdef.NewError(jobdef.NoProxy, "job owner not authorised here: "+err.Error(), err)
		}
		account, pool = "", ""
		if isPool {
			pool = acct
		} else {
			account = acct
		}
	}
	if pool == "" {
		return account, nil, nil
	}
	leases, err := s.poolLeases()
	if err != nil {
		return "", nil, jobdef.NewError(jobdef.SetupFailure, "pool leases", err)
	}
	acct, release, err := leases.Acquire(pool, nil, "PandaID "+strconv.FormatInt(job.PandaID, 10))
	if err != nil {
		return "", nil, jobdef.NewError(jobdef.SetupFailure, err.Error(), err)
	}
	return acct, release, nil
}

// poolLeases opens the lease directory once, checking that it is the pilot's own.
func (s *Switcher) poolLeases() (*credentials.PoolLeases, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.leases != nil {
		return s.leases, nil
	}
	dir := s.opts.PoolLeaseDir
	if dir == "" {
		dir = DefaultPoolLeaseDir
	}
	l, err := credentials.NewPoolLeases(dir)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != s.pilotUID || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("lease directory %s must be a directory owned by uid %d and writable by it alone (uid %d, mode %04o)",
			dir, s.pilotUID, st.Uid, st.Mode&0o7777)
	}
	s.leases = l
	return l, nil
}

// release undoes what Prepare did for one job.
type release struct {
	s       *Switcher
	jobDir  string
	chowned bool
	proxy   string
	envFile string
	lease   func() error

	once sync.Once
	err  error
}

func (r *release) do() error {
	r.once.Do(func() {
		var errs []error
		for _, f := range []string{r.proxy, r.envFile} {
			if f == "" {
				continue
			}
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if r.chowned {
			if err := chownTree(r.jobDir, r.s.pilotUID, r.s.pilotGID); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("giving the job directory back: %w", err))
			}
		}
		if r.lease != nil {
			if err := r.lease(); err != nil {
				errs = append(errs, fmt.Errorf("pool lease: %w", err))
			}
		}
		r.err = errors.Join(errs...)
	})
	return r.err
}
