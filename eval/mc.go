package eval

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/llmcbench/gollm/internal/progress"
)

// mcDoc is one multiple-choice question turned into scoring requests.
//
// Log-likelihood mode (the harness): choice i is scored as
// loglikelihood(context, conts[i]) where context is contexts[0], or
// contexts[i] when each choice has its own context (WinoGrande's partial
// scoring).
//
// Letter mode (LLMCBench's scripts): the prompt is run once and choice i is
// the next-token log-probability of the last token of Encode(conts[i]) —
// argmax over these is argmax over the letters' logits.
type mcDoc struct {
	contexts []string
	conts    []string
	normLen  []int // characters of each choice, for acc_norm
	gold     int
	labels   []int    // per-choice truth labels (TruthfulQA MC2)
	mc1Best  int      // index of the best answer (TruthfulQA CSV MC1)
	groups   []string // result groups the doc counts in (MMLU subject, category)
	suffix   string   // appended to metric names (AdvGLUE "_original")

	letters bool
	prompts []string // letter mode: prompts with the most shots first; the first that fits is used
	skip    string   // set when the doc cannot be scored (counted in the result)
}

// context returns the context choice i is scored after: contexts[i] when
// each choice has its own, contexts[0] otherwise.
func (d *mcDoc) context(i int) string {
	if len(d.contexts) > 1 {
		return d.contexts[i]
	}
	return d.contexts[0]
}

// docScore turns a doc's per-choice log-likelihoods into metric values.
type docScore func(d *mcDoc, lls []float64) map[string]float64

// newChoiceDoc builds a harness-style doc: one context, each choice scored
// as " "+choice, acc_norm by the choice's length in characters.
func newChoiceDoc(context string, choices []string, gold int) *mcDoc {
	d := &mcDoc{contexts: []string{context}, gold: gold}
	for _, c := range choices {
		d.conts = append(d.conts, " "+c)
		d.normLen = append(d.normLen, utf8.RuneCountInString(c))
	}
	return d
}

// newLetterDoc builds an LLMCBench-style doc scored on the letters' logits.
func newLetterDoc(prompts []string, letters []string, gold int) *mcDoc {
	return &mcDoc{prompts: prompts, conts: letters, gold: gold, letters: true}
}

// scoreAcc is the harness's acc: argmax of the log-likelihoods is gold.
func scoreAcc(d *mcDoc, lls []float64) map[string]float64 {
	return map[string]float64{"acc": boolf(argmax(lls) == d.gold)}
}

// scoreAccNorm adds acc_norm: argmax of ll/len(choice in characters).
func scoreAccNorm(d *mcDoc, lls []float64) map[string]float64 {
	norm := make([]float64, len(lls))
	for i, ll := range lls {
		norm[i] = ll / float64(d.normLen[i])
	}
	return map[string]float64{
		"acc":      boolf(argmax(lls) == d.gold),
		"acc_norm": boolf(argmax(norm) == d.gold),
	}
}

// scoreMC2 is TruthfulQA MC2 as the harness computes it: the labels are
// split at the first 0 (everything before it is true) and the metric is
// the probability mass of the true answers, Σ exp(ll_true) / Σ exp(ll_all).
// The exponentials are shifted by the maximum, which changes nothing but
// avoids 0/0 when every answer is very unlikely.
func scoreMC2(d *mcDoc, lls []float64) map[string]float64 {
	split := 0
	for split < len(d.labels) && d.labels[split] != 0 {
		split++
	}
	return map[string]float64{"acc": probMass(lls, split)}
}

// probMass returns Σ_{i<split} exp(ll_i) / Σ_i exp(ll_i).
func probMass(lls []float64, split int) float64 {
	m := math.Inf(-1)
	for _, v := range lls {
		m = math.Max(m, v)
	}
	var num, den float64
	for i, v := range lls {
		p := math.Exp(v - m)
		den += p
		if i < split {
			num += p
		}
	}
	return num / den
}

