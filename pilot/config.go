package pilot

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/spf13/pflag"
)

// Version is the pilot version reported in pilotID and the User-Agent.
const Version = "0.1.0"

// EnvPrefix is the prefix of the environment variables that configure the pilot.
const EnvPrefix = "PILOT"

// Config is the pilot's whole configuration. Every field can be set by a
// command-line flag (Pilot 3's names where Pilot 3 has one) and by the
// environment variable PILOT_<envconfig tag>. Precedence: Defaults, then the
// environment, then flags given explicitly on the command line.
type Config struct {
	Queue               string `envconfig:"QUEUE" flag:"queue" short:"q" help:"PanDA queue name"`
	URL                 string `envconfig:"URL" flag:"url" help:"PanDA server URL (scheme defaults to https)"`
	Port                int    `envconfig:"PORT" flag:"port" short:"p" help:"PanDA server port, appended unless --url has one"`
	API                 string `envconfig:"API" flag:"api" help:"server API: legacy, v1 or auto (v1, falling back to legacy on 403/404)"`
	QueuedataURL        string `envconfig:"QUEUEDATA_URL" flag:"queuedata-url" help:"queue data URL ({pandaqueue} is replaced); default: ./queuedata.json in the work directory, else <server>/cache/schedconfig/{pandaqueue}.all.json"`
	StoragedataURL      string `envconfig:"STORAGEDATA_URL" flag:"storagedata-url" help:"storage (DDM endpoint) data URL or file; default: <server>/cache/ddmendpoints.json"`
	Workdir             string `envconfig:"WORKDIR" flag:"workdir" short:"a" help:"work directory; job directories PanDA_Pilot-<PandaID> are created in it (default: current directory)"`
	Lifetime            int    `envconfig:"LIFETIME" flag:"lifetime" short:"l" help:"maximum pilot lifetime in seconds (used when the queue's maxtime is 0)"`
	JobLabel            string `envconfig:"JOBLABEL" flag:"joblabel" short:"j" help:"prodSourceLabel sent with getJob"`
	GetJobFailures      int    `envconfig:"GETJOBFAILURES" flag:"getjobfailures" short:"x" help:"number of 'no job' answers tolerated before the pilot ends"`
	GetJobRequests      int    `envconfig:"GETJOBREQUESTS" flag:"getjobrequests" short:"v" help:"maximum getJob requests per job slot"`
	GetJobWait          int    `envconfig:"GETJOB_WAIT" flag:"getjob-wait" help:"seconds to wait after a 'no job' answer before asking again (with -x > 1); randomised +-50%"`
	DebugHeartbeat      int    `envconfig:"DEBUG_HEARTBEAT" flag:"debug-heartbeat" help:"seconds between heartbeats while the server keeps a job in debug mode"`
	LostHeartbeat       int    `envconfig:"LOST_HEARTBEAT" flag:"lost-heartbeat" help:"seconds without a successful update after which a job is given up (1317)"`
	Heartbeat           int    `envconfig:"HEARTBEAT" flag:"heartbeat" help:"seconds between 'running' heartbeats"`
	Debug               bool   `envconfig:"DEBUG" flag:"debug" short:"d" help:"debug logging"`
	LogFormat           string `envconfig:"LOG_FORMAT" flag:"log-format" help:"log format: text or json"`
	NoServerUpdate      bool   `envconfig:"NOSERVERUPDATE" flag:"noserverupdate" short:"z" help:"do not send updates to the server; write heartbeat.json instead"`
	JobType             string `envconfig:"JOB_TYPE" flag:"job-type" help:"jobType sent with getJob"`
	ResourceType        string `envconfig:"RESOURCE_TYPE" flag:"resource-type" help:"resourceType sent with getJob (SCORE, MCORE, ...)"`
	WorkingGroup        string `envconfig:"WORKING_GROUP" flag:"working-group" help:"workingGroup sent with getJob"`
	CountryGroup        string `envconfig:"COUNTRY_GROUP" flag:"country-group" help:"countryGroup sent with getJob"`
	AllowOtherCountry   bool   `envconfig:"ALLOW_OTHER_COUNTRY" flag:"allow-other-country" help:"allowOtherCountry sent with getJob"`
	AllowSameUser       bool   `envconfig:"ALLOW_SAME_USER" flag:"allow-same-user" help:"restrict follow-up jobs to the task of the previous job"`
	CACert              string `envconfig:"CACERT" flag:"cacert" help:"X.509 proxy file used as client certificate (default: X509_USER_PROXY)"`
	CAPath              string `envconfig:"CAPATH" flag:"capath" help:"CA directory to verify the server (default: X509_CERT_DIR, /etc/grid-security/certificates)"`
	UseHTTPS            bool   `envconfig:"USE_HTTPS" flag:"use-https" help:"use HTTPS with the proxy as client certificate"`
	NoProxyVerification bool   `envconfig:"NOPROXYVERIFICATION" flag:"noproxyverification" short:"t" help:"do not verify the proxy lifetime"`
	Cleanup             bool   `envconfig:"CLEANUP" flag:"cleanup" help:"remove a job directory once its final state is acknowledged"`
	PilotUser           string `envconfig:"PILOT_USER" flag:"pilot-user" help:"experiment plugin name (accepted for Pilot 3 compatibility; only generic behaviour)"`
	VersionTag          string `envconfig:"VERSIONTAG" flag:"versiontag" short:"i" help:"version tag used in pilotID (PR, RC, ...)"`
	InputDir            string `envconfig:"INPUT_DIR" flag:"input-dir" help:"local directory holding the input files"`
	OutputDir           string `envconfig:"OUTPUT_DIR" flag:"output-dir" help:"local directory for output files (offline mode)"`
	BaseURLs            string `envconfig:"BASEURLS" flag:"baseurls" short:"g" help:"comma-separated URL prefixes transformations may be downloaded from (default: any)"`
	StageinTimeout      int    `envconfig:"STAGEIN_MIN_TIMEOUT" flag:"transfer-min-timeout" help:"minimum per-file transfer timeout in seconds"`
	FinalUpdateTimeout  int    `envconfig:"FINAL_UPDATE_TIMEOUT" flag:"final-update-timeout" help:"seconds the pilot keeps retrying a job's final update"`
	PayloadUser         string `envconfig:"PAYLOAD_USER" flag:"payload-user" help:"run payloads as this local account (root only), or '.prefix' for a pool of accounts prefix001, prefix002, ..."`
	GridMapfile         string `envconfig:"GRID_MAPFILE" flag:"grid-mapfile" help:"map the job owner's DN (prodUserID) to a local account or pool through this grid-mapfile (root only)"`
	PoolLeaseDir        string `envconfig:"POOL_LEASE_DIR" flag:"pool-lease-dir" help:"directory of the pool-account leases"`
	IdentityWrapper     string `envconfig:"IDENTITY_WRAPPER" flag:"identity-wrapper" help:"run payloads through this wrapper instead of switching identity directly, e.g. 'sudo -n -u {user} --'"`
	MyProxyRetrieval    bool   `envconfig:"MYPROXY_RETRIEVAL" flag:"myproxy-retrieval" help:"retrieve the payload credential named by the job's credname/myproxy with myproxy-logon"`
	MyProxyServer       string `envconfig:"MYPROXY_SERVER" flag:"myproxy-server" help:"MyProxy server (host or host:port) for jobs that name none"`
	MyProxyServerDN     string `envconfig:"MYPROXY_SERVER_DN" flag:"myproxy-server-dn" help:"the MyProxy server's certificate DN, when it does not name the host dialled (MYPROXY_SERVER_DN)"`
	ShareProxy          bool   `envconfig:"SHARE_PROXY" flag:"share-proxy" help:"let a payload running as another account use a copy of the pilot's proxy"`
	MonitorInterval     int    `envconfig:"MONITOR_INTERVAL" flag:"monitor-interval" help:"seconds between the payload checks (memory, disk, looping, wall time); 0 = Pilot 3's intervals (60 s, 900 s looping, 10 s wall time)"`
	LoopingLimit        int    `envconfig:"LOOPING_LIMIT" flag:"looping-limit" help:"seconds the job directory may stay unmodified before the payload is killed as looping (1150)"`
	Grace               int    `envconfig:"KILL_GRACE" flag:"kill-grace" help:"seconds between SIGTERM and SIGKILL when the payload is stopped"`
	HarvesterWorkdir    string `envconfig:"HARVESTER_WORKDIR" flag:"harvester-workdir" help:"Harvester access point (job files, report files, kill_worker)"`
	HarvesterDatadir    string `envconfig:"HARVESTER_DATADIR" flag:"harvester-datadir" help:"directory holding Harvester's pandaJobData.out (default: the access point)"`
	HarvesterEventDump  string `envconfig:"HARVESTER_EVENTSTATUSDUMP" flag:"harvester-eventstatusdump" help:"Harvester event status dump file (enables Harvester mode with -z)"`
	HarvesterWorkerAttr string `envconfig:"HARVESTER_WORKERATTRIBUTES" flag:"harvester-workerattributes" help:"Harvester worker attributes file (enables Harvester mode with -z)"`
	HarvesterSubmitMode string `envconfig:"HARVESTER_SUBMIT_MODE" flag:"harvester-submit-mode" help:"Harvester submit mode: PULL or PUSH"`
	ProxyMinLifetime    int    `envconfig:"PROXY_MIN_LIFETIME" flag:"proxy-min-lifetime" help:"seconds of proxy/token lifetime required before asking for a job, beyond the job's expected length (Pilot 3: 2 h with -t off)"`
	StatusAddr          string `envconfig:"STATUS_ADDR" flag:"status-addr" help:"serve the node-local status endpoint on this address (127.0.0.1:PORT or unix:/path); off when empty"`
	DrainFile           string `envconfig:"DRAIN_FILE" flag:"drain-file" help:"when this file exists the pilot finishes its current job and takes no more"`
	BlackHoleJobs       int    `envconfig:"BLACKHOLE_JOBS" flag:"blackhole-jobs" help:"stop taking jobs after this many consecutive jobs failed for pilot or site reasons within --blackhole-seconds of their start (0 disables)"`
	BlackHoleSeconds    int    `envconfig:"BLACKHOLE_SECONDS" flag:"blackhole-seconds" help:"a job failing for pilot or site reasons within this many seconds counts towards the black-hole guard"`
	Recover             bool   `envconfig:"RECOVER" flag:"recover" help:"before taking jobs, finish the unfinished jobs whose journals are in the work directory"`
	RecoverRunning      string `envconfig:"RECOVER_RUNNING" flag:"recover-running" help:"what recovery does with a payload a dead pilot left running: kill or wait"`
}

