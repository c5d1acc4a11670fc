package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopilot/gopilot/jobdef"
)

// wantCode checks that err is a PilotError with code want (0: err is nil).
func wantCode(t *testing.T, err error, want jobdef.ErrorCode) {
	t.Helper()
	var pe *jobdef.PilotError
	switch {
	case want == 0 && err != nil:
		t.Errorf("unexpected failure: %v", err)
	case want != 0 && !errors.As(err, &pe):
		t.Errorf("got %v, want a PilotError %v", err, want)
	case want != 0 && pe.Code != want:
		t.Errorf("got code %v (%v), want %v", pe.Code, err, want)
	case want != 0 && len(pe.Diag) > jobdef.MaxDiagLen:
		t.Errorf("diag longer than %d: %q", jobdef.MaxDiagLen, pe.Diag)
	}
}

// touch creates path (and its directory) with the given age.
func touch(t *testing.T, path string, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(-age)
	if err := os.Chtimes(path, ts, ts); err != nil {
		t.Fatal(err)
	}
}

// age sets the modification time of every directory below dir (dir
// included) to age ago, so that only the files touched decide.
func ageDirs(t *testing.T, dir string, age time.Duration) {
	t.Helper()
	ts := time.Now().Add(-age)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chtimes(p, ts, ts)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLooping(t *testing.T) {
	t.Parallel()
	const limit = time.Hour
	type file struct {
		name string
		age  time.Duration
	}
	tests := []struct {
		name      string
		files     []file
		start     time.Duration // payload start, ago; 0: unknown (RootStart used)
		rootStart time.Duration // ago; 0: unknown
		want      jobdef.ErrorCode
	}{
		{"fresh stdout", []file{{"payload.stdout", time.Minute}, {"in.root", 5 * time.Hour}}, 3 * time.Hour, 0, 0},
		{"everything old", []file{{"payload.stdout", 2 * time.Hour}, {"out.root", 90 * time.Minute}}, 3 * time.Hour, 0, jobdef.LoopingJob},
		{"only ignored names fresh", []file{
			{"payload.stdout", 2 * time.Hour}, {"pilotlog.txt", time.Second}, {"run.py", time.Second},
			{"memory_monitor_output.txt", time.Second}, {"pandaJobData.out", time.Second},
			{"user.lib.tgz", time.Second}, {"sub/prmon.json", time.Second},
		}, 3 * time.Hour, 0, jobdef.LoopingJob},
		{"fresh file deep down", []file{{"payload.stdout", 2 * time.Hour}, {"a/b/c/events.dat", 10 * time.Minute}}, 3 * time.Hour, 0, 0},
		{"payload younger than the limit", []file{{"in.root", 5 * time.Hour}}, 30 * time.Minute, 0, 0},
		{"started just over the limit ago, nothing written", []file{{"in.root", 5 * time.Hour}}, limit + time.Minute, 0, jobdef.LoopingJob},
		{"start from the root process", []file{{"in.root", 5 * time.Hour}}, 0, 2 * time.Hour, jobdef.LoopingJob},
		{"start unknown", []file{{"in.root", 5 * time.Hour}}, 0, 0, 0},
		{"empty directory", nil, 2 * time.Hour, 0, jobdef.LoopingJob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tc.files {
				touch(t, filepath.Join(dir, f.name), f.age)
			}
			ageDirs(t, dir, 4*time.Hour)
			now := time.Now()
			m := &Looping{Dir: dir, Limit: limit, Every: time.Minute, Ignore: DefaultLoopingIgnore()}
			s := &Snapshot{Time: now}
			if tc.start > 0 {
				m.Start = now.Add(-tc.start)
			}
			if tc.rootStart > 0 {
				s.RootStart = now.Add(-tc.rootStart)
			}
			wantCode(t, m.Check(context.Background(), s), tc.want)
		})
	}
	t.Run("new subdirectory counts", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		touch(t, filepath.Join(dir, "old"), 3*time.Hour)
		ageDirs(t, dir, 3*time.Hour)
		if err := os.Mkdir(filepath.Join(dir, "new"), 0o755); err != nil {
			t.Fatal(err)
		}
		m := &Looping{Dir: dir, Limit: limit, Start: time.Now().Add(-2 * time.Hour)}
		wantCode(t, m.Check(context.Background(), &Snapshot{Time: time.Now()}), 0)
	})
	t.Run("missing directory is not a finding", func(t *testing.T) {
		t.Parallel()
		m := &Looping{Dir: filepath.Join(t.TempDir(), "gone"), Limit: limit, Start: time.Now().Add(-2 * time.Hour)}
		err := m.Check(context.Background(), &Snapshot{Time: time.Now()})
		var pe *jobdef.PilotError
		if err == nil || errors.As(err, &pe) {
			t.Errorf("got %v, want a plain error", err)
		}
	})
}

