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
// shared by all questions of a subject — runs once. With a BatchLM the
// choices of a question continue the context together (loglikBatch).
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

	// batch is set when the LM runs batches and the batch size is above 1
	// (see loglikBatch); workers are the per-choice states.
	batch     BatchLM
	batchSize int
	workers   []State

	forwarded int64 // tokens run through the model
	scored    int64 // continuation tokens scored
	truncated int   // requests whose context was cut from the left
}

// newScorer returns a scorer over lm; maxLen caps the sequence length
// (0 or more than lm.MaxContext() means lm.MaxContext()).
func newScorer(lm LM, maxLen int, reuse bool) *scorer {
	maxLen = newScorerLimit(lm, maxLen)
	return &scorer{lm: lm, st: lm.NewState(), vocab: lm.VocabSize(), maxLen: maxLen, reuse: reuse, rowPos: -1}
}

// newScorerLimit is the sequence limit of newScorer(lm, maxLen, …).
func newScorerLimit(lm LM, maxLen int) int {
	if maxLen <= 0 || maxLen > lm.MaxContext() {
		return lm.MaxContext()
	}
	return maxLen
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

// setBatch turns on batched scoring of up to n requests per forward when
// the LM supports it and prefix reuse is on (n = 0: DefaultBatchSize).
func (s *scorer) setBatch(n int) {
	if n == 0 {
		n = DefaultBatchSize
	}
	b, ok := s.lm.(BatchLM)
	if !ok || n < 2 || !s.reuse {
		return
	}
	s.batch, s.batchSize = b, n
}

// loglikBatch returns loglik(ctxIDs, conts[i]) for every i: the context
// runs once (reusing the cache as loglik does), its last row scores every
// continuation's first token, and the remaining tokens of up to batchSize
// continuations run as one batch on states that copy the context. ok is
// false, with nothing done, when a request would need left truncation or a
// continuation is empty (the caller then uses loglik); a failed state copy
// turns batching off for good and also reports ok = false.
func (s *scorer) loglikBatch(ctx context.Context, ctxIDs []int, conts [][]int) (lls []float64, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if len(ctxIDs) == 0 {
		return nil, false, nil
	}
	for _, c := range conts {
		if len(c) == 0 || len(ctxIDs)+len(c) > s.maxLen+1 {
			return nil, false, nil
		}
	}
	for _, ids := range append([][]int{ctxIDs}, conts...) {
		for _, id := range ids {
			if id < 0 || id >= s.vocab {
				return nil, false, fmt.Errorf("eval: token id %d outside the model's vocabulary (%d): tokenizer and model do not match", id, s.vocab)
			}
		}
	}
	q := len(ctxIDs) - 1
	if !(s.rowPos == q && equalInts(s.cur, ctxIDs)) {
		keep := min(commonPrefix(s.cur, ctxIDs), q)
		s.truncate(keep)
		out, err := s.append(ctxIDs[keep:])
		if err != nil {
			return nil, false, err
		}
		row := out[(q-keep)*s.vocab : (q-keep+1)*s.vocab]
		s.lastRow = append(s.lastRow[:0], row...)
		s.lastLSE = logSumExp(row)
		s.rowPos = q
	}
	lls = make([]float64, len(conts))
	var rest []int // choices with more than one token
	for i, c := range conts {
		lls[i] = float64(s.lastRow[c[0]]) - s.lastLSE
		s.scored += int64(len(c))
		if len(c) > 1 {
			rest = append(rest, i)
		}
	}
	for len(rest) > 0 {
		chunk := rest[:min(len(rest), s.batchSize)]
		rest = rest[len(chunk):]
		states := make([]State, len(chunk))
		ids := make([][]int, len(chunk))
		for j, i := range chunk {
			for len(s.workers) <= j {
				s.workers = append(s.workers, s.lm.NewState())
			}
			if err := s.batch.CopyPrefix(s.workers[j], s.st, len(ctxIDs)); err != nil {
				s.batch = nil // cannot fork states: score one at a time
				s.scored -= int64(scoredTokens(conts))
				return nil, false, nil
			}
			states[j], ids[j] = s.workers[j], conts[i][:len(conts[i])-1]
		}
		outs, err := s.batch.AppendBatch(states, ids)
		if err != nil {
			return nil, false, fmt.Errorf("eval: model forward (batch): %w", err)
		}
		for j, i := range chunk {
			c := conts[i]
			if len(outs[j]) != len(ids[j])*s.vocab {
				return nil, false, fmt.Errorf("eval: model returned %d logits for %d tokens × vocab %d", len(outs[j]), len(ids[j]), s.vocab)
			}
			for r := 1; r < len(c); r++ {
				row := outs[j][(r-1)*s.vocab : r*s.vocab]
				lls[i] += float64(row[c[r]]) - logSumExp(row)
			}
			s.forwarded += int64(len(ids[j]))
		}
	}
	return lls, true, nil
}

// scoredTokens returns the number of tokens of conts.
func scoredTokens(conts [][]int) int {
	n := 0
	for _, c := range conts {
		n += len(c)
	}
	return n
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