// argmax returns the index of the largest value, the first on ties; a NaN
// wins as in numpy.argmax.
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if math.IsNaN(v) {
			return i
		}
		if v > x[best] {
			best = i
		}
	}
	return best
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// encodePair tokenizes a (context, continuation) request as
// lm-evaluation-harness's _encode_pair: trailing whitespace of the context
// moves to the front of the continuation, the whole string is encoded,
// and the continuation is what follows the context's tokens. With addBOS
// both start with BOS; an empty context becomes [BOS].
func encodePair(tok Tokenizer, addBOS bool, context, cont string) (ctxIDs, contIDs []int, err error) {
	trimmed := strings.TrimRightFunc(context, pyIsSpace)
	if n := len(context) - len(trimmed); n > 0 {
		cont = context[len(trimmed):] + cont
		context = trimmed
	}
	return encodePairWith(tok, addBOS, context, cont, tok.Encode(context, false))
}

// encodePairWith finishes encodePair for a context without trailing
// whitespace whose tokens are ctxEnc.
func encodePairWith(tok Tokenizer, addBOS bool, context, cont string, ctxEnc []int) (ctxIDs, contIDs []int, err error) {
	whole := tok.Encode(context+cont, false)
	ctxIDs = ctxEnc
	if len(ctxIDs) <= len(whole) {
		contIDs = whole[len(ctxIDs):]
	}
	bos, hasBOS := tok.BOS()
	if addBOS || len(ctxIDs) == 0 {
		if !hasBOS {
			if addBOS {
				return nil, nil, badInput("", "add BOS was requested but the tokenizer has no BOS token")
			}
			return nil, nil, badInput("", "empty context and the tokenizer has no BOS token to condition on")
		}
		ctxIDs = append([]int{bos}, ctxIDs...)
	}
	return ctxIDs, contIDs, nil
}

// scoreDoc returns the per-choice log-likelihoods of d, or a skip reason.
func (e *env) scoreDoc(sc *scorer, d *mcDoc, letterIDs map[string]int) ([]float64, string, error) {
	if d.skip != "" {
		return nil, d.skip, nil
	}
	lls := make([]float64, len(d.conts))
	if d.letters {
		var ids []int
		for _, p := range d.prompts {
			ids = e.encode(p)
			if len(ids) <= sc.maxLen {
				break
			}
			ids = nil
		}
		if ids == nil {
			return nil, skipPromptTooLong, nil
		}
		for i, l := range d.conts {
			ll, err := sc.loglik(e.ctx, ids, []int{letterIDs[l]})
			if err != nil {
				return nil, "", err
			}
			lls[i] = ll
		}
		return lls, "", nil
	}
	if done, skip, err := e.scoreDocBatch(sc, d, lls); done || err != nil {
		return lls, skip, err
	}
	for i, c := range d.conts {
		ctxIDs, contIDs, err := e.encodePair(d.context(i), c)
		if err != nil {
			return nil, "", err
		}
		ll, err := sc.loglik(e.ctx, ctxIDs, contIDs)
		if errors.Is(err, errContinuationTooLong) {
			return nil, skipContinuationTooLong, nil
		}
		if err != nil {
			return nil, "", err
		}
		lls[i] = ll
	}
	return lls, "", nil
}

// scoreDocBatch scores the choices of a question with one context as one
// batch (scorer.loglikBatch). It reports done = false, leaving lls alone,
// when the scorer has no batching, the doc has a context per choice
// (WinoGrande), or a request needs left truncation: the one-at-a-time path
// then scores it.
func (e *env) scoreDocBatch(sc *scorer, d *mcDoc, lls []float64) (done bool, skip string, err error) {
	if sc.batch == nil || len(d.contexts) != 1 || len(d.conts) < 2 {
		return false, "", nil
	}
	var ctxIDs []int
	conts := make([][]int, len(d.conts))
	for i, c := range d.conts {
		cids, contIDs, err := e.encodePair(d.contexts[0], c)
		if err != nil {
			return false, "", err
		}
		if i == 0 {
			ctxIDs = cids
		} else if !equalInts(ctxIDs, cids) {
			return false, "", nil
		}
		conts[i] = contIDs
	}
	res, ok, err := sc.loglikBatch(e.ctx, ctxIDs, conts)
	if err != nil || !ok {
		return false, "", err
	}
	copy(lls, res)
	return true, "", nil
}

