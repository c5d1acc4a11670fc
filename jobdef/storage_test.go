package jobdef

import (
	"testing"
)

const storageJSON = `{
 "CERN-PROD_DATADISK": {"id": 42, "name": "CERN-PROD_DATADISK", "type": "DATADISK", "token": "ATLASDATADISK", "site": "CERN-PROD",
   "state": "ACTIVE", "is_deterministic": true,
   "arprotocols": {"read_lan": [{"endpoint": "root://eos.cern.ch:1094", "path": "/eos/atlas/rucio/", "flavour": "XROOTD", "id": 7}],
                   "write_lan": [{"endpoint": "davs://eos.cern.ch:443/", "path": "eos/atlas/rucio", "flavour": "WEBDAV", "id": 8},
                                 {"endpoint": "root://eos.cern.ch:1094", "path": "/eos/atlas/rucio", "flavour": "XROOTD", "id": 7}]},
   "rprotocols": {"7": {"settings": {"is_secure": false}}}},
 "PANDASTUB_LOCALDISK": {"id": "3", "type": "LOCALDISK", "is_deterministic": "True",
   "arprotocols": {"write_lan": [{"endpoint": "file://localhost", "path": "/run/rse", "id": 1}],
                   "read_lan": [{"endpoint": "file://", "path": "/run/rse", "id": 2}]}},
 "OS_ES": {"id": 9, "type": "OS_ES", "is_deterministic": true, "resource": {"bucket_id": 12},
   "arprotocols": {"write_lan": [{"endpoint": "s3://os:443", "path": "/bucket", "id": 5, "settings": {"access_key": "k"}}]}},
 "TAPE": {"id": 10, "is_deterministic": false, "arprotocols": {"write_lan": [{"endpoint": "root://t", "path": "/", "id": 1}]}},
 "NOPROTO": {"id": 11, "is_deterministic": true, "arprotocols": {}},
 "NODET": {"id": 12}
}`

func TestRucioPath(t *testing.T) {
	// Hand-computed with: printf %s 'scope:lfn' | md5sum
	tests := []struct {
		scope, lfn, want string
	}{
		// md5("pandastub:pandastub.40000001._000001.log.tgz") = 6524e2d1a1c22f2d47785a60cb8744eb
		// (matches the surl .../rse/pandastub/65/24/... that Pilot 3 wrote in OBSERVED.md)
		{"pandastub", "pandastub.40000001._000001.log.tgz", "pandastub/65/24/pandastub.40000001._000001.log.tgz"},
		// md5("mc16_13TeV:HITS.11364822._128373.pool.root.11") = c30c83014120a9606ec6696f54b8ec7b
		{"mc16_13TeV", "HITS.11364822._128373.pool.root.11", "mc16_13TeV/c3/0c/HITS.11364822._128373.pool.root.11"},
		// md5("user.rwatari:user.rwatari.9845189.EXT0._002324.InDetDxAOD.pool.root") = d49accfecc4b1ec7309801207b990ab4
		{"user.rwatari", "user.rwatari.9845189.EXT0._002324.InDetDxAOD.pool.root", "user/rwatari/d4/9a/user.rwatari.9845189.EXT0._002324.InDetDxAOD.pool.root"},
	}
	for _, tc := range tests {
		if got := RucioPath(tc.scope, tc.lfn); got != tc.want {
			t.Errorf("RucioPath(%q, %q) = %q, want %q", tc.scope, tc.lfn, got, tc.want)
		}
	}
}

