package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/textcheck"
	"github.com/llmcbench/gollm/tokenizer"
)

// Tokenize reads each file as UTF-8 text (refusing binary data: see
// internal/textcheck), encodes it with tok (special
// tokens on, so a BOS opens each file where the tokenizer adds one) and
// appends the end-of-sequence id after it when the tokenizer has one; the
// result is one token stream.
func Tokenize(tok *tokenizer.Tokenizer, files []string) ([]int, error) {
	var ids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, badinput.Missing(fmt.Errorf("data %s: %w", f, err))
		}
		if err := textcheck.Check(b); err != nil {
			return nil, badinput.Errorf("data %s: %v", f, err)
		}
		ids = append(ids, tok.Encode(string(b), true)...)
		if eos, ok := tok.EOS(); ok {
			ids = append(ids, eos)
		}
	}
	return ids, nil
}

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

// UnigramEntropy returns the entropy (nats per token) of the token
// frequencies of ids: the loss of the best model that ignores context.
func UnigramEntropy(ids []int) float64 {
	count := map[int]int{}
	for _, id := range ids {
		count[id]++
	}
	n := float64(len(ids))
	var h float64
	for _, c := range count {
		p := float64(c) / n
		h -= p * math.Log(p)
	}
	return h
}

func loadTok(dir string) (*tokenizer.Tokenizer, error) { return tokenizer.Load(dir) }
