// Package benchutil holds helpers shared by the movers benchmarks and the benchtable
// program: a size parser and a fast generator of incompressible test files.
package benchutil

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// ParseSize parses a byte count: a non-negative integer optionally followed by a unit, K, M,
// G, T (powers of 1024, also written KiB, MiB, ...) or KB, MB, GB, TB (powers of 1000);
// units are case-insensitive and may be separated by blanks ("64MiB", "1 g", "1500000").
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	unit := strings.ToUpper(strings.TrimSpace(t[i:]))
	mult := int64(1)
	switch unit {
	case "", "B":
	case "K", "KIB":
		mult = 1 << 10
	case "M", "MIB":
		mult = 1 << 20
	case "G", "GIB":
		mult = 1 << 30
	case "T", "TIB":
		mult = 1 << 40
	case "KB":
		mult = 1e3
	case "MB":
		mult = 1e6
	case "GB":
		mult = 1e9
	case "TB":
		mult = 1e12
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q", s, t[i:])
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size " + strconv.Quote(s) + " overflows")
	}
	return n * mult, nil
}

// WriteRandomFile creates path with size pseudo-random (incompressible) bytes.
func WriteRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var seed [32]byte
	seed[0] = 7
	r := rand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		r.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
