package eval

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/llmcbench/gollm/internal/progress"
	"github.com/llmcbench/gollm/internal/pyrand"
)

// loader is the signature of taskDef.load.
type loader = func(e *env, t *taskDef, res *TaskResult) (func() error, error)

// withFiles names the data files in a bad-input error that has no file.
func withFiles(err error, files []string) error {
	var bi *BadInputError
	if errors.As(err, &bi) && bi.File == "" {
		return &BadInputError{File: strings.Join(files, ", "), Msg: bi.Msg}
	}
	return err
}

// readTextRows reads the text rows of a perplexity corpus: column col of
// the Hugging Face files, or the lines of a raw release (wiki.test.raw
// rows keep their "\n", PTB lines are stripped as ptb_text_only does).
func readTextRows(files []string, col string) ([]string, error) {
	var rows []string
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case formatOf(f) == "lines":
			lines, err := readLines(f)
			if err != nil {
				return nil, err
			}
			rows = append(rows, lines...)
		case strings.HasPrefix(base, "ptb.") && strings.HasSuffix(base, ".txt"):
			lines, err := readLines(f)
			if err != nil {
				return nil, err
			}
			for _, l := range lines {
				rows = append(rows, strings.TrimFunc(l, pyIsSpace))
			}
		default:
			recs, err := readRecords(f, readOptions{})
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				s, err := r.str(col)
				if err != nil {
					return nil, err
				}
				rows = append(rows, s)
			}
		}
	}
	if len(rows) == 0 {
		return nil, badInput(strings.Join(files, ", "), "no text rows")
	}
	return rows, nil
}

// loadJoinedPerplexity is GPTQ's wikitext2/ptb evaluation: every row of
// the split joined with sep and tokenized once.
func loadJoinedPerplexity(col, sep string) loader {
	return func(e *env, t *taskDef, res *TaskResult) (func() error, error) {
		files, err := t.data.find(t.name, e.cfg.DataDir)
		if err != nil {
			return nil, err
		}
		rows, err := readTextRows(files, col)
		if err != nil {
			return nil, err
		}
		res.Files = files
		ids := e.tok.Encode(strings.Join(rows, sep), true)
		return e.perplexityRun(ids, res)
	}
}

// perplexityRun checks that ids fill at least one window and returns the
// run that scores them.
func (e *env) perplexityRun(ids []int, res *TaskResult) (func() error, error) {
	if len(ids) < res.Seqlen {
		return nil, badInput(strings.Join(res.Files, ", "), "task %s: the text has %d tokens, fewer than one window of seqlen %d", res.Task, len(ids), res.Seqlen)
	}
	return func() error { return e.runPerplexity(ids, res) }, nil
}

// runPerplexity scores ids in GPTQ-style windows (the first --limit
// windows when a limit is set) and fills res.
func (e *env) runPerplexity(ids []int, res *TaskResult) error {
	seqlen := res.Seqlen
	n := len(ids) / max(seqlen, 1)
	if e.cfg.Limit > 0 && n > e.cfg.Limit {
		n = e.cfg.Limit
		res.Notes = append(res.Notes, "limited to the first windows; the rest of the text was not scored")
		ids = ids[:n*seqlen]
	}
	bar := progress.New(e.progress, res.Task, n)
	r, err := perplexityGPTQ(e.ctx, e.lm, ids, seqlen, func(nll float64) {
		bar.Add(1)
		if e.cfg.LogSamples {
			pred := float64(seqlen - 1)
			s := Sample{Doc: len(res.Samples), Metrics: map[string]float64{}}
			if finite(nll) { // else the window has no numbers; the task's notes say why
				s.NLL, s.Tokens, s.Metrics["mean_nll"] = nll, pred, nll/pred
			}
			res.Samples = append(res.Samples, s)
		}
	})
	if err != nil {
		bar.Abort()
		return withFiles(err, res.Files)
	}
	bar.Finish()
	switch {
	case !finite(r.MeanNLL):
		res.Notes = append(res.Notes, "mean_nll is not finite: the model returned NaN or infinite logits in at least one window")
	case !finite(r.PPL):
		res.Notes = append(res.Notes, fmt.Sprintf("ppl = exp(mean_nll = %.4g) overflows float64", r.MeanNLL))
	}
	res.N = r.Windows
	res.Metrics["ppl"] = r.PPL
	res.Metrics["mean_nll"] = r.MeanNLL
	res.Counts["windows"] = r.Windows
	res.Counts["tokens"] = r.Tokens
	res.Counts["predicted_tokens"] = r.Predicted
	res.Counts["dropped_tokens"] = r.Dropped
	res.ForwardTokens = int64(r.Windows * seqlen)
	res.ScoredTokens = int64(r.Predicted)
	return nil
}

// c4Windows is the number of windows GPTQ's C4 evaluation samples.
const c4Windows = 256

// loadC4Random is GPTQ's get_c4 evaluation set: with Python's random seeded
// (0 in the reference), 256 times pick random documents until one has at
// least seqlen tokens and take a random seqlen window of it.
func loadC4Random(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	recs, files, err := loadSplit(t.name, e.cfg.DataDir, t.data, readOptions{})
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(recs))
	for i, r := range recs {
		if texts[i], err = r.str("text"); err != nil {
			return nil, err
		}
	}
	res.Files = files
	res.Notes = append(res.Notes, "documents and windows drawn with Python's random (MT19937), as GPTQ's get_c4")
	// The windows are drawn (and their documents tokenized) here, before
	// any task is scored, so that data too short for seqlen fails early.
	ids, err := drawC4Windows(e, texts, files, res.Seqlen)
	if err != nil {
		return nil, err
	}
	return e.perplexityRun(ids, res)
}

