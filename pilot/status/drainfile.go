package status

import (
	"context"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDrainPoll is the drain-file polling interval used when
// WatchDrainFile is given none.
const DefaultDrainPoll = 2 * time.Second

// maxDrainFileRead bounds what is read of a drain file for its reason.
const maxDrainFileRead = 4 << 10

// WatchDrainFile blocks, checking every interval (DefaultDrainPoll when
// every <= 0), starting at once, whether path exists; run it in its own
// goroutine. The first time path exists it calls onDrain once,
// synchronously, and returns; when ctx ends first it returns without
// calling onDrain. Any existing entry counts, whatever its type; a dangling
// symbolic link does not. The reason passed is the file's first line,
// cleaned as POST reasons are (only the first 4 KiB are read); when that is
// empty, or the entry cannot be read (a directory, a named pipe, no
// permission), the reason is "drain file <path> exists". An empty regular
// file is read once more at the next check before that default is taken,
// so that a reason written just after the file was created (echo reason >
// file) is not missed.
//
// The file is polled with stat rather than watched with inotify: drain
// files often live on shared file systems (NFS, GPFS, Lustre) and are
// created from another host, which inotify does not report; polling also
// needs no watch descriptors, and a stat every few seconds costs nothing
// next to a job.
func WatchDrainFile(ctx context.Context, path string, every time.Duration, onDrain func(reason string)) {
	if every <= 0 {
		every = DefaultDrainPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	watchDrainFile(ctx, path, t.C, onDrain)
}

// watchDrainFile is WatchDrainFile with the checks after the first one
// driven by tick.
func watchDrainFile(ctx context.Context, path string, tick <-chan time.Time, onDrain func(reason string)) {
	seenEmpty := false
	for {
		if ctx.Err() != nil {
			return
		}
		if fi, err := os.Stat(path); err == nil {
			reason, empty := drainFileReason(path, fi)
			if !empty || seenEmpty {
				onDrain(reason)
				return
			}
			seenEmpty = true
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// drainFileReason returns the reason a drain file gives, and whether it is
// an empty regular file. Only regular files are read.
func drainFileReason(path string, fi fs.FileInfo) (reason string, empty bool) {
	if fi.Mode().IsRegular() {
		// O_NONBLOCK: should a named pipe replace the file after the
		// stat, opening it does not wait for a writer.
		if f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
			b, _ := io.ReadAll(io.LimitReader(f, maxDrainFileRead))
			f.Close()
			if r := cleanReason(firstLine(string(b))); r != "" {
				return r, false
			}
			empty = len(b) == 0
		}
	}
	return cleanReason("drain file " + path + " exists"), empty
}
