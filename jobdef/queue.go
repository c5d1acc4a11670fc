package jobdef

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// CopytoolSetup is the per-copytool setup of a queue (queuedata "copytools" value).
type CopytoolSetup struct {
	Setup string // setup script to source before using the copytool, may be ""
}

// QueueData is the PanDA queue description (PROTOCOL.md §5.2). Raw holds the whole decoded
// object (encoding/json types: float64 numbers); the typed fields are derived from it.
type QueueData struct {
	Name         string // "nickname"; never empty
	Resource     string // "panda_resource" (sent as siteName); Name when absent
	Site         string // "atlas_site", else "gstat"
	State        string // "state", e.g. ACTIVE
	Status       string // "status": online/offline/test/brokeroff
	Type         string // "type": unified/production/analysis/...
	ResourceType string // "resource_type": GRID/hpc/...

	Timefloor    time.Duration // "timefloor", received in minutes
	MaxTime      time.Duration // "maxtime", received in seconds (0 = unset)
	MaxWDir      int64         // "maxwdir", MB
	MaxInputSize int64         // "maxinputsize", MB (-1 disables the input-size check)
	MaxRSS       int64         // "maxrss", MB
	CoreCount    int           // "corecount", >= 1 (0/absent become 1)
	Catchall     string        // "catchall" free-form flags

	Copytools         map[string]CopytoolSetup // "copytools": {name: {"setup": ...}}
	ACopytools        map[string][]string      // "acopytools": {activity: [copytool...]}
	AStorages         map[string][]string      // "astorages": {activity: [RSE...]}
	ACopytoolsSchemas map[string][]string      // "acopytools_schemas" (see ParseQueueData)
	Params            map[string]any           // "params"
	DirectAccessLAN   bool                     // "direct_access_lan"
	DirectAccessWAN   bool                     // "direct_access_wan"
	ContainerType     map[string]string        // "container_type" "name:user;..." as {user: name}
	Environ           string                   // "environ"
	Raw               map[string]any
}

// ParseQueueData parses a queue description: the flat object of the PanDA cache
// (/cache/schedconfig/<queue>.all.json, recognised by a string "nickname") or an object keyed
// by queue name (CRIC files), from which the entry named queue is taken (with queue == "" the
// object must have exactly one entry). An object with an "error" key is rejected.
//
// Numbers may arrive as JSON numbers or numeric strings; null and "" mean unset. Units:
// timefloor minutes (fractions allowed), maxtime seconds, maxwdir/maxinputsize/maxrss MB.
// Negative timefloor, maxtime, maxwdir, maxrss or corecount, maxinputsize below -1,
// non-integral integers, and values of the wrong kind are *PilotError QueueDataNotOK naming the
// key. A missing or empty nickname, undecodable input, input over MaxBodySize, an "error"
// object or a missing queue entry are QueueDataError (1116). When queue is not "" the
// nickname must equal it (QueueDataNotOK).
//
// copytools may also be a list of names (no setup); acopytools/astorages values may be a
// single name or comma-separated text; acopytools_schemas values may be lists or
// {copytool: [schema...]} dicts, which are flattened (copytools in name order, duplicates
// removed). container_type "apptainer:pilot;docker:wrapper" becomes {"pilot": "apptainer",
// "wrapper": "docker"} (',' also separates entries).
func ParseQueueData(data []byte, queue string) (*QueueData, error) {
	if len(data) > MaxBodySize {
		return nil, Errorf(QueueDataError, "queue data of %d bytes exceeds the limit of %d bytes", len(data), MaxBodySize)
	}
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, Errorf(QueueDataError, "queue data is not a JSON object: %v", err)
	}
	if e, bad := top["error"]; bad {
		return nil, Errorf(QueueDataError, "queue data is an error answer: %v", cutForDiag(strings.TrimSpace(stringOrJSON(e))))
	}
	obj := top
	if _, flat := top["nickname"].(string); !flat {
		var sub map[string]any
		var ok bool
		switch {
		case queue != "":
			sub, ok = top[queue].(map[string]any)
		case len(top) == 1:
			for _, v := range top {
				sub, ok = v.(map[string]any)
			}
		}
		if !ok {
			if queue == "" {
				return nil, Errorf(QueueDataError, "queue data has no nickname and is not a single wrapped queue")
			}
			return nil, Errorf(QueueDataError, "queue %q not found in queue data", queue)
		}
		if _, bad := sub["error"]; bad {
			return nil, Errorf(QueueDataError, "queue data is an error answer: %v", cutForDiag(stringOrJSON(sub["error"])))
		}
		obj = sub
	}
	q, err := queueFromMap(obj)
	if err != nil {
		return nil, err
	}
	if queue != "" && q.Name != queue {
		return nil, fieldError(QueueDataNotOK, "nickname", "%q is not the requested queue %q", q.Name, queue)
	}
	return q, nil
}

func stringOrJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// queueFromMap derives the typed fields from a decoded queue object (kept as Raw).
func queueFromMap(m map[string]any) (*QueueData, error) {
	const bad = QueueDataNotOK
	q := &QueueData{Raw: m}
	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = anyString(bad, key, m[key])
		return strings.TrimSpace(s)
	}
	q.Name = str("nickname")
	q.Resource = str("panda_resource")
	q.Site = str("atlas_site")
	if q.Site == "" {
		q.Site = str("gstat")
	}
	q.State = str("state")
	q.Status = str("status")
	q.Type = str("type")
	q.ResourceType = str("resource_type")
	q.Catchall = str("catchall")
	q.Environ = str("environ")
	ct := str("container_type")
	if err != nil {
		return nil, err
	}
	if q.Name == "" {
		return nil, fieldError(QueueDataError, "nickname", "queue data has no queue name")
	}
	if q.Resource == "" {
		q.Resource = q.Name
	}

	minutes, err := anyFloat(bad, "timefloor", m["timefloor"])
	if err != nil {
		return nil, err
	}
	if minutes < 0 || minutes > 1e7 {
		return nil, fieldError(bad, "timefloor", "%v minutes is out of range", minutes)
	}
	q.Timefloor = time.Duration(math.Round(minutes * float64(time.Minute)))
	secs, err := anyInt(bad, "maxtime", m["maxtime"], 0, 1<<33)
	if err != nil {
		return nil, err
	}
	q.MaxTime = time.Duration(secs) * time.Second
	if q.MaxWDir, err = anyInt(bad, "maxwdir", m["maxwdir"], 0, 1<<40); err != nil {
		return nil, err
	}
	if q.MaxInputSize, err = anyInt(bad, "maxinputsize", m["maxinputsize"], -1, 1<<40); err != nil {
		return nil, err
	}
	if q.MaxRSS, err = anyInt(bad, "maxrss", m["maxrss"], 0, 1<<40); err != nil {
		return nil, err
	}
	cc, err := anyInt(bad, "corecount", m["corecount"], 0, 1<<20)
	if err != nil {
		return nil, err
	}
	q.CoreCount = max(int(cc), 1)

	if q.Copytools, err = parseCopytools(m["copytools"]); err != nil {
		return nil, err
	}
	if q.ACopytools, err = anyListMap(bad, "acopytools", m["acopytools"]); err != nil {
		return nil, err
	}
	if q.AStorages, err = anyListMap(bad, "astorages", m["astorages"]); err != nil {
		return nil, err
	}
	if q.ACopytoolsSchemas, err = parseSchemas(m["acopytools_schemas"]); err != nil {
		return nil, err
	}
	switch p := m["params"].(type) {
	case nil:
		q.Params = map[string]any{}
	case map[string]any:
		q.Params = p
	case string:
		if !IsUnset(p) {
			return nil, fieldError(bad, "params", "%s is not a dict", describe(p))
		}
		q.Params = map[string]any{}
	default:
		return nil, fieldError(bad, "params", "%s is not a dict", describe(p))
	}
	if q.DirectAccessLAN, err = anyBool(bad, "direct_access_lan", m["direct_access_lan"]); err != nil {
		return nil, err
	}
	if q.DirectAccessWAN, err = anyBool(bad, "direct_access_wan", m["direct_access_wan"]); err != nil {
		return nil, err
	}
	q.ContainerType = map[string]string{}
	for _, entry := range strings.FieldsFunc(ct, func(r rune) bool { return r == ';' || r == ',' }) {
		name, user, ok := strings.Cut(strings.TrimSpace(entry), ":")
		name, user = strings.TrimSpace(name), strings.TrimSpace(user)
		if !ok || name == "" || user == "" {
			return nil, fieldError(bad, "container_type", "entry %q is not name:user", cutForDiag(entry))
		}
		q.ContainerType[user] = name
	}
	return q, nil
}

