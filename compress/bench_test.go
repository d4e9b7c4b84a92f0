package compress

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/models"
)

// benchShape reads the benchmark size from the environment:
// GOLLM_COMPRESS_BENCH="samples=128,seqlen=512,layers=12" (the issue's
// target, the default) or smaller for a quick run, e.g.
// "samples=8,seqlen=128,layers=2".
func benchShape(b *testing.B) (samples, seqlen, layers int) {
	samples, seqlen, layers = 128, 512, 12
	spec := os.Getenv("GOLLM_COMPRESS_BENCH")
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("GOLLM_COMPRESS_BENCH: bad %s=%q", k, v)
		}
		switch k {
		case "samples":
			samples = n
		case "seqlen":
			seqlen = n
		case "layers":
			layers = n
		default:
			b.Fatalf("GOLLM_COMPRESS_BENCH: unknown key %q", k)
		}
	}
	return
}

// benchModel builds a LLaMA-shaped model with random weights: hidden 768,
// 12 heads, intermediate 2048, vocabulary 32000 (tied), about 110M
// parameters at 12 layers.
func benchModel(b *testing.B, layers int) *models.Model {
	dir := b.TempDir()
	cfg := fmt.Sprintf(`{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 768,
		"intermediate_size": 2048, "num_hidden_layers": %d, "num_attention_heads": 12, "num_key_value_heads": 12,
		"max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "vocab_size": 32000, "tie_word_embeddings": true,
		"rope_theta": 10000.0, "torch_dtype": "float16"}`, layers)
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	mc, err := models.ParseConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	m, err := models.FromConfig(mc, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCompress measures each method's compression time and peak
// memory (process RSS) on the benchmark model, excluding calibration
// tokenization and saving.
func BenchmarkCompress(b *testing.B) {
	samples, seqlen, layers := benchShape(b)
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([][]int, samples)
	for i := range ids {
		ids[i] = make([]int, seqlen)
		for j := range ids[i] {
			ids[i][j] = rng.IntN(32000)
		}
	}
	for _, method := range Methods {
		b.Run(method, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				m := benchModel(b, layers)
				cfg := Defaults(method)
				cfg.Model, cfg.Seqlen, cfg.NSamples = "bench", seqlen, samples
				cfg.resolve()
				if method == SmoothQuant {
					cfg.Alpha = DefaultAlpha(m.Config)
				}
				rules, err := rulesFor(m.Config)
				if err != nil {
					b.Fatal(err)
				}
				var calib [][]int
				if needsCalib(method) {
					calib = ids
				}
				var params int64
				for _, blk := range blockShapes(m.Config) {
					for _, s := range blk {
						params += int64(s.Out) * int64(s.In)
					}
				}
				b.SetBytes(4 * params)
				resetPeakRSS()
				b.StartTimer()
				if _, _, err := compressLoaded(context.Background(), &cfg, m, rules, calib, nil, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(peakRSS())/(1<<20), "peak-MiB")
				b.ReportMetric(float64(samples*seqlen), "calib-tokens")
				b.StartTimer()
			}
		})
	}
}
