package jobdef

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// JobIdentity digs the PandaID and attemptNr (1 when absent or bad) out of
// a getJob answer or job file that did not parse as a whole, so that the job
// can still be reported failed: the Harvester layout
// {"<PandaID>": {...}} (smallest numeric key), a JSON object with PandaID
// (also inside "jobs" or a v1 "data" envelope), or an urlencoded line. ok
// is false when no positive PandaID is found.
func JobIdentity(data []byte) (pandaID int64, attemptNr int, ok bool) {
	if len(data) > MaxBodySize {
		return 0, 0, false
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(data), "\ufeff"))
	var fields map[string]any
	if strings.HasPrefix(s, "{") {
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &top) != nil || len(top) == 0 {
			return 0, 0, false
		}
		if key, ok := smallestIDKey(top); ok {
			id, _ := strconv.ParseInt(key, 10, 64)
			var inner map[string]any
			d := json.NewDecoder(bytes.NewReader(top[key]))
			d.UseNumber()
			_ = d.Decode(&inner)
			return id, attemptOf(inner), true
		}
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if d.Decode(&fields) != nil {
			return 0, 0, false
		}
		if env, ok := fields["data"].(map[string]any); ok {
			fields = env
		}
		if jobs, ok := fields["jobs"].([]any); ok && len(jobs) > 0 {
			if j, ok := jobs[0].(map[string]any); ok {
				fields = j
			}
		}
	} else {
		v, err := url.ParseQuery(s)
		if err != nil && len(v) == 0 {
			return 0, 0, false
		}
		fields = map[string]any{}
		for k := range v {
			fields[k] = v.Get(k)
		}
	}
	id, err := strconv.ParseInt(strings.TrimSpace(fmt.Sprint(fields["PandaID"])), 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, false
	}
	return id, attemptOf(fields), true
}

// smallestIDKey returns the smallest key when every key of top is a
// positive integer (the Harvester layout).
func smallestIDKey(top map[string]json.RawMessage) (string, bool) {
	best, bestN := "", int64(0)
	for k := range top {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil || n <= 0 {
			return "", false
		}
		if best == "" || n < bestN || (n == bestN && k < best) {
			best, bestN = k, n
		}
	}
	return best, best != ""
}

func attemptOf(fields map[string]any) int {
	if fields == nil {
		return 1
	}
	v, ok := fields["attemptNr"]
	if !ok || v == nil {
		return 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
	if err != nil || n < 0 {
		return 1
	}
	return n
}
