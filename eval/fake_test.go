package eval

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/internal/testref"
)

// charTok is a byte-level test tokenizer: id = byte + 3, BOS = 1.
type charTok struct{ noBOS bool }

const charVocab = 259

func (t charTok) Encode(s string, addSpecial bool) []int {
	ids := make([]int, 0, len(s)+1)
	if addSpecial && !t.noBOS {
		ids = append(ids, 1)
	}
	for i := 0; i < len(s); i++ {
		ids = append(ids, int(s[i])+3)
	}
	return ids
}

func (t charTok) BOS() (int, bool) { return 1, !t.noBOS }

// histLM is a test language model whose logits depend on the previous
// token, the position and the whole prefix, so any mistake in cache reuse,
// truncation or window positions changes the numbers.
type histLM struct {
	vocab, maxCtx int
	appended      int  // tokens run, for tests of prefix reuse
	failAfter     int  // Append fails once this many tokens ran (0: never)
	nan           bool // every logit is NaN (a broken model)

	states     int       // NewState calls so far
	failState  int       // Append on the states of this NewState call (1-based) fails (0: never)
	onNewState func(int) // called with the NewState call number, if set
}

func newHistLM(maxCtx int) *histLM { return &histLM{vocab: charVocab, maxCtx: maxCtx} }

func (m *histLM) VocabSize() int  { return m.vocab }
func (m *histLM) MaxContext() int { return m.maxCtx }
func (m *histLM) NewState() State {
	m.states++
	if m.onNewState != nil {
		m.onNewState(m.states)
	}
	return &histState{m: m, fail: m.states == m.failState}
}

// logits returns the model's logits after prefix (the definition the
// tests' reference computations use directly).
func (m *histLM) logits(prefix []int, dst []float32) {
	prev := prefix[len(prefix)-1]
	pos := len(prefix) - 1
	h := 0
	for _, t := range prefix {
		h = (h*31 + t) % 1009
	}
	for v := 0; v < m.vocab; v++ {
		x := 2*math.Sin(float64(prev*31+v*17)) + 0.5*math.Cos(float64((pos+1)*(v%23))) + 0.25*float64((h*v)%7)
		dst[v] = float32(x)
		if m.nan {
			dst[v] = float32(math.NaN())
		}
	}
}

type histState struct {
	m    *histLM
	toks []int
	out  []float32
	fail bool // every Append fails (histLM.failState)
}

func (s *histState) Append(ids []int) ([]float32, error) {
	if len(s.toks)+len(ids) > s.m.maxCtx {
		return nil, fmt.Errorf("sequence of %d exceeds context %d", len(s.toks)+len(ids), s.m.maxCtx)
	}
	if s.fail || s.m.failAfter > 0 && s.m.appended+len(ids) > s.m.failAfter {
		return nil, fmt.Errorf("injected failure")
	}
	s.out = s.out[:0]
	for _, id := range ids {
		if id < 0 || id >= s.m.vocab {
			return nil, fmt.Errorf("id %d out of vocab", id)
		}
		s.toks = append(s.toks, id)
		n := len(s.out)
		s.out = append(s.out, make([]float32, s.m.vocab)...)
		s.m.logits(s.toks, s.out[n:])
	}
	s.m.appended += len(ids)
	return s.out, nil
}

func (s *histState) Len() int { return len(s.toks) }

func (s *histState) Truncate(n int) {
	if n < len(s.toks) {
		s.toks = s.toks[:n]
	}
}

// refRollingLogLik is the log-likelihood of toks in the harness's rolling
// windows of maxLen, from the model definition: token i is predicted in
// window i/maxLen from the tokens of that window before it, one token
// before the window, or BOS (id 1) for the first; the last partial window
// sees maxLen tokens back.
func refRollingLogLik(m *histLM, toks []int, maxLen int) float64 {
	var ll float64
	full := len(toks) / maxLen * maxLen
	for i := range toks {
		var seq []int
		switch {
		case i < maxLen:
			seq = append([]int{1}, toks[:i+1]...)
		case i < full:
			seq = toks[i/maxLen*maxLen-1 : i+1]
		default:
			seq = toks[len(toks)-maxLen-1 : i+1]
		}
		ll += refLogProb(m, seq, len(seq)-1)
	}
	return ll
}

// refLogProb is log p(seq[j] | seq[:j]) computed straight from the model
// definition, in float64.
func refLogProb(m *histLM, seq []int, j int) float64 {
	row := make([]float32, m.vocab)
	m.logits(seq[:j], row)
	return testref.LogProb(row, seq[j])
}

// refLL is Σ log p(cont | ctx) with the harness's left truncation to
// maxLen+1 tokens.
func refLL(m *histLM, ctx, cont []int, maxLen int) float64 {
	seq := append(append([]int{}, ctx...), cont...)
	if len(seq) > maxLen+1 {
		seq = seq[len(seq)-maxLen-1:]
	}
	var ll float64
	for j := len(seq) - len(cont); j < len(seq); j++ {
		ll += refLogProb(m, seq, j)
	}
	return ll
}

// refPairLL tokenizes a (context, continuation) string pair the way the
// harness's _encode_pair does for a byte tokenizer and returns its
// log-likelihood: trailing spaces of the context go to the continuation.
func refPairLL(m *histLM, context, cont string, addBOS bool) float64 {
	for len(context) > 0 && (context[len(context)-1] == ' ' || context[len(context)-1] == '\n') {
		cont = context[len(context)-1:] + cont
		context = context[:len(context)-1]
	}
	tok := charTok{}
	ctx := tok.Encode(context, false)
	if addBOS || len(ctx) == 0 {
		ctx = append([]int{1}, ctx...)
	}
	return refLL(m, ctx, tok.Encode(cont, false), m.maxCtx)
}

// refLetterLL is the log-probability of the letter's token right after the
// prompt (LLMCBench's scoring).
func refLetterLL(m *histLM, prompt, letter string, addBOS bool) float64 {
	tok := charTok{}
	ids := tok.Encode(prompt, false)
	if addBOS {
		ids = append([]int{1}, ids...)
	}
	l := tok.Encode(letter, false)
	return refLL(m, ids, l[len(l)-1:], m.maxCtx)
}

// batchHistLM is histLM with batching: AppendBatch appends to each member
// in turn (the logits depend on each member's own prefix only, as in a
// real ragged batch) and counts the batched calls.
type batchHistLM struct {
	*histLM
	batches, members int
	noCopy           bool // CopyPrefix fails (a backend that cannot fork)
}

func (m *batchHistLM) AppendBatch(states []State, ids [][]int) ([][]float32, error) {
	m.batches++
	out := make([][]float32, len(states))
	for i, s := range states {
		m.members++
		o, err := s.Append(ids[i])
		if err != nil {
			return nil, err
		}
		out[i] = append([]float32(nil), o...)
	}
	return out, nil
}

func (m *batchHistLM) CopyPrefix(dst, src State, n int) error {
	if m.noCopy {
		return fmt.Errorf("cannot copy")
	}
	d, s := dst.(*histState), src.(*histState)
	if n > len(s.toks) {
		return fmt.Errorf("copy %d of %d", n, len(s.toks))
	}
	d.toks = append(d.toks[:0], s.toks[:n]...)
	return nil
}
