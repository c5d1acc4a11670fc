// Package identity runs payloads under another local account than the pilot's and hands
// them their own grid credential.
//
// A Switcher is built once from the pilot's options (New) and prepares one Plan per job
// (Prepare). The Plan says which account the payload runs as, how its process is started
// (a *syscall.Credential, or an identity wrapper such as sudo prefixed to its argv), what
// its environment is, and how the job directory and the account are given back when the
// payload has ended (Release). Without any option set the Switcher does nothing and its
// Plans leave the payload as it is.
//
// # Accounts
//
// The account comes from Options.PayloadUser (a fixed account, or ".prefix" for a pool) or
// from the job owner's DN (the job's prodUserID) through Options.GridMapfile (entries
// `"DN" account` or `"DN" .prefix`; a proxy's trailing CN components are ignored when
// looking the DN up). A pool prefix names the accounts prefix001, prefix002, ... of
// /etc/passwd; each running job leases one of them in Options.PoolLeaseDir, so two running
// jobs never share a pool account, across goroutines and pilot processes of the node. The
// account must exist, must not be root, and must be able to search every directory above
// the job directory (directories with a POSIX ACL are given the benefit of the doubt).
//
// # What the payload gets
//
// With Credential switching (the default) the payload runs with the account's uid, its
// primary gid and exactly the account's supplementary groups. HOME, USER and LOGNAME are
// the account's. The pilot's own credentials are not passed on: X509_USER_PROXY,
// X509_USER_CERT, X509_USER_KEY, X509_UNIFIED_DISPATCH and the token variables
// BEARER_TOKEN, BEARER_TOKEN_FILE, OIDC_AUTH_TOKEN, PANDA_AUTH_TOKEN, PANDA_AUTH_TOKEN_KEY
// and OIDC_REFRESHED_AUTH_TOKEN are removed from its environment, and New makes sure the
// pilot's proxy file (Options.PilotProxy) is a regular file of mode 0600 owned by the
// pilot's uid. X509_USER_PROXY is set again only to the payload's own credential: the
// job's MyProxy credential, or, when Options.ShareProxy says the queue allows it, a copy of
// the pilot's proxy. Either is written as PayloadProxyFile in the job directory, mode 0600,
// owned by the account.
//
// The job directory and everything in it become the account's (chown -R). The walk never
// leaves the directory: every entry is opened relative to its parent's descriptor with
// O_NOFOLLOW, symbolic links are changed themselves (lchown) and never followed, other
// file systems mounted below are skipped, and regular files with more than one hard link
// keep their owner (a link to a file outside the job directory must not change that file).
//
// # umask
//
// The payload runs with umask 077. Go cannot set a child's umask, and changing the
// pilot's own umask around the start would race with its other goroutines, so the umask
// is set by a shell step that then execs the payload in the same process:
//
//	/bin/sh -c 'umask 077 && exec "$@"' gopilot-payload <argv...>
//
// The process started by timedcmd is therefore the payload itself after one exec; the pid,
// process group and session are unchanged.
//
// # Identity wrapper
//
// With Options.Wrapper (for example `sudo -n -u {user} --`, or any gLExec-compatible
// command that takes the command to run as its trailing arguments) no Credential is used:
// the argv is prefixed by the wrapper with {user} replaced by the account. Such wrappers
// reset the environment, so the payload environment crosses the wrapper in a file
// (EnvFile in the job directory, NUL-separated KEY=VALUE entries, mode 0600, owned by the
// account) that a bash step after the wrapper loads in place of what the wrapper left,
// deletes, and then sets the umask and execs the payload:
//
//	sudo -n -u acct -- /bin/bash -c '<load EnvFile; umask 077; exec "$@">' gopilot-payload EnvFile <argv...>
//
// Plan.Apply writes that file; a payload whose file is missing fails with exit status 126
// and a message on stderr. Entries whose names bash cannot export (exported functions)
// do not cross the wrapper.
//
// # Killing
//
// The pilot keeps the authority to kill: timedcmd starts the payload (or the wrapper) as
// the leader of its own process group or session and, on a stop, signals the group and
// then every descendant it finds, whatever their uid. That needs CAP_KILL, and handing the
// job directory over needs CAP_CHOWN; New checks both (root has them). Behind sudo with
// use_pty the command runs in another session on a pseudo-terminal: it is still a
// descendant of the wrapper and is killed by the descendant sweep.
//
// # MyProxy
//
// When Options.MyProxy is set and a job carries credname or myproxy, Prepare runs
// myproxy-logon (argv from credentials.MyProxyLogonArgs: -s the job's myproxy server, or
// Options.MyProxyServer when the job names none; -l the job's credname; -n, no pass
// phrase) through timedcmd, authenticated with the pilot's proxy, and stores the retrieved
// credential as PayloadProxyFile. The credential is checked: it must parse, must have at
// least Options.MyProxyMinLifetime left (by default credentials.RunningMargin) in its
// proxy chain and in its VOMS attribute certificates (a retrieved proxy carries the stored
// credential's chain, ACs included), and, when the job's prodUserID is a DN, must belong
// to that DN.
//
// # Credential lifetime while the payload runs
//
// CredentialMonitor adapts a credentials.Checker to the payload monitors of package
// pilot/monitor: it stops the payload (1373, or 1177 for VOMS) when a watched credential
// has less than credentials.RunningMargin left.
//
// # Errors
//
// Prepare returns *jobdef.PilotError values; New returns them too, for the pilot's exit
// code. The mapping:
//
//	DN not in the grid-mapfile, job without a DN       1163 NOPROXY
//	MyProxy retrieval failed, credential unusable      1163 NOPROXY
//	credential of another DN than the job owner's      1163 NOPROXY
//	credential expired                                 1373 CERTIFICATEHASEXPIRED (1177 NOVOMSPROXY when VOMS)
//	credential lifetime below the minimum              1382 PROXYTOOSHORT (1177 NOVOMSPROXY when VOMS)
//	(the lifetime codes are credentials.PilotError's)
//	unknown local account, root account                1110 SETUPFAILURE
//	no free pool account                               1110 SETUPFAILURE
//	job directory not reachable / not handed over      1110 SETUPFAILURE
//	no privilege to switch or to manage the payload    1301 UNKNOWNEXCEPTION (New)
//	invalid options, wrapper or grid-mapfile           1301 UNKNOWNEXCEPTION (New)
//
// The PilotError wraps the credentials sentinel (ErrUnmappedDN, ErrUnknownAccount,
// ErrPoolExhausted, ErrNoPrivilege, ErrBadWrapper, ErrExpired, ErrTooShort, ErrVOMS,
// ErrNoProxy, ErrInvalidProxy) where there is one, so errors.Is works through it.
package identity
