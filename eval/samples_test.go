package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestSamplesReproduceMetrics: for every task of the test data, the
// per-sample records reproduce the reported metrics: the mean of each
// document metric, and exp(ΣNLL/ΣTokens) for the perplexities.
func TestSamplesReproduceMetrics(t *testing.T) {
	tests := []struct {
		task string
		cfg  Config
	}{
		{"arc_easy", Config{}}, {"arc_challenge", Config{}}, {"hellaswag", Config{}}, {"piqa", Config{}},
		{"winogrande", Config{}}, {"boolq", Config{}}, {"qnli", Config{}}, {"mnli", Config{}},
		{"mnli", Config{PromptVariant: VariantLLMCBench}}, {"mnli_mismatch", Config{}},
		{"mmlu", Config{Shots: 1}}, {"mmlu", Config{PromptVariant: VariantLLMCBench}},
		{"truthfulqa_mc1", Config{}}, {"truthfulqa_mc2", Config{}},
		{"advglue_sst2", Config{}}, {"advglue_mnli", Config{}},
		{"wikitext2", Config{Seqlen: 64}}, {"ptb", Config{Seqlen: 32}}, {"c4", Config{Seqlen: 32, Limit: 4}},
		{"wikitext", Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.task+"/"+tt.cfg.PromptVariant, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Tasks, cfg.LogSamples = []string{tt.task}, true
			r := runOne(t, newHistLM(4096), cfg)
			if len(r.Samples) == 0 {
				t.Fatal("no samples")
			}
			sums, counts := map[string]float64{}, map[string]int{}
			var nll, toks float64
			groups := map[string]bool{}
			for _, s := range r.Samples {
				for k, v := range s.Metrics {
					sums[k] += v
					counts[k]++
				}
				nll += s.NLL
				toks += s.Tokens
				groups[s.Group] = true
			}
			switch r.Kind {
			case kindPerplexity:
				near(t, "exp(ΣNLL/ΣTokens)", math.Exp(nll/toks), r.Metrics["ppl"])
				near(t, "mean window mean_nll", sums["mean_nll"]/float64(counts["mean_nll"]), r.Metrics["mean_nll"])
				if len(r.Samples) != r.N {
					t.Errorf("%d samples for %d windows", len(r.Samples), r.N)
				}
			case kindRolling:
				near(t, "exp(ΣNLL/Σwords)", math.Exp(nll/toks), r.Metrics["word_perplexity"])
				near(t, "exp(ΣNLL/Σbytes)", math.Exp(nll/sums["bytes"]), r.Metrics["byte_perplexity"])
			default:
				checked := 0
				for k, n := range r.Counts {
					if _, ok := r.Metrics[k+"_stderr"]; !ok {
						continue // not a mean over documents (acc_all_rows)
					}
					if counts[k] != n {
						t.Errorf("%s: %d samples, want %d", k, counts[k], n)
					}
					near(t, "mean sample "+k, sums[k]/float64(counts[k]), r.Metrics[k])
					checked++
				}
				if checked == 0 {
					t.Error("no metric checked")
				}
				for _, s := range r.Samples {
					if len(s.LogLik) != len(s.Choices) || s.Pred < 0 || s.Pred >= len(s.Choices) || s.Target >= len(s.Choices) {
						t.Fatalf("sample %+v: loglik, choices, pred and target disagree", s)
					}
				}
				if tt.task == "mmlu" && (len(groups) < 2 || groups[""]) {
					t.Errorf("mmlu samples have groups %v, want the subjects", groups)
				}
			}
			var b bytes.Buffer
			if err := WriteSamples(&b, []*TaskResult{r}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			if len(lines) != len(r.Samples) {
				t.Fatalf("%d lines for %d samples", len(lines), len(r.Samples))
			}
			var back SampleLine
			if err := json.Unmarshal([]byte(lines[0]), &back); err != nil || back.Task != tt.task || back.Doc != r.Samples[0].Doc {
				t.Errorf("line %s: %+v, %v", lines[0], back, err)
			}
		})
	}
}

// TestNoSamplesByDefault: without LogSamples a run keeps no records.
func TestNoSamplesByDefault(t *testing.T) {
	rep, err := Run(context.Background(), Config{Tasks: []string{"arc_easy", "wikitext2"}, Seqlen: 64, DataDir: testData}, newHistLM(4096), charTok{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Samples != nil {
			t.Errorf("%s: %d samples without LogSamples", r.Task, len(r.Samples))
		}
	}
}
