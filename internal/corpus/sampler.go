package corpus

import (
	"fmt"
	"math/rand/v2"
)

// Sampler draws random training windows from a token stream with a PCG
// generator whose state is saved with the checkpoint, so a resumed run
// draws the same windows as an uninterrupted one.
type Sampler struct {
	Tokens []int
	SeqLen int
	rng    *rand.Rand
	pcg    *rand.PCG
}

// NewSampler returns a sampler of seqLen-token windows (plus the next token
// as the last target) seeded with seed. The stream must hold more than
// seqLen tokens.
func NewSampler(tokens []int, seqLen int, seed uint64) (*Sampler, error) {
	if seqLen <= 0 || len(tokens) <= seqLen {
		return nil, fmt.Errorf("%d tokens of data cannot fill a window of %d+1 tokens", len(tokens), seqLen)
	}
	pcg := rand.NewPCG(seed, 0x747261696e)
	return &Sampler{Tokens: tokens, SeqLen: seqLen, rng: rand.New(pcg), pcg: pcg}, nil
}

// Batch returns batch windows: ids and their next-token targets, each
// batch·SeqLen long, sequence after sequence.
func (s *Sampler) Batch(batch int) (ids, targets []int) {
	ids = make([]int, 0, batch*s.SeqLen)
	targets = make([]int, 0, batch*s.SeqLen)
	for b := 0; b < batch; b++ {
		start := s.rng.IntN(len(s.Tokens) - s.SeqLen)
		ids = append(ids, s.Tokens[start:start+s.SeqLen]...)
		targets = append(targets, s.Tokens[start+1:start+s.SeqLen+1]...)
	}
	return ids, targets
}

// State returns the generator's state (for checkpoints).
func (s *Sampler) State() ([]byte, error) { return s.pcg.MarshalBinary() }

// SetState restores a state returned by State.
func (s *Sampler) SetState(b []byte) error { return s.pcg.UnmarshalBinary(b) }
