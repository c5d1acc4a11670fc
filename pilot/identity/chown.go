package identity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/credentials"
)

// maxTreeDepth bounds the directory depth chownTree descends to (one descriptor is open
// per level).
const maxTreeDepth = 256

// chownTree gives dir and everything below it to uid:gid without ever leaving dir: each
// entry is opened relative to its parent's descriptor with O_NOFOLLOW and changed through
// that descriptor, so a symbolic link (even one swapped in during the walk) is changed
// itself and never followed. Directories on another file system than dir are skipped, and
// so are regular files with more than one hard link (the other link may be outside dir).
// The last component of dir itself must not be a symbolic link. The walk goes on after an
// error; the first errors are returned.
func chownTree(dir string, uid, gid int) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	w := &treeWalk{uid: uid, gid: gid, dev: st.Dev}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		w.fail(dir, "chown", err)
	}
	w.dir(fd, dir, 0) // closes fd
	return errors.Join(w.errs...)
}

type treeWalk struct {
	uid, gid int
	dev      uint64
	errs     []error
}

func (w *treeWalk) fail(path, op string, err error) {
	if len(w.errs) < 10 {
		w.errs = append(w.errs, &os.PathError{Op: op, Path: path, Err: err})
	}
}

// dir changes the entries of the open directory fd (already changed itself) and closes fd.
func (w *treeWalk) dir(fd int, path string, depth int) {
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		w.fail(path, "readdir", err)
	}
	for _, name := range names {
		p := filepath.Join(path, name)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				w.fail(p, "stat", err)
			}
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			w.subdir(fd, name, p, depth+1)
			continue
		}
		w.other(fd, name, p)
	}
}

func (w *treeWalk) subdir(parent int, name, path string, depth int) {
	if depth > maxTreeDepth {
		w.fail(path, "walk", fmt.Errorf("deeper than %d levels", maxTreeDepth))
		return
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) { // replaced meanwhile
			w.other(parent, name, path)
		} else if !errors.Is(err, unix.ENOENT) {
			w.fail(path, "open", err)
		}
		return
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		w.fail(path, "stat", err)
		return
	}
	if st.Dev != w.dev {
		unix.Close(fd)
		return
	}
	if err := unix.Fchown(fd, w.uid, w.gid); err != nil {
		w.fail(path, "chown", err)
	}
	w.dir(fd, path, depth)
}

// other changes a non-directory entry through an O_PATH descriptor of the entry itself.
func (w *treeWalk) other(parent int, name, path string) {
	fd, err := unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			w.fail(path, "open", err)
		}
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		w.fail(path, "stat", err)
		return
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return // a directory swapped in after the listing: left alone
	case unix.S_IFREG:
		if st.Nlink > 1 {
			return
		}
	}
	if err := unix.Fchownat(fd, "", w.uid, w.gid, unix.AT_EMPTY_PATH); err != nil {
		w.fail(path, "chown", err)
	}
}

// reachable checks that the account can search every directory above dir (the mode bits
// for the account's uid and groups; a directory with a POSIX access ACL is given the
// benefit of the doubt).
func reachable(dir string, id *credentials.Identity) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return &os.PathError{Op: "stat", Path: p, Err: err}
		}
		if !canSearch(&st, id) && !hasACL(p) {
			return fmt.Errorf("account %s (uid %d) cannot reach the job directory: %s (uid %d, gid %d, mode %04o) is not searchable for it",
				id.Name, id.UID, p, st.Uid, st.Gid, st.Mode&0o7777)
		}
		if p == "/" || p == "." || !strings.Contains(p, "/") {
			return nil
		}
	}
}

func canSearch(st *unix.Stat_t, id *credentials.Identity) bool {
	if st.Uid == id.UID {
		return st.Mode&0o100 != 0
	}
	for _, g := range id.Groups {
		if st.Gid == g {
			return st.Mode&0o010 != 0
		}
	}
	return st.Mode&0o001 != 0
}

func hasACL(path string) bool {
	n, err := unix.Getxattr(path, "system.posix_acl_access", nil)
	return err == nil && n > 0
}
