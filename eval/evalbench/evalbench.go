// Package evalbench holds the evaluation throughput benchmarks of package
// eval as helpers that take any eval.LM and eval.Tokenizer, so the same
// measurements run on the real models (a ~100M-parameter LLaMA-shaped
// model) from their own packages, and on ToyLM here.
//
//	func BenchmarkEvalMC(b *testing.B) {
//		m, tok := loadModel(b) // your eval.LM and eval.Tokenizer
//		for _, reuse := range []bool{true, false} {
//			b.Run(fmt.Sprintf("reuse=%v", reuse), func(b *testing.B) {
//				evalbench.MultipleChoice(b, m, tok, "mmlu", 5, reuse, 1)
//			})
//		}
//	}
package evalbench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/eval"
)

// Perplexity measures GPTQ-style perplexity: each iteration scores one
// window of seqlen random token ids. It reports tokens/s (forward tokens).
func Perplexity(b *testing.B, lm eval.LM, seqlen int) {
	b.Helper()
	rng := rand.New(rand.NewSource(1))
	ids := make([]int, seqlen)
	for i := range ids {
		ids[i] = rng.Intn(lm.VocabSize())
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := eval.PerplexityGPTQ(ctx, lm, ids, seqlen); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*seqlen)/b.Elapsed().Seconds(), "tokens/s")
}

// MultipleChoice measures multiple-choice evaluation through eval.Run on
// a synthetic data set written to a temporary folder: "arc_easy" (a
// question with four multi-word choices scored by log-likelihood) or
// "mmlu" (a subject of questions sharing a shots-example prefix, four
// one-token choices). Each iteration scores docs documents. It reports
// docs/s, forward tokens/s (tokens run through the model), and forward
// tokens per document, which is where shared-prefix reuse shows. batch is
// eval.Config.BatchSize (it takes effect when lm is an eval.BatchLM).
func MultipleChoice(b *testing.B, lm eval.LM, tok eval.Tokenizer, task string, docs int, reuse bool, batch int) {
	b.Helper()
	cfg := Data(b, task, docs)
	cfg.NoPrefixReuse = !reuse
	cfg.BatchSize = batch
	ctx := context.Background()
	var forward int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := eval.Run(ctx, cfg, lm, tok, nil)
		if err != nil {
			b.Fatal(err)
		}
		forward += rep.Results[0].ForwardTokens
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*docs)/sec, "docs/s")
	b.ReportMetric(float64(forward)/sec, "tokens/s")
	b.ReportMetric(float64(forward)/float64(b.N*docs), "tokens/doc")
}

// Data writes a synthetic data set for task ("arc_easy" or "mmlu", 5
// shots) with docs documents to a temporary folder and returns the
// eval.Config that evaluates it.
func Data(tb testing.TB, task string, docs int) eval.Config {
	tb.Helper()
	dir := tb.TempDir()
	shots := 0
	switch task {
	case "arc_easy":
		writeARC(tb, dir, docs)
	case "mmlu":
		writeMMLU(tb, dir, docs)
		shots = 5
	default:
		tb.Fatalf("evalbench: task %q: want arc_easy or mmlu", task)
	}
	return eval.Config{Tasks: []string{task}, DataDir: dir, Shots: shots}
}

var words = strings.Fields("the a of model data which value energy light water system cell plant animal force " +
	"number process change heat sound earth planet reaction element group measure result sample rate level")

func sentence(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[rng.Intn(len(words))]
	}
	return strings.Join(w, " ")
}

func writeARC(b testing.TB, dir string, docs int) {
	rng := rand.New(rand.NewSource(2))
	var sb strings.Builder
	for i := 0; i < docs; i++ {
		var texts []string
		for j := 0; j < 4; j++ {
			texts = append(texts, sentence(rng, 3+rng.Intn(6)))
		}
		line, _ := json.Marshal(map[string]any{
			"id": fmt.Sprint(i), "question": sentence(rng, 25+rng.Intn(20)) + "?",
			"choices":   map[string]any{"text": texts, "label": []string{"A", "B", "C", "D"}},
			"answerKey": string("ABCD"[rng.Intn(4)]),
		})
		sb.Write(line)
		sb.WriteByte('\n')
	}
	write(b, filepath.Join(dir, "arc_easy", "test.jsonl"), sb.String())
}

