package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopilot/gopilot/movers"
)

// OutputListName is the file the mv mover appends stage-out entries to (ARC reads it).
const OutputListName = "output.list"

// MvOptions configures the mv mover.
type MvOptions struct {
	// Dir is the site directory inputs are taken from and outputs are moved to. Empty means
	// the directory above the job directory, derived per transfer as the parent of the
	// directory holding the local file (Get: Destination, Put: Source), which is where ARC
	// and true-pilot setups place inputs and collect outputs.
	Dir string
	// CopyInputs copies inputs into the job directory instead of symlinking them.
	CopyInputs bool
	// FinalDestination (queue catchall "mv_final_destination"): an output whose Destination
	// is a file URL or absolute path is moved there instead of into Dir, and not listed in
	// output.list.
	FinalDestination bool
}

// Mv is the "mv" mover with Pilot 3's ARC / true-pilot semantics:
//
//   - Get links (or copies, see MvOptions.CopyInputs) <dir>/<lfn> to Transfer.Destination,
//     where <lfn> is the base name of the destination; Transfer.Source is not read.
//   - Put moves Transfer.Source to <dir>/<lfn> and appends
//     "<lfn> <Destination>:checksumtype=<type>:checksumvalue=<value>" to <dir>/output.list,
//     so the CE uploads it to Destination (the SURL). With an empty Destination the file is
//     moved but not listed.
//
// Checksums are computed by reading the file once. Mv handles every scheme (it never
// contacts the remote side) and needs no remote URL (Capabilities.SiteLocal).
type Mv struct {
	opts MvOptions
	mu   sync.Mutex // serialises output.list appends and rollbacks
}

var (
	_ movers.Mover   = (*Mv)(nil)
	_ movers.Capable = (*Mv)(nil)
)

// NewMv returns an mv mover.
func NewMv(opts MvOptions) *Mv { return &Mv{opts: opts} }

// Name returns "mv".
func (m *Mv) Name() string { return "mv" }

// Schemes returns ["*"].
func (m *Mv) Schemes() []string { return []string{"*"} }

// Capabilities: SiteLocal; no space check unless inputs are copied.
func (m *Mv) Capabilities() movers.Capabilities {
	return movers.Capabilities{SiteLocal: true, SkipSpaceCheck: !m.opts.CopyInputs}
}

func (m *Mv) siteDir(local string) string {
	if m.opts.Dir != "" {
		return filepath.Clean(m.opts.Dir)
	}
	return filepath.Dir(filepath.Dir(local))
}

// Get places <dir>/<lfn> at t.Destination (see Mv). A missing site file is code 1331.
func (m *Mv) Get(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	dst, err := movers.LocalPath(t.Destination)
	if err != nil {
		return movers.Result{}, &movers.Error{Op: movers.OpGet, URL: t.Source, Code: movers.GenericCode(movers.OpGet), Err: fmt.Errorf("destination: %w", err)}
	}
	src := filepath.Join(m.siteDir(dst), lfnOf(t, dst))
	var res movers.Result
	if m.opts.CopyInputs {
		res, err = copyFile(ctx, movers.OpGet, src, src, dst, t, false)
	} else {
		res, err = linkInto(ctx, movers.OpGet, src, src, dst, t)
	}
	if err != nil {
		return movers.Result{}, err
	}
	res.URL = movers.FileURL(src)
	res.Duration = time.Since(start)
	res.Mover = m.Name()
	return res, nil
}

// Put moves t.Source into the site directory and lists it in output.list (see Mv). The
// checksum (type of the expected one, else adler32) is computed by reading the file once
// and verified before the move. A missing source is code 1165.
func (m *Mv) Put(ctx context.Context, t movers.Transfer) (movers.Result, error) {
	const op = movers.OpPut
	start := time.Now()
	ctx, cancel := movers.WithTransferTimeout(ctx, t.Timeout)
	defer cancel()
	remote := t.Destination
	fail := func(retry bool, err error) (movers.Result, error) {
		return movers.Result{}, &movers.Error{Op: op, URL: remote, Code: movers.GenericCode(op), Retryable: retry, Err: err}
	}
	src, err := movers.LocalPath(t.Source)
	if err != nil {
		return fail(false, fmt.Errorf("source: %w", err))
	}
	lfn := lfnOf(t, src)
	target := filepath.Join(m.siteDir(src), lfn)
	listed := true
	if m.opts.FinalDestination && movers.Scheme(t.Destination) == "file" {
		if target, err = movers.LocalPath(t.Destination); err != nil {
			return fail(false, fmt.Errorf("destination: %w", err))
		}
		listed = false
	}
	if t.Destination == "" {
		listed = false
	}
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	in, fi, err := movers.OpenSource(op, remote, src, t)
	if err != nil {
		return movers.Result{}, err
	}
	if !fi.Mode().IsRegular() {
		in.Close()
		return fail(false, fmt.Errorf("source %s is not a regular file", src))
	}
	_, sum, err := movers.CopyChecksum(ctx, discard{}, in, t.ChecksumType())
	in.Close()
	if err != nil {
		if e := movers.ContextError(ctx, op, remote); e != nil {
			return movers.Result{}, e
		}
		return fail(true, err)
	}
	res := movers.Result{Bytes: fi.Size(), Checksum: sum, URL: remote, Mover: m.Name()}
	if err := movers.Verify(op, remote, t, res); err != nil {
		return movers.Result{}, err
	}
	if e := movers.ContextError(ctx, op, remote); e != nil {
		return movers.Result{}, e
	}
	if err := m.move(ctx, src, target, t); err != nil {
		return movers.Result{}, err
	}
	if listed {
		line := fmt.Sprintf("%s %s:checksumtype=%s:checksumvalue=%s\n", lfn, t.Destination, sum.Type, sum.Value)
		if err := m.appendList(filepath.Join(m.siteDir(src), OutputListName), line); err != nil {
			// put the file back so that a retry (or the log) still finds it
			if rerr := os.Rename(target, src); rerr != nil {
				err = errors.Join(err, fmt.Errorf("moving %s back: %w", target, rerr))
			}
			return fail(true, err)
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// lfnOf returns t.LFN when it is a plain file name, else the base name of local.
func lfnOf(t movers.Transfer, local string) string {
	if t.LFN != "" && filepath.IsLocal(t.LFN) && !strings.ContainsRune(t.LFN, '/') {
		return t.LFN
	}
	return filepath.Base(local)
}

// move renames src to target, falling back to copy-and-remove across file systems.
func (m *Mv) move(ctx context.Context, src, target string, t movers.Transfer) error {
	const op = movers.OpPut
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return &movers.Error{Op: op, URL: t.Destination, Code: movers.GenericCode(op), Err: err}
	}
	err := os.Rename(src, target)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EXDEV) {
		return &movers.Error{Op: op, URL: t.Destination, Code: movers.GenericCode(op), Retryable: true, Err: err}
	}
	if _, err := copyFile(ctx, op, t.Destination, src, target, t, true); err != nil {
		return err
	}
	if err := os.Remove(src); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &movers.Error{Op: op, URL: t.Destination, Code: movers.GenericCode(op), Err: err}
	}
	return nil
}

func (m *Mv) appendList(path, line string) error {
	if strings.ContainsAny(line[:len(line)-1], "\n\r") {
		return fmt.Errorf("refusing an output.list entry with a line break: %q", line)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
