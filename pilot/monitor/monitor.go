package monitor

import (
	"context"
	"math"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// Monitor is one check of a running payload.
type Monitor interface {
	// Name is a short stable identifier for logs ("memory", "looping", ...).
	Name() string
	// Interval is how often the check runs (> 0).
	Interval() time.Duration
	// Check decides on one snapshot. It returns nil when all is well, a
	// *jobdef.PilotError (found with errors.As) when the payload must be
	// killed with that code, and any other error when the check could not
	// be made this time (the Runner logs it and carries on). s is never
	// nil; s.Time is "now" for every decision, and s.Err is set when the
	// process figures are missing.
	Check(ctx context.Context, s *Snapshot) error
}

// Pilot 3 defaults (config.cfg of Pilot 3) used by Defaults.
const (
	// DefaultLoopingLimit is looping_limit_default.
	DefaultLoopingLimit = 2 * time.Hour
	// DefaultLoopingInterval is looping_verification_time.
	DefaultLoopingInterval = 900 * time.Second
	// DefaultMemoryInterval is memory_usage_verification_time.
	DefaultMemoryInterval = 60 * time.Second
	// DefaultDiskInterval is disk_space_verification_time (work-directory
	// size, free space, payload output size).
	DefaultDiskInterval = 60 * time.Second
	// DefaultWalltimeInterval is how often the wall time is compared with
	// the limit (Pilot 3 does it in its 1 s monitor loop; a tenth of a
	// minute is as good for limits counted in hours and keeps the tick at
	// 10 s).
	DefaultWalltimeInterval = 10 * time.Second
	// DefaultMinFreeSpace is free_space_limit_running (1 GB in Pilot 3's
	// binary units).
	DefaultMinFreeSpace = 1 << 30
	// DefaultStdoutLimit is local_size_limit_stdout (2097152 kB).
	DefaultStdoutLimit = 2097152 << 10
)

// DefaultLoopingIgnore returns the base-name patterns (filepath.Match) of
// files whose modification does not count as payload activity, after Pilot
// 3's generic rule: pilot logs, memory-monitor (prmon) output, Python
// sources, user library tarballs and the job definition files. The
// payload's own stdout and stderr do count, as in Pilot 3: a payload that
// still writes output is not looping.
func DefaultLoopingIgnore() []string {
	return []string{"*pilotlog*", "memory_monitor*", "prmon*", "*.py", "*.pyc", "*.lib.tgz*", "pandaJob*"}
}

// DefaultStdoutPatterns returns the payload output files checked against
// the stdout size limit, relative to the job directory (filepath.Glob),
// after Pilot 3: the payload's stdout and stderr, log.* files of the
// transformation and tmp.stdout.* files in workDir.
func DefaultStdoutPatterns() []string {
	return []string{"payload.stdout", "payload.stderr", "log.*", "workDir/tmp.stdout.*"}
}

// Options are the pilot-side settings of Defaults. The zero value means the
// Pilot 3 defaults.
type Options struct {
	// PayloadStart is when the payload started; zero means the start time
	// of the root process (Snapshot.RootStart).
	PayloadStart time.Time
	// LoopingLimit is how long the job directory may stay unmodified
	// (0: DefaultLoopingLimit; < 0: no looping check).
	LoopingLimit time.Duration
	// LoopingIgnore are extra base-name patterns for the looping check,
	// added to DefaultLoopingIgnore.
	LoopingIgnore []string
	// MinFreeSpace is the least free space, in bytes, of the job
	// directory's file system (0: DefaultMinFreeSpace; < 0: no check).
	MinFreeSpace int64
	// StdoutLimit is the largest allowed size, in bytes, of each payload
	// output file (0: DefaultStdoutLimit; < 0: no check).
	StdoutLimit int64
	// Lifetime is the running-time limit used when neither the job nor
	// the queue sets one (the pilot's --lifetime); 0 means none.
	Lifetime time.Duration
	// Check intervals; 0 means the Default*Interval constants. The
	// looping interval is never longer than the looping limit.
	LoopingInterval, MemoryInterval, DiskInterval, WalltimeInterval time.Duration
}

// Defaults returns the Pilot 3 monitor set for job running in jobDir on
// queue q (q may be nil: no queue limits). Checks without a known limit are
// left out: memory without maxrss or minRamCount, work-directory size
// without maxwdir, wall time without any running-time limit, looping when
// job.LoopingCheck is false.
func Defaults(job *jobdef.Job, q *jobdef.QueueData, jobDir string, opts Options) []Monitor {
	if job == nil {
		job = &jobdef.Job{}
	}
	every := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	disk := every(opts.DiskInterval, DefaultDiskInterval)
	var ms []Monitor
	if lim := WalltimeLimit(job, q, opts.Lifetime); lim > 0 {
		ms = append(ms, &Walltime{Limit: lim, Start: opts.PayloadStart, Every: every(opts.WalltimeInterval, DefaultWalltimeInterval)})
	}
	if lim := MemoryLimitKB(job, q); lim > 0 {
		ms = append(ms, &Memory{LimitKB: lim, Every: every(opts.MemoryInterval, DefaultMemoryInterval)})
	}
	if lim := opts.LoopingLimit; job.LoopingCheck && lim >= 0 {
		if lim == 0 {
			lim = DefaultLoopingLimit
		}
		ms = append(ms, &Looping{
			Dir: jobDir, Limit: lim, Start: opts.PayloadStart,
			Every:  min(every(opts.LoopingInterval, DefaultLoopingInterval), lim),
			Ignore: append(DefaultLoopingIgnore(), opts.LoopingIgnore...),
		})
	}
	if lim := WorkDirLimitBytes(job, q); lim > 0 {
		ms = append(ms, &WorkDirSize{Dir: jobDir, LimitBytes: lim, Every: disk})
	}
	if lim := defaulted(opts.MinFreeSpace, DefaultMinFreeSpace); lim > 0 {
		ms = append(ms, &FreeSpace{Dir: jobDir, MinBytes: lim, Every: disk})
	}
	if lim := defaulted(opts.StdoutLimit, DefaultStdoutLimit); lim > 0 {
		var exclude []string
		for _, f := range job.Inputs {
			exclude = append(exclude, f.LFN)
		}
		if job.Log.LFN != "" {
			exclude = append(exclude, job.Log.LFN)
		}
		ms = append(ms, &StdoutSize{Dir: jobDir, Patterns: DefaultStdoutPatterns(), Exclude: exclude, LimitBytes: lim, Every: disk})
	}
	return ms
}

func defaulted(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// MemoryLimitKB returns the memory (PSS) limit of the job in kB, or 0 when
// none is known: grace x M x 1024, where grace = 1 + params.pilot_rss_grace/100
// (default 2.0) and M in MB is the queue's maxrss when set (scaled by
// job cores / queue corecount for a job using fewer cores than the queue,
// as Pilot 3 does for single-core slots), else the job's minRamCount.
func MemoryLimitKB(job *jobdef.Job, q *jobdef.QueueData) int64 {
	var mb float64
	switch {
	case q != nil && q.MaxRSS > 0:
		mb = float64(q.MaxRSS)
		if qc, jc := max(q.CoreCount, 1), max(job.CoreCount, 1); jc < qc {
			mb = mb * float64(jc) / float64(qc)
		}
	case job.MinRamCount > 0:
		mb = float64(job.MinRamCount)
	default:
		return 0
	}
	grace := graceFactor(q, "pilot_rss_grace", 100)
	return saturate(grace * mb * 1024)
}

// WorkDirLimitBytes returns the largest allowed size of the job directory
// in bytes, or 0 when the queue sets no maxwdir: maxwdir MB (divided by the
// queue corecount for a single-core job on a multi-core queue) x
// (1 + params.pilot_maxwdir_grace/100, default 20 %).
func WorkDirLimitBytes(job *jobdef.Job, q *jobdef.QueueData) int64 {
	if q == nil || q.MaxWDir <= 0 {
		return 0
	}
	mb := float64(q.MaxWDir)
	if max(job.CoreCount, 1) == 1 && q.CoreCount > 1 {
		mb /= float64(q.CoreCount)
	}
	grace := graceFactor(q, "pilot_maxwdir_grace", 20)
	return saturate(grace * mb * (1 << 20))
}

// WalltimeLimit returns how long the payload may run, grace included, or 0
// when there is no limit: the job's maxWalltime when the queue's
// params.job_maxwalltime is true and it is set, else the queue's maxtime,
// else lifetime; times 1 + params.pilot_walltime_grace/100 (default 0 %).
func WalltimeLimit(job *jobdef.Job, q *jobdef.QueueData, lifetime time.Duration) time.Duration {
	var lim time.Duration
	switch {
	case q.ParamBool("job_maxwalltime") && job.MaxWalltime > 0:
		lim = time.Duration(job.MaxWalltime) * time.Second
	case q != nil && q.MaxTime > 0:
		lim = q.MaxTime
	case lifetime > 0:
		lim = lifetime
	default:
		return 0
	}
	grace := graceFactor(q, "pilot_walltime_grace", 0)
	return time.Duration(saturate(float64(lim) * grace))
}

// graceFactor returns 1 + params[name]/100, with def (a percentage) for a
// missing, negative or non-finite value.
func graceFactor(q *jobdef.QueueData, name string, def float64) float64 {
	p := q.ParamPercent(name, def)
	if math.IsNaN(p) || math.IsInf(p, 0) {
		p = def
	}
	return 1 + p/100
}

// saturate converts a non-negative product to int64, capping it at the
// largest value instead of overflowing (a queue may carry absurd graces).
func saturate(f float64) int64 {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= 1<<63-1024 {
		return 1<<63 - 1
	}
	return int64(f)
}