// Defaults returns the default configuration (Pilot 3's defaults where it has one).
func Defaults() Config {
	return Config{
		URL:                 "https://pandaserver.cern.ch",
		Port:                25443,
		API:                 "legacy",
		Lifetime:            324000,
		JobLabel:            "ptest",
		GetJobFailures:      1,
		GetJobRequests:      2,
		GetJobWait:          60,
		Heartbeat:           1800,
		DebugHeartbeat:      60,
		LostHeartbeat:       10800,
		LogFormat:           "text",
		AllowSameUser:       true,
		UseHTTPS:            true,
		Cleanup:             true,
		PilotUser:           "generic",
		VersionTag:          "PR",
		StageinTimeout:      300,
		FinalUpdateTimeout:  600,
		Grace:               10,
		LoopingLimit:        7200,
		HarvesterSubmitMode: "PULL",
		ProxyMinLifetime:    7200,
		BlackHoleJobs:       3,
		BlackHoleSeconds:    120,
		Recover:             true,
		RecoverRunning:      "kill",
	}
}

// LoadEnv applies PILOT_* environment variables on top of c.
func (c *Config) LoadEnv() error {
	if err := envconfig.Process(EnvPrefix, c); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	return nil
}

// BindFlags declares one flag per Config field on fs, bound to c's fields
// with c's current values as defaults. Call it after LoadEnv so that the
// environment fills what the command line leaves unset.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	bindStruct(fs, c)
}

