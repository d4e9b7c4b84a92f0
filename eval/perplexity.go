package eval

import (
	"context"
	"fmt"
	"math"
)

// PPLResult is a GPTQ-style perplexity together with the setup that
// produced it (perplexities are only comparable at the same seqlen).
type PPLResult struct {
	PPL       float64 `json:"ppl"`
	MeanNLL   float64 `json:"mean_nll"` // nats per predicted token
	Seqlen    int     `json:"seqlen"`
	Windows   int     `json:"windows"`
	Tokens    int     `json:"tokens"`           // tokens of the whole text
	Predicted int     `json:"predicted_tokens"` // windows × (seqlen−1)
	Dropped   int     `json:"dropped_tokens"`   // trailing tokens that do not fill a window
}

// PerplexityGPTQ evaluates ids as GPTQ, SparseGPT, Wanda, AWQ and OmniQuant
// do: n = len(ids)/seqlen non-overlapping windows (the trailing partial
// window is dropped), each run from an empty cache, the mean next-token NLL
// of each window's seqlen−1 predictions averaged over windows, then exp.
// Cost: n forward passes of seqlen tokens.
func PerplexityGPTQ(ctx context.Context, lm LM, ids []int, seqlen int) (PPLResult, error) {
	return perplexityGPTQ(ctx, lm, ids, seqlen, nil)
}

// perplexityGPTQ is PerplexityGPTQ calling step with each window's summed
// NLL after it is scored.
func perplexityGPTQ(ctx context.Context, lm LM, ids []int, seqlen int, step func(windowNLL float64)) (PPLResult, error) {
	if seqlen < 2 {
		return PPLResult{}, badInput("", "seqlen %d: need at least 2", seqlen)
	}
	if seqlen > lm.MaxContext() {
		return PPLResult{}, badInput("", "seqlen %d exceeds the model's context of %d tokens", seqlen, lm.MaxContext())
	}
	n := len(ids) / seqlen
	if n == 0 {
		return PPLResult{}, badInput("", "the text has %d tokens, fewer than one window of seqlen %d", len(ids), seqlen)
	}
	vocab := lm.VocabSize()
	for i, id := range ids[:n*seqlen] {
		if id < 0 || id >= vocab {
			return PPLResult{}, fmt.Errorf("eval: token %d has id %d outside the model's vocabulary (%d): tokenizer and model do not match", i, id, vocab)
		}
	}
	st := lm.NewState()
	var sumWindowMean float64
	for w := 0; w < n; w++ {
		if err := ctx.Err(); err != nil {
			return PPLResult{}, err
		}
		win := ids[w*seqlen : (w+1)*seqlen]
		st.Truncate(0)
		logits, err := st.Append(win)
		if err != nil {
			return PPLResult{}, fmt.Errorf("eval: model forward (window %d): %w", w, err)
		}
		if len(logits) != seqlen*vocab {
			return PPLResult{}, fmt.Errorf("eval: model returned %d logits for %d tokens × vocab %d", len(logits), seqlen, vocab)
		}
		var nll float64
		for p := 0; p < seqlen-1; p++ {
			row := logits[p*vocab : (p+1)*vocab]
			nll += logSumExp(row) - float64(row[win[p+1]])
		}
		sumWindowMean += nll / float64(seqlen-1)
		if step != nil {
			step(nll)
		}
	}
	st.Truncate(0)
	mean := sumWindowMean / float64(n)
	return PPLResult{
		PPL:       math.Exp(mean),
		MeanNLL:   mean,
		Seqlen:    seqlen,
		Windows:   n,
		Tokens:    len(ids),
		Predicted: n * (seqlen - 1),
		Dropped:   len(ids) - n*seqlen,
	}, nil
}

// RollingLoglikelihood returns the total log-likelihood of tokens under
// lm-evaluation-harness's loglikelihood_rolling: disjoint windows of up to
// maxLen predicted tokens, the first conditioned on prefix (the BOS token),
// every token predicted exactly once. It returns the number of windows too.
func RollingLoglikelihood(ctx context.Context, lm LM, tokens []int, prefix, maxLen int) (float64, int, error) {
	return newScorer(lm, maxLen, true).rolling(ctx, tokens, prefix)
}

func (s *scorer) rolling(ctx context.Context, tokens []int, prefix int) (float64, int, error) {
	wins := rollingWindows(tokens, prefix, s.maxLen)
	var ll float64
	for _, w := range wins {
		v, err := s.loglik(ctx, w.ctx, w.cont)
		if err != nil {
			return 0, 0, err
		}
		ll += v
	}
	return ll, len(wins), nil
}