func parseCopytools(v any) (map[string]CopytoolSetup, error) {
	const bad = QueueDataNotOK
	out := map[string]CopytoolSetup{}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		for name, e := range x {
			var setup string
			switch c := e.(type) {
			case nil:
			case map[string]any:
				s, err := anyString(bad, "copytools."+name+".setup", c["setup"])
				if err != nil {
					return nil, err
				}
				setup = s
			case string:
				setup = c
			default:
				return nil, fieldError(bad, "copytools."+name, "%s is not a dict", describe(e))
			}
			out[name] = CopytoolSetup{Setup: setup}
		}
	case []any, string:
		names, err := anyStringList(bad, "copytools", x)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out[n] = CopytoolSetup{}
		}
	default:
		return nil, fieldError(bad, "copytools", "%s is not a dict", describe(v))
	}
	return out, nil
}

func parseSchemas(v any) (map[string][]string, error) {
	const bad = QueueDataNotOK
	out := map[string][]string{}
	switch x := v.(type) {
	case nil:
		return out, nil
	case map[string]any:
		for act, e := range x {
			if per, ok := e.(map[string]any); ok {
				var all []string
				for _, ct := range sortedKeys(per) {
					l, err := anyStringList(bad, "acopytools_schemas."+act+"."+ct, per[ct])
					if err != nil {
						return nil, err
					}
					for _, s := range l {
						if !slices.Contains(all, s) {
							all = append(all, s)
						}
					}
				}
				out[act] = all
				continue
			}
			l, err := anyStringList(bad, "acopytools_schemas."+act, e)
			if err != nil {
				return nil, err
			}
			out[act] = l
		}
		return out, nil
	case string:
		if IsUnset(x) {
			return out, nil
		}
	}
	return nil, fieldError(bad, "acopytools_schemas", "%s is not a dict", describe(v))
}

