package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

const tinyLlama = `{"model_type": "llama", "vocab_size": 4000, "hidden_size": 64, "intermediate_size": 128,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false, "bos_token_id": 0, "eos_token_id": 1}`

// writeCorpus writes a deterministic text from a small grammar: predictable
// from context, but with a spread-out unigram distribution.
func writeCorpus(t testing.TB, dir string, sentences int) string {
	rng := rand.New(rand.NewPCG(11, 12))
	pick := func(ws ...string) string { return ws[rng.IntN(len(ws))] }
	var b strings.Builder
	for i := 0; i < sentences; i++ {
		n := pick("cat", "dog", "bird", "horse", "child", "farmer")
		b.WriteString("The " + pick("small", "old", "happy", "quiet") + " " + n + " " +
			pick("sees", "follows", "finds") + " the " + pick("red", "green", "blue") + " " +
			pick("house", "river", "garden", "road") + ", and then the " + n + " goes home.\n")
	}
	path := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tinyOptions(t testing.TB, dir string) Options {
	cfg := filepath.Join(dir, "model.json")
	if err := os.WriteFile(cfg, []byte(tinyLlama), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{
		Arch: "llama", Config: cfg, Data: []string{writeCorpus(t, dir, 400)},
		Tokenizer: filepath.Join("..", "testdata", "llama3-tiny"),
		Steps:     200, SeqLen: 32, Batch: 8, LR: 3e-3, Warmup: 10, Seed: 5,
	}
}

// TestTrainTinyLlama: training lowers the loss well below the unigram
// entropy, the checkpoint reloads (engine and grad) with the same loss, and
// an interrupted run resumed from its checkpoint follows the same curve.
func TestTrainTinyLlama(t *testing.T) {
	dir := t.TempDir()
	o := tinyOptions(t, dir)
	o.Out = filepath.Join(dir, "full")
	full, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if full.Steps != o.Steps || len(full.Curve) != o.Steps {
		t.Fatalf("ran %d steps with %d curve points, want %d", full.Steps, len(full.Curve), o.Steps)
	}
	var last float64
	for _, p := range full.Curve[o.Steps-20:] {
		last += p.Loss / 20
	}
	first := full.Curve[0].Loss
	t.Logf("loss %.3f → %.3f (mean of the last 20), unigram entropy %.3f nats, %d parameters", first, last, full.UnigramEntropy, full.Params)
	if first < 0.8*math.Log(4000) {
		t.Errorf("initial loss %.3f is not near log(vocab) = %.3f", first, math.Log(4000))
	}
	if last > 0.5*full.UnigramEntropy {
		t.Errorf("final loss %.3f is not well below the unigram entropy %.3f", last, full.UnigramEntropy)
	}

	// The checkpoint reloads: the engine, the reloaded differentiable model
	// and the trained one give the same loss on a window of the data.
	tokIDs := mustTokens(t, o)
	ids, targets := tokIDs[:64], tokIDs[1:65]
	trained := lossOf(t, full.Model, ids, targets)
	re, err := grad.LoadModel(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	reloaded := lossOf(t, re, ids, targets)
	em, err := models.Load(o.Out, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	logits, err := em.NewState(64).Append(ids)
	if err != nil {
		t.Fatal(err)
	}
	var engine float64
	V := em.Config.Vocab
	for i, tg := range targets {
		engine -= kernels.LogSoftmax(logits[i*V:(i+1)*V], tg) / float64(len(targets))
	}
	if trained != reloaded || math.Abs(engine-trained) > 1e-4*trained {
		t.Errorf("loss: trained %.7f, reloaded %.7f, engine %.7f", trained, reloaded, engine)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "trainer_state.safetensors", "loss.csv", "loss.json"} {
		if _, err := os.Stat(filepath.Join(o.Out, f)); err != nil {
			t.Errorf("checkpoint: %v", err)
		}
	}

	// Resume: stop at step 80, continue to 200: the same curve.
	o.Out = filepath.Join(dir, "resumed")
	o.StopAt = 80
	part, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if part.Steps != 80 {
		t.Fatalf("interrupted run did %d steps, want 80", part.Steps)
	}
	res, err := Run(context.Background(), Options{Out: o.Out, Resume: true, Steps: o.Steps})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Curve) != o.Steps {
		t.Fatalf("resumed curve has %d points, want %d", len(res.Curve), o.Steps)
	}
	for i, p := range res.Curve {
		if p.Step != i+1 || math.Abs(p.Loss-full.Curve[i].Loss) > 1e-5*full.Curve[i].Loss {
			t.Fatalf("step %d: resumed loss %.7f (step %d), uninterrupted %.7f", i+1, p.Loss, p.Step, full.Curve[i].Loss)
		}
	}
}

func mustTokens(t *testing.T, o Options) []int {
	tok, err := loadTok(o.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := Tokenize(tok, o.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func lossOf(t *testing.T, m *grad.Model, ids, targets []int) float64 {
	l, err := m.Loss(grad.NewTape(), ids, targets, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	return float64(l.Item())
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	base := tinyOptions(t, dir)
	binary := filepath.Join(dir, "binary.bin")
	if err := os.WriteFile(binary, []byte("text, then \x00\xff\xfe"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mod  func(o *Options)
		want string // when set: a bad-input error naming the file and this
	}{
		{"arch", func(o *Options) { o.Arch = "gpt2" }, ""},
		{"arch mismatch", func(o *Options) { o.Arch = "opt" }, ""},
		{"no data", func(o *Options) { o.Data = nil }, ""},
		{"missing data file", func(o *Options) { o.Data = []string{filepath.Join(dir, "nope.txt")} }, ""},
		{"steps", func(o *Options) { o.Steps = 0 }, ""},
		{"window too long", func(o *Options) { o.SeqLen = 1 << 20 }, ""},
		{"resume without state", func(o *Options) { o.Resume = true }, ""},
		{"binary data", func(o *Options) { o.Data = []string{binary} }, "NUL byte at byte offset 11"},
	} {
		o := base
		o.Out = filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
		tc.mod(&o)
		_, err := Run(context.Background(), o)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if tc.want != "" && (!errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), binary)) {
			t.Errorf("%s: %v, want a bad-input error naming %s and %q", tc.name, err, binary, tc.want)
		}
	}
}

// BenchmarkTrainStep measures one training step (forward, backward,
// clipping, AdamW) of a ~5M-parameter LLaMA (hidden 256, 4 layers, vocab
// 4000) on 8 windows of 128 tokens; it reports tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "config.json")
	cfgJSON := `{"model_type": "llama", "vocab_size": 4000, "hidden_size": 256, "intermediate_size": 688,
 "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 512}`
	if err := os.WriteFile(path, []byte(cfgJSON), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := models.ParseConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	m, err := grad.InitModel(cfg, 1, 0.02)
	if err != nil {
		b.Fatal(err)
	}
	const batch, seq = 8, 128
	tokens := make([]int, 1<<16)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range tokens {
		tokens[i] = rng.IntN(cfg.Vocab)
	}
	s, err := corpus.NewSampler(tokens, seq, 1)
	if err != nil {
		b.Fatal(err)
	}
	tr := NewTrainer(m, Options{Steps: b.N + 1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids, targets := s.Batch(batch)
		if _, _, _, err := tr.Step(ids, targets, batch, seq); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*seq)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(m.NumParams()), "params")
}

// TestRecomputeSameTraining runs the same steps with and without
// activation recomputation: the losses and the trained weights agree.
func TestRecomputeSameTraining(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(tinyLlama), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := models.ParseConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var trainers [2]*Trainer
	for i, rc := range []bool{false, true} {
		m, err := grad.InitModel(cfg, 3, 0.02)
		if err != nil {
			t.Fatal(err)
		}
		trainers[i] = NewTrainer(m, Options{Steps: 5, LR: 1e-2, Warmup: 1, Recompute: rc})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := 0; step < 5; step++ {
		ids := make([]int, 2*16)
		targets := make([]int, len(ids))
		for i := range ids {
			ids[i], targets[i] = rng.IntN(cfg.Vocab), rng.IntN(cfg.Vocab)
		}
		l0, _, _, err0 := trainers[0].Step(ids, targets, 2, 16)
		l1, _, _, err1 := trainers[1].Step(ids, targets, 2, 16)
		if err0 != nil || err1 != nil {
			t.Fatal(err0, err1)
		}
		if math.Abs(l0-l1) > 1e-6*l0 {
			t.Fatalf("step %d: loss %v without recomputation, %v with", step, l0, l1)
		}
	}
	for _, s := range trainers[0].Model.Specs {
		a, b := trainers[0].Model.Params[s.Name].Val, trainers[1].Model.Params[s.Name].Val
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-5 {
				t.Fatalf("%s[%d]: %v vs %v after 5 steps", s.Name, i, a[i], b[i])
			}
		}
	}
}
