package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// JobDirPrefix starts every job directory name; the PandaID follows.
const JobDirPrefix = "PanDA_Pilot-"

// Find returns the journals of the job directories in workdir: the paths
// workdir/PanDA_Pilot-<PandaID>/journal.jsonl whose <PandaID> is a positive
// decimal integer, whose directory is a directory (not a symbolic link) and
// whose journal is a regular file, sorted by PandaID. Other entries are
// ignored. It fails only when workdir cannot be listed.
func Find(workdir string) ([]string, error) {
	entries, err := os.ReadDir(workdir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	type found struct {
		id   int64
		path string
	}
	var all []found
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), JobDirPrefix)
		if !ok || !e.IsDir() || rest == "" || strings.TrimLeft(rest, "0123456789") != "" {
			continue
		}
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || id <= 0 {
			continue
		}
		p := filepath.Join(workdir, e.Name(), FileName)
		if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		all = append(all, found{id, p})
	}
	slices.SortFunc(all, func(a, b found) int {
		if a.id != b.id {
			if a.id < b.id {
				return -1
			}
			return 1
		}
		return strings.Compare(a.path, b.path)
	})
	paths := make([]string, len(all))
	for i, f := range all {
		paths[i] = f.path
	}
	return paths, nil
}
