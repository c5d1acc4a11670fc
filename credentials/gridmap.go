package credentials

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// GridMap is a parsed grid-mapfile: DN -> local account or pool.
type GridMap struct {
	entries map[string]string // canonical DN -> first account (".prefix" for a pool)
	// Malformed lists the 1-based numbers of lines that were skipped because they could
	// not be parsed (as Globus skips them); the pilot may warn about them.
	Malformed []int
}

// ParseGridMapfile parses a Globus grid-mapfile. Each line is
//
//	"<DN>" account[,account...]
//
// The DN is in double quotes, with backslash escapes (\" \\ and \xHH as Globus reads them),
// or unquoted when it has no white space. Of several comma-separated accounts the first is
// used. An account ".prefix" names a pool: the accounts prefix001, prefix002, ... (prefix
// followed by digits). Blank lines and lines starting with '#' are ignored; anything after
// the account list is ignored; the first entry of a DN wins. Lines that cannot be parsed
// (no closing quote, no account) are skipped and listed in Malformed. The error is only
// for failures reading r.
func ParseGridMapfile(r io.Reader) (*GridMap, error) {
	g := &GridMap{entries: map[string]string{}}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line != "" {
			dn, account, ok, bad := parseGridMapLine(line)
			switch {
			case bad:
				g.Malformed = append(g.Malformed, n)
			case ok:
				key := canonicalDN(dn)
				if _, dup := g.entries[key]; !dup {
					g.entries[key] = account
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return g, nil
		}
		if err != nil {
			return nil, fmt.Errorf("grid-mapfile: %w", err)
		}
	}
}

// LoadGridMapfile reads and parses a grid-mapfile.
func LoadGridMapfile(path string) (*GridMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseGridMapfile(f)
}

const gridmapBlanks = " \t\r\n"

// parseGridMapLine returns ok for an entry, bad for a malformed line, neither for a blank
// or comment line.
func parseGridMapLine(line string) (dn, account string, ok, bad bool) {
	line = strings.TrimLeft(line, gridmapBlanks)
	if line == "" || line[0] == '#' {
		return "", "", false, false
	}
	var rawDN, rest string
	if line[0] == '"' {
		end := -1
		for i := 1; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return "", "", false, true
		}
		rawDN, rest = line[1:end], line[end+1:]
	} else {
		end := strings.IndexAny(line, gridmapBlanks)
		if end < 0 {
			return "", "", false, true
		}
		rawDN, rest = line[:end], line[end:]
	}
	rest = strings.TrimLeft(rest, gridmapBlanks)
	if i := strings.IndexAny(rest, gridmapBlanks); i >= 0 {
		rest = rest[:i]
	}
	first, _, _ := strings.Cut(rest, ",")
	if first == "" || first == "." || rawDN == "" {
		return "", "", false, true
	}
	return unescapeGlobusID(rawDN), first, true, false
}

// unescapeGlobusID undoes grid-mapfile escapes: "\xHH" is the byte 0xHH, "\c" is c.
func unescapeGlobusID(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		if s[i] == 'x' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var emailAttr = regexp.MustCompile(`/(?:E|Email|EMAIL|emailAddress)=`)

// canonicalDN is the form DNs are compared in: escapes undone and the e-mail attribute
// spelled "emailAddress" (older tools print "Email" or "E").
func canonicalDN(dn string) string {
	return emailAttr.ReplaceAllString(unescapeGlobusID(dn), "/emailAddress=")
}

var proxyCN = regexp.MustCompile(`/CN=(?:proxy|limited proxy|[0-9]+)$`)

// StripProxyCN removes one trailing proxy component ("/CN=proxy", "/CN=limited proxy" or
// "/CN=<digits>") from a DN; ok is false when there is none.
func StripProxyCN(dn string) (stripped string, ok bool) {
	loc := proxyCN.FindStringIndex(dn)
	if loc == nil || loc[0] == 0 {
		return dn, false
	}
	return dn[:loc[0]], true
}

// Lookup maps a DN (slash form, as FormatDN or Proxy.Identity give it) to a local account.
// The DN is tried as given, then with trailing proxy components removed one at a time, so a
// proxy's subject finds its owner's entry while a DN that really ends in digits still
// matches its own entry. pool is true when the entry names a pool: account is then the
// pool's prefix (without the dot), to be leased with PoolLeases. No entry gives an error
// wrapping ErrUnmappedDN.
func (g *GridMap) Lookup(dn string) (account string, pool bool, err error) {
	for cur := dn; ; {
		if a, ok := g.entries[canonicalDN(cur)]; ok {
			if p, isPool := strings.CutPrefix(a, "."); isPool {
				return p, true, nil
			}
			return a, false, nil
		}
		var ok bool
		if cur, ok = StripProxyCN(cur); !ok {
			return "", false, fmt.Errorf("%w: %s", ErrUnmappedDN, dn)
		}
	}
}

// Len is the number of DNs mapped.
func (g *GridMap) Len() int { return len(g.entries) }

// PoolAccounts lists the accounts of a passwd file (name:pw:uid:gid:gecos:home:shell) whose
// name is prefix followed by one or more digits, ordered by that number (then by name).
func PoolAccounts(passwd io.Reader, prefix string) ([]string, error) {
	type acct struct {
		name string
		num  uint64
	}
	var found []acct
	sc := bufio.NewScanner(passwd)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		e, ok := parsePasswdLine(sc.Text())
		if !ok {
			continue
		}
		digits, ok := strings.CutPrefix(e.name, prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		n, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			continue
		}
		found = append(found, acct{e.name, n})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b acct) int {
		if a.num != b.num {
			if a.num < b.num {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, 0, len(found))
	for _, a := range found {
		if len(out) == 0 || out[len(out)-1] != a.name {
			out = append(out, a.name)
		}
	}
	return out, nil
}

// LocalPoolAccounts is PoolAccounts on /etc/passwd.
func LocalPoolAccounts(prefix string) ([]string, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return PoolAccounts(f, prefix)
}
