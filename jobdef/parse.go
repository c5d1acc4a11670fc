package jobdef

import (
	"net/url"
	"sort"
)

// MaxBodySize is the largest getJob answer, job file, queue or storage description accepted.
const MaxBodySize = 64 << 20

// GetJobResponse is a parsed getJob answer.
type GetJobResponse struct {
	StatusCode  int
	ErrorDialog string
	Jobs        []*Job
}

// ParseGetJobResponse parses a getJob answer.
func ParseGetJobResponse(body []byte) (*GetJobResponse, error) {
	return nil, NewError(NotImplemented, "", nil)
}

// ParseJobFile parses a job file.
func ParseJobFile(data []byte) (*Job, error) {
	return nil, NewError(NotImplemented, "", nil)
}

// EncodeURLEncoded encodes fields as application/x-www-form-urlencoded with sorted keys.
func EncodeURLEncoded(fields map[string]string) string {
	v := make(url.Values, len(fields))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Set(k, fields[k])
	}
	return v.Encode()
}
