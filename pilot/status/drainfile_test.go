package status

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// drainWatch runs WatchDrainFile in a goroutine and records its calls.
type drainWatch struct {
	mu      sync.Mutex
	reasons []string
	called  chan struct{} // closed at the first call
	done    chan struct{} // closed when WatchDrainFile returns
	cancel  context.CancelCauseFunc
}

func watch(t *testing.T, path string) *drainWatch {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	w := &drainWatch{called: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		WatchDrainFile(ctx, path, 5*time.Millisecond, func(reason string) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.reasons = append(w.reasons, reason)
			if len(w.reasons) == 1 {
				close(w.called)
			}
		})
	}()
	t.Cleanup(func() {
		cancel(errors.New("test over"))
		<-w.done
	})
	return w
}

func (w *drainWatch) wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("%s: not within %v", what, waitLimit)
	}
}

func (w *drainWatch) got() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.reasons...)
}

func TestWatchDrainFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		// make creates the drain entry at path.
		make   func(t *testing.T, path string)
		before bool // create before the watch starts
		want   string
	}{
		{name: "appears with reason", make: writeFile("cooling failure in rack 12\nsecond line\n"),
			want: "cooling failure in rack 12"},
		{name: "appears empty", make: writeFile(""), want: "drain file <path> exists"},
		{name: "blank first line", make: writeFile("\nreason below\n"), want: "drain file <path> exists"},
		{name: "exists at start", before: true, make: writeFile("  planned\tdowntime  "), want: "planned downtime"},
		{name: "control characters", make: writeFile("bad\x1b[2Jreason\x00"), want: "bad [2Jreason"},
		{name: "directory", make: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, want: "drain file <path> exists"},
		{name: "named pipe", make: func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: "drain file <path> exists"},
		{name: "unreadable", make: writeFileMode("secret", 0), want: "drain file <path> exists"},
		{name: "symbolic link", make: func(t *testing.T, p string) {
			writeFile("through a link")(t, p+".target")
			if err := os.Symlink(p+".target", p); err != nil {
				t.Fatal(err)
			}
		}, want: "through a link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "DRAIN")
			if tc.before {
				tc.make(t, path)
			}
			w := watch(t, path)
			if !tc.before {
				tc.make(t, path)
			}
			w.wait(t, w.called, "onDrain")
			w.wait(t, w.done, "return after onDrain")
			want := strings.ReplaceAll(tc.want, "<path>", path)
			if tc.name == "unreadable" && os.Getuid() == 0 {
				want = "secret" // root reads it anyway
			}
			if got := w.got(); len(got) != 1 || got[0] != want {
				t.Errorf("reasons %q, want [%q]", got, want)
			}
		})
	}
}

func TestWatchDrainFileCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "DRAIN")
	w := watch(t, path)
	w.cancel(errors.New("pilot ends"))
	w.wait(t, w.done, "return on cancel")
	writeFile("late")(t, path)
	if got := w.got(); len(got) != 0 {
		t.Errorf("onDrain called: %q", got)
	}
	// A context already ended: no call even though the file exists.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	WatchDrainFile(ctx, path, 0, func(r string) { t.Errorf("onDrain(%q) on an ended context", r) })
}

// writeFile returns a maker that creates a file with content atomically
// (written aside, then renamed into place), as the tests of the reason
// need; TestWatchDrainFileLateWrite covers the non-atomic way.
func writeFile(content string) func(t *testing.T, path string) {
	return writeFileMode(content, 0o644)
}

func writeFileMode(content string, mode os.FileMode) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(tmp, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchDrainFileLateWrite drives the checks by hand: a file created
// empty and written afterwards gives its reason; one that stays empty gives
// the default.
func TestWatchDrainFileLateWrite(t *testing.T) {
	for _, tc := range []struct {
		name, late, want string
	}{
		{"written after creation", "maintenance\n", "maintenance"},
		{"stays empty", "", "drain file <path> exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "DRAIN")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			tick := make(chan time.Time)
			var got []string
			done := make(chan struct{})
			go func() {
				defer close(done)
				watchDrainFile(context.Background(), path, tick, func(r string) { got = append(got, r) })
			}()
			if _, err := f.WriteString(tc.late); err != nil {
				t.Fatal(err)
			}
			f.Close()
			// The watcher either saw the empty file and waits for this
			// tick, or saw the content and is done.
			select {
			case tick <- time.Now():
			case <-done:
			case <-time.After(waitLimit):
				t.Fatal("watcher neither waits nor ends")
			}
			select {
			case <-done:
			case <-time.After(waitLimit):
				t.Fatal("watcher did not end")
			}
			want := strings.ReplaceAll(tc.want, "<path>", path)
			if len(got) != 1 || got[0] != want {
				t.Errorf("reasons %q, want [%q]", got, want)
			}
		})
	}
}
