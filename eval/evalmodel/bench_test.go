package evalmodel

import (
	"fmt"
	"testing"

	"github.com/llmcbench/gollm/eval/evalbench"
	"github.com/llmcbench/gollm/models"
)

// bench100M builds the ~110M-parameter LLaMA-shaped model with random
// weights that docs/PERFORMANCE.md measures (hidden 768, 12 layers,
// SwiGLU 2048, vocab 32000, tied head).
func bench100M(b *testing.B) *LM {
	cfg := &models.Config{
		Arch: "llama", ModelType: "llama", Vocab: 32000, Hidden: 768, Intermediate: 2048,
		Layers: 12, Heads: 12, KVHeads: 12, HeadDim: 64, MaxPos: 2048, NormEps: 1e-5, TieEmbed: true,
		HiddenAct: "silu", Rope: models.RopeConfig{Theta: 10000, Type: "default", Factor: 1, RotaryDim: 64},
	}
	m, err := models.FromConfig(cfg, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	return New(m)
}

func BenchmarkEval100M(b *testing.B) {
	lm := bench100M(b)
	b.Run("perplexity/seqlen=512", func(b *testing.B) { evalbench.Perplexity(b, lm, 512) })
	for _, task := range []string{"arc_easy", "mmlu"} {
		for _, c := range []struct {
			reuse bool
			batch int
		}{{true, 1}, {false, 1}, {true, 8}} {
			b.Run(fmt.Sprintf("%s/prefix-reuse=%v/batch=%d", task, c.reuse, c.batch), func(b *testing.B) {
				evalbench.MultipleChoice(b, lm, evalbench.ByteTokenizer{}, task, 4, c.reuse, c.batch)
			})
		}
	}
}
