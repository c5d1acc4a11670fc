package movers

import (
	"encoding/binary"
	"hash"
)

// adlerMod is the modulus of Adler-32 (RFC 1950): the largest prime below 2^16.
const adlerMod = 65521

// adlerChunk bounds the bytes summed between two reductions modulo adlerMod. With s1 and s2
// below adlerMod on entry, after n bytes s1 < 2^16 + 255n and s2 < 2^16 + n*2^16 + 255n(n+1)/2,
// far below 2^64 for n = 2^20.
const adlerChunk = 1 << 20

// fastAdler32 computes the same Adler-32 checksum as hash/adler32, several times faster: it
// sums eight bytes at a time with a few multiplications in 64-bit registers instead of one
// addition chain per byte, and reduces modulo 65521 once per adlerChunk bytes.
//
// For a block b0..b7 following the state (s1, s2), Adler-32 gives
// s1' = s1 + Σ bi and s2' = s2 + 8·s1 + Σ (8-i)·bi. With the even bytes (b0, b2, b4, b6) and
// the odd bytes (b1, b3, b5, b7) spread into four 16-bit lanes each, a multiplication by
// a constant whose lanes hold the weights adds the weighted lanes up in the top lane, and
// no partial sum can carry into it (each is at most 255·20).
type fastAdler32 struct{ s1, s2 uint32 }

var _ hash.Hash32 = (*fastAdler32)(nil)

func newAdler32() *fastAdler32 { return &fastAdler32{s1: 1} }

func (d *fastAdler32) Reset()         { d.s1, d.s2 = 1, 0 }
func (d *fastAdler32) Size() int      { return 4 }
func (d *fastAdler32) BlockSize() int { return 4 }
func (d *fastAdler32) Sum32() uint32  { return d.s2<<16 | d.s1 }

func (d *fastAdler32) Sum(in []byte) []byte {
	return binary.BigEndian.AppendUint32(in, d.Sum32())
}

func (d *fastAdler32) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		q := p
		if len(q) > adlerChunk {
			q = q[:adlerChunk]
		}
		p = p[len(q):]
		d.s1, d.s2 = adlerUpdate(d.s1, d.s2, q)
	}
	return n, nil
}

const (
	lanes    = 0x00ff00ff00ff00ff
	ones     = 0x0001000100010001
	wEven    = 0x0008000600040002 // weights 8, 6, 4, 2 of b0, b2, b4, b6 in reverse lane order
	wOdd     = 0x0007000500030001 // weights 7, 5, 3, 1 of b1, b3, b5, b7
	laneSumS = 48
)

// block8 returns the sum and the weighted sum Σ (8-i)·bi of the eight bytes of v (b0 the
// least significant).
func block8(v uint64) (sum, weighted uint64) {
	e := v & lanes
	o := (v >> 8) & lanes
	sum = ((e + o) * ones) >> laneSumS
	weighted = (e*wEven)>>laneSumS + (o*wOdd)>>laneSumS
	return sum, weighted
}

// adlerUpdate adds p (at most adlerChunk bytes) to the state (s1, s2), both below adlerMod,
// and returns the reduced state.
func adlerUpdate(s1, s2 uint32, p []byte) (uint32, uint32) {
	a, b := uint64(s1), uint64(s2)
	for len(p) >= 32 {
		sA, wA := block8(binary.LittleEndian.Uint64(p[0:8]))
		sB, wB := block8(binary.LittleEndian.Uint64(p[8:16]))
		sC, wC := block8(binary.LittleEndian.Uint64(p[16:24]))
		sD, wD := block8(binary.LittleEndian.Uint64(p[24:32]))
		b += 32*a + 24*sA + 16*sB + 8*sC + wA + wB + wC + wD
		a += sA + sB + sC + sD
		p = p[32:]
	}
	for len(p) >= 8 {
		s, w := block8(binary.LittleEndian.Uint64(p))
		b += 8*a + w
		a += s
		p = p[8:]
	}
	for _, c := range p {
		a += uint64(c)
		b += a
	}
	return uint32(a % adlerMod), uint32(b % adlerMod)
}
