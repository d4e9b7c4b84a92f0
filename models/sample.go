package models

// Sampler picks next tokens from logits the way Generate does (argmax when
// opt.Greedy, else temperature, top-k and top-p sampling from a PCG stream
// seeded by opt.Seed), for callers that run their own decoding loop, such
// as a server stepping a Batch. It keeps vocab-sized scratch, so Pick
// allocates nothing; it is not safe for concurrent use.
type Sampler struct{ s *sampler }

// NewSampler returns a Sampler for logits of vocab entries; only opt's
// Greedy, Temperature, TopK, TopP and Seed are used.
func NewSampler(opt GenerateOptions, vocab int) *Sampler {
	return &Sampler{newSampler(opt, vocab)}
}

// Pick returns the next token for one row of logits.
func (s *Sampler) Pick(logits []float32) int { return s.s.pick(logits) }