// encodePair is encodePair with the context's tokens memoized: the
// choices of a question share it.
func (e *env) encodePair(context, cont string) ([]int, []int, error) {
	trimmed := strings.TrimRightFunc(context, pyIsSpace)
	if trimmed != context {
		return encodePair(e.tok, e.cfg.AddBOS, context, cont)
	}
	if e.lastCtx != context || e.lastCtxIDs == nil {
		e.lastCtx, e.lastCtxIDs = context, e.tok.Encode(context, false)
	}
	return encodePairWith(e.tok, e.cfg.AddBOS, context, cont, e.lastCtxIDs)
}

// encode tokenizes a whole prompt, with BOS when the config asks for it.
func (e *env) encode(s string) []int {
	ids := e.tok.Encode(s, false)
	if e.cfg.AddBOS {
		if bos, ok := e.tok.BOS(); ok {
			ids = append([]int{bos}, ids...)
		}
	}
	return ids
}

// letterTokenIDs maps each letter to the last token of Encode(letter), as
// LLMCBench's tokenizer("A").input_ids[-1].
func letterTokenIDs(tok Tokenizer, docs []*mcDoc) (map[string]int, error) {
	out := map[string]int{}
	for _, d := range docs {
		if !d.letters {
			continue
		}
		for _, l := range d.conts {
			if _, ok := out[l]; ok {
				continue
			}
			ids := tok.Encode(l, false)
			if len(ids) == 0 {
				return nil, badInput("", "the tokenizer encodes the answer letter %q to no tokens", l)
			}
			out[l] = ids[len(ids)-1]
		}
	}
	return out, nil
}

// aggregator accumulates per-doc metric values into means and standard
// errors, overall and per group.
type aggregator struct {
	sums   map[string]*meanAcc
	groups map[string]map[string]*meanAcc
}

type meanAcc struct {
	n         int
	sum, sum2 float64
}

func (m *meanAcc) add(v float64) { m.n++; m.sum += v; m.sum2 += v * v }

func (m *meanAcc) mean() float64 { return m.sum / float64(m.n) }

// stderr is the harness's mean_stderr: sample standard deviation
// (n−1 in the denominator) over sqrt(n).
func (m *meanAcc) stderr() float64 {
	if m.n < 2 {
		return 0
	}
	mu := m.mean()
	v := (m.sum2 - float64(m.n)*mu*mu) / float64(m.n-1)
	if v < 0 {
		v = 0
	}
	return math.Sqrt(v / float64(m.n))
}

func newAggregator() *aggregator {
	return &aggregator{sums: map[string]*meanAcc{}, groups: map[string]map[string]*meanAcc{}}
}

func (a *aggregator) add(metrics map[string]float64, groups []string, suffix string) {
	for k, v := range metrics {
		k += suffix
		acc := a.sums[k]
		if acc == nil {
			acc = &meanAcc{}
			a.sums[k] = acc
		}
		acc.add(v)
		for _, g := range groups {
			gm := a.groups[g]
			if gm == nil {
				gm = map[string]*meanAcc{}
				a.groups[g] = gm
			}
			if gm[k] == nil {
				gm[k] = &meanAcc{}
			}
			gm[k].add(v)
		}
	}
}

