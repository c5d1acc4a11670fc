package pandalite

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
)

// Legacy StatusCode values (PROTOCOL.md §1.5).
const (
	SCSuccess    = 0
	SCTimeOut    = 10
	SCNoJobs     = 20
	SCFailed     = 30
	SCInvalid    = 50
	SCRole       = 60
	SCPerm       = 70
	SCMissKey    = 80
	SCProxyError = 90
)

// AcceptsJSON reports whether a legacy request asked for a JSON answer
// (its Accept header contains application/json).
func AcceptsJSON(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(a, "application/json") {
			return true
		}
	}
	return false
}

// EncodeURLEncoded renders o like Python's urlencode(dict): keys in order,
// every value as its str() (None -> "None", True -> "True"), quote_plus
// escaping. A value that is a list or dict appears as its Python repr.
func EncodeURLEncoded(o Object) string {
	var b strings.Builder
	for i, f := range o {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(pyStr(f.Value)))
	}
	return b.String()
}

// EncodeJSON renders o as Python's json.dumps would.
func EncodeJSON(v any) []byte {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		// Every value built by this package is encodable; an error here is
		// a programming error, answered as a JSON string of the message.
		b.Reset()
		writeJSONString(&b, err.Error())
	}
	return b.Bytes()
}

// writeLegacy sends a legacy answer: JSON with native types when the
// request accepts JSON, otherwise urlencoded text/plain. HTTP status 200.
func writeLegacy(w http.ResponseWriter, r *http.Request, ans Object) {
	if AcceptsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(EncodeJSON(ans))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(EncodeURLEncoded(ans)))
}

// writeText sends a plain text answer with the given HTTP status.
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

// writeForbidden answers an unknown method the way the PanDA server does.
func writeForbidden(w http.ResponseWriter, method string) {
	writeText(w, http.StatusForbidden, "ERROR : method "+method+" is forbidden")
}

// writeV1 sends a v1 answer {"success": .., "message": .., "data": ..}.
func writeV1(w http.ResponseWriter, success bool, message string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(EncodeJSON(Object{{"success", success}, {"message", message}, {"data", data}}))
}

// legacyStatus is a legacy answer holding only a StatusCode, plus an
// errorDialog when the request accepts JSON and dialog is not empty.
func legacyStatus(r *http.Request, code int, dialog string) Object {
	o := Object{{"StatusCode", code}}
	if dialog != "" && AcceptsJSON(r) {
		o = append(o, Field{"errorDialog", dialog})
	}
	return o
}
