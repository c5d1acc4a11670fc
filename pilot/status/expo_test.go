package status

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The strict checker of Prometheus text exposition format 0.0.4 used by the
// tests. It accepts only what the format allows and what this package
// promises on top: every family has HELP then TYPE before its samples, its
// samples are contiguous, names carry the gopilot_ prefix, counters end in
// _total, no series repeats, and histograms have cumulative buckets with
// increasing le ending in +Inf and a _count equal to the +Inf bucket.

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

type family struct {
	name, typ, help string
	samples         []sample
}

type sample struct {
	name   string
	labels [][2]string // in order of appearance
	value  float64
}

func (s sample) label(n string) (string, bool) {
	for _, l := range s.labels {
		if l[0] == n {
			return l[1], true
		}
	}
	return "", false
}

// key is the series' identity: name and labels as written.
func (s sample) key() string {
	var b strings.Builder
	b.WriteString(s.name)
	for _, l := range s.labels {
		fmt.Fprintf(&b, ",%s=%q", l[0], l[1])
	}
	return b.String()
}

// exposition is a checked exposition: its families in order, and every
// series' value by key (name{l="v",...} in the form sample.key gives).
type exposition struct {
	families []*family
	values   map[string]float64
}

// get returns the value of the series name with the given label pairs.
func (x *exposition) get(name string, labels ...string) (float64, bool) {
	s := sample{name: name}
	for i := 0; i+1 < len(labels); i += 2 {
		s.labels = append(s.labels, [2]string{labels[i], labels[i+1]})
	}
	v, ok := x.values[s.key()]
	return v, ok
}

