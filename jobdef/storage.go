package jobdef

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// StorageData maps DDM endpoint (RSE) names to their descriptions (PROTOCOL.md §5.3).
type StorageData map[string]*DDMEndpoint

// DDMEndpoint describes one storage endpoint (RSE).
type DDMEndpoint struct {
	ID              int64  // "id" (storage id, Pilot 3 "pk")
	Name            string // "name"; the map key when absent
	Type            string // "type", e.g. DATADISK, OS_ES, OS_LOGS
	Token           string // "token" (space token)
	Site            string // "site"
	State           string // "state"
	IsDeterministic bool   // "is_deterministic"; false when absent, as in Pilot 3
	// ARProtocols holds "arprotocols": activity (read_lan, write_lan, read_wan, write_wan, ...)
	// -> protocols in preference order.
	ARProtocols map[string][]Protocol
	Resource    map[string]any // "resource", e.g. bucket_id
}

// Protocol is one access protocol of an endpoint.
type Protocol struct {
	Endpoint string // e.g. "root://host:1094"
	Path     string // e.g. "/atlas/rucio"
	Flavour  string // e.g. "XROOTD"
	ID       int64
	// Settings is the protocol's "settings" dict, else the "settings" of the rprotocols entry
	// with the same id (object-store credentials: access_key, secret_key, is_secure); may be nil.
	Settings map[string]any
}

// ParseStorageData parses a storage description (cric_ddmendpoints.json format): a JSON
// object keyed by RSE name whose values are endpoint objects. Numbers may be JSON numbers or
// numeric text, booleans JSON booleans or "True"/"False" text. An object with an "error" key,
// a value that is not an object, a protocol that is not an object, a non-integral id or
// input over MaxBodySize is an error (*PilotError ConversionFailure naming the RSE and key).
func ParseStorageData(data []byte) (StorageData, error) {
	const bad = ConversionFailure
	if len(data) > MaxBodySize {
		return nil, Errorf(bad, "storage data of %d bytes exceeds the limit of %d bytes", len(data), MaxBodySize)
	}
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, Errorf(bad, "storage data is not a JSON object: %v", err)
	}
	if e, ok := top["error"]; ok {
		return nil, Errorf(bad, "storage data is an error answer: %v", cutForDiag(stringOrJSON(e)))
	}
	sd := make(StorageData, len(top))
	for name, v := range top {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fieldError(bad, name, "%s is not an endpoint object", describe(v))
		}
		e, err := endpointFromMap(name, m)
		if err != nil {
			return nil, err
		}
		sd[name] = e
	}
	return sd, nil
}

func endpointFromMap(rse string, m map[string]any) (*DDMEndpoint, error) {
	const bad = ConversionFailure
	e := &DDMEndpoint{ARProtocols: map[string][]Protocol{}}
	var err error
	if e.ID, err = anyInt(bad, rse+".id", m["id"], 0, 1<<62); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		p   *string
	}{{"name", &e.Name}, {"type", &e.Type}, {"token", &e.Token}, {"site", &e.Site}, {"state", &e.State}} {
		if *f.p, err = anyString(bad, rse+"."+f.key, m[f.key]); err != nil {
			return nil, err
		}
		if IsUnset(*f.p) {
			*f.p = ""
		}
	}
	if e.Name == "" {
		e.Name = rse
	}
	if e.IsDeterministic, err = anyBool(bad, rse+".is_deterministic", m["is_deterministic"]); err != nil {
		return nil, err
	}
	switch r := m["resource"].(type) {
	case nil:
	case map[string]any:
		e.Resource = r
	default:
		return nil, fieldError(bad, rse+".resource", "%s is not a dict", describe(r))
	}
	rprot, _ := m["rprotocols"].(map[string]any)
	switch ap := m["arprotocols"].(type) {
	case nil:
	case map[string]any:
		for act, lv := range ap {
			list, ok := lv.([]any)
			if !ok && lv != nil {
				return nil, fieldError(bad, rse+".arprotocols."+act, "%s is not a list", describe(lv))
			}
			for i, pv := range list {
				key := rse + ".arprotocols." + act + "[" + strconv.Itoa(i) + "]"
				pm, ok := pv.(map[string]any)
				if !ok {
					return nil, fieldError(bad, key, "%s is not a protocol object", describe(pv))
				}
				p, err := protocolFromMap(key, pm, rprot)
				if err != nil {
					return nil, err
				}
				e.ARProtocols[act] = append(e.ARProtocols[act], p)
			}
		}
	default:
		return nil, fieldError(bad, rse+".arprotocols", "%s is not a dict", describe(ap))
	}
	return e, nil
}