// Validate checks the configuration for pull mode.
func (c *Config) Validate() error {
	var errs []error
	if c.Lifetime <= 0 {
		errs = append(errs, errors.New("--lifetime must be positive"))
	}
	if c.GetJobFailures < 1 {
		errs = append(errs, errors.New("--getjobfailures must be at least 1"))
	}
	if c.Heartbeat <= 0 || c.DebugHeartbeat <= 0 || c.LostHeartbeat <= 0 {
		errs = append(errs, errors.New("--heartbeat, --debug-heartbeat and --lost-heartbeat must be positive"))
	}
	if c.Grace < 0 {
		errs = append(errs, errors.New("--kill-grace must not be negative"))
	}
	switch c.RecoverRunning {
	case RecoverKill, RecoverWait:
	default:
		errs = append(errs, fmt.Errorf("--recover-running %q: want kill or wait", c.RecoverRunning))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	switch strings.ToLower(c.API) {
	case "legacy", "v1", "auto":
	default:
		errs = append(errs, fmt.Errorf("--api %q: want legacy, v1 or auto", c.API))
	}
	return errors.Join(errs...)
}

// ServerURL returns the server base URL built as Pilot 3 does: the scheme
// defaults to https, and the port is appended unless --url has one.
func (c *Config) ServerURL() (string, error) {
	raw := c.URL
	if raw == "" {
		return "", errors.New("no server URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", c.URL, err)
	}
	if u.Port() == "" && c.Port > 0 {
		u.Host = u.Host + ":" + strconv.Itoa(c.Port)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// WorkdirOrCwd returns the work directory, defaulting to the current directory.
func (c *Config) WorkdirOrCwd() (string, error) {
	if c.Workdir != "" {
		return c.Workdir, nil
	}
	return os.Getwd()
}

// LifetimeDuration returns --lifetime as a duration.
func (c *Config) LifetimeDuration() time.Duration { return time.Duration(c.Lifetime) * time.Second }

// Redacted returns a printable form of the configuration for the log. The
// configuration holds file names, never secrets, but URLs may carry
// credentials in their user-info part, which is removed.
func (c *Config) Redacted() map[string]any {
	out := map[string]any{}
	eachField(c, func(name string, v any) {
		if s, ok := v.(string); ok && strings.Contains(s, "@") && strings.Contains(s, "://") {
			if u, err := url.Parse(s); err == nil && u.User != nil {
				u.User = url.User("redacted")
				v = u.String()
			}
		}
		out[name] = v
	})
	return out
}