func TestMemory(t *testing.T) {
	t.Parallel()
	snap := func(rss, pss int64) *Snapshot {
		return &Snapshot{Time: time.Now(), RSS: rss, PSS: pss, MaxRSSPID: 7, MaxRSS: rss,
			Procs: []Proc{{PID: 7, Comm: "athena.py", RSS: rss, PSS: pss, PSSKnown: true}}}
	}
	tests := []struct {
		name  string
		limit int64
		s     *Snapshot
		want  jobdef.ErrorCode
	}{
		{"below", 1000, snap(5000, 900), 0},
		{"at the limit", 1000, snap(1000, 1000), 0},
		{"above by PSS", 1000, snap(1500, 1001), jobdef.PayloadExceedMaxMem},
		{"no limit", 0, snap(1<<40, 1<<40), 0},
		{"failed sample", 1000, &Snapshot{Time: time.Now(), PSS: 5000, Err: errors.New("no /proc")}, 0},
		{"empty tree", 1000, &Snapshot{Time: time.Now()}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &Memory{LimitKB: tc.limit, Every: time.Minute}
			wantCode(t, m.Check(context.Background(), tc.s), tc.want)
		})
	}
}

func TestWorkDirSize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "out.root"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A hard link is counted once, a sparse file by its blocks, a
	// symbolic link not followed.
	if err := os.Link(filepath.Join(dir, "sub", "out.root"), filepath.Join(dir, "link.root")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Symlink("/usr", filepath.Join(dir, "usr")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dir   string
		limit int64
		want  jobdef.ErrorCode
		fails bool
	}{
		{"above", dir, 2 << 20, jobdef.UserDirTooLarge, false},
		{"below", dir, 5 << 20, 0, false},
		{"missing directory", filepath.Join(dir, "none"), 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &WorkDirSize{Dir: tc.dir, LimitBytes: tc.limit, Every: time.Minute}
			err := m.Check(context.Background(), &Snapshot{Time: time.Now()})
			if tc.fails {
				var pe *jobdef.PilotError
				if err == nil || errors.As(err, &pe) {
					t.Errorf("got %v, want a plain error", err)
				}
				return
			}
			wantCode(t, err, tc.want)
			if got := m.MaxSize(); got < 3<<20 || got > 5<<20 {
				t.Errorf("MaxSize %d, want about 3 MiB", got)
			}
		})
	}
}

func TestFreeSpace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		min  int64
		want jobdef.ErrorCode
	}{
		{"enough", 1, 0},
		{"not enough", 1 << 62, jobdef.NoLocalSpace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &FreeSpace{Dir: dir, MinBytes: tc.min, Every: time.Minute}
			wantCode(t, m.Check(context.Background(), &Snapshot{Time: time.Now()}), tc.want)
		})
	}
	m := &FreeSpace{Dir: filepath.Join(dir, "none"), MinBytes: 1}
	if err := m.Check(context.Background(), &Snapshot{}); err == nil || jobdef.CodeOf(err) != jobdef.GeneralError {
		t.Errorf("missing directory: %v, want a plain error", err)
	}
}

func TestStdoutSize(t *testing.T) {
	t.Parallel()
	const limit = 2 << 20
	tests := []struct {
		name  string
		files map[string]int64
		want  jobdef.ErrorCode
	}{
		{"small", map[string]int64{"payload.stdout": 1 << 20, "payload.stderr": 10}, 0},
		{"big stdout", map[string]int64{"payload.stdout": 3 << 20}, jobdef.StdoutTooBig},
		{"big stderr", map[string]int64{"payload.stderr": limit + 1}, jobdef.StdoutTooBig},
		{"big transformation log", map[string]int64{"log.EVNTtoHITS": 3 << 20}, jobdef.StdoutTooBig},
		{"big tmp.stdout in workDir", map[string]int64{"workDir/tmp.stdout.1234": 3 << 20}, jobdef.StdoutTooBig},
		{"big input named log.*", map[string]int64{"log.123._000001.job.log.tgz.1": 3 << 20}, 0},
		{"big data file", map[string]int64{"EVNT.pool.root": 3 << 20}, 0},
		{"nothing yet", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, size := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, size); err != nil {
					t.Fatal(err)
				}
			}
			m := &StdoutSize{Dir: dir, Patterns: DefaultStdoutPatterns(), LimitBytes: limit,
				Exclude: []string{"log.123._000001.job.log.tgz.1"}, Every: time.Minute}
			wantCode(t, m.Check(context.Background(), &Snapshot{Time: time.Now()}), tc.want)
		})
	}
}

