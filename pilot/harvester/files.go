package harvester

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// WriteFileAtomic writes data to path through a temporary file in the same
// directory that is synced and renamed over path, so a reader sees either
// the old or the new content, never a part. The file gets mode 0644.
func WriteFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// TouchKillWorker creates dir/kill_worker (empty) or updates its times, as
// Pilot 3 does at exit to tell Harvester the worker is done.
func TouchKillWorker(dir string, now time.Time) error {
	path := filepath.Join(dir, KillWorkerFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(path, now, now)
}

// RequestJobs writes dir/worker_requestjob.json asking Harvester for n jobs:
// {"nJobs": n}, the form Harvester's messenger reads.
func RequestJobs(dir string, n int) error {
	return WriteFileAtomic(filepath.Join(dir, JobRequestFile), []byte(`{"nJobs": `+strconv.Itoa(n)+"}\n"))
}

// readLimited reads at most limit+1 bytes of path, so that a caller can
// tell an oversized file from one of exactly limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// findLimit bounds the entries FindFile looks at.
const findLimit = 200000

// errFound stops the walk.
var errFound = errors.New("found")

// FindFile returns the first file named name in the tree under root, or ""
// when there is none: the files of a directory are looked at before its
// subdirectories, subdirectories in lexical order, symbolic links to
// directories are not followed (Pilot 3's os.walk search). A symbolic link
// named name counts as the file. At most 200000 entries are looked at.
func FindFile(root, name string) string {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return ""
	}
	seen := 0
	var found string
	var walk func(dir string) error
	walk = func(dir string) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil
		}
		seen += len(ents)
		if seen > findLimit {
			return fs.SkipAll
		}
		var subdirs []string
		for _, e := range ents {
			if e.IsDir() {
				subdirs = append(subdirs, e.Name())
				continue
			}
			if e.Name() == name {
				found = filepath.Join(dir, name)
				return errFound
			}
		}
		sort.Strings(subdirs)
		for _, d := range subdirs {
			if err := walk(filepath.Join(dir, d)); err != nil {
				return err
			}
		}
		return nil
	}
	walk(root)
	return found
}
