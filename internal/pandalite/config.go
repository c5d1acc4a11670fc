package pandalite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// Queue is one PanDA queue description served under /cache/schedconfig/.
type Queue struct {
	Name     string // the queue's nickname; also the URL name
	Resource string // panda_resource (the siteName pilots send); Name when unset
	Status   string // status: online, test, ...
	Raw      []byte // the flat queue JSON object
}

// ParseQueue reads a queue description: a flat queue object (PanDA
// <queue>.all.json format) or a CRIC-style object wrapping exactly one
// queue by name (the wrapper key becomes the nickname when the inner
// object has none). The queue must end up with a non-empty nickname and
// must not have an "error" key.
func ParseQueue(data []byte) (*Queue, error) {
	o, err := ParseObject(bytes.TrimSpace(data))
	if err != nil {
		return nil, fmt.Errorf("queue description: %w", err)
	}
	raw := bytes.TrimSpace(data)
	if _, ok := o.Get("nickname"); !ok && len(o) == 1 {
		if inner, ok := o[0].Value.(Object); ok {
			if _, ok := inner.Get("nickname"); !ok {
				inner = append(Object{{"nickname", o[0].Key}}, inner...)
			}
			o = inner
			raw = EncodeJSON(inner)
		}
	}
	q := &Queue{Name: fieldStr(o, "nickname"), Resource: fieldStr(o, "panda_resource"), Status: fieldStr(o, "status"), Raw: raw}
	if q.Name == "" {
		return nil, errors.New("queue description: no nickname")
	}
	if _, ok := o.Get("error"); ok {
		return nil, fmt.Errorf("queue description %s: has an \"error\" key (pilots reject it)", q.Name)
	}
	if q.Resource == "" {
		q.Resource = q.Name
	}
	return q, nil
}

// LoadQueue reads a queue description file (see ParseQueue).
func LoadQueue(path string) (*Queue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	q, err := ParseQueue(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return q, nil
}

// cricJSON is the queue wrapped by its name (CRIC <queue>.json format).
func (q *Queue) cricJSON() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	writeJSONString(&b, q.Name)
	b.WriteString(": ")
	b.Write(q.Raw)
	b.WriteByte('}')
	return b.Bytes()
}

// ParseStorage checks a storage description (DDM endpoints keyed by RSE
// name, CRIC ddmendpoints.json format) and returns it unchanged.
func ParseStorage(data []byte) ([]byte, error) {
	o, err := ParseObject(bytes.TrimSpace(data))
	if err != nil {
		return nil, fmt.Errorf("storage description: %w", err)
	}
	for _, f := range o {
		if _, ok := f.Value.(Object); !ok {
			return nil, fmt.Errorf("storage description: endpoint %q is %s, not an object", f.Key, pyTypeName(f.Value))
		}
	}
	return bytes.TrimSpace(data), nil
}

// LoadStorage reads a storage description file (see ParseStorage).
func LoadStorage(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := ParseStorage(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
