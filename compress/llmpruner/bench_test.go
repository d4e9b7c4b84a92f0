package llmpruner

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPrune100M times LLM-Pruner (block-wise, element1, the README
// recipe's layer range scaled to 12 layers: 2–10, ratio 0.25) on a ~110M
// LLaMA-shaped random model (hidden 768, 12 layers, MLP 2048, vocab 32000)
// with the reference's 10 × 64 calibration tokens, and LoRA recovery steps
// (rank 8, 4 × 128 tokens per step) on the result. Writing the random model
// is excluded; loading, the gradient pass, pruning and saving are timed.
//
//	go test ./compress/llmpruner -run '^$' -bench Prune100M -benchtime 1x
func BenchmarkPrune100M(b *testing.B) {
	model := writeModel(b, fmt.Sprintf(llamaConfig, 32000, 768, 2048, 12, 12, 12, 64), 1)
	samples := randomSamples(10, 64, 32000, 3)
	b.Run("prune", func(b *testing.B) {
		for range b.N {
			out := b.TempDir()
			res, err := Prune(context.Background(), Config{Model: model, Out: out, LayerRatio: 0.25, BlockStart: 2, BlockEnd: 10, Samples: samples}, out, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(100*res.Fraction, "%removed")
		}
	})
	b.Run("lora-10-steps", func(b *testing.B) {
		out := b.TempDir()
		if _, err := Prune(context.Background(), Config{Model: model, Out: out, LayerRatio: 0.25, BlockStart: 2, BlockEnd: 10, Samples: samples}, out, nil); err != nil {
			b.Fatal(err)
		}
		text := filepath.Join(b.TempDir(), "text.txt")
		writeText(b, text, 4000)
		b.ResetTimer()
		for range b.N {
			if _, err := Recover(context.Background(), out, LoRAConfig{Steps: 10, Batch: 4, Seqlen: 128, Data: []string{text}}, byteTokenizer{32000}, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(10*4*128*b.N)/b.Elapsed().Seconds(), "train-tokens/s")
	})
}
