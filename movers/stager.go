package movers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/jobdef"
)

// Defaults of the Stager's timeout rule (see TimeoutFor).
const (
	// TimeoutBase is added to the size-derived part of every per-file timeout.
	TimeoutBase = 60 * time.Second
	// TimeoutRate is the slowest transfer rate (bytes per second) a timeout allows for.
	TimeoutRate = 1_000_000
	// DefaultMaxTimeout caps the per-file timeout when Stager.MaxTimeout is 0 (as Pilot 3's
	// rucio copytool: 3 h).
	DefaultMaxTimeout = 3 * time.Hour
)

// TimeoutFor returns the timeout for a file of size bytes: TimeoutBase plus size at
// TimeoutRate, capped at max (DefaultMaxTimeout when max <= 0), then raised to at least
// min. A size <= 0 (unknown) counts as 0.
func TimeoutFor(size int64, min, max time.Duration) time.Duration {
	if max <= 0 {
		max = DefaultMaxTimeout
	}
	t := max
	if size <= 0 {
		size = 0
	}
	if size/TimeoutRate < int64(max/time.Second) { // no overflow below
		t = TimeoutBase + time.Duration(size/TimeoutRate)*time.Second + time.Duration(size%TimeoutRate)*time.Second/TimeoutRate
		if t > max {
			t = max
		}
	}
	if t < min {
		t = min
	}
	return t
}

// Activity lists. The Stager uses InputActivities for stage-in; StageOut callers pass
// OutputActivities or LogActivities. QueueData.CopytoolsFor/StoragesFor take the first
// activity with entries, then "default".

// InputActivities returns the stage-in activities for job on q: "read_lan_analysis" first
// for analysis jobs on unified queues, then "pr", "read_lan".
func InputActivities(job *jobdef.Job, q *jobdef.QueueData) []string {
	a := []string{"pr", "read_lan"}
	if job != nil && q != nil && job.IsAnalysis() && q.Type == "unified" {
		a = append([]string{"read_lan_analysis"}, a...)
	}
	return a
}

// OutputActivities returns the stage-out activities for job's data outputs on q:
// "write_lan_analysis" first for analysis jobs on unified queues, then "pw", "write_lan", "w".
func OutputActivities(job *jobdef.Job, q *jobdef.QueueData) []string {
	a := []string{"pw", "write_lan", "w"}
	if job != nil && q != nil && job.IsAnalysis() && q.Type == "unified" {
		a = append([]string{"write_lan_analysis"}, a...)
	}
	return a
}

// LogActivities returns the stage-out activities for the log: "pl", then OutputActivities.
func LogActivities(job *jobdef.Job, q *jobdef.QueueData) []string {
	return append([]string{"pl"}, OutputActivities(job, q)...)
}

// Protocol activities of storage data (arprotocols) tried in order.
var (
	readProtocols  = []string{"read_lan", "read_wan"}
	writeProtocols = []string{"write_lan", "write_wan", "read_lan"}
)

// Stager stages a job's files in and out through the movers of a Registry.
//
// Per file it resolves the remote URL, picks the candidate movers (the queue's copytools
// for the activity, in order, that handle the URL's scheme), and tries each in turn: up to
// 1+Retries attempts while the failure is retryable, waiting Backoff, 2*Backoff, ... in
// between, each attempt bounded by TimeoutFor(size, MinTimeout, MaxTimeout). Sizes and
// checksums are verified in both directions on the checksum computed by the mover while
// copying (the Stager reads the local file itself only when a mover reports none).
//
// The outcome is recorded in each FileSpec (Status, StatusCode, SURL, TURL, Mover,
// LocalPath; for outputs also GUID, Size, Checksum and DDMEndpoint). The methods do not
// modify the Stager, so it may serve several jobs at once as long as its fields stay
// unchanged.
type Stager struct {
	Registry *Registry
	// Queue provides acopytools, astorages and the input size limits; nil means every
	// registered mover in registration order and no storage list.
	Queue *jobdef.QueueData
	// Storage maps RSE names to their protocols.
	Storage jobdef.StorageData
	// Log receives one entry per attempt; nil discards.
	Log logrus.FieldLogger
	// Retries is the number of extra attempts per mover for a retryable failure.
	Retries int
	// Backoff is the wait before the first retry; it doubles for each further retry.
	Backoff time.Duration
	// MinTimeout and MaxTimeout bound the per-file timeout (see TimeoutFor).
	MinTimeout, MaxTimeout time.Duration
	// InputDir, when set, holds the inputs as <InputDir>/<lfn> (Pilot 3 --input-dir).
	InputDir string
	// Env is passed to movers in Transfer.Env (credential locations for external tools).
	Env []string
	// FreeSpace returns the bytes available to the job in dir; nil uses statfs(2).
	FreeSpace func(dir string) (int64, error)
}