// drawC4Windows draws GPTQ's C4 windows of seqlen tokens (the first --limit
// of them) from texts.
func drawC4Windows(e *env, texts, files []string, seqlen int) ([]int, error) {
	windows := c4Windows
	if e.cfg.Limit > 0 && e.cfg.Limit < windows {
		windows = e.cfg.Limit
	}
	rng := pyrand.New(e.cfg.Seed)
	lengths := map[int]int{} // document → token count, once encoded
	longEnough := -1         // documents known to be long enough (-1: unknown)
	var ids []int
	for w := 0; w < windows; w++ {
		var doc []int
		for {
			if err := e.ctx.Err(); err != nil {
				return nil, err
			}
			i, _ := rng.Randint(0, len(texts)-1)
			if n, ok := lengths[i]; ok && n < seqlen {
				if longEnough == 0 {
					return nil, badInput(strings.Join(files, ", "), "no document has %d tokens or more (seqlen)", seqlen)
				}
				continue
			}
			doc = e.tok.Encode(texts[i], true)
			lengths[i] = len(doc)
			if len(doc) >= seqlen {
				break
			}
			if len(lengths) == len(texts) {
				longEnough = 0
				for _, n := range lengths {
					if n >= seqlen {
						longEnough++
					}
				}
				if longEnough == 0 {
					return nil, badInput(strings.Join(files, ", "), "no document has %d tokens or more (seqlen)", seqlen)
				}
			}
		}
		j, ok := rng.Randint(0, len(doc)-seqlen-1)
		if !ok {
			return nil, badInput(strings.Join(files, ", "), "a sampled document has exactly seqlen=%d tokens, where the reference loader fails (randint of an empty range); try another seqlen", seqlen)
		}
		ids = append(ids, doc[j:j+seqlen]...)
	}
	return ids, nil
}

// c4NewDocs is the number of documents GPTQ's c4-new evaluation joins.
const c4NewDocs = 1100

// loadC4New is GPTQ's get_c4_new evaluation set: the first 1100 documents
// joined with " ", tokenized, cut to 256·seqlen tokens.
func loadC4New(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	recs, files, err := loadSplit(t.name, e.cfg.DataDir, t.data, readOptions{})
	if err != nil {
		return nil, err
	}
	if len(recs) > c4NewDocs {
		recs = recs[:c4NewDocs]
	}
	texts := make([]string, len(recs))
	for i, r := range recs {
		if texts[i], err = r.str("text"); err != nil {
			return nil, err
		}
	}
	res.Files = files
	ids := e.tok.Encode(strings.Join(texts, " "), true)
	if n := c4Windows * res.Seqlen; len(ids) > n {
		ids = ids[:n]
	}
	return e.perplexityRun(ids, res)
}

// loadWikitextRolling is the harness's wikitext task: each document
// detokenized, scored with rolling windows, word and byte counts taken
// from the original page.
func loadWikitextRolling(e *env, t *taskDef, res *TaskResult) (func() error, error) {
	recs, files, err := loadSplit(t.name, e.cfg.DataDir, t.data, readOptions{})
	if err != nil {
		return nil, err
	}
	recs = limitDocs(e, recs)
	pages := make([]string, len(recs))
	for i, r := range recs {
		if pages[i], err = r.str("page"); err != nil {
			return nil, err
		}
	}
	res.Files = files
	bos, ok := e.tok.BOS()
	if !ok {
		return nil, badInput("", "task %s: the tokenizer has no BOS token to start the rolling windows with", t.name)
	}
	var words, bytes int
	for _, page := range pages {
		words += pyWordCount(page)
		bytes += len(page)
	}
	if bytes == 0 {
		return nil, badInput(strings.Join(files, ", "), "task %s: every page is empty", t.name)
	}
	return func() error {
		sc := newScorer(e.lm, res.Seqlen, !e.cfg.NoPrefixReuse)
		bar := progress.New(e.progress, res.Task, len(pages))
		var sumLL float64
		bad := 0
		for i, page := range pages {
			tokens := e.tok.Encode(wikitextDetokenize(page), false)
			ll, _, err := sc.rolling(e.ctx, tokens, bos)
			if err != nil {
				bar.Abort()
				return err
			}
			if !finite(ll) {
				bad++
			}
			sumLL += ll
			if e.cfg.LogSamples {
				words := float64(pyWordCount(page))
				s := Sample{Doc: i, Metrics: map[string]float64{"words": words, "bytes": float64(len(page))}}
				if finite(ll) {
					s.NLL, s.Tokens = -ll, words
				}
				res.Samples = append(res.Samples, s)
			}
			bar.Add(1)
		}
		bar.Finish()
		if bad > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%d pages had a NaN or infinite log-likelihood: the model returned non-finite logits", bad))
		}
		res.N = len(pages)
		res.Metrics["word_perplexity"] = math.Exp(-sumLL / float64(words))
		res.Metrics["byte_perplexity"] = math.Exp(-sumLL / float64(bytes))
		res.Metrics["bits_per_byte"] = -sumLL / float64(bytes) / math.Ln2
		res.Metrics["loglikelihood"] = sumLL
		res.Counts["words"] = words
		res.Counts["bytes"] = bytes
		res.ForwardTokens = sc.forwarded
		res.ScoredTokens = sc.scored
		return nil
	}, nil
}
