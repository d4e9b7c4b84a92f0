package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxNewTokens int
	// Greedy picks the argmax; otherwise tokens are sampled with
	// Temperature, TopK and TopP.
	Greedy      bool
	Temperature float64 // > 0; 1 leaves logits unchanged
	TopK        int     // 0: no top-k filter
	TopP        float64 // (0, 1]; 1: no nucleus filter
	Seed        uint64
	// StopIDs end generation when produced (EOS); the stop token is kept.
	StopIDs []int
	// OnToken, if set, is called with each new token as it is produced.
	OnToken func(id int)
}

// GenerateResult is what Generate produced and how fast.
type GenerateResult struct {
	IDs          []int         `json:"ids"` // the new tokens
	PromptTokens int           `json:"prompt_tokens"`
	Prefill      time.Duration `json:"prefill_ns"`
	Decode       time.Duration `json:"decode_ns"`
	// DecodeSteps counts decode forward passes (new tokens after the first).
	DecodeSteps int `json:"decode_steps"`
}

// PrefillTokensPerSec returns prompt tokens per second of prefill.
func (r *GenerateResult) PrefillTokensPerSec() float64 {
	return float64(r.PromptTokens) / r.Prefill.Seconds()
}

// DecodeTokensPerSec returns generated tokens per second of decoding
// (excluding the token produced by prefill).
func (r *GenerateResult) DecodeTokensPerSec() float64 {
	if r.DecodeSteps == 0 {
		return 0
	}
	return float64(r.DecodeSteps) / r.Decode.Seconds()
}

// Generate continues prompt with up to MaxNewTokens tokens using the KV
// cache: one prefill pass, then one single-token pass per new token.
func (m *Model) Generate(ctx context.Context, prompt []int, opt GenerateOptions) (*GenerateResult, error) {
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt")
	}
	if opt.MaxNewTokens < 0 {
		return nil, fmt.Errorf("generate: max new tokens %d < 0", opt.MaxNewTokens)
	}
	if !opt.Greedy {
		if opt.Temperature <= 0 {
			return nil, fmt.Errorf("generate: temperature %v must be positive (or use greedy)", opt.Temperature)
		}
		if opt.TopP <= 0 || opt.TopP > 1 {
			return nil, fmt.Errorf("generate: top-p %v must be in (0, 1]", opt.TopP)
		}
	}
	total := len(prompt) + opt.MaxNewTokens
	if total > m.Config.MaxPos {
		return nil, fmt.Errorf("generate: %w: %d prompt + %d new tokens > max_position_embeddings %d", ErrContext, len(prompt), opt.MaxNewTokens, m.Config.MaxPos)
	}
	res := &GenerateResult{PromptTokens: len(prompt)}
	if opt.MaxNewTokens == 0 {
		return res, nil
	}
	if err := m.checkContext(total, 1); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	s := m.NewState(total)
	smp := newSampler(opt, m.Config.Vocab)
	t0 := time.Now()
	logits, err := s.AppendLast(prompt)
	if err != nil {
		return nil, err
	}
	res.Prefill = time.Since(t0)
	t1 := time.Now()
	for {
		next := smp.pick(logits)
		res.IDs = append(res.IDs, next)
		if opt.OnToken != nil {
			opt.OnToken(next)
		}
		if len(res.IDs) == opt.MaxNewTokens || containsInt(opt.StopIDs, next) {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if logits, err = s.AppendLast([]int{next}); err != nil {
			return res, err
		}
		res.DecodeSteps++
	}
	res.Decode = time.Since(t1)
	return res, nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// sampler picks the next token; it keeps its scratch so decoding allocates
// nothing per token.
type sampler struct {
	opt   GenerateOptions
	rng   *rand.Rand
	idx   []int
	probs []float64
}

func newSampler(opt GenerateOptions, vocab int) *sampler {
	return &sampler{opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, 0x853c49e6748fea9b)), idx: make([]int, vocab), probs: make([]float64, vocab)}
}

// Argmax returns the index of the largest logit (the first on ties, as
// torch.argmax).
func Argmax(logits []float32) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return best
}

func (s *sampler) pick(logits []float32) int {
	if s.opt.Greedy {
		return Argmax(logits)
	}
	n := len(logits)
	idx, p := s.idx[:n], s.probs[:n]
	mx := logits[Argmax(logits)]
	for i, v := range logits {
		idx[i] = i
		p[i] = math.Exp(float64(v-mx) / s.opt.Temperature)
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	keep := n
	if s.opt.TopK > 0 && s.opt.TopK < keep {
		keep = s.opt.TopK
	}
	var total float64
	for _, i := range idx[:keep] {
		total += p[i]
	}
	if s.opt.TopP < 1 {
		var cum float64
		for j, i := range idx[:keep] {
			cum += p[i] / total
			if cum >= s.opt.TopP {
				keep = j + 1
				break
			}
		}
		total = 0
		for _, i := range idx[:keep] {
			total += p[i]
		}
	}
	r := s.rng.Float64() * total
	for _, i := range idx[:keep] {
		r -= p[i]
		if r <= 0 {
			return i
		}
	}
	return idx[keep-1]
}