func (s *Stager) log() logrus.FieldLogger {
	if s.Log != nil {
		return s.Log
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func (s *Stager) copytools(activities []string) []string {
	if s.Queue == nil {
		return s.Registry.Names()
	}
	return s.Queue.CopytoolsFor(activities...)
}

func (s *Stager) storages(activities []string) []string {
	if s.Queue == nil {
		return nil
	}
	return s.Queue.StoragesFor(activities...)
}

// StageIn transfers the job's inputs into jobDir (as <jobDir>/<lfn>). Inputs whose Status
// is already transferred, remote_io or no_transfer are left alone. The source of an input
// is, in order: its entry in the job's "inFilePaths" (Harvester; matched by base name, else
// by position in "inFiles"), <InputDir>/<lfn> when InputDir is set, or the SURL on its RSE
// (DDMEndpoint, else the first queue storage for the input activities) built from the
// read_lan (then read_wan) protocol. Before the first transfer with a mover that needs
// space, the total input size is checked against the queue's maxwdir (1168, skipped when
// maxinputsize is -1) and the free space of jobDir's file system (1098). StageIn stops at
// the first file that fails and returns its error as a *jobdef.PilotError.
func (s *Stager) StageIn(ctx context.Context, job *jobdef.Job, jobDir string) error {
	if err := s.check(job, jobDir); err != nil {
		return jobdef.NewError(jobdef.StageInFailed, err.Error(), err)
	}
	activities := InputActivities(job, s.Queue)
	names := s.copytools(activities)
	var todo []*jobdef.FileSpec
	for i := range job.Inputs {
		f := &job.Inputs[i]
		switch f.Status {
		case jobdef.StatusTransferred, jobdef.StatusRemoteIO, jobdef.StatusNoTransfer:
			continue
		}
		todo = append(todo, f)
	}
	var spaceErr error
	spaceChecked := false
	spaceCheck := func(m Mover) error { // once per stage-in, for movers that need space
		if CapabilitiesOf(m).SkipSpaceCheck {
			return nil
		}
		if !spaceChecked {
			spaceChecked, spaceErr = true, s.checkSpace(jobDir, todo)
		}
		return spaceErr
	}
	for _, f := range todo {
		if err := s.stageInFile(ctx, job, jobDir, f, activities, names, spaceCheck); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stager) check(job *jobdef.Job, jobDir string) error {
	if s.Registry == nil {
		return errors.New("stager has no mover registry")
	}
	if job == nil {
		return errors.New("no job")
	}
	if !filepath.IsAbs(jobDir) {
		return fmt.Errorf("job directory %q is not absolute", jobDir)
	}
	fi, err := os.Stat(jobDir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("job directory %s is not a directory", jobDir)
	}
	return nil
}

func (s *Stager) stageInFile(ctx context.Context, job *jobdef.Job, jobDir string, f *jobdef.FileSpec,
	activities, names []string, spaceCheck func(Mover) error) error {
	fail := func(err error) error {
		pe := toPilotError(OpGet, err)
		f.Status, f.StatusCode = jobdef.StatusFailed, pe.Code
		s.log().WithFields(logrus.Fields{"lfn": f.LFN, "code": int(pe.Code)}).Warn("stage-in failed: " + pe.Diag)
		return pe
	}
	if err := jobdef.ValidateLFN(f.LFN); err != nil {
		return fail(err)
	}
	local := filepath.Join(jobDir, f.LFN)
	src, srcErr := s.inputSource(job, f, activities)
	cands, err := s.candidates(src, srcErr, names)
	if err != nil {
		return fail(err)
	}
	p := plan{op: OpGet, lfn: f.LFN, remote: src, local: local, size: f.Size, want: f.Checksum,
		activity: "read_lan", candidates: cands, pre: spaceCheck}
	res, err := s.run(ctx, p)
	if err != nil {
		return fail(err)
	}
	f.Status, f.StatusCode = jobdef.StatusTransferred, 0
	f.SURL, f.TURL, f.Mover, f.LocalPath = res.URL, res.URL, res.Mover, local
	if f.Checksum.Value == "" {
		f.Checksum = res.Checksum
	}
	if f.Size == 0 {
		f.Size = res.Bytes
	}
	return nil
}

// candidates returns the movers to try for url; when url could not be resolved (urlErr)
// only SiteLocal movers qualify, and urlErr is returned if there are none.
func (s *Stager) candidates(url string, urlErr error, names []string) ([]Mover, error) {
	if urlErr == nil {
		return s.Registry.Candidates(url, names)
	}
	var out []Mover
	for _, n := range names {
		if m, ok := s.Registry.Get(n); ok && CapabilitiesOf(m).SiteLocal && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, urlErr
	}
	return out, nil
}

// inputSource resolves the source URL of an input (see StageIn).
func (s *Stager) inputSource(job *jobdef.Job, f *jobdef.FileSpec, activities []string) (string, error) {
	if p, ok := InFilePath(job.Raw, f.LFN); ok {
		return p, nil
	}
	if s.InputDir != "" {
		return filepath.Join(s.InputDir, f.LFN), nil
	}
	rse := f.DDMEndpoint
	if rse == "" {
		if st := s.storages(activities); len(st) > 0 {
			rse = st[0]
		}
	}
	if rse == "" {
		return "", jobdef.NewError(jobdef.NoStorage, fmt.Sprintf("no input storage for %q (no RSE and no astorages for %s)",
			f.LFN, strings.Join(activities, ",")), nil)
	}
	return s.surl(rse, f, readProtocols)
}

// InFilePath returns the path given for lfn in the job's Harvester field "inFilePaths"
// (comma-separated, absolute paths or file URLs): the entry whose base name is lfn, else
// the entry at lfn's position in "inFiles". Relative or malformed entries are ignored.
func InFilePath(raw map[string]string, lfn string) (string, bool) {
	paths := splitList(raw["inFilePaths"])
	if len(paths) == 0 || lfn == "" {
		return "", false
	}
	usable := func(p string) bool {
		lp, err := LocalPath(p)
		return err == nil && lp != "/"
	}
	for _, p := range paths {
		if usable(p) {
			lp, _ := LocalPath(p)
			if filepath.Base(lp) == lfn {
				return p, true
			}
		}
	}
	files := splitList(raw["inFiles"])
	if i := slices.Index(files, lfn); i >= 0 && i < len(paths) && usable(paths[i]) {
		return paths[i], true
	}
	return "", false
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// surl builds f's URL on rse with the first protocol activity that has a protocol.
func (s *Stager) surl(rse string, f *jobdef.FileSpec, protos []string) (string, error) {
	ep := s.Storage[rse]
	if ep == nil {
		return "", jobdef.NewError(jobdef.NoStorage, fmt.Sprintf("unknown RSE %q (not in storage data)", rse), nil)
	}
	var firstErr error
	for _, a := range protos {
		u, err := ep.SURL(a, f.Scope, f.LFN)
		if err == nil {
			return u, nil
		}
		if jobdef.CodeOf(err) != jobdef.NoStorageProtocol {
			return "", err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", jobdef.NewError(jobdef.NoStorageProtocol,
		fmt.Sprintf("RSE %q has no %s protocol", rse, strings.Join(protos, "/")), firstErr)
}

// checkSpace applies the maxwdir and free-space limits to the inputs' total size.
func (s *Stager) checkSpace(jobDir string, files []*jobdef.FileSpec) error {
	var total int64
	for _, f := range files {
		if f.Size > 0 {
			total += f.Size
		}
	}
	if q := s.Queue; q != nil && q.MaxInputSize != -1 && q.MaxWDir > 0 {
		if limit := q.MaxWDir << 20; total > limit {
			return jobdef.NewError(jobdef.SizeTooLarge,
				fmt.Sprintf("total input size %d B exceeds the queue limit maxwdir=%d MB", total, q.MaxWDir), nil)
		}
	}
	free, err := s.freeSpace(jobDir)
	if err != nil {
		s.log().WithError(err).Warn("cannot determine free space, skipping the local space check")
		return nil
	}
	if total > free {
		return jobdef.NewError(jobdef.NoLocalSpace,
			fmt.Sprintf("total input size %d B exceeds the free space %d B in %s", total, free, jobDir), nil)
	}
	return nil
}

func (s *Stager) freeSpace(dir string) (int64, error) {
	if s.FreeSpace != nil {
		return s.FreeSpace(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// StageOut transfers files (outputs or the log, located in jobDir) to storage using the
// copytools and storages of the first of activities with entries. For each file:
//   - the LFN must be a plain file name (1371/1190); the local file is LocalPath when set
//     (it must lie inside jobDir) else <jobDir>/<lfn>;
//   - a missing file is skipped (Status no_transfer) when its LFN is in job.AllowNoOutput,
//     else fails with 1165; a file of size zero fails with 1191; a symbolic link that
//     resolves outside jobDir, or anything but a regular file, is refused with 1303;
//   - a missing GUID is generated (UUID v4);
//   - the destination RSE is the file's DDMEndpoint if it is among the activity's storages,
//     else the first of them (the file's own RSE when the queue lists none; 1133 when there
//     is none or it is unknown); the URL is its SURL from the write_lan, write_wan or read_lan
//     protocol (1313 none, 1329 non-deterministic);
//   - the checksum computed while uploading is stored in the FileSpec (adler32 unless the
//     file carries an expected md5) and compared with an expected one (1172/1141).
//
// Files already transferred are skipped. All files are attempted; the first failure is
// returned as a *jobdef.PilotError (nil when every file is transferred or skipped).
func (s *Stager) StageOut(ctx context.Context, job *jobdef.Job, jobDir string, files []*jobdef.FileSpec, activities []string) error {
	if err := s.check(job, jobDir); err != nil {
		return jobdef.NewError(jobdef.StageOutFailed, err.Error(), err)
	}
	root, err := os.OpenRoot(jobDir)
	if err != nil {
		return jobdef.NewError(jobdef.StageOutFailed, err.Error(), err)
	}
	defer root.Close()
	realJobDir, err := filepath.EvalSymlinks(jobDir)
	if err != nil {
		return jobdef.NewError(jobdef.StageOutFailed, err.Error(), err)
	}
	names := s.copytools(activities)
	var first error
	for _, f := range files {
		if f == nil || f.Status == jobdef.StatusTransferred {
			continue
		}
		if ctx.Err() != nil {
			err := ContextError(ctx, OpPut, "")
			f.Status, f.StatusCode = jobdef.StatusFailed, err.Code
			if first == nil {
				first = err.AsPilotError()
			}
			continue
		}
		if err := s.stageOutFile(ctx, job, jobDir, realJobDir, root, f, activities, names); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Stager) stageOutFile(ctx context.Context, job *jobdef.Job, jobDir, realJobDir string, root *os.Root,
	f *jobdef.FileSpec, activities, names []string) error {
	l := s.log().WithField("lfn", f.LFN)
	fail := func(err error) error {
		pe := toPilotError(OpPut, err)
		f.Status, f.StatusCode = jobdef.StatusFailed, pe.Code
		l.WithField("code", int(pe.Code)).Warn("stage-out failed: " + pe.Diag)
		return pe
	}
	if err := jobdef.ValidateLFN(f.LFN); err != nil {
		return fail(err)
	}
	local, size, err := outputFile(jobDir, realJobDir, root, f)
	if errors.Is(err, fs.ErrNotExist) {
		if slices.Contains(job.AllowNoOutput, f.LFN) {
			f.Status, f.StatusCode = jobdef.StatusNoTransfer, 0
			l.Info("output file missing but allowed (allowNoOutput), skipped")
			return nil
		}
		return fail(jobdef.NewError(jobdef.MissingOutputFile, fmt.Sprintf("output file %q does not exist in the job directory", f.LFN), err))
	}
	if err != nil {
		return fail(err)
	}
	if size == 0 {
		return fail(jobdef.NewError(jobdef.ZeroFileSize, fmt.Sprintf("output file %q has size zero", f.LFN), nil))
	}
	if f.GUID == "" {
		f.GUID = uuid.NewString()
	}
	rse, dst, dstErr := s.outputDestination(f, activities)
	cands, err := s.candidates(dst, dstErr, names)
	if err != nil {
		return fail(err)
	}
	if dstErr == nil {
		f.DDMEndpoint = rse
	}
	p := plan{op: OpPut, lfn: f.LFN, remote: dst, local: local, size: size, want: f.Checksum,
		activity: firstOf(activities), candidates: cands}
	res, err := s.run(ctx, p)
	if err != nil {
		return fail(err)
	}
	f.Status, f.StatusCode = jobdef.StatusTransferred, 0
	f.SURL, f.TURL, f.Mover, f.LocalPath = res.URL, res.URL, res.Mover, local
	f.Size = res.Bytes
	if f.Checksum.Value == "" || f.Checksum.Type == res.Checksum.Type {
		f.Checksum = res.Checksum
	}
	return nil
}

// outputFile locates f inside jobDir and returns the path to hand to a mover and its size.
// Errors wrapping fs.ErrNotExist mean the file is missing.
func outputFile(jobDir, realJobDir string, root *os.Root, f *jobdef.FileSpec) (string, int64, error) {
	rel := f.LFN
	if f.LocalPath != "" {
		abs := f.LocalPath
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(jobDir, abs)
		}
		r, err := filepath.Rel(jobDir, abs)
		if err != nil || !filepath.IsLocal(r) {
			return "", 0, jobdef.NewError(jobdef.FileHandlingFailure,
				fmt.Sprintf("local path %q of output %q is outside the job directory", f.LocalPath, f.LFN), err)
		}
		rel = r
	}
	path := filepath.Join(jobDir, rel)
	lfi, err := root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, err
	}
	if err != nil {
		return "", 0, jobdef.NewError(jobdef.FileHandlingFailure,
			fmt.Sprintf("output %q: %v (paths must stay inside the job directory)", f.LFN, err), err)
	}
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, err // dangling link: the output does not exist
	}
	if err != nil {
		return "", 0, jobdef.NewError(jobdef.FileHandlingFailure, fmt.Sprintf("output %q: %v", f.LFN, err), err)
	}
	if r, err := filepath.Rel(realJobDir, real); err != nil || !filepath.IsLocal(r) {
		return "", 0, jobdef.NewError(jobdef.FileHandlingFailure,
			fmt.Sprintf("output %q is a symbolic link to %q outside the job directory; refusing to upload it", f.LFN, real), nil)
	}
	fi, err := root.Stat(rel)
	if err != nil {
		return "", 0, jobdef.NewError(jobdef.FileHandlingFailure,
			fmt.Sprintf("output %q: %v (paths must stay inside the job directory)", f.LFN, err), err)
	}
	if !fi.Mode().IsRegular() {
		return "", 0, jobdef.NewError(jobdef.FileHandlingFailure,
			fmt.Sprintf("output %q is not a regular file (%s)", f.LFN, fi.Mode().Type()), nil)
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		path = real // hand the mover the file itself, not the link
	}
	return path, fi.Size(), nil
}

// outputDestination picks the RSE and URL of an output (see StageOut).
func (s *Stager) outputDestination(f *jobdef.FileSpec, activities []string) (string, string, error) {
	allowed := s.storages(activities)
	rse := f.DDMEndpoint
	if len(allowed) > 0 && (rse == "" || !slices.Contains(allowed, rse)) {
		rse = allowed[0]
	}
	if rse == "" {
		return "", "", jobdef.NewError(jobdef.NoStorage,
			fmt.Sprintf("no storage for %q: no RSE and no astorages for %s", f.LFN, strings.Join(activities, ",")), nil)
	}
	u, err := s.surl(rse, f, writeProtocols)
	return rse, u, err
}

// plan is one file's transfer across its candidate movers.
type plan struct {
	op, lfn, activity string
	remote, local     string // remote URL ("" for SiteLocal movers), absolute local path
	size              int64
	want              jobdef.Checksum
	candidates        []Mover
	pre               func(Mover) error // run before the first attempt with a mover
}

// run tries the candidates in order with retries; it returns the first successful Result
// or the most specific error (see pickError).
func (s *Stager) run(ctx context.Context, p plan) (Result, error) {
	var errs []error
	for _, m := range p.candidates {
		if p.pre != nil {
			if err := p.pre(m); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		for attempt := 1; ; attempt++ {
			l := s.log().WithFields(logrus.Fields{"lfn": p.lfn, "mover": m.Name(), "attempt": attempt, "op": p.op})
			res, err := s.attempt(ctx, m, p, attempt)
			if err == nil {
				l.WithFields(logrus.Fields{"bytes": res.Bytes, "seconds": res.Duration.Seconds(), "url": res.URL}).Info("transfer done")
				return res, nil
			}
			errs = append(errs, err)
			l.WithError(err).Warn("transfer attempt failed")
			if ctx.Err() != nil {
				return Result{}, ContextError(ctx, p.op, p.remote)
			}
			var me *Error
			if !errors.As(err, &me) || !me.Retryable || attempt > s.Retries {
				break
			}
			if err := sleepCtx(ctx, s.Backoff<<min(attempt-1, 16)); err != nil {
				return Result{}, ContextError(ctx, p.op, p.remote)
			}
		}
	}
	return Result{}, pickError(p.op, errs)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt runs one transfer with m and verifies its outcome.
func (s *Stager) attempt(ctx context.Context, m Mover, p plan, attempt int) (Result, error) {
	timeout := TimeoutFor(p.size, s.MinTimeout, s.MaxTimeout)
	tctx, cancel := WithTransferTimeout(ctx, timeout)
	defer cancel()
	t := Transfer{Size: p.size, Checksum: p.want, Activity: p.activity, Timeout: timeout,
		Attempt: attempt, Env: s.Env, LFN: p.lfn}
	var res Result
	var err error
	if p.op == OpGet {
		t.Source, t.Destination = p.remote, p.local
		res, err = m.Get(tctx, t)
	} else {
		t.Source, t.Destination = p.local, p.remote
		res, err = m.Put(tctx, t)
	}
	if err != nil {
		var me *Error
		isErr := errors.As(err, &me)
		if ctx.Err() == nil && tctx.Err() != nil && !(isErr && me.Code == TimeoutCode(p.op)) {
			// our timeout fired: report it as such whatever the mover made of it
			e := ContextError(tctx, p.op, p.remote)
			e.Err = fmt.Errorf("%w (mover %s: %v)", e.Err, m.Name(), err)
			return Result{}, e
		}
		if isErr {
			return Result{}, err
		}
		var pe *jobdef.PilotError
		if errors.As(err, &pe) {
			return Result{}, &Error{Op: p.op, URL: p.remote, Code: pe.Code, Err: err}
		}
		return Result{}, &Error{Op: p.op, URL: p.remote, Code: GenericCode(p.op), Retryable: true, Err: err}
	}
	if res.Mover == "" {
		res.Mover = m.Name()
	}
	if res.URL == "" {
		res.URL = p.remote
	}
	if err := s.verify(tctx, m, p, t, &res); err != nil {
		if p.op == OpGet {
			os.Remove(p.local)
		} else if r, ok := m.(Remover); ok && p.remote != "" {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			if rerr := r.Remove(rctx, p.remote); rerr != nil {
				s.log().WithError(rerr).WithField("url", p.remote).Warn("could not remove a bad upload")
			}
			rcancel()
		}
		return Result{}, err
	}
	return res, nil
}

// verify checks res against the plan. A missing or differently typed checksum is computed
// from the local file (one read; only for movers that do not compute it themselves).
func (s *Stager) verify(ctx context.Context, m Mover, p plan, t Transfer, res *Result) error {
	fi, err := os.Stat(p.local)
	if err != nil {
		code := GenericCode(p.op)
		if p.op == OpPut {
			code = MissingCode(p.op) // the mover consumed or lost it: it was not uploaded by us
			if CapabilitiesOf(m).SiteLocal {
				fi, err = nil, nil // mv moved it away: expected
			}
		}
		if err != nil {
			return &Error{Op: p.op, URL: p.remote, Code: code, Retryable: p.op == OpGet,
				Err: fmt.Errorf("local file after transfer: %w", err)}
		}
	}
	if res.Bytes == 0 && fi != nil {
		res.Bytes = fi.Size()
	}
	if fi != nil && p.op == OpGet && res.Bytes != fi.Size() {
		return &Error{Op: p.op, URL: p.remote, Code: GenericCode(p.op), Retryable: true,
			Err: fmt.Errorf("mover reported %d bytes but %s has %d", res.Bytes, p.local, fi.Size())}
	}
	want := t.ChecksumType()
	if res.Checksum.Type != want || res.Checksum.Value == "" {
		if fi == nil {
			return &Error{Op: p.op, URL: p.remote, Code: jobdef.ChecksumCalcFailure,
				Err: fmt.Errorf("mover %s reported no %s checksum and the local file is gone", m.Name(), want)}
		}
		sum, err := ChecksumOf(ctx, p.local, want)
		if err != nil {
			if e := ContextError(ctx, p.op, p.remote); e != nil {
				return e
			}
			return &Error{Op: p.op, URL: p.remote, Code: jobdef.ChecksumCalcFailure, Err: err}
		}
		res.Checksum = sum
	}
	return Verify(p.op, p.remote, t, *res)
}

// pickError returns the first error with a specific code, else the first error.
func pickError(op string, errs []error) error {
	if len(errs) == 0 {
		return &Error{Op: op, Code: GenericCode(op), Err: errors.New("no mover tried")}
	}
	for _, err := range errs {
		switch c := codeOf(err); c {
		case GenericCode(op), jobdef.UnknownCopytool, jobdef.GeneralError:
		default:
			return err
		}
	}
	return errs[0]
}

func codeOf(err error) jobdef.ErrorCode {
	var me *Error
	if errors.As(err, &me) {
		return me.Code
	}
	return jobdef.CodeOf(err)
}

// toPilotError converts any error to a *jobdef.PilotError, keeping a movers.Error's code.
func toPilotError(op string, err error) *jobdef.PilotError {
	var me *Error
	if errors.As(err, &me) {
		return me.AsPilotError()
	}
	var pe *jobdef.PilotError
	if errors.As(err, &pe) {
		return pe
	}
	return jobdef.NewError(GenericCode(op), err.Error(), err)
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
