package evalmodel

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/eval/evalbench"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
)

// TestPerplexityMatchesReferenceLogits computes GPTQ-style perplexity of
// each fixture model over a token text made of the fixture's two reference
// rows, with seqlen = row length, and checks it against the same windows
// scored independently from transformers' reference logits.
func TestPerplexityMatchesReferenceLogits(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", name)
			ref := testref.Load(t, filepath.Join(dir, "reference.safetensors"))
			ids, logits := ref.IDs, ref.Logits
			rows, seqlen, vocab := len(ref.Rows), len(ref.Rows[0]), ref.Vocab
			// Independent computation: mean NLL per window from the reference
			// logits (float64 log-softmax), averaged over windows, exp.
			var sum float64
			for r := 0; r < rows; r++ {
				var nll float64
				for p := 0; p < seqlen-1; p++ {
					nll -= testref.LogProb(logits[(r*seqlen+p)*vocab:(r*seqlen+p+1)*vocab], ids[r*seqlen+p+1])
				}
				sum += nll / float64(seqlen-1)
			}
			want := math.Exp(sum / float64(rows))

			m, err := models.Load(dir, models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// A trailing partial window must be dropped, so add a few tokens.
			text := append(append([]int(nil), ids...), ids[:3]...)
			res, err := eval.PerplexityGPTQ(context.Background(), New(m), text, seqlen)
			if err != nil {
				t.Fatal(err)
			}
			if res.Windows != rows || res.Seqlen != seqlen {
				t.Fatalf("windows %d seqlen %d, want %d and %d", res.Windows, res.Seqlen, rows, seqlen)
			}
			if math.Abs(res.PPL-want)/want > 1e-5 {
				t.Errorf("ppl %.8g, reference logits give %.8g", res.PPL, want)
			}
			t.Logf("%s: ppl %.6f (reference %.6f) over %d windows of %d", name, res.PPL, want, rows, seqlen)
		})
	}
}

// TestBatchedEvalMatchesUnbatched scores the hand-made multiple-choice
// samples of eval's tests on every fixture model with batch sizes 1 and 8
// (ragged batches of the choices through models.Batch): every metric must
// agree to float rounding.
func TestBatchedEvalMatchesUnbatched(t *testing.T) {
	tasks := []string{"arc_easy", "hellaswag", "piqa", "boolq", "truthfulqa_mc2", "winogrande"}
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			m, err := models.Load(filepath.Join("..", "..", "testdata", name), models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var tok eval.Tokenizer = evalbench.ByteTokenizer{} // chatglm3-tiny ships no tokenizer
			if mt, err := m.Tokenizer(); err == nil {
				tok = mt
			}
			calls := 0
			count := func(*models.Linear, []float32, int) { calls++ }
			run := func(batch int) *eval.Report {
				cfg := eval.Config{Tasks: tasks, DataDir: filepath.Join("..", "..", "testdata", "eval"), BatchSize: batch}
				lm := New(m)
				lm.batch = m.NewBatch()
				lm.batch.LinearHook = count
				rep, err := eval.Run(context.Background(), cfg, hookedLM{lm, count}, tok, nil)
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			one := run(1)
			callsOne := calls
			calls = 0
			eight := run(8)
			if calls*10 > callsOne*9 {
				t.Errorf("batch 8 made %d linear calls, batch 1 %d: the choices did not run together", calls, callsOne)
			}
			t.Logf("linear calls: %d with batch 1, %d with batch 8", callsOne, calls)
			if eight.Config.BatchSize != 8 || one.Config.BatchSize != 1 {
				t.Fatalf("batch sizes recorded %d and %d", one.Config.BatchSize, eight.Config.BatchSize)
			}
			for i, want := range one.Results {
				got := eight.Results[i]
				if got.N != want.N || got.ScoredTokens != want.ScoredTokens {
					t.Errorf("%s: n %d scored %d, want %d and %d", want.Task, got.N, got.ScoredTokens, want.N, want.ScoredTokens)
				}
				for k, v := range want.Metrics {
					if d := math.Abs(got.Metrics[k] - v); d > 1e-4*math.Max(1, math.Abs(v)) {
						t.Errorf("%s %s: batch 8 gives %.8g, batch 1 %.8g", want.Task, k, got.Metrics[k], v)
					}
				}
			}
		})
	}
}

// hookedLM is an LM whose states (and batch, set by the caller) hand every
// linear input to hook.
type hookedLM struct {
	*LM
	hook models.LinearHook
}

// NewState starts a state with the hook.
func (h hookedLM) NewState() eval.State {
	s := h.M.NewState(h.MaxContext())
	s.LinearHook = h.hook
	return s
}