// finish writes means, standard errors and counts into res.
func (a *aggregator) finish(res *TaskResult) {
	for k, m := range a.sums {
		res.Metrics[k] = m.mean()
		res.Metrics[k+"_stderr"] = m.stderr()
		res.Counts[k] = m.n
	}
	if len(a.groups) > 0 {
		res.Groups = map[string]*GroupResult{}
		for g, ms := range a.groups {
			gr := &GroupResult{Metrics: map[string]float64{}}
			for k, m := range ms {
				gr.Metrics[k] = m.mean()
				gr.N = max(gr.N, m.n)
			}
			res.Groups[g] = gr
		}
	}
}

// checkDocs tokenizes every request of docs before any task is scored and
// fails when none of them could be scored: the answer letters must encode
// to tokens, requests need a BOS token where they start empty, and docs
// whose continuation (or LLMCBench prompt, even with no shots) does not fit
// the sequence limit are marked skipped. A letter doc keeps only the
// prompts from the first that fits, so scoring encodes one.
func (e *env) checkDocs(docs []*mcDoc, res *TaskResult) error {
	files := strings.Join(res.Files, ", ")
	if _, err := letterTokenIDs(e.tok, docs); err != nil {
		return withFiles(err, res.Files)
	}
	maxLen := newScorerLimit(e.lm, res.Seqlen)
	left := 0
	for _, d := range docs {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		if d.skip == "" {
			if d.letters {
				for i, p := range d.prompts {
					if len(e.encode(p)) <= maxLen {
						d.prompts = d.prompts[i:]
						break
					}
					if i == len(d.prompts)-1 {
						d.skip = skipPromptTooLong
					}
				}
			} else {
				for i, c := range d.conts {
					_, contIDs, err := e.encodePair(d.context(i), c)
					if err != nil {
						return withFiles(err, res.Files)
					}
					if len(contIDs) > maxLen {
						d.skip = skipContinuationTooLong
						break
					}
				}
			}
		}
		if d.skip == "" {
			left++
		}
	}
	if left == 0 {
		r := TaskResult{}
		for _, d := range docs {
			r.skip(d.skip)
		}
		return badInput(files, "task %s: no document could be scored (%s)", res.Task, r.skipSummary())
	}
	return nil
}

// Skip reasons of documents that do not fit the sequence limit.
const (
	skipPromptTooLong       = "prompt longer than the sequence limit"
	skipContinuationTooLong = "continuation longer than the model's context"
)

// runDocs scores every doc (checked by checkDocs) and aggregates the
// metrics into res.
func (e *env) runDocs(docs []*mcDoc, score docScore, res *TaskResult) error {
	letterIDs, err := letterTokenIDs(e.tok, docs)
	if err != nil {
		return err
	}
	sc := newScorer(e.lm, res.Seqlen, !e.cfg.NoPrefixReuse)
	sc.setBatch(e.cfg.BatchSize)
	bar := progress.New(e.progress, res.Task, len(docs))
	agg := newAggregator()
	bad := 0
	for i, d := range docs {
		lls, skip, err := e.scoreDoc(sc, d, letterIDs)
		if err != nil {
			bar.Abort()
			return err
		}
		bar.Add(1)
		if skip != "" {
			res.skip(skip)
			continue
		}
		for _, ll := range lls {
			if !finite(ll) {
				bad++
				break
			}
		}
		res.N++
		metrics := score(d, lls)
		agg.add(metrics, d.groups, d.suffix)
		if e.cfg.LogSamples {
			res.Samples = append(res.Samples, mcSample(i, d, lls, metrics))
		}
	}
	bar.Finish()
	agg.finish(res)
	res.ForwardTokens += sc.forwarded
	res.ScoredTokens += sc.scored
	res.TruncatedRequests += sc.truncated
	if bad > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d documents had a NaN or infinite log-likelihood: the model returned non-finite logits", bad))
	}
	if res.N == 0 {
		return badInput(strings.Join(res.Files, ", "), "task %s: no document could be scored (%s)", res.Task, res.skipSummary())
	}
	return nil
}
