package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// errContinuationTooLong marks a request whose continuation alone does not
// fit in the model's context; the document is skipped and counted.
var errContinuationTooLong = errors.New("continuation longer than the model's context")

// scorer computes log-likelihoods of continuations on one KV-cache State.
// Requests run one after another; each reuses the longest prefix it shares
// with the tokens already in the cache (the previous request's context), so
// a context shared by all choices of a question — and a few-shot prefix
// shared by all questions of a subject — runs once. This is the only place
// that calls the model for log-likelihoods: a batched LM would replace
// scorer.loglik with one forward over a padded batch of requests.
type scorer struct {
	lm     LM
	st     State
	vocab  int
	maxLen int
	reuse  bool

	cur     []int     // tokens held by st
	lastRow []float32 // logits at position rowPos (-1: none)
	lastLSE float64   // log-sum-exp of lastRow
	rowPos  int

	forwarded int64 // tokens run through the model
	scored    int64 // continuation tokens scored
	truncated int   // requests whose context was cut from the left
}

// newScorer returns a scorer over lm; maxLen caps the sequence length
// (0 or more than lm.MaxContext() means lm.MaxContext()).
func newScorer(lm LM, maxLen int, reuse bool) *scorer {
	if maxLen <= 0 || maxLen > lm.MaxContext() {
		maxLen = lm.MaxContext()
	}
	return &scorer{lm: lm, st: lm.NewState(), vocab: lm.VocabSize(), maxLen: maxLen, reuse: reuse, rowPos: -1}
}

// loglik returns Σ log p(cont[j] | ctx, cont[:j]). As lm-evaluation-harness
// does, a request longer than maxLen+1 tokens loses context tokens from the
// left (counted in s.truncated); a continuation longer than maxLen returns
// errContinuationTooLong. ctx must not be empty.
func (s *scorer) loglik(ctx context.Context, ctxIDs, cont []int) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(cont) == 0 {
		return 0, nil
	}
	if len(ctxIDs) == 0 {
		return 0, errors.New("eval: internal: empty context")
	}
	if len(cont) > s.maxLen {
		return 0, errContinuationTooLong
	}
	seq := make([]int, 0, len(ctxIDs)+len(cont))
	seq = append(append(seq, ctxIDs...), cont...)
	if len(seq) > s.maxLen+1 {
		seq = seq[len(seq)-(s.maxLen+1):]
		s.truncated++
	}
	for _, id := range seq {
		if id < 0 || id >= s.vocab {
			return 0, fmt.Errorf("eval: token id %d outside the model's vocabulary (%d): tokenizer and model do not match", id, s.vocab)
		}
	}
	q := len(seq) - len(cont) - 1 // input position whose logits predict cont[0]
	inputs := seq[:len(seq)-1]
	s.scored += int64(len(cont))
	var ll float64
	if s.reuse && s.rowPos == q && len(s.cur) == q+1 && equalInts(s.cur, seq[:q+1]) {
		// The context is already in the cache: its last row predicts cont[0].
		ll = float64(s.lastRow[cont[0]]) - s.lastLSE
		if len(cont) > 1 {
			out, err := s.append(inputs[q+1:])
			if err != nil {
				return 0, err
			}
			for j := 1; j < len(cont); j++ {
				row := out[(j-1)*s.vocab : j*s.vocab]
				ll += float64(row[cont[j]]) - logSumExp(row)
			}
			s.truncate(q + 1)
		}
		return ll, nil
	}
	keep := 0
	if s.reuse {
		keep = min(commonPrefix(s.cur, inputs), q)
	}
	s.truncate(keep)
	out, err := s.append(inputs[keep:])
	if err != nil {
		return 0, err
	}
	for j := range cont {
		r := q + j - keep
		row := out[r*s.vocab : (r+1)*s.vocab]
		lse := logSumExp(row)
		if j == 0 {
			s.lastRow = append(s.lastRow[:0], row...)
			s.lastLSE = lse
			s.rowPos = q
		}
		ll += float64(row[cont[j]]) - lse
	}
	s.truncate(q + 1)
	return ll, nil
}

// append runs ids through the model and records them as held.
func (s *scorer) append(ids []int) ([]float32, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := s.st.Append(ids)
	if err != nil {
		s.reset()
		return nil, fmt.Errorf("eval: model forward: %w", err)
	}
	if len(out) != len(ids)*s.vocab {
		s.reset()
		return nil, fmt.Errorf("eval: model returned %d logits for %d tokens × vocab %d", len(out), len(ids), s.vocab)
	}
	s.cur = append(s.cur, ids...)
	s.forwarded += int64(len(ids))
	return out, nil
}

// truncate keeps the first n positions.
func (s *scorer) truncate(n int) {
	if n < len(s.cur) {
		s.st.Truncate(n)
		s.cur = s.cur[:n]
	}
	if s.rowPos >= n {
		s.rowPos = -1
	}
}

// reset empties the cache.
func (s *scorer) reset() {
	s.st.Truncate(0)
	s.cur = s.cur[:0]
	s.rowPos = -1
}

// logSumExp returns log Σ exp(x_i), computed in float64.
func logSumExp(x []float32) float64 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), 0) {
		return float64(m)
	}
	var sum float64
	mf := float64(m)
	for _, v := range x {
		sum += math.Exp(float64(v) - mf)
	}
	return mf + math.Log(sum)
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func equalInts(a, b []int) bool {
	return len(a) == len(b) && commonPrefix(a, b) == len(a)
}
