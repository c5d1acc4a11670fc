package monitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/jobdef"
)

var (
	_ Monitor = (*Looping)(nil)
	_ Monitor = (*Memory)(nil)
	_ Monitor = (*WorkDirSize)(nil)
	_ Monitor = (*FreeSpace)(nil)
	_ Monitor = (*StdoutSize)(nil)
	_ Monitor = (*Walltime)(nil)
)

// startOf returns the payload start: start when set, else the root's start
// from the snapshot (zero when unknown).
func startOf(start time.Time, s *Snapshot) time.Time {
	if !start.IsZero() {
		return start
	}
	return s.RootStart
}

// Looping fails a job whose directory has not been modified for Limit
// (1150 LOOPINGJOB). The reference time is the latest of the payload start
// and the newest modification time of any file or directory below Dir
// (Dir itself excluded, symbolic links not followed) whose base name
// matches none of the Ignore patterns. So the check cannot fire before the
// payload has run for Limit.
type Looping struct {
	Dir    string
	Limit  time.Duration
	Every  time.Duration
	Start  time.Time // payload start; zero: the snapshot's RootStart (no check when both are zero)
	Ignore []string  // base-name patterns (filepath.Match) that do not count
}

func (m *Looping) Name() string            { return "looping" }
func (m *Looping) Interval() time.Duration { return m.Every }

// Check implements Monitor.
func (m *Looping) Check(ctx context.Context, s *Snapshot) error {
	if s == nil {
		return nil
	}
	start := startOf(m.Start, s)
	if start.IsZero() || m.Limit <= 0 || s.Time.Sub(start) <= m.Limit {
		return nil
	}
	cutoff := s.Time.Add(-m.Limit)
	last, name, err := lastModified(ctx, m.Dir, m.Ignore, cutoff)
	if err != nil {
		return fmt.Errorf("looping check: %w", err)
	}
	ref := start
	if last.After(ref) {
		ref = last
	} else {
		name = ""
	}
	if !ref.Before(cutoff) {
		return nil
	}
	idle := s.Time.Sub(ref).Round(time.Second)
	diag := fmt.Sprintf("no file in the job directory modified for %v (limit %v)", idle, m.Limit)
	if name != "" {
		diag += fmt.Sprintf("; last modified: %s", name)
	}
	return jobdef.NewError(jobdef.LoopingJob, diag, nil)
}

// lastModified returns the newest modification time below dir (dir itself
// excluded) of entries whose base name matches no pattern of ignore, and
// that entry's path relative to dir. The walk stops at the first entry
// modified after stop. Entries that vanish or cannot be read are skipped.
func lastModified(ctx context.Context, dir string, ignore []string, stop time.Time) (time.Time, string, error) {
	var last time.Time
	var name string
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if n++; n&255 == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if path == dir {
			return err // an unreadable job directory is an error
		}
		if err != nil {
			return nil // vanished or unreadable entry (a directory: skipped)
		}
		if matchAny(ignore, d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if t := info.ModTime(); t.After(last) {
			last = t
			name, _ = filepath.Rel(dir, path)
			if t.After(stop) {
				return fs.SkipAll
			}
		}
		return nil
	})
	return last, name, err
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Memory fails a payload whose process tree uses more than LimitKB of
// memory (1235 PAYLOADEXCEEDMAXMEM), counted as the tree's PSS, with RSS
// standing in for processes whose PSS cannot be read.
type Memory struct {
	LimitKB int64
	Every   time.Duration
}

func (m *Memory) Name() string            { return "memory" }
func (m *Memory) Interval() time.Duration { return m.Every }

// Check implements Monitor.
func (m *Memory) Check(_ context.Context, s *Snapshot) error {
	if !s.usable() || m.LimitKB <= 0 || s.PSS <= m.LimitKB {
		return nil
	}
	largest := ""
	if i := slices.IndexFunc(s.Procs, func(p Proc) bool { return p.PID == s.MaxRSSPID }); i >= 0 {
		p := s.Procs[i]
		largest = fmt.Sprintf("; largest: pid %d (%s) RSS %d kB", p.PID, p.Comm, p.RSS)
	}
	return jobdef.NewError(jobdef.PayloadExceedMaxMem, fmt.Sprintf("PSS %d kB of %d processes above the limit of %d kB%s",
		s.PSS, len(s.Procs), m.LimitKB, largest), nil)
}

// WorkDirSize fails a job whose directory uses more than LimitBytes of disk
// (1104 USERDIRTOOLARGE). The size is the allocated space, as du counts it:
// each inode once, symbolic links not followed.
type WorkDirSize struct {
	Dir        string
	LimitBytes int64
	Every      time.Duration
	maxSize    atomic.Int64
}

func (m *WorkDirSize) Name() string            { return "workdir" }
func (m *WorkDirSize) Interval() time.Duration { return m.Every }

