package timedcmd

import (
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// tailBuffer keeps the last n bytes written to it. It never fails.
type tailBuffer struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func newTail(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) >= t.n {
		t.buf = append(t.buf[:0], p[len(p)-t.n:]...)
		return len(p), nil
	}
	if len(t.buf)+len(p) > 2*t.n {
		// Compact: keep the last n-len(p) bytes. Appends stay amortised O(1).
		keep := t.n - len(p)
		copy(t.buf, t.buf[len(t.buf)-keep:])
		t.buf = t.buf[:keep]
	}
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// bytes returns a copy of the tail.
func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.n {
		b = b[len(b)-t.n:]
	}
	return append([]byte(nil), b...)
}

// capWriter writes to a file until max bytes have been written and then
// drops the rest silently. It never fails: an error from the file also
// stops further writes. max <= 0 means no cap.
type capWriter struct {
	mu        sync.Mutex
	f         *os.File
	max       int64
	written   int64
	failed    bool
	truncated bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return len(p), nil
	}
	q := p
	if w.max > 0 {
		room := w.max - w.written
		if room <= 0 {
			w.truncated = true
			return len(p), nil
		}
		if int64(len(q)) > room {
			q = q[:room]
			w.truncated = true
		}
	}
	n, err := w.f.Write(q)
	w.written += int64(n)
	if err != nil {
		w.failed = true
	}
	return len(p), nil
}

func (w *capWriter) wasTruncated() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.truncated
}

// safeWriter passes writes on to a caller's writer, one at a time, and
// skips it for good after its first error, so the child never sees it.
type safeWriter struct {
	mu     sync.Mutex
	w      io.Writer
	failed bool
}

func (s *safeWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.failed {
		if n, err := s.w.Write(p); err != nil || n < len(p) {
			s.failed = true
		}
	}
	return len(p), nil
}

// stream is the plan for one of stdout and stderr.
type stream struct {
	child    *os.File // given to the child; nil means /dev/null
	read     *os.File // our end of the pipe, when output is copied
	sinks    []io.Writer
	tail     *tailBuffer
	tailFrom *os.File // read the tail back from this file at the end
	done     chan struct{}
}

// outputs holds the plans for stdout and stderr and what must be cleaned up.
type outputs struct {
	stdout, stderr *stream
	caps           []*capWriter
	opened         []*os.File // files opened here, closed at the end
	childEnds      []*os.File // pipe ends to close once the child holds them
}

// interfaceEqual reports a == b without panicking on incomparable types.
func interfaceEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}

// newOutputs opens the output files and pipes for spec.
func newOutputs(spec *Spec) (_ *outputs, err error) {
	o := &outputs{}
	defer func() {
		if err != nil {
			o.closeAll()
		}
	}()
	openFile := func(path string) (*capWriter, error) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		o.opened = append(o.opened, f)
		cw := &capWriter{f: f, max: spec.MaxOutputBytes}
		o.caps = append(o.caps, cw)
		return cw, nil
	}
	var outFile, errFile *capWriter
	if spec.StdoutFile != "" {
		if outFile, err = openFile(spec.StdoutFile); err != nil {
			return nil, err
		}
	}
	if spec.StderrFile != "" {
		if spec.StderrFile == spec.StdoutFile {
			errFile = outFile
		} else if errFile, err = openFile(spec.StderrFile); err != nil {
			return nil, err
		}
	}
	outW, errW := wrapWriter(spec.Stdout), wrapWriter(spec.Stderr)
	sameWriter := interfaceEqual(spec.Stdout, spec.Stderr)
	if sameWriter && spec.Stdout != nil {
		errW = outW // one lock for a writer given twice
	}
	if o.stdout, err = o.plan(spec.Stdout, outW, outFile, spec); err != nil {
		return nil, err
	}
	// Both streams go to exactly the same places: one descriptor for both,
	// as a shell's 2>&1 would do, and one combined tail.
	if sameWriter && outFile == errFile && (spec.Stdout != nil || outFile != nil) {
		o.stderr = o.stdout
		return o, nil
	}
	if o.stderr, err = o.plan(spec.Stderr, errW, errFile, spec); err != nil {
		return nil, err
	}
	return o, nil
}

