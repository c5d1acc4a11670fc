package pilot

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLogMember caps any single file copied into the log tarball; larger
// files are truncated to this size (the tarball must stay shippable).
const maxLogMember = 1 << 30

// CreateLogTarball writes a gzip-compressed tar of jobDir to dst, with every
// member under prefix/. Files named in exclude (inputs and outputs, by base
// name at the top of the job directory) are left out, symbolic links are
// stored as links (never followed, so nothing outside the job directory is
// read), and pilotLog, when given, is added as prefix/pilotlog.txt. The file
// is written to a temporary name and renamed, so dst is either complete or
// absent. It returns the tarball's size.
func CreateLogTarball(ctx context.Context, dst, jobDir, prefix string, exclude map[string]bool, pilotLog string) (int64, error) {
	tmp := dst + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("create log tarball: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	root, err := os.OpenRoot(jobDir)
	if err != nil {
		return 0, fmt.Errorf("open job directory: %w", err)
	}
	defer root.Close()
	walkErr := fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if name == "." {
			return nil
		}
		if !strings.Contains(name, "/") && exclude[name] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".part") && !strings.Contains(name, "/") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // vanished while walking
		}
		return addMember(tw, root, name, prefix+"/"+name, info)
	})
	if walkErr != nil {
		return 0, fmt.Errorf("log tarball of %s: %w", jobDir, walkErr)
	}
	if pilotLog != "" {
		if err := addFile(tw, pilotLog, prefix+"/pilotlog.txt"); err != nil && !os.IsNotExist(err) {
			return 0, fmt.Errorf("add pilot log: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return 0, err
	}
	ok = true
	return st.Size(), nil
}

func addMember(tw *tar.Writer, root *os.Root, name, member string, info fs.FileInfo) error {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		l, err := root.Readlink(name)
		if err != nil {
			return nil
		}
		link = l
	}
	if !info.Mode().IsRegular() && !info.IsDir() && link == "" {
		return nil // sockets, fifos, devices: not shipped
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = member
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	if !info.Mode().IsRegular() {
		return tw.WriteHeader(hdr)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	hdr.Size = min(info.Size(), maxLogMember)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file that shrinks while it is read is zero-filled to the size in its
	// header, which the tar format requires.
	n, err := io.CopyN(tw, f, hdr.Size)
	if err != nil && err != io.EOF {
		return err
	}
	if n < hdr.Size {
		_, err = io.CopyN(tw, zeroReader{}, hdr.Size-n)
	}
	return err
}

func addFile(tw *tar.Writer, path, member string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name = filepath.ToSlash(member)
	hdr.Size = min(info.Size(), maxLogMember)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(tw, f, hdr.Size)
	if err != nil && err != io.EOF {
		return err
	}
	if n < hdr.Size {
		_, err = io.CopyN(tw, zeroReader{}, hdr.Size-n)
	}
	return err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