func protocolFromMap(key string, m map[string]any, rprot map[string]any) (Protocol, error) {
	const bad = ConversionFailure
	var p Protocol
	var err error
	if p.Endpoint, err = anyString(bad, key+".endpoint", m["endpoint"]); err != nil {
		return p, err
	}
	if p.Path, err = anyString(bad, key+".path", m["path"]); err != nil {
		return p, err
	}
	if p.Flavour, err = anyString(bad, key+".flavour", m["flavour"]); err != nil {
		return p, err
	}
	if p.ID, err = anyInt(bad, key+".id", m["id"], 0, 1<<62); err != nil {
		return p, err
	}
	if s, ok := m["settings"].(map[string]any); ok {
		p.Settings = s
	} else if r, ok := rprot[strconv.FormatInt(p.ID, 10)].(map[string]any); ok {
		p.Settings, _ = r["settings"].(map[string]any)
	}
	return p, nil
}

// Endpoint returns the endpoint named rse, or a *PilotError NoStorage naming it.
func (s StorageData) Endpoint(rse string) (*DDMEndpoint, error) {
	if e, ok := s[rse]; ok && e != nil {
		return e, nil
	}
	return nil, Errorf(NoStorage, "unknown storage endpoint %q", rse)
}

// RucioPath returns the deterministic Rucio path of a file: the scope with '.' replaced by
// '/', then the first two and the next two hex digits of md5("<scope>:<lfn>"), then the LFN,
// joined by '/'. Example: RucioPath("mc16_13TeV", "f.root") = "mc16_13TeV/<h0h1>/<h2h3>/f.root";
// RucioPath("user.jdoe", lfn) starts with "user/jdoe/".
func RucioPath(scope, lfn string) string {
	sum := md5.Sum([]byte(scope + ":" + lfn))
	h := hex.EncodeToString(sum[:])
	return strings.ReplaceAll(scope, ".", "/") + "/" + h[0:2] + "/" + h[2:4] + "/" + lfn
}

// SURL returns the URL of a file on this endpoint for activity (e.g. "write_lan"): the
// first protocol of arprotocols[activity], as endpoint + "/" + path + "/" + RucioPath(scope,
// lfn) with exactly one '/' between the parts (an endpoint ending in "://", e.g. "file://",
// keeps its slashes, so path "/data" gives "file:///data/..."; an empty path is left out).
// Errors (*PilotError): nil endpoint or empty scope NotDefined; invalid lfn as ValidateLFN;
// non-deterministic endpoint NonDeterministicDDM (1329); no protocol for the activity
// NoStorageProtocol (1313).
func (e *DDMEndpoint) SURL(activity, scope, lfn string) (string, error) {
	if e == nil {
		return "", Errorf(NotDefined, "no storage endpoint")
	}
	if err := ValidateLFN(lfn); err != nil {
		return "", err
	}
	if strings.TrimSpace(scope) == "" {
		return "", Errorf(NotDefined, "file %q has no scope", lfn)
	}
	if !e.IsDeterministic {
		return "", Errorf(NonDeterministicDDM, "storage endpoint %q is not deterministic", e.Name)
	}
	protos := e.ARProtocols[activity]
	if len(protos) == 0 || protos[0].Endpoint == "" {
		return "", Errorf(NoStorageProtocol, "storage endpoint %q has no protocol for activity %q", e.Name, activity)
	}
	return joinURL(protos[0].Endpoint, protos[0].Path, RucioPath(scope, lfn)), nil
}

// joinURL joins endpoint, path and rel with single slashes (see SURL).
func joinURL(endpoint, path, rel string) string {
	ep := endpoint
	for strings.HasSuffix(ep, "/") && !strings.HasSuffix(ep, "://") {
		ep = ep[:len(ep)-1]
	}
	parts := []string{}
	if p := strings.Trim(path, "/"); p != "" {
		parts = append(parts, p)
	}
	parts = append(parts, strings.TrimLeft(rel, "/"))
	return ep + "/" + strings.Join(parts, "/")
}
