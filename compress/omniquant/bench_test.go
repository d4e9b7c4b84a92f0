package omniquant

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// benchConfig is a ~100M-parameter LLaMA-shaped model (hidden 768, 12
// layers, 12 heads, 4 kv heads, intermediate 2048, vocab 32000).
const benchConfig = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":768,
"intermediate_size":2048,"num_attention_heads":12,"num_key_value_heads":4,"num_hidden_layers":12,
"vocab_size":32000,"max_position_embeddings":2048,"rms_norm_eps":1e-5,"rope_theta":10000.0,
"hidden_act":"silu","tie_word_embeddings":false,"torch_dtype":"float32"}`

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkOmniQuantBlock measures the seconds OmniQuant spends on one
// decoder block (W4A16 g128, LWC) of a random ~100M LLaMA-shaped model:
// OMNIQUANT_BENCH_SAMPLES samples (default 2) of OMNIQUANT_BENCH_SEQLEN
// tokens (default 256), OMNIQUANT_BENCH_EPOCHS epochs (default 1). Scale
// to the reference (128 × 2048, 20 epochs) by samples·seqlen·epochs.
func BenchmarkOmniQuantBlock(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(benchConfig), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := models.LoadConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	m, err := grad.InitModel(cfg, 1, 0.02)
	if err != nil {
		b.Fatal(err)
	}
	ts, err := m.Tensors(tensor.F32)
	if err != nil {
		b.Fatal(err)
	}
	if err := tensor.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		b.Fatal(err)
	}
	n, L, ep := envInt("OMNIQUANT_BENCH_SAMPLES", 2), envInt("OMNIQUANT_BENCH_SEQLEN", 256), envInt("OMNIQUANT_BENCH_EPOCHS", 1)
	qc := Config{WBits: 4, GroupSize: 128, Epochs: ep, LWC: true, LWCLR: DefaultLWCLR, Seqlen: L}
	r := testRunModel(m, dir, qc, n)
	fpIn := make([][]float32, n)
	for s := range fpIn {
		x, err := m.Embed(grad.NewTape(), r.samples[s], 1, L)
		if err != nil {
			b.Fatal(err)
		}
		fpIn[s] = x.Val
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		blk := r.newBlock(0, fpIn)
		targets := make([][]float32, n)
		for s := range fpIn {
			targets[s] = blk.forward(grad.NewTape(), blk.constIn(fpIn[s]), modeFP).Val
		}
		if err := blk.train(context.Background(), fpIn, targets); err != nil {
			b.Fatal(err)
		}
		if _, err := blk.finish(); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec, "s/block")
	b.ReportMetric(float64(n*L*ep)/sec, "tokens/s")
}