func writeMMLU(b testing.TB, dir string, docs int) {
	rng := rand.New(rand.NewSource(3))
	row := func() string {
		return fmt.Sprintf("%q,%q,%q,%q,%q,%c\n", sentence(rng, 30+rng.Intn(20))+"?",
			sentence(rng, 4), sentence(rng, 4), sentence(rng, 4), sentence(rng, 4), "ABCD"[rng.Intn(4)])
	}
	var test, dev strings.Builder
	for i := 0; i < docs; i++ {
		test.WriteString(row())
	}
	for i := 0; i < 5; i++ {
		dev.WriteString(row())
	}
	write(b, filepath.Join(dir, "mmlu", "test", "college_physics_test.csv"), test.String())
	write(b, filepath.Join(dir, "mmlu", "dev", "college_physics_dev.csv"), dev.String())
}

func write(b testing.TB, path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

// ByteTokenizer is a tokenizer for benchmarks without a real one: one
// token per byte (id = byte + 3), BOS = 1.
type ByteTokenizer struct{}

// Encode returns one id per byte, with BOS first when addSpecial.
func (ByteTokenizer) Encode(s string, addSpecial bool) []int {
	ids := make([]int, 0, len(s)+1)
	if addSpecial {
		ids = append(ids, 1)
	}
	for i := 0; i < len(s); i++ {
		ids = append(ids, int(s[i])+3)
	}
	return ids
}

// BOS returns 1.
func (ByteTokenizer) BOS() (int, bool) { return 1, true }

// ToyLM is a deterministic stand-in model for measuring the evaluation
// harness itself: per token it does an embedding lookup, a causal mean
// over the positions so far (kept as a running sum) and a Dim×Vocab
// output projection, i.e. 2·Dim·Vocab flops per token like an LM head.
type ToyLM struct {
	Vocab, Dim, Ctx int
	emb, out        []float32
}

// NewToyLM returns a ToyLM with random weights.
func NewToyLM(vocab, dim, ctx int) *ToyLM {
	rng := rand.New(rand.NewSource(4))
	m := &ToyLM{Vocab: vocab, Dim: dim, Ctx: ctx, emb: make([]float32, vocab*dim), out: make([]float32, dim*vocab)}
	s := float32(1 / math.Sqrt(float64(dim)))
	for i := range m.emb {
		m.emb[i] = float32(rng.NormFloat64())
	}
	for i := range m.out {
		m.out[i] = float32(rng.NormFloat64()) * s
	}
	return m
}

// VocabSize returns Vocab.
func (m *ToyLM) VocabSize() int { return m.Vocab }

// MaxContext returns Ctx.
func (m *ToyLM) MaxContext() int { return m.Ctx }

// NewState returns an empty cache.
func (m *ToyLM) NewState() eval.State { return &toyState{m: m} }

type toyState struct {
	m      *ToyLM
	sums   [][]float32 // running sum of embeddings after each position
	logits []float32
}

func (s *toyState) Len() int { return len(s.sums) }

func (s *toyState) Truncate(n int) {
	if n < len(s.sums) {
		s.sums = s.sums[:n]
	}
}

func (s *toyState) Append(ids []int) ([]float32, error) {
	m := s.m
	if len(s.sums)+len(ids) > m.Ctx {
		return nil, fmt.Errorf("toy: %d positions exceed the context of %d", len(s.sums)+len(ids), m.Ctx)
	}
	if cap(s.logits) < len(ids)*m.Vocab {
		s.logits = make([]float32, len(ids)*m.Vocab)
	}
	s.logits = s.logits[:len(ids)*m.Vocab]
	h := make([]float32, m.Dim)
	for k, id := range ids {
		if id < 0 || id >= m.Vocab {
			return nil, fmt.Errorf("toy: id %d outside the vocabulary", id)
		}
		sum := make([]float32, m.Dim)
		if n := len(s.sums); n > 0 {
			copy(sum, s.sums[n-1])
		}
		e := m.emb[id*m.Dim : (id+1)*m.Dim]
		for j := range sum {
			sum[j] += e[j]
		}
		s.sums = append(s.sums, sum)
		inv := 1 / float32(len(s.sums))
		for j := range h {
			h[j] = sum[j] * inv
		}
		row := s.logits[k*m.Vocab : (k+1)*m.Vocab]
		for v := range row {
			row[v] = 0
		}
		for j, hj := range h {
			w := m.out[j*m.Vocab : (j+1)*m.Vocab]
			for v := range row {
				row[v] += hj * w[v]
			}
		}
	}
	return s.logits, nil
}