// MaxSize returns the largest size in bytes measured so far (Pilot 3
// reports it as the job metric workDirSize); safe for concurrent use.
func (m *WorkDirSize) MaxSize() int64 { return m.maxSize.Load() }

// Check implements Monitor.
func (m *WorkDirSize) Check(ctx context.Context, s *Snapshot) error {
	size, err := dirUsage(ctx, m.Dir)
	if err != nil {
		return fmt.Errorf("work directory size: %w", err)
	}
	for old := m.maxSize.Load(); size > old && !m.maxSize.CompareAndSwap(old, size); old = m.maxSize.Load() {
	}
	if m.LimitBytes > 0 && size > m.LimitBytes {
		return jobdef.NewError(jobdef.UserDirTooLarge, fmt.Sprintf("work directory size %d MB above the limit of %d MB",
			size>>20, m.LimitBytes>>20), nil)
	}
	return nil
}

// dirUsage returns the disk space allocated to the tree at dir in bytes.
func dirUsage(ctx context.Context, dir string) (int64, error) {
	var total int64
	seen := map[[2]uint64]bool{}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if n++; n&255 == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil {
			if path == dir {
				return err
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			total += info.Size()
			return nil
		}
		if st.Nlink > 1 && !info.IsDir() {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// FreeSpace fails a job when the file system of Dir has less than MinBytes
// available to unprivileged users (1098 NOLOCALSPACE).
type FreeSpace struct {
	Dir      string
	MinBytes int64
	Every    time.Duration
}

func (m *FreeSpace) Name() string            { return "freespace" }
func (m *FreeSpace) Interval() time.Duration { return m.Every }

// Check implements Monitor.
func (m *FreeSpace) Check(_ context.Context, _ *Snapshot) error {
	free, err := freeBytes(m.Dir)
	if err != nil {
		return fmt.Errorf("free space: %w", err)
	}
	if free < m.MinBytes {
		return jobdef.NewError(jobdef.NoLocalSpace, fmt.Sprintf("%d MB free in the job directory's file system, below %d MB",
			free>>20, m.MinBytes>>20), nil)
	}
	return nil
}

// freeBytes returns the space available to unprivileged users on the file
// system holding dir.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	b := st.Bavail * uint64(st.Bsize)
	if b > 1<<62 {
		b = 1 << 62
	}
	return int64(b), nil
}

// StdoutSize fails a job when a payload output file is larger than
// LimitBytes (1106 STDOUTTOOBIG). The files are the matches of Patterns
// (filepath.Glob, relative to Dir) that are regular files and whose base
// name is not in Exclude (e.g. input files that happen to be called log.*).
type StdoutSize struct {
	Dir        string
	Patterns   []string
	Exclude    []string
	LimitBytes int64
	Every      time.Duration
}

func (m *StdoutSize) Name() string            { return "stdout" }
func (m *StdoutSize) Interval() time.Duration { return m.Every }

// Check implements Monitor.
func (m *StdoutSize) Check(_ context.Context, _ *Snapshot) error {
	var errs []error
	for _, pat := range m.Patterns {
		matches, err := filepath.Glob(filepath.Join(m.Dir, pat))
		if err != nil {
			errs = append(errs, fmt.Errorf("pattern %q: %w", pat, err))
			continue
		}
		for _, f := range matches {
			if slices.Contains(m.Exclude, filepath.Base(f)) {
				continue
			}
			info, err := os.Lstat(f)
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			if info.Size() > m.LimitBytes {
				rel, _ := filepath.Rel(m.Dir, f)
				return jobdef.NewError(jobdef.StdoutTooBig, fmt.Sprintf("%s is %d MB, above the limit of %d MB",
					rel, info.Size()>>20, m.LimitBytes>>20), nil)
			}
		}
	}
	return errors.Join(errs...)
}

// Walltime fails a payload that has run for longer than Limit (1213
// REACHEDMAXTIME), counted from Start.
type Walltime struct {
	Limit time.Duration
	Start time.Time // payload start; zero: the snapshot's RootStart (no check when both are zero)
	Every time.Duration
}

func (m *Walltime) Name() string            { return "walltime" }
func (m *Walltime) Interval() time.Duration { return m.Every }

// Check implements Monitor.
func (m *Walltime) Check(_ context.Context, s *Snapshot) error {
	if s == nil {
		return nil
	}
	start := startOf(m.Start, s)
	if start.IsZero() || m.Limit <= 0 {
		return nil
	}
	if ran := s.Time.Sub(start); ran > m.Limit {
		return jobdef.NewError(jobdef.ReachedMaxTime, fmt.Sprintf("payload ran for %v, above the limit of %v",
			ran.Round(time.Second), m.Limit), nil)
	}
	return nil
}