func TestParseStorageDataAndSURL(t *testing.T) {
	sd, err := ParseStorageData([]byte(storageJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := sd["CERN-PROD_DATADISK"]
	if c.ID != 42 || c.Type != "DATADISK" || c.Token != "ATLASDATADISK" || c.Site != "CERN-PROD" || c.State != "ACTIVE" || !c.IsDeterministic ||
		len(c.ARProtocols["write_lan"]) != 2 || c.ARProtocols["read_lan"][0].Flavour != "XROOTD" || c.ARProtocols["read_lan"][0].ID != 7 ||
		c.ARProtocols["read_lan"][0].Settings["is_secure"] != false || c.ARProtocols["write_lan"][0].Settings != nil {
		t.Errorf("CERN-PROD_DATADISK = %+v", c)
	}
	l := sd["PANDASTUB_LOCALDISK"]
	if l.ID != 3 || l.Name != "PANDASTUB_LOCALDISK" || !l.IsDeterministic {
		t.Errorf("PANDASTUB_LOCALDISK = %+v", l)
	}
	if o := sd["OS_ES"]; o.Resource["bucket_id"] != 12.0 || o.ARProtocols["write_lan"][0].Settings["access_key"] != "k" {
		t.Errorf("OS_ES = %+v", o)
	}
	if sd["NODET"].IsDeterministic {
		t.Error("absent is_deterministic must be false")
	}
	tests := []struct {
		rse, activity, scope, lfn string
		want                      string
		code                      ErrorCode
	}{
		{"PANDASTUB_LOCALDISK", "write_lan", "pandastub", "pandastub.40000001._000001.log.tgz",
			"file://localhost/run/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz", 0},
		{"PANDASTUB_LOCALDISK", "read_lan", "pandastub", "pandastub.40000001._000001.log.tgz",
			"file:///run/rse/pandastub/65/24/pandastub.40000001._000001.log.tgz", 0},
		{"CERN-PROD_DATADISK", "read_lan", "mc16_13TeV", "HITS.11364822._128373.pool.root.11",
			"root://eos.cern.ch:1094/eos/atlas/rucio/mc16_13TeV/c3/0c/HITS.11364822._128373.pool.root.11", 0},
		{"CERN-PROD_DATADISK", "write_lan", "user.rwatari", "user.rwatari.9845189.EXT0._002324.InDetDxAOD.pool.root",
			"davs://eos.cern.ch:443/eos/atlas/rucio/user/rwatari/d4/9a/user.rwatari.9845189.EXT0._002324.InDetDxAOD.pool.root", 0},
		{"OS_ES", "write_lan", "mc16_13TeV", "HITS.11364822._128373.pool.root.11",
			"s3://os:443/bucket/mc16_13TeV/c3/0c/HITS.11364822._128373.pool.root.11", 0},
		{"TAPE", "write_lan", "s", "f", "", NonDeterministicDDM},
		{"NODET", "write_lan", "s", "f", "", NonDeterministicDDM},
		{"NOPROTO", "write_lan", "s", "f", "", NoStorageProtocol},
		{"CERN-PROD_DATADISK", "write_wan", "s", "f", "", NoStorageProtocol},
		{"CERN-PROD_DATADISK", "write_lan", "s", "../f", "", BadOutputFileName},
		{"CERN-PROD_DATADISK", "write_lan", "", "f", "", NotDefined},
	}
	for _, tc := range tests {
		e, err := sd.Endpoint(tc.rse)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.SURL(tc.activity, tc.scope, tc.lfn)
		if CodeOf(err) != tc.code || got != tc.want {
			t.Errorf("%s SURL(%s, %s, %s) = %q, %v; want %q, code %d", tc.rse, tc.activity, tc.scope, tc.lfn, got, err, tc.want, tc.code)
		}
	}
	if _, err := sd.Endpoint("MISSING"); CodeOf(err) != NoStorage {
		t.Errorf("Endpoint(MISSING) = %v", err)
	}
	if _, err := (*DDMEndpoint)(nil).SURL("w", "s", "f"); CodeOf(err) != NotDefined {
		t.Errorf("nil endpoint: %v", err)
	}
}

func TestJoinURL(t *testing.T) {
	tests := []struct{ ep, path, rel, want string }{
		{"root://h:1094", "/atlas/rucio", "s/ab/cd/f", "root://h:1094/atlas/rucio/s/ab/cd/f"},
		{"root://h:1094/", "/atlas/rucio/", "s/ab/cd/f", "root://h:1094/atlas/rucio/s/ab/cd/f"},
		{"root://h:1094//", "//atlas//", "/s/f", "root://h:1094/atlas/s/f"},
		{"https://h", "", "s/f", "https://h/s/f"},
		{"file://", "/data", "s/f", "file:///data/s/f"},
		{"file://", "", "s/f", "file:///s/f"},
	}
	for _, tc := range tests {
		if got := joinURL(tc.ep, tc.path, tc.rel); got != tc.want {
			t.Errorf("joinURL(%q, %q, %q) = %q, want %q", tc.ep, tc.path, tc.rel, got, tc.want)
		}
	}
}

func TestParseStorageDataErrors(t *testing.T) {
	bad := map[string]string{
		"not JSON":         `x`,
		"list":             `[]`,
		"error answer":     `{"error": "denied"}`,
		"endpoint not obj": `{"A": 1}`,
		"bad id":           `{"A": {"id": 1.5}}`,
		"bad protocols":    `{"A": {"arprotocols": {"w": [1]}}}`,
		"protocols dict":   `{"A": {"arprotocols": {"w": {"endpoint": "x"}}}}`,
		"arprotocols list": `{"A": {"arprotocols": []}}`,
		"bad bool":         `{"A": {"is_deterministic": "perhaps"}}`,
		"bad resource":     `{"A": {"resource": "x"}}`,
		"name not string":  `{"A": {"name": {}}}`,
	}
	for name, data := range bad {
		if _, err := ParseStorageData([]byte(data)); CodeOf(err) != ConversionFailure {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
