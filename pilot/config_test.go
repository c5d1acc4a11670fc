package pilot

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every configuration field has an environment variable and a flag.
func TestConfigCompleteness(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeOf(Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Tag.Get("envconfig") == "" || f.Tag.Get("flag") == "" || f.Tag.Get("help") == "" {
			t.Errorf("field %s lacks an envconfig, flag or help tag", f.Name)
		}
	}
}

// Pilot 3's option names are accepted.
func TestPilot3Flags(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	cfg.BindFlags(fs)
	args := []string{"-q", "CERN", "--url", "https://panda.example.org", "-p", "25443",
		"--queuedata-url", "http://x/{pandaqueue}.json", "--storagedata-url", "http://x/ddm.json",
		"-a", "/scratch", "-l", "7200", "-j", "managed", "-x", "3", "-v", "4", "-z", "-d", "-t",
		"--pilot-user", "generic", "-i", "RC", "--job-type", "user", "--resource-type", "MCORE",
		"--cacert", "/tmp/x509up", "--capath", "/etc/grid-security/certificates", "--use-https=false",
		"--cleanup=false", "--allow-same-user=false", "--working-group", "wg", "--country-group", "cg",
		"--allow-other-country", "-g", "https://a/,https://b/"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Queue, want.URL, want.Port = "CERN", "https://panda.example.org", 25443
	want.QueuedataURL, want.StoragedataURL = "http://x/{pandaqueue}.json", "http://x/ddm.json"
	want.Workdir, want.Lifetime, want.JobLabel = "/scratch", 7200, "managed"
	want.GetJobFailures, want.GetJobRequests, want.NoServerUpdate, want.Debug = 3, 4, true, true
	want.NoProxyVerification, want.PilotUser, want.VersionTag = true, "generic", "RC"
	want.JobType, want.ResourceType, want.CACert = "user", "MCORE", "/tmp/x509up"
	want.CAPath, want.UseHTTPS, want.Cleanup = "/etc/grid-security/certificates", false, false
	want.AllowSameUser, want.WorkingGroup, want.CountryGroup = false, "wg", "cg"
	want.AllowOtherCountry, want.BaseURLs = true, "https://a/,https://b/"
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("parsed config\n%+v\nwant\n%+v", cfg, want)
	}
}

// Environment variables fill what flags leave unset; flags win.
func TestConfigLayering(t *testing.T) {
	t.Setenv("PILOT_QUEUE", "FROM_ENV")
	t.Setenv("PILOT_LIFETIME", "100")
	t.Setenv("PILOT_JOBLABEL", "user")
	cfg := Defaults()
	if err := cfg.LoadEnv(); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	cfg.BindFlags(fs)
	if err := fs.Parse([]string{"-l", "200"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Queue != "FROM_ENV" || cfg.Lifetime != 200 || cfg.JobLabel != "user" || cfg.Port != 25443 {
		t.Fatalf("layering wrong: %+v", cfg)
	}
	t.Setenv("PILOT_LIFETIME", "nope")
	bad := Defaults()
	if err := bad.LoadEnv(); err == nil || !strings.Contains(err.Error(), "LIFETIME") {
		t.Fatalf("bad env value not reported with its name: %v", err)
	}
}

func TestServerURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url  string
		port int
		want string
	}{
		{"https://pandaserver.cern.ch", 25443, "https://pandaserver.cern.ch:25443"},
		{"pandaserver.cern.ch", 25443, "https://pandaserver.cern.ch:25443"},
		{"http://127.0.0.1:8080", 25443, "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", 25443, "http://127.0.0.1:8080"},
	}
	for _, c := range cases {
		cfg := Config{URL: c.url, Port: c.port}
		got, err := cfg.ServerURL()
		if err != nil || got != c.want {
			t.Errorf("ServerURL(%q, %d) = %q, %v; want %q", c.url, c.port, got, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg.Lifetime, cfg.GetJobFailures, cfg.API = 0, 0, "soap"
	err := cfg.Validate()
	for _, w := range []string{"--lifetime", "--getjobfailures", "--api"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate error %v does not name %s", err, w)
		}
	}
}