// checkExposition parses text strictly; any deviation is an error naming
// the line.
func checkExposition(text string) (*exposition, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("not UTF-8")
	}
	if text == "" || !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("empty or not ending in a line feed")
	}
	x := &exposition{values: map[string]float64{}}
	seen := map[string]bool{} // family names
	var cur *family
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		switch {
		case line == "":
			return nil, fmt.Errorf("line %d: empty line", n)
		case strings.HasPrefix(line, "# HELP "):
			rest := strings.TrimPrefix(line, "# HELP ")
			name, help, ok := strings.Cut(rest, " ")
			if !ok || !metricName.MatchString(name) {
				return nil, fmt.Errorf("line %d: bad HELP %q", n, line)
			}
			if err := checkHelpEscapes(help); err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			if seen[name] {
				return nil, fmt.Errorf("line %d: family %s appears twice", n, name)
			}
			seen[name] = true
			cur = &family{name: name, help: help}
			x.families = append(x.families, cur)
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(strings.TrimPrefix(line, "# TYPE "))
			if len(f) != 2 || cur == nil || f[0] != cur.name || cur.typ != "" || len(cur.samples) > 0 {
				return nil, fmt.Errorf("line %d: TYPE %q not right after its HELP", n, line)
			}
			switch f[1] {
			case "counter", "gauge", "histogram":
			default:
				return nil, fmt.Errorf("line %d: unexpected type %q", n, f[1])
			}
			cur.typ = f[1]
		case strings.HasPrefix(line, "#"):
			return nil, fmt.Errorf("line %d: unexpected comment %q", n, line)
		default:
			s, err := parseSample(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			if cur == nil || cur.typ == "" {
				return nil, fmt.Errorf("line %d: sample %s without TYPE", n, s.name)
			}
			if !sampleOf(cur, s.name) {
				return nil, fmt.Errorf("line %d: sample %s outside its family (current %s %s)", n, s.name, cur.typ, cur.name)
			}
			k := s.key()
			if _, dup := x.values[k]; dup {
				return nil, fmt.Errorf("line %d: series %s repeated", n, k)
			}
			x.values[k] = s.value
			cur.samples = append(cur.samples, s)
		}
	}
	for _, f := range x.families {
		if f.typ == "" {
			return nil, fmt.Errorf("family %s has no TYPE", f.name)
		}
		if !strings.HasPrefix(f.name, "gopilot_") {
			return nil, fmt.Errorf("family %s lacks the gopilot_ prefix", f.name)
		}
		if f.typ == "counter" && !strings.HasSuffix(f.name, "_total") {
			return nil, fmt.Errorf("counter %s does not end in _total", f.name)
		}
		if f.typ == "counter" {
			for _, s := range f.samples {
				if s.value < 0 || math.IsNaN(s.value) {
					return nil, fmt.Errorf("counter %s = %v", s.key(), s.value)
				}
			}
		}
		if f.typ == "histogram" {
			if err := checkHistogram(f); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

func sampleOf(f *family, name string) bool {
	if f.typ == "histogram" {
		return name == f.name+"_bucket" || name == f.name+"_sum" || name == f.name+"_count"
	}
	return name == f.name
}

// checkHistogram checks one histogram family without labels other than le.
func checkHistogram(f *family) error {
	var (
		lastLE         = math.Inf(-1)
		lastCount      = -1.0
		inf            = -1.0
		sum, count     = math.NaN(), -1.0
		buckets, other int
	)
	for _, s := range f.samples {
		switch s.name {
		case f.name + "_bucket":
			if inf >= 0 {
				return fmt.Errorf("%s: bucket after +Inf", f.name)
			}
			le, ok := s.label("le")
			if !ok || len(s.labels) != 1 {
				return fmt.Errorf("%s: bucket labels %v", f.name, s.labels)
			}
			b, err := parseValue(le)
			if err != nil || math.IsNaN(b) {
				return fmt.Errorf("%s: le %q", f.name, le)
			}
			if b <= lastLE {
				return fmt.Errorf("%s: le %v not above %v", f.name, b, lastLE)
			}
			if s.value < lastCount || s.value != math.Trunc(s.value) {
				return fmt.Errorf("%s: bucket le=%s count %v not cumulative (previous %v)", f.name, le, s.value, lastCount)
			}
			lastLE, lastCount = b, s.value
			buckets++
			if math.IsInf(b, 1) {
				inf = s.value
			}
		case f.name + "_sum":
			sum = s.value
			other++
		case f.name + "_count":
			count = s.value
			other++
		}
	}
	switch {
	case buckets == 0 || inf < 0:
		return fmt.Errorf("%s: buckets do not end in +Inf", f.name)
	case other != 2 || math.IsNaN(sum):
		return fmt.Errorf("%s: want one _sum and one _count", f.name)
	case count != inf:
		return fmt.Errorf("%s: _count %v != +Inf bucket %v", f.name, count, inf)
	}
	return nil
}

// parseSample parses `name{l="v",...} value` (no timestamp: this package
// writes none).
func parseSample(line string) (sample, error) {
	var s sample
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("bad sample %q", line)
	}
	s.name = line[:i]
	if !metricName.MatchString(s.name) {
		return s, fmt.Errorf("bad metric name %q", s.name)
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		names := map[string]bool{}
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad labels in %q", line)
			}
			ln := rest[:eq]
			if !labelName.MatchString(ln) || strings.HasPrefix(ln, "__") || names[ln] {
				return s, fmt.Errorf("bad or repeated label name %q", ln)
			}
			names[ln] = true
			rest = rest[eq+2:]
			var v strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' {
					if j+1 >= len(rest) {
						return s, fmt.Errorf("dangling escape in %q", line)
					}
					switch rest[j+1] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return s, fmt.Errorf("bad escape \\%c in %q", rest[j+1], line)
					}
					j++
					continue
				}
				if c == '\n' {
					return s, fmt.Errorf("raw line feed in label value")
				}
				if c == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value in %q", line)
			}
			s.labels = append(s.labels, [2]string{ln, v.String()})
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("want , or } in %q", line)
			}
		}
	}
	if !strings.HasPrefix(rest, " ") || strings.Count(rest, " ") != 1 {
		return s, fmt.Errorf("want exactly one space and a value in %q", line)
	}
	v, err := parseValue(rest[1:])
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.ContainsAny(s, "_xXpPiInN") {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return strconv.ParseFloat(s, 64)
}

func checkHelpEscapes(h string) error {
	for i := 0; i < len(h); i++ {
		if h[i] == '\\' {
			if i+1 >= len(h) || (h[i+1] != '\\' && h[i+1] != 'n') {
				return fmt.Errorf("bad escape in HELP %q", h)
			}
			i++
		}
	}
	return nil
}
