package journal

import (
	"bufio"
	"errors"
	"io"
)

// line is one line of a journal as scanLines sees it.
type line struct {
	off      int64  // offset of its first byte
	n        int    // length without '\n'
	data     []byte // the bytes without '\n'; nil when tooLong; valid during the callback only
	complete bool   // ended by '\n' (else it is the file's torn tail)
	tooLong  bool   // longer than the limit
}

// scanLines calls fn for every line of r, the last one even without '\n'.
// Lines longer than max bytes ('\n' included) are reported without data and
// never held in memory whole. It returns only read errors.
func scanLines(r io.Reader, max int, fn func(line)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		off     int64
		buf     []byte
		total   int
		tooLong bool
	)
	for {
		chunk, err := br.ReadSlice('\n')
		total += len(chunk)
		whole := err == nil && total == len(chunk) // the line is chunk alone
		switch {
		case tooLong:
		case total > max:
			tooLong, buf = true, nil
		case !whole:
			buf = append(buf, chunk...)
		}
		switch {
		case err == nil:
			l := line{off: off, n: total - 1, complete: true, tooLong: tooLong}
			if !tooLong {
				if whole {
					l.data = chunk[:len(chunk)-1]
				} else {
					l.data = buf[:len(buf)-1]
				}
			}
			fn(l)
			off += int64(total)
			buf, total, tooLong = buf[:0], 0, false
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if total > 0 {
				l := line{off: off, n: total, tooLong: tooLong}
				if !tooLong {
					l.data = buf
				}
				fn(l)
			}
			return nil
		default:
			return err
		}
	}
}
