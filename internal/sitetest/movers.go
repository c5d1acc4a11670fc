package sitetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// RSE describes an extra storage element for NewWithStorage: one protocol, used for both
// read_lan and write_lan, whose SURLs are Endpoint + "/" + Path + "/" + RucioPath.
type RSE struct {
	Name     string
	Endpoint string // e.g. "root://127.0.0.1:PORT", "http://127.0.0.1:PORT", "s3://127.0.0.1:PORT"
	Path     string // e.g. "/rucio" or "/bucket"
	// Settings are the protocol's settings (object-store key names, is_secure); may be nil.
	Settings map[string]any
	// Type is the endpoint type ("DATADISK" when empty; "OS_ES", "OS_LOGS" for object stores).
	Type string
}

// MoverQueueJSON returns a queue description for queue E2E (timefloor 60 minutes, so one
// pilot runs every submitted job) with the given copytools and storages per activity.
func MoverQueueJSON(acopytools, astorages map[string][]string) string {
	copytools := map[string]any{}
	for _, names := range acopytools {
		for _, n := range names {
			copytools[n] = map[string]string{"setup": ""}
		}
	}
	q := map[string]any{
		"nickname": "E2E", "panda_resource": "E2E", "state": "ACTIVE", "status": "online",
		"timefloor": 60, "maxtime": 3600, "maxwdir": 20000, "corecount": 1, "catchall": "",
		"copytools": copytools, "acopytools": acopytools, "astorages": astorages, "params": map[string]any{},
	}
	b, err := json.Marshal(q)
	if err != nil {
		panic(err) // only maps of strings
	}
	return string(b)
}

// NewWithStorage creates a site like New whose storage description holds E2E_DISK and the
// given storage elements, and starts its server.
func NewWithStorage(t *testing.T, bin, queue string, rses ...RSE) *Site {
	t.Helper()
	s := &Site{T: t, Bin: bin, Dir: t.TempDir()}
	s.RSE = filepath.Join(s.Dir, "rse")
	s.Work = filepath.Join(s.Dir, "work")
	s.Trf = filepath.Join(s.Dir, "trf")
	s.DB = filepath.Join(s.Dir, "pandalite.db")
	for _, d := range []string{s.RSE, s.Work, s.Trf} {
		Must(t, os.MkdirAll(d, 0o755))
	}
	s.Queue = filepath.Join(s.Dir, "queue.json")
	Must(t, os.WriteFile(s.Queue, []byte(queue), 0o644))
	all := append([]RSE{{Name: "E2E_DISK", Endpoint: "file://localhost", Path: s.RSE}}, rses...)
	storage := map[string]any{}
	for i, r := range all {
		proto := map[string]any{"endpoint": r.Endpoint, "path": r.Path, "flavour": "E2E", "id": i + 1}
		if r.Settings != nil {
			proto["settings"] = r.Settings
		}
		typ := r.Type
		if typ == "" {
			typ = "DATADISK"
		}
		storage[r.Name] = map[string]any{"id": i + 1, "name": r.Name, "type": typ, "site": "E2E", "state": "ACTIVE",
			"is_deterministic": true, "arprotocols": map[string]any{"read_lan": []any{proto}, "write_lan": []any{proto}}}
	}
	b, err := json.Marshal(storage)
	Must(t, err)
	s.Storage = filepath.Join(s.Dir, "storage.json")
	Must(t, os.WriteFile(s.Storage, b, 0o644))
	s.Start()
	return s
}