func TestWalltime(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name      string
		limit     time.Duration
		start     time.Time
		rootStart time.Time
		want      jobdef.ErrorCode
	}{
		{"within", time.Hour, now.Add(-59 * time.Minute), time.Time{}, 0},
		{"at the limit", time.Hour, now.Add(-time.Hour), time.Time{}, 0},
		{"over", time.Hour, now.Add(-time.Hour - time.Second), time.Time{}, jobdef.ReachedMaxTime},
		{"start from the root process", time.Hour, time.Time{}, now.Add(-2 * time.Hour), jobdef.ReachedMaxTime},
		{"explicit start wins", time.Hour, now.Add(-time.Minute), now.Add(-2 * time.Hour), 0},
		{"start unknown", time.Hour, time.Time{}, time.Time{}, 0},
		{"no limit", 0, now.Add(-100 * time.Hour), time.Time{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &Walltime{Limit: tc.limit, Start: tc.start, Every: time.Second}
			wantCode(t, m.Check(context.Background(), &Snapshot{Time: now, RootStart: tc.rootStart}), tc.want)
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	queue := func(params map[string]any, mut func(q *jobdef.QueueData)) *jobdef.QueueData {
		q := &jobdef.QueueData{CoreCount: 8, Params: params}
		if mut != nil {
			mut(q)
		}
		return q
	}
	job := func(cores int, ram, wall int64) *jobdef.Job {
		return &jobdef.Job{CoreCount: cores, MinRamCount: ram, MaxWalltime: wall, LoopingCheck: true}
	}
	maxrss := func(mb int64) func(*jobdef.QueueData) { return func(q *jobdef.QueueData) { q.MaxRSS = mb } }
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			job  *jobdef.Job
			q    *jobdef.QueueData
			want int64
		}{
			{"minRamCount, default grace 100%", job(1, 2000, 0), nil, 2 * 2000 * 1024},
			{"minRamCount, grace 50%", job(1, 2000, 0), queue(map[string]any{"pilot_rss_grace": 50.0}, nil), 3000 * 1024},
			{"grace as text with %", job(1, 2000, 0), queue(map[string]any{"pilot_rss_grace": "25%"}, nil), 2500 * 1024},
			{"maxrss for a full-slot job", job(8, 2000, 0), queue(nil, maxrss(16000)), 2 * 16000 * 1024},
			{"maxrss per core for a single-core job", job(1, 2000, 0), queue(nil, maxrss(16000)), 2 * 2000 * 1024},
			{"maxrss scaled to 4 of 8 cores", job(4, 0, 0), queue(map[string]any{"pilot_rss_grace": 0}, maxrss(16000)), 8000 * 1024},
			{"nothing known", job(1, 0, 0), queue(nil, nil), 0},
			{"non-finite grace falls back", job(1, 1000, 0), queue(map[string]any{"pilot_rss_grace": "NaN"}, nil), 2 * 1000 * 1024},
			{"absurd grace saturates", job(1, 1000, 0), queue(map[string]any{"pilot_rss_grace": 1e300}, nil), 1<<63 - 1},
		}
		for _, tc := range tests {
			if got := MemoryLimitKB(tc.job, tc.q); got != tc.want {
				t.Errorf("%s: %d kB, want %d", tc.name, got, tc.want)
			}
		}
	})
	t.Run("workdir", func(t *testing.T) {
		t.Parallel()
		wdir := func(mb int64) func(*jobdef.QueueData) { return func(q *jobdef.QueueData) { q.MaxWDir = mb } }
		tests := []struct {
			name string
			job  *jobdef.Job
			q    *jobdef.QueueData
			want int64
		}{
			{"multi-core job, default grace 20%", job(8, 0, 0), queue(nil, wdir(10000)), 12000 << 20},
			{"single-core job on an 8-core queue", job(1, 0, 0), queue(nil, wdir(16000)), 2400 << 20},
			{"grace 0", job(8, 0, 0), queue(map[string]any{"pilot_maxwdir_grace": 0}, wdir(1000)), 1000 << 20},
			{"no maxwdir", job(8, 0, 0), queue(nil, nil), 0},
			{"no queue", job(8, 0, 0), nil, 0},
		}
		for _, tc := range tests {
			if got := WorkDirLimitBytes(tc.job, tc.q); got != tc.want {
				t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
			}
		}
	})
	t.Run("walltime", func(t *testing.T) {
		t.Parallel()
		maxtime := func(d time.Duration) func(*jobdef.QueueData) { return func(q *jobdef.QueueData) { q.MaxTime = d } }
		tests := []struct {
			name     string
			job      *jobdef.Job
			q        *jobdef.QueueData
			lifetime time.Duration
			want     time.Duration
		}{
			{"job maxWalltime when the queue says so", job(1, 0, 3600), queue(map[string]any{"job_maxwalltime": true}, maxtime(2*time.Hour)), 0, time.Hour},
			{"queue maxtime otherwise", job(1, 0, 3600), queue(nil, maxtime(2*time.Hour)), 0, 2 * time.Hour},
			{"job_maxwalltime without a job value", job(1, 0, 0), queue(map[string]any{"job_maxwalltime": "True"}, maxtime(2*time.Hour)), 0, 2 * time.Hour},
			{"grace 10%", job(1, 0, 0), queue(map[string]any{"pilot_walltime_grace": 10}, maxtime(10*time.Hour)), 0, 11 * time.Hour},
			{"lifetime fallback", job(1, 0, 0), queue(nil, nil), 90 * time.Hour, 90 * time.Hour},
			{"nothing", job(1, 0, 0), nil, 0, 0},
		}
		for _, tc := range tests {
			if got := WalltimeLimit(tc.job, tc.q, tc.lifetime); got != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	full := &jobdef.QueueData{CoreCount: 1, MaxRSS: 2000, MaxWDir: 5000, MaxTime: 48 * time.Hour}
	start := time.Now().Add(-time.Minute)
	tests := []struct {
		name  string
		job   *jobdef.Job
		q     *jobdef.QueueData
		opts  Options
		names []string
	}{
		{"everything", &jobdef.Job{CoreCount: 1, LoopingCheck: true}, full, Options{PayloadStart: start},
			[]string{"walltime", "memory", "looping", "workdir", "freespace", "stdout"}},
		{"looping off by the job", &jobdef.Job{CoreCount: 1}, full, Options{},
			[]string{"walltime", "memory", "workdir", "freespace", "stdout"}},
		{"no queue limits, checks disabled", &jobdef.Job{CoreCount: 1, LoopingCheck: true}, nil,
			Options{LoopingLimit: -1, MinFreeSpace: -1, StdoutLimit: -1}, nil},
		{"nil job and queue", nil, nil, Options{}, []string{"freespace", "stdout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := Defaults(tc.job, tc.q, "/job", tc.opts)
			var names []string
			for _, m := range ms {
				names = append(names, m.Name())
				if m.Interval() <= 0 {
					t.Errorf("%s: interval %v", m.Name(), m.Interval())
				}
			}
			if !slices.Equal(names, tc.names) {
				t.Errorf("monitors %v, want %v", names, tc.names)
			}
		})
	}
	t.Run("values", func(t *testing.T) {
		t.Parallel()
		job := &jobdef.Job{CoreCount: 1, LoopingCheck: true, Inputs: []jobdef.FileSpec{{LFN: "log.in.tgz"}}, Log: jobdef.FileSpec{LFN: "log.out.tgz"}}
		ms := Defaults(job, full, "/job", Options{PayloadStart: start, LoopingLimit: 10 * time.Minute, LoopingIgnore: []string{"*.ckpt"}})
		if got := TickFor(ms); got != 10*time.Second {
			t.Errorf("tick %v, want 10s", got)
		}
		for _, m := range ms {
			switch m := m.(type) {
			case *Walltime:
				if m.Limit != 48*time.Hour || !m.Start.Equal(start) || m.Every != DefaultWalltimeInterval {
					t.Errorf("walltime %+v", m)
				}
			case *Memory:
				if m.LimitKB != 4000*1024 || m.Every != DefaultMemoryInterval {
					t.Errorf("memory %+v", m)
				}
			case *Looping:
				if m.Limit != 10*time.Minute || m.Every != 10*time.Minute || m.Dir != "/job" || !slices.Contains(m.Ignore, "*.ckpt") || !slices.Contains(m.Ignore, "*pilotlog*") {
					t.Errorf("looping %+v", m)
				}
			case *WorkDirSize:
				if m.LimitBytes != 6000<<20 || m.Dir != "/job" {
					t.Errorf("workdir %+v", m)
				}
			case *FreeSpace:
				if m.MinBytes != 1<<30 {
					t.Errorf("freespace %+v", m)
				}
			case *StdoutSize:
				if m.LimitBytes != 2<<30 || !slices.Equal(m.Exclude, []string{"log.in.tgz", "log.out.tgz"}) {
					t.Errorf("stdout %+v", m)
				}
			}
		}
	})
}
