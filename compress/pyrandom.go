package compress

import "math/bits"

// pyRandom is CPython's random.Random (the MT19937 generator) restricted to
// what GPTQ's calibration loader calls: random.seed(n) with a non-negative
// integer and random.randint(a, b). Drawing the same numbers as the
// reference picks the same documents and windows from the same data.
type pyRandom struct {
	state [mtN]uint32
	next  int
}

const mtN = 624

// newPyRandom returns the generator in the state random.seed(seed) leaves
// (CPython seeds with init_by_array over the 32-bit words of |seed|).
func newPyRandom(seed uint64) *pyRandom {
	r := &pyRandom{}
	key := []uint32{uint32(seed)}
	if hi := uint32(seed >> 32); hi != 0 {
		key = append(key, hi)
	}
	r.seedArray(key)
	return r
}

func (r *pyRandom) seedWord(s uint32) {
	r.state[0] = s
	for i := 1; i < mtN; i++ {
		p := r.state[i-1]
		r.state[i] = 1812433253*(p^(p>>30)) + uint32(i)
	}
	r.next = mtN
}

func (r *pyRandom) seedArray(key []uint32) {
	r.seedWord(19650218)
	i, j := 1, 0
	for k := max(mtN, len(key)); k > 0; k-- {
		p := r.state[i-1]
		r.state[i] = (r.state[i] ^ ((p ^ (p >> 30)) * 1664525)) + key[j] + uint32(j)
		i, j = i+1, j+1
		if i >= mtN {
			r.state[0] = r.state[mtN-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k := mtN - 1; k > 0; k-- {
		p := r.state[i-1]
		r.state[i] = (r.state[i] ^ ((p ^ (p >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			r.state[0] = r.state[mtN-1]
			i = 1
		}
	}
	r.state[0] = 1 << 31
}

// word returns the next tempered 32-bit output.
func (r *pyRandom) word() uint32 {
	if r.next >= mtN {
		for k := 0; k < mtN; k++ {
			y := r.state[k]&0x80000000 | r.state[(k+1)%mtN]&0x7fffffff
			v := r.state[(k+397)%mtN] ^ y>>1
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

// getrandbits returns k random bits, 1 ≤ k ≤ 64, as random.getrandbits:
// whole 32-bit words from least to most significant, the last one shifted.
func (r *pyRandom) getrandbits(k int) uint64 {
	if k <= 32 {
		return uint64(r.word() >> (32 - k))
	}
	lo := uint64(r.word())
	return lo | uint64(r.word()>>(64-k))<<32
}

// below returns a uniform integer in [0, n) for n ≥ 1 by rejection on
// bit_length(n) bits (CPython's _randbelow_with_getrandbits).
func (r *pyRandom) below(n uint64) uint64 {
	k := bits.Len64(n)
	v := r.getrandbits(k)
	for v >= n {
		v = r.getrandbits(k)
	}
	return v
}

// randint returns a uniform integer in [a, b]; b ≥ a.
func (r *pyRandom) randint(a, b int) int {
	return a + int(r.below(uint64(b-a+1)))
}

// random returns a float in [0, 1) as random.random (53 bits from two
// words); used by the tests to check the generator against CPython.
func (r *pyRandom) random() float64 {
	a, b := r.word()>>5, r.word()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
