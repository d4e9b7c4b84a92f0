package eval

import (
	"encoding/json"
	"io"
	"unicode/utf8"

	"github.com/llmcbench/gollm/bench"
)

// Sample is the per-document record of a scored task (Config.LogSamples):
// one question of an accuracy task, one window of a GPTQ-style perplexity
// task, one page of a rolling perplexity task. It is bench.Sample, the
// record a study's cells point to (package bench sits below eval).
//
// Accuracy tasks: Metrics holds the document's value of each metric the
// task averages (acc and acc_norm 0 or 1, TruthfulQA MC2's probability
// mass in acc, AdvGLUE's acc_original for the unperturbed items), so the
// mean over the samples that have a metric is the reported metric. Target
// and Pred index Choices (the scored continuations), LogLik holds each
// choice's log-likelihood, Group the MMLU subject.
//
// Perplexity tasks: NLL is the window's (page's) summed negative
// log-likelihood and Tokens the tokens it predicts (GPTQ-style windows)
// or the words of the page (rolling wikitext), so exp(ΣNLL/ΣTokens) is the
// reported ppl (word_perplexity). Metrics holds mean_nll per window, or
// the page's words and bytes.
type Sample = bench.Sample

// samplePromptBytes is how much of a request's context a Sample keeps.
const samplePromptBytes = 300

// cutPrompt returns the last samplePromptBytes bytes of s (the end of a
// prompt is the question; the start is the shared few-shot header), cut
// at a character boundary.
func cutPrompt(s string) string {
	if len(s) <= samplePromptBytes {
		return s
	}
	i := len(s) - samplePromptBytes
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return "…" + s[i:]
}

// mcSample is the record of an accuracy doc scored with lls and metrics.
// Non-finite numbers, which JSON cannot hold, are left out (the task's
// notes name them).
func mcSample(doc int, d *mcDoc, lls []float64, metrics map[string]float64) Sample {
	s := Sample{Doc: doc, Target: d.gold, Pred: argmax(lls), Choices: d.conts, Metrics: map[string]float64{}}
	for k, v := range metrics {
		if finite(v) {
			s.Metrics[k+d.suffix] = v
		}
	}
	if len(d.groups) > 0 {
		s.Group = d.groups[0]
	}
	ok := true
	for _, ll := range lls {
		ok = ok && finite(ll)
	}
	if ok {
		s.LogLik = append([]float64(nil), lls...)
	}
	switch {
	case d.letters && len(d.prompts) > 0:
		s.Prompt = cutPrompt(d.prompts[0])
	case len(d.contexts) > 0:
		s.Prompt = cutPrompt(d.contexts[0])
	}
	return s
}

// SampleLine is one line of `gollm eval --log-samples`: a Sample with the
// task it belongs to.
type SampleLine struct {
	Task string `json:"task"`
	Sample
}

// WriteSamples writes every result's samples as JSON lines of SampleLine.
func WriteSamples(w io.Writer, results []*TaskResult) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		for _, s := range r.Samples {
			if err := enc.Encode(SampleLine{Task: r.Task, Sample: s}); err != nil {
				return err
			}
		}
	}
	return nil
}
