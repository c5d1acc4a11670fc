package movers

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gopilot/gopilot/jobdef"
)

// Registry maps copytool names to movers. It is built once (by cmd/pilot, or by a test with
// just the movers it needs) and is read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	names  []string
	byName map[string]Mover
}

// NewRegistry builds a Registry from ms, in that order. A nil mover, an empty name or a
// name given twice is an error.
func NewRegistry(ms ...Mover) (*Registry, error) {
	r := &Registry{byName: make(map[string]Mover, len(ms))}
	for i, m := range ms {
		if m == nil {
			return nil, fmt.Errorf("movers: mover #%d is nil", i)
		}
		n := m.Name()
		if n == "" {
			return nil, fmt.Errorf("movers: mover #%d (%T) has an empty name", i, m)
		}
		if _, dup := r.byName[n]; dup {
			return nil, fmt.Errorf("movers: duplicate mover name %q", n)
		}
		r.byName[n] = m
		r.names = append(r.names, n)
	}
	return r, nil
}

// WithAlias returns a copy of r in which alias names the mover registered as target, so a
// queue that lists a copytool gopilot implements under another name (e.g. "rucio" served by
// a local mover on a test site) can be used. Results still carry the mover's own Name. An
// alias that is already a name, or an unknown target, is an error; r is not changed.
func (r *Registry) WithAlias(alias, target string) (*Registry, error) {
	m, ok := r.byName[target]
	if !ok {
		return nil, fmt.Errorf("movers: alias %q: unknown mover %q", alias, target)
	}
	if alias == "" {
		return nil, errors.New("movers: empty alias")
	}
	if _, dup := r.byName[alias]; dup {
		return nil, fmt.Errorf("movers: alias %q is already a mover name", alias)
	}
	c := &Registry{names: append(slices.Clone(r.names), alias), byName: maps.Clone(r.byName)}
	c.byName[alias] = m
	return c, nil
}

// Get returns the mover registered as name.
func (r *Registry) Get(name string) (Mover, bool) {
	m, ok := r.byName[name]
	return m, ok
}

// Names returns the registered names (and aliases) in registration order.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Handles reports whether m handles url: its scheme (see Scheme) is one of m.Schemes() or
// m lists "*". An empty url is handled only by SiteLocal movers (see Capabilities).
func Handles(m Mover, url string) bool {
	if url == "" {
		return CapabilitiesOf(m).SiteLocal
	}
	sch := Scheme(url)
	for _, s := range m.Schemes() {
		if s == "*" || (sch != "" && strings.EqualFold(s, sch)) {
			return true
		}
	}
	return false
}

// Candidates returns, in preference order and without repetition, the movers named in
// preferred that handle url (see Handles; a mover reached twice, e.g. through an alias,
// is listed once). Names not in the registry are skipped. When no
// mover qualifies the error is a *jobdef.PilotError with code 1323 UNKNOWNCOPYTOOL if the
// list is empty or names an unknown copytool, else 1313 NOSTORAGEPROTOCOL (known movers,
// none for this scheme).
func (r *Registry) Candidates(url string, preferred []string) ([]Mover, error) {
	var out []Mover
	var unknown []string
	for _, n := range preferred {
		m, ok := r.byName[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if !slices.Contains(out, m) && Handles(m, url) {
			out = append(out, m)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	switch {
	case len(preferred) == 0:
		return nil, jobdef.NewError(jobdef.UnknownCopytool, "no copytool configured for the activity", nil)
	case len(unknown) > 0:
		return nil, jobdef.NewError(jobdef.UnknownCopytool,
			fmt.Sprintf("unknown copytool %q (known: %s)", unknown[0], strings.Join(r.names, ",")), nil)
	default:
		what := fmt.Sprintf("scheme %q of %q", Scheme(url), url)
		if url == "" {
			what = "a file without a remote URL"
		}
		return nil, jobdef.NewError(jobdef.NoStorageProtocol,
			fmt.Sprintf("none of the copytools %s handles %s", strings.Join(preferred, ","), what), nil)
	}
}

// Select returns the first mover named in preferred that handles url; errors as Candidates.
func (r *Registry) Select(url string, preferred []string) (Mover, error) {
	ms, err := r.Candidates(url, preferred)
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// ErrUnsupported is returned (wrapped) by movers for an operation they do not offer.
var ErrUnsupported = errors.New("operation not supported by this mover")
