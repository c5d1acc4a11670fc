package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

// Symlink is the "symlink" mover: stage-in by linking the source file into the job
// directory. Put is not supported.
type Symlink struct{}

var (
	_ movers.Mover   = (*Symlink)(nil)
	_ movers.Capable = (*Symlink)(nil)
)

// NewSymlink returns the symlink mover.
func NewSymlink() *Symlink { return &Symlink{} }

// Name returns "symlink".
func (s *Symlink) Name() string { return "symlink" }

// Schemes returns ["file"].
func (s *Symlink) Schemes() []string { return []string{"file"} }

// Capabilities: links take no space in the job directory.
func (s *Symlink) Capabilities() movers.Capabilities {
	return movers.Capabilities{SkipSpaceCheck: true}
}

// Get checks that t.Source is a regular file of the expected size, verifies the expected
// checksum (if it has a value) by reading the source once, and then places an absolute symbolic link
// to it at t.Destination (replacing what was there). Without an expected checksum the
// source is not read and Result.Checksum is zero.
func (s *Symlink) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	src, dst, err := paths(movers.OpGet, t, t.Source)
	if err != nil {
		return movers.Result{}, err
	}
	res, err := linkInto(ctx, movers.OpGet, t.Source, src, dst, t)
	if err != nil {
		return movers.Result{}, err
	}
	res.Duration = time.Since(start)
	res.Mover = s.Name()
	return res, nil
}

// Put is not supported: it returns an *movers.Error with code 1137 wrapping
// movers.ErrUnsupported.
func (s *Symlink) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	return movers.Result{}, &movers.Error{Op: movers.OpPut, URL: t.Destination, Code: jobdef.StageOutFailed,
		Err: fmt.Errorf("symlink: %w", movers.ErrUnsupported)}
}

// linkInto verifies src against t and links it at dst.
func linkInto(ctx context.Context, op, remote, src, dst string, t movers.Transfer) (movers.Result, error) {
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	defer in.Close()
	if !fi.Mode().IsRegular() {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op),
			Err: fmt.Errorf("source %s is not a regular file", src)}
	}
	res := movers.Result{Bytes: fi.Size(), URL: remote}
	if t.Checksum.Value != "" {
		_, sum, err := movers.CopyChecksum(ctx, discard{}, in, t.Checksum.Type)
		if err != nil {
			if e := movers.ContextError(ctx, op, remote); e != nil {
				return movers.Result{}, e
			}
			var pe *jobdef.PilotError
			if errors.As(err, &pe) {
				return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: pe.Code, Err: err}
			}
			return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: true, Err: err}
		}
		res.Checksum = sum
		if err := movers.Verify(op, remote, t, res); err != nil {
			return movers.Result{}, err
		}
	}
	if err := symlinkAtomic(src, dst); err != nil {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Err: err}
	}
	return res, nil
}

// symlinkAtomic creates a link to target at dst by creating it under a temporary name in
// dst's directory and renaming it.
func symlinkAtomic(target, dst string) error {
	dir, base := filepath.Split(dst)
	if base == "" {
		return fmt.Errorf("destination %q has no file name", dst)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for range 10 {
		var rnd [6]byte
		rand.Read(rnd[:])
		tmp := filepath.Join(dir, tempPattern(base, "link")[:len(tempPattern(base, "link"))-1]+hex.EncodeToString(rnd[:]))
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
	return fmt.Errorf("could not create a temporary link in %s", dir)
}

// discard is io.Discard without the ReaderFrom shortcut (so CopyChecksum sees every chunk).
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
