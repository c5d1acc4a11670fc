package movers

import (
	"bytes"
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

func TestFastAdler32MatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3*adlerChunk+77)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	cases := map[string][]byte{
		"empty":      nil,
		"one":        {0xff},
		"seven":      {1, 2, 3, 4, 5, 6, 7},
		"ff-block":   bytes.Repeat([]byte{0xff}, 4*adlerChunk+31), // worst case for overflow
		"zeros":      make([]byte, 100000),
		"random-big": big,
	}
	for name, data := range cases {
		want := adler32.Checksum(data)
		h := newAdler32()
		h.Write(data)
		if got := h.Sum32(); got != want {
			t.Errorf("%s: one write: %08x, want %08x", name, got, want)
		}
		// the same in uneven pieces
		h.Reset()
		for p, step := data, 1; len(p) > 0; step = (step*3 + 1) % 70001 {
			n := min(step, len(p))
			h.Write(p[:n])
			p = p[n:]
		}
		if got := h.Sum32(); got != want {
			t.Errorf("%s: pieces: %08x, want %08x", name, got, want)
		}
		if got, ref := h.Sum([]byte{9}), adler32.New(); true {
			ref.Write(data)
			if !bytes.Equal(got, ref.Sum([]byte{9})) {
				t.Errorf("%s: Sum = %x, want %x", name, got, ref.Sum([]byte{9}))
			}
		}
	}
}

func FuzzFastAdler32(f *testing.F) {
	f.Add([]byte("Wikipedia"), 3)
	f.Add(bytes.Repeat([]byte{0xff}, 100), 7)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		h := newAdler32()
		if split > 0 && split < len(data) {
			h.Write(data[:split])
			h.Write(data[split:])
		} else {
			h.Write(data)
		}
		if got, want := h.Sum32(), adler32.Checksum(data); got != want {
			t.Fatalf("adler32 of %d bytes = %08x, want %08x", len(data), got, want)
		}
	})
}

func BenchmarkAdler32(b *testing.B) {
	data := make([]byte, ChunkSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		h := newAdler32()
		for b.Loop() {
			h.Write(data)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		h := adler32.New()
		for b.Loop() {
			h.Write(data)
		}
	})
}
