package jobdef

import (
	"strings"
)

// parseDirectives removes the pilot directives of PROTOCOL.md §2.5 from jobPars and returns
// the remaining text with them. Only the removed directives (and the white space around them,
// collapsed to one space) change; the rest of jobPars is kept byte for byte, except that the
// result is trimmed of leading and trailing white space when a directive was removed.
func parseDirectives(jobPars string) (string, Directives, error) {
	var d Directives
	s := jobPars
	removed := false

	// <ZIP_MAP>...</ZIP_MAP>
	for {
		i := strings.Index(s, "<ZIP_MAP>")
		if i < 0 {
			break
		}
		k := strings.Index(s[i:], "</ZIP_MAP>")
		if k < 0 {
			return "", d, fieldError(ConversionFailure, "jobPars", "<ZIP_MAP> without </ZIP_MAP>")
		}
		d.ZipMap = strings.TrimSpace(s[i+len("<ZIP_MAP>") : i+k])
		s = cutOut(s, i, i+k+len("</ZIP_MAP>"))
		removed = true
	}

	// --overwriteQueueData={...}, --overwriteStorageData={...}, old --overwriteQueuedata={...}.
	for _, name := range []string{"--overwriteQueueData=", "--overwriteStorageData=", "--overwriteQueuedata="} {
		for {
			i := indexOption(s, name)
			if i < 0 {
				break
			}
			start := i + len(name)
			v, n, err := parsePythonPrefix(s[start:])
			if err != nil {
				return "", d, fieldError(ConversionFailure, "jobPars", "%s value: %v", strings.TrimSuffix(name, "="), DiagOf(err))
			}
			m, ok := v.(map[string]any)
			if !ok {
				return "", d, fieldError(ConversionFailure, "jobPars", "%s value is not a dict", strings.TrimSuffix(name, "="))
			}
			switch name {
			case "--overwriteQueueData=":
				d.OverwriteQueueData = mergeInto(d.OverwriteQueueData, m)
			case "--overwriteStorageData=":
				d.OverwriteStorageData = mergeInto(d.OverwriteStorageData, m)
			}
			s = cutOut(s, i, start+n)
			removed = true
		}
	}

	// --containerImage <img> / --containerImage=<img>
	for {
		i := indexOption(s, "--containerImage")
		if i < 0 {
			break
		}
		j := i + len("--containerImage")
		switch {
		case j < len(s) && s[j] == '=':
			j++
		case j < len(s) && isSpace(s[j]):
			for j < len(s) && isSpace(s[j]) {
				j++
			}
		case j == len(s):
		default:
			// Another option that merely starts with --containerImage: leave it alone.
			return finishDirectives(s, removed, d)
		}
		val, end := shellWord(s, j)
		if val == "" {
			return "", d, fieldError(ConversionFailure, "jobPars", "--containerImage without a value")
		}
		d.ContainerImage = val
		s = cutOut(s, i, end)
		removed = true
	}
	return finishDirectives(s, removed, d)
}

func finishDirectives(s string, removed bool, d Directives) (string, Directives, error) {
	for _, tok := range strings.Fields(s) {
		switch tok {
		case "--accessmode=direct":
			if d.AccessMode == "" {
				d.AccessMode = "direct"
			}
		case "--accessmode=copy":
			d.AccessMode = "copy"
		case "--useLocalIO":
			d.UseLocalIO = true
			d.AccessMode = "copy"
		}
	}
	if removed {
		s = strings.TrimSpace(s)
	}
	return s, d, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// indexOption returns the index of opt in s where it starts a word (at the start of s or after
// white space or a quote), or -1.
func indexOption(s, opt string) int {
	off := 0
	for {
		i := strings.Index(s[off:], opt)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || isSpace(s[i-1]) || s[i-1] == '"' || s[i-1] == '\'' {
			return i
		}
		off = i + 1
	}
}

// shellWord reads one possibly quoted word starting at s[i] and returns it unquoted with the
// index just after it.
func shellWord(s string, i int) (string, int) {
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		q := s[i]
		if k := strings.IndexByte(s[i+1:], q); k >= 0 {
			return s[i+1 : i+1+k], i + 2 + k
		}
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return strings.Trim(s[i:j], `"'`), j
}

// cutOut removes s[a:b] and collapses the white space on both sides into a single space.
func cutOut(s string, a, b int) string {
	left := strings.TrimRight(s[:a], " \t\r\n")
	right := strings.TrimLeft(s[b:], " \t\r\n")
	if left != "" && right != "" {
		return left + " " + right
	}
	return left + right
}

// mergeInto merges src into dst (recursively for nested dicts) and returns dst.
func mergeInto(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeInto(dm, sm)
				continue
			}
			dst[k] = mergeInto(nil, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}