// catchallTokens splits catchall into tokens separated by commas or white space; quotes (' or
// ") group text, e.g. singularity_options='-B /a,/b' is one token.
func catchallTokens(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			cur.WriteByte(c)
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
			cur.WriteByte(c)
		case c == ',' || isSpace(c):
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// CatchallHas reports whether catchall contains flag as a token ("curlgetjob") or as the key
// of a key=value token ("zip_time_gap" in "zip_time_gap=7200"). Tokens are separated by commas
// or white space; quoted text is not split. Matching is exact (case-sensitive).
func (q *QueueData) CatchallHas(flag string) bool {
	_, ok := q.CatchallValue(flag)
	return ok
}

// CatchallValue returns the value of key=value in catchall with surrounding quotes removed
// ("" for a bare flag) and whether key is present (see CatchallHas).
func (q *QueueData) CatchallValue(key string) (string, bool) {
	if q == nil || key == "" {
		return "", false
	}
	for _, tok := range catchallTokens(q.Catchall) {
		k, v, hasValue := strings.Cut(tok, "=")
		if k != key {
			continue
		}
		if hasValue && len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return "", false
}

// CopytoolsFor returns the copytools to use for the first of activities that has a non-empty
// acopytools entry, else the "default" entry. When acopytools is empty altogether, the sorted
// names of copytools serve as the default list. nil means no copytool is configured (the
// caller reports UnknownCopytool). The result is a fresh slice.
func (q *QueueData) CopytoolsFor(activities ...string) []string {
	if q == nil {
		return nil
	}
	if len(q.ACopytools) == 0 {
		if len(q.Copytools) == 0 {
			return nil
		}
		return sortedKeys(q.Copytools)
	}
	return firstListFor(q.ACopytools, activities)
}

// StoragesFor returns the RSEs of the first of activities that has a non-empty astorages entry,
// else the "default" entry, else nil. The result is a fresh slice.
func (q *QueueData) StoragesFor(activities ...string) []string {
	if q == nil {
		return nil
	}
	return firstListFor(q.AStorages, activities)
}

func firstListFor(m map[string][]string, activities []string) []string {
	for _, a := range append(slices.Clone(activities), "default") {
		if l := m[a]; len(l) > 0 {
			return slices.Clone(l)
		}
	}
	return nil
}

// Param returns params[name] and whether it is present.
func (q *QueueData) Param(name string) (any, bool) {
	if q == nil {
		return nil, false
	}
	v, ok := q.Params[name]
	return v, ok
}

// ParamPercent returns params[name] as a percentage: a number, or numeric text with an
// optional trailing '%'. A missing, null, non-numeric or negative value gives def.
func (q *QueueData) ParamPercent(name string, def float64) float64 {
	v, ok := q.Param(name)
	if !ok {
		return def
	}
	if s, isStr := v.(string); isStr {
		v = strings.TrimSuffix(strings.TrimSpace(s), "%")
		if IsUnset(v.(string)) {
			return def
		}
	}
	if v == nil {
		return def
	}
	f, err := anyFloat(QueueDataNotOK, name, v)
	if err != nil || f < 0 {
		return def
	}
	return f
}

// ParamBool returns params[name] as a boolean: true for JSON true, text "true"/"True"/"yes"/
// "1"/"on", and non-zero numbers; false otherwise (also when missing or unparsable).
func (q *QueueData) ParamBool(name string) bool {
	v, ok := q.Param(name)
	if !ok {
		return false
	}
	b, err := anyBool(QueueDataNotOK, name, v)
	return err == nil && b
}

// Apply returns a copy of q with job-level overrides (--overwriteQueueData) applied; q is not
// modified. See ApplyChecked; overrides that would make the description invalid are skipped.
func (q *QueueData) Apply(overrides map[string]any) *QueueData {
	nq, _ := q.ApplyChecked(overrides)
	return nq
}

// ApplyChecked merges overrides into a deep copy of q.Raw (dict values merge recursively,
// other values replace; integers from Python literals become float64 like JSON numbers) and
// derives the typed fields again, e.g. {"timefloor": 0} sets Timefloor to 0 and
// {"params": {"pilot_rss_grace": 50}} adds one param. Keys are applied in sorted order; a key
// whose value would make the description invalid (e.g. {"maxtime": "soon"}) is skipped and
// reported in the returned error (QueueDataNotOK), the other keys still apply. When q.Raw is
// nil the typed fields of q are the base. Apply never returns nil for a non-nil q.
func (q *QueueData) ApplyChecked(overrides map[string]any) (*QueueData, error) {
	if q == nil {
		return nil, Errorf(QueueDataError, "no queue data to apply overrides to")
	}
	base := q.Raw
	if base == nil {
		base = q.toMap()
	}
	raw, _ := jsonLike(base).(map[string]any)
	cur, err := queueFromMap(raw)
	if err != nil {
		c := *q
		return &c, err
	}
	var errs []error
	for _, k := range sortedKeys(overrides) {
		trial, _ := jsonLike(raw).(map[string]any)
		ov := jsonLike(overrides[k])
		if om, ok := ov.(map[string]any); ok {
			if bm, ok := trial[k].(map[string]any); ok {
				ov = mergeInto(bm, om)
			}
		}
		trial[k] = ov
		next, err := queueFromMap(trial)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		raw, cur = trial, next
	}
	if len(errs) > 0 {
		return cur, &PilotError{Code: QueueDataNotOK, Diag: FormatDiag(QueueDataNotOK, "overrides skipped: "+errors.Join(errs...).Error()), Err: errors.Join(errs...)}
	}
	return cur, nil
}

// toMap renders the typed fields in queuedata form.
func (q *QueueData) toMap() map[string]any {
	lists := func(m map[string][]string) map[string]any {
		out := map[string]any{}
		for k, l := range m {
			a := make([]any, len(l))
			for i, s := range l {
				a[i] = s
			}
			out[k] = a
		}
		return out
	}
	ct := map[string]any{}
	for n, c := range q.Copytools {
		ct[n] = map[string]any{"setup": c.Setup}
	}
	var cts []string
	for _, user := range sortedKeys(q.ContainerType) {
		cts = append(cts, q.ContainerType[user]+":"+user)
	}
	params := map[string]any{}
	for k, v := range q.Params {
		params[k] = v
	}
	return map[string]any{
		"nickname": q.Name, "panda_resource": q.Resource, "atlas_site": q.Site, "state": q.State,
		"status": q.Status, "type": q.Type, "resource_type": q.ResourceType,
		"timefloor": q.Timefloor.Minutes(), "maxtime": float64(int64(q.MaxTime / time.Second)),
		"maxwdir": float64(q.MaxWDir), "maxinputsize": float64(q.MaxInputSize), "maxrss": float64(q.MaxRSS),
		"corecount": float64(q.CoreCount), "catchall": q.Catchall, "copytools": ct,
		"acopytools": lists(q.ACopytools), "astorages": lists(q.AStorages),
		"acopytools_schemas": lists(q.ACopytoolsSchemas), "params": params,
		"direct_access_lan": q.DirectAccessLAN, "direct_access_wan": q.DirectAccessWAN,
		"container_type": strings.Join(cts, ";"), "environ": q.Environ,
	}
}