func wrapWriter(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return &safeWriter{w: w}
}

// plan decides how one stream reaches its destinations: handed to the
// child directly when there is exactly one file and no cap, through a pipe
// and a copying goroutine otherwise.
func (o *outputs) plan(w, wrapped io.Writer, file *capWriter, spec *Spec) (*stream, error) {
	s := &stream{}
	if spec.TailBytes > 0 {
		s.tail = newTail(spec.TailBytes)
	}
	userFile, isFile := w.(*os.File)
	switch {
	case w == nil && file != nil && file.max <= 0:
		s.child, s.tailFrom = file.f, file.f
		return s, nil
	case isFile && userFile != nil && file == nil:
		s.child, s.tailFrom = userFile, userFile
		return s, nil
	case w == nil && file == nil && s.tail == nil:
		return s, nil
	}
	if wrapped != nil {
		s.sinks = append(s.sinks, wrapped)
	}
	if file != nil {
		s.sinks = append(s.sinks, file)
	}
	if s.tail != nil {
		s.sinks = append(s.sinks, s.tail)
	}
	r, wp, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.child, s.read = wp, r
	o.childEnds = append(o.childEnds, wp)
	o.opened = append(o.opened, r)
	return s, nil
}

// afterStart drops this process's copies of the child's pipe ends and
// starts the copying goroutines.
func (o *outputs) afterStart() {
	for _, f := range o.childEnds {
		f.Close()
	}
	o.childEnds = nil
	for _, s := range o.streams() {
		if s.read != nil {
			s.done = make(chan struct{})
			go s.copy()
		}
	}
}

func (o *outputs) streams() []*stream {
	if o.stderr == o.stdout {
		return []*stream{o.stdout}
	}
	return []*stream{o.stdout, o.stderr}
}

func (s *stream) copy() {
	defer close(s.done)
	// Small enough for a cheap allocation per command; a pipe hands out
	// at most what it holds anyway.
	buf := make([]byte, 8*1024)
	for {
		n, err := s.read.Read(buf)
		if n > 0 {
			for _, w := range s.sinks {
				_, _ = w.Write(buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// drain waits for the copying goroutines to see end of file, at most
// delay; then it closes the pipes. It reports whether the delay expired.
func (o *outputs) drain(delay time.Duration) (expired bool) {
	var timer *time.Timer
	for _, s := range o.streams() {
		if s.done == nil {
			continue
		}
		select {
		case <-s.done:
			continue
		default:
		}
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		}
		select {
		case <-s.done:
		case <-timer.C:
			expired = true
			for _, t := range o.streams() {
				if t.read != nil {
					t.read.Close()
				}
			}
			<-s.done
		}
	}
	if expired {
		for _, s := range o.streams() {
			if s.done != nil {
				<-s.done
			}
		}
	}
	return expired
}

// tails returns the stdout and stderr tails.
func (o *outputs) tails(n int) (out, errTail []byte) {
	out = o.stdout.tailBytes(n)
	if o.stderr != o.stdout {
		errTail = o.stderr.tailBytes(n)
	}
	return out, errTail
}

func (s *stream) tailBytes(n int) []byte {
	switch {
	case n <= 0:
		return nil
	case s.tail != nil && s.tailFrom == nil:
		return s.tail.bytes()
	case s.tailFrom != nil:
		return fileTail(s.tailFrom, n)
	}
	return nil
}

// fileTail reads the last n bytes of a regular file, through a fresh
// read-only descriptor (the child's may be write-only).
func fileTail(f *os.File, n int) []byte {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	r, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return nil
	}
	defer r.Close()
	size := fi.Size()
	off := max(size-int64(n), 0)
	b := make([]byte, size-off)
	m, _ := r.ReadAt(b, off)
	return b[:m]
}

func (o *outputs) truncated() bool {
	for _, c := range o.caps {
		if c.wasTruncated() {
			return true
		}
	}
	return false
}

// closeAll closes everything opened here.
func (o *outputs) closeAll() {
	for _, f := range o.childEnds {
		f.Close()
	}
	o.childEnds = nil
	for _, f := range o.opened {
		f.Close()
	}
	o.opened = nil
}
