package synth

import (
	"hash/fnv"
	"math/rand/v2"
)

// rng is the generator's only source of randomness: a PCG stream derived
// from the seed and a label, so that each part of the world draws from its
// own stream and adding a part does not shift the others.
type rng struct{ *rand.Rand }

func newRNG(seed uint64, label string) *rng {
	h := fnv.New64a()
	h.Write([]byte(label))
	return &rng{rand.New(rand.NewPCG(seed, h.Sum64()))}
}

// pick returns a random element of xs.
func pick[T any](r *rng, xs []T) T { return xs[r.IntN(len(xs))] }

// shuffle permutes xs in place.
func shuffle[T any](r *rng, xs []T) {
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.Float64() < p }
