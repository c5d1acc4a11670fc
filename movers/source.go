package movers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// OpenSource opens the local file src of a transfer for reading and checks that it is not
// a directory and, for a regular file, that its size matches t.Size. Errors are *Error for
// op and remote: a missing file has MissingCode(op), anything else GenericCode(op) (a
// failed stat is retryable). The caller closes the file.
func OpenSource(op, remote, src string, t Transfer) (*os.File, fs.FileInfo, error) {
	in, err := os.Open(src)
	if err != nil {
		code := GenericCode(op)
		if errors.Is(err, fs.ErrNotExist) {
			code = MissingCode(op)
		}
		return nil, nil, &Error{Op: op, URL: remote, Code: code, Err: err}
	}
	fi, err := in.Stat()
	if err != nil {
		in.Close()
		return nil, nil, &Error{Op: op, URL: remote, Code: GenericCode(op), Retryable: true, Err: err}
	}
	if fi.IsDir() {
		in.Close()
		return nil, nil, &Error{Op: op, URL: remote, Code: GenericCode(op), Err: fmt.Errorf("source %s is a directory", src)}
	}
	if fi.Mode().IsRegular() && t.Size > 0 && fi.Size() != t.Size {
		in.Close()
		return nil, nil, &Error{Op: op, URL: remote, Code: GenericCode(op),
			Err: fmt.Errorf("size mismatch: expected %d bytes, source %s has %d", t.Size, src, fi.Size())}
	}
	return in, fi, nil
}
