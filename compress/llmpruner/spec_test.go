package llmpruner_test

import (
	"strconv"
	"testing"

	"github.com/llmcbench/gollm/compress"
	. "github.com/llmcbench/gollm/compress/llmpruner"
)

// The defaults of the llm-pruner method spec (compress.ParseSpec, what the
// CLI passes) are this package's defaults.
func TestSpecDefaults(t *testing.T) {
	sp, err := compress.ParseSpec("llm-pruner:sparsity=0.2")
	if err != nil {
		t.Fatal(err)
	}
	lc := LoRADefaults()
	for key, want := range map[string]string{
		"nsamples": strconv.Itoa(DefaultNSamples), "seqlen": strconv.Itoa(DefaultSeqlen), "seed": strconv.Itoa(DefaultSeed),
		"importance": Element1, "lora_rank": strconv.Itoa(lc.Rank), "lora_alpha": strconv.FormatFloat(lc.Alpha, 'g', -1, 64),
		"lora_lr": strconv.FormatFloat(lc.LR, 'g', -1, 64), "lora_batch": strconv.Itoa(lc.Batch), "lora_seqlen": strconv.Itoa(lc.Seqlen),
	} {
		if got := sp.Get(key); got != want {
			t.Errorf("spec %s=%s, package default %s", key, got, want)
		}
	}
}
