// Package local holds movers for files reachable through the local file system: copy
// (shared or local disks), symlink (stage-in by linking) and mv (the ARC / true-pilot model
// where the site places inputs next to the job directory and collects outputs from there).
//
// All of them accept absolute paths and "file://" URLs (see movers.LocalPath) and never
// leave a partial destination file: data is written to a temporary file (or link) in the
// destination directory and renamed into place only after the size and checksum checks.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

// Copy is the "copy" mover: a streaming copy between local paths, computing the checksum
// while copying.
type Copy struct {
	// Sync makes the mover fsync the temporary file before renaming it into place, so a
	// completed transfer survives a node crash. Off by default: a crash kills the job anyway
	// and the page cache makes the data visible to every reader at once.
	Sync bool
}

var (
	_ movers.Mover             = (*Copy)(nil)
	_ movers.Remover           = (*Copy)(nil)
	_ movers.RemoteChecksummer = (*Copy)(nil)
)

// NewCopy returns a copy mover with Sync off.
func NewCopy() *Copy { return &Copy{} }

// Name returns "copy".
func (c *Copy) Name() string { return "copy" }

// Schemes returns ["file"] (file URLs and absolute paths).
func (c *Copy) Schemes() []string { return []string{"file"} }

// Get copies t.Source to the local path t.Destination, creating missing directories.
// A missing source is code 1331, a checksum mismatch 1171/1145, a timeout 1151, a full
// file system 1098 (detected up front by reserving the expected size with fallocate).
func (c *Copy) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	return c.transfer(ctx, movers.OpGet, t, t.Source)
}

// Put copies the local file t.Source to t.Destination, creating missing directories (the
// Rucio path). A missing source is code 1165, a checksum mismatch 1172/1141, a timeout 1152,
// a full destination file system 1333.
func (c *Copy) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	return c.transfer(ctx, movers.OpPut, t, t.Destination)
}

func (c *Copy) transfer(ctx context.Context, op string, t movers.Transfer, remote string) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	src, dst, err := paths(op, t, remote)
	if err != nil {
		return movers.Result{}, err
	}
	res, err := copyFile(ctx, op, remote, src, dst, t, c.Sync)
	if err != nil {
		return movers.Result{}, err
	}
	res.Duration = time.Since(start)
	res.Mover = c.Name()
	return res, nil
}

// Remove deletes the local file named by url; a missing file is not an error.
func (c *Copy) Remove(ctx context.Context, url string) error {
	p, err := movers.LocalPath(url)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoteChecksum reads the file named by url once and returns its checksum.
func (c *Copy) RemoteChecksum(ctx context.Context, url string, t jobdef.ChecksumType) (jobdef.Checksum, error) {
	p, err := movers.LocalPath(url)
	if err != nil {
		return jobdef.Checksum{}, err
	}
	return movers.ChecksumOf(ctx, p, t)
}

// paths resolves the local source and destination of t.
func paths(op string, t movers.Transfer, remote string) (src, dst string, err error) {
	src, err = movers.LocalPath(t.Source)
	if err != nil {
		return "", "", &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: fmt.Errorf("source: %w", err)}
	}
	dst, err = movers.LocalPath(t.Destination)
	if err != nil {
		return "", "", &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: fmt.Errorf("destination: %w", err)}
	}
	return src, dst, nil
}

// copyFile copies src to dst through a temporary file in dst's directory that is renamed
// into place after verification and removed on any failure.
func copyFile(ctx context.Context, op, remote, src, dst string, t movers.Transfer, sync bool) (movers.Result, error) {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	defer in.Close()
	if dfi, err := os.Stat(dst); err == nil && os.SameFile(fi, dfi) {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op),
			Err: fmt.Errorf("source and destination are the same file %s", dst)}
	}
	tmp, err := createTemp(dst, "part")
	if err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Reserve the space up front: a full file system fails now rather than near the end,
	// and the writes that follow are steadier (measured on ext4).
	if want := expectedSize(fi, t); want > 0 {
		if err := unix.Fallocate(int(tmp.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, want); errors.Is(err, syscall.ENOSPC) {
			return movers.Result{}, noSpace(op, remote, err)
		}
	}
	// A FIFO or other pollable source blocks in Read; a deadline unblocks it on cancel.
	stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Now()) })
	defer stop()
	n, sum, err := movers.CopyChecksum(ctx, tmp, in, t.ChecksumType())
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		var pe *jobdef.PilotError
		if errors.As(err, &pe) {
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: pe.Code, Err: err}
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return movers.Result{}, noSpace(op, remote, err)
		}
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	res := movers.Result{Bytes: n, Checksum: sum, URL: remote}
	if t.Size > 0 && n != t.Size {
		// also catches an empty or truncated stream where Verify cannot (n == 0)
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true,
			Err: fmt.Errorf("size mismatch: expected %d bytes, copied %d", t.Size, n)}
	}
	if err := movers.Verify(op, remote, t, res); err != nil {
		return movers.Result{}, err
	}
	if err := finish(ctx, op, remote, tmp, dst, sync); err != nil {
		return movers.Result{}, err
	}
	removeStaleTemps(dst, "part")
	ok = true
	return res, nil
}

// expectedSize is the number of bytes the copy should produce: the expected size, else the
// size of a regular source; 0 when unknown.
func expectedSize(src fs.FileInfo, t movers.Transfer) int64 {
	if t.Size > 0 {
		return t.Size
	}
	if src.Mode().IsRegular() {
		return src.Size()
	}
	return 0
}

// noSpace is the error for a full destination file system: 1098 NOLOCALSPACE when staging
// in, 1333 NOREMOTESPACE when staging out. Not retryable.
func noSpace(op, remote string, err error) *movers.Error {
	code := jobdef.NoLocalSpace
	if op == movers.OpPut {
		code = jobdef.NoRemoteSpace
	}
	return &movers.Error{Op: op, URL: remote, Code: code, Err: err}
}

// finish syncs (optionally), closes and renames tmp to dst, unless ctx ended.
func finish(ctx context.Context, op, remote string, tmp *os.File, dst string, sync bool) error {
	fail := func(err error) error {
		return &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
				return noSpace(op, remote, err)
			}
			return fail(err)
		}
	}
	if err := tmp.Close(); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return noSpace(op, remote, err)
		}
		return fail(err)
	}
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return e
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fail(err)
	}
	return nil
}

// createTemp creates the directory of dst if needed and an empty temporary file next to it
// whose name starts with "." and ends in ".<kind>-<random>".
func createTemp(dst, kind string) (*os.File, error) {
	dir, base := filepath.Split(dst)
	if base == "" {
		return nil, fmt.Errorf("destination %q has no file name", dst)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, tempPattern(base, kind))
}

// removeStaleTemps removes the temporary files of earlier copies to dst
// that never finished (a pilot killed during stage-out leaves one behind).
// Only names of the pattern createTemp uses for dst are touched.
func removeStaleTemps(dst, kind string) {
	dir, base := filepath.Split(dst)
	prefix := strings.TrimSuffix(tempPattern(base, kind), "*")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func tempPattern(base, kind string) string {
	const keep = 200 // stay well below NAME_MAX with the suffix
	if len(base) > keep {
		base = base[:keep]
	}
	return "." + base + "." + kind + "-*"
}
