// Package pyrand reproduces CPython's random.Random — the MT19937 Mersenne
// Twister with CPython's seeding and integer sampling — for the calls the
// reference loaders make: GPTQ's C4 and WikiText calibration and evaluation
// windows, and LLM-Pruner's BookCorpus samples. Drawing the same numbers as
// the reference picks the same documents and windows from the same data.
//
// A Rand costs 2.5 KB of state; each 32-bit word is a few nanoseconds (the
// state is regenerated every 624 words). It is not safe for concurrent use.
package pyrand

import "math/bits"

const (
	n = 624 // state words
	m = 397 // twist offset
)

// Rand is a CPython random.Random.
type Rand struct {
	state [n]uint32
	next  int
}

// New returns the generator in the state random.seed(seed) leaves: CPython
// seeds an int with init_by_array over the 32-bit words of |seed|, least
// significant first (one word for |seed| < 2³²).
func New(seed int64) *Rand {
	u := uint64(seed)
	if seed < 0 {
		u = -u
	}
	key := []uint32{uint32(u)}
	if hi := uint32(u >> 32); hi != 0 {
		key = append(key, hi)
	}
	r := &Rand{}
	r.seedArray(key)
	return r
}

// seedWord is MT19937's init_genrand.
func (r *Rand) seedWord(s uint32) {
	r.state[0] = s
	for i := 1; i < n; i++ {
		p := r.state[i-1]
		r.state[i] = 1812433253*(p^(p>>30)) + uint32(i)
	}
	r.next = n
}

// seedArray is MT19937's init_by_array.
func (r *Rand) seedArray(key []uint32) {
	r.seedWord(19650218)
	i, j := 1, 0
	for k := max(n, len(key)); k > 0; k-- {
		p := r.state[i-1]
		r.state[i] = (r.state[i] ^ ((p ^ (p >> 30)) * 1664525)) + key[j] + uint32(j)
		i, j = i+1, j+1
		if i >= n {
			r.state[0] = r.state[n-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k := n - 1; k > 0; k-- {
		p := r.state[i-1]
		r.state[i] = (r.state[i] ^ ((p ^ (p >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= n {
			r.state[0] = r.state[n-1]
			i = 1
		}
	}
	r.state[0] = 1 << 31
}

// Uint32 returns the next tempered 32-bit output (genrand_uint32).
func (r *Rand) Uint32() uint32 {
	if r.next >= n {
		for k := 0; k < n; k++ {
			y := r.state[k]&0x80000000 | r.state[(k+1)%n]&0x7fffffff
			v := r.state[(k+m)%n] ^ y>>1
			if y&1 == 1 {
				v ^= 0x9908b0df
			}
			r.state[k] = v
		}
		r.next = 0
	}
	y := r.state[r.next]
	r.next++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// Getrandbits returns k random bits, 1 ≤ k ≤ 64, as random.getrandbits(k):
// whole 32-bit words from least to most significant, the last one shifted.
func (r *Rand) Getrandbits(k int) uint64 {
	if k <= 32 {
		return uint64(r.Uint32() >> (32 - k))
	}
	lo := uint64(r.Uint32())
	return lo | uint64(r.Uint32()>>(64-k))<<32
}

// below returns a uniform integer in [0, n) for n ≥ 1 by rejection on
// bit_length(n) bits (CPython's _randbelow_with_getrandbits).
func (r *Rand) below(n uint64) uint64 {
	k := bits.Len64(n)
	v := r.Getrandbits(k)
	for v >= n {
		v = r.Getrandbits(k)
	}
	return v
}

// Randint returns a uniform integer in [a, b], as random.randint(a, b);
// ok is false, and nothing is drawn, when b < a (where Python raises
// ValueError).
func (r *Rand) Randint(a, b int) (v int, ok bool) {
	if b < a {
		return 0, false
	}
	return a + int(r.below(uint64(b-a)+1)), true
}

// Random returns a float in [0, 1) as random.random(): 53 bits from two
// words.
func (r *Rand) Random() float64 {
	a, b := r.Uint32()>>5, r.Uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
