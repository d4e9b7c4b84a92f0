package compress

import (
	"context"
	"fmt"
	"io"

	"github.com/llmcbench/gollm/compress/llmpruner"
)

// llmPruner is LLM-Pruner: whole attention kv groups and MLP channels
// removed by gradient importance, optionally followed by LoRA recovery. It
// needs the gradients of the whole model, so it is a modelMethod: the
// pruning and recovery are package compress/llmpruner's
// (llmpruner.PruneRecover); this file owns its spec parameters and its
// part of the record.
type llmPruner struct{}

func (llmPruner) Info() MethodInfo {
	return MethodInfo{Name: LLMPruner, Doc: "remove whole attention kv groups and MLP channels by gradient importance (LLM-Pruner), optionally LoRA recovery", Params: []Param{
		{Key: "sparsity", Type: "float", Default: "0", Flag: "sparsity", Doc: "fraction of all parameters removed (0: use layer_ratio)",
			check: func(v float64) string { return unless(v >= 0 && v < 1, "want a fraction in [0, 1)") }},
		{Key: "layer_ratio", Type: "float", Default: "0", Doc: "fraction of heads and channels removed per layer (the reference's --pruning_ratio; 0: use sparsity)",
			check: func(v float64) string { return unless(v >= 0 && v < 1, "want a fraction in [0, 1)") }},
		{Key: "block_start", Type: "int", Default: "0", Flag: "block-start", Doc: "first pruned layer", check: atLeast(0)},
		{Key: "block_end", Type: "int", Default: "auto", Flag: "block-end", Doc: "end of the pruned layers, exclusive (auto: the last layer)", check: atLeast(1)},
		{Key: "importance", Type: "choice", Default: "element1", Choices: []string{"element1", "vector", "element2"}, Flag: "importance",
			Doc:     "importance: element-wise first-order, vector-wise, or mixed first/second-order",
			aliases: map[string]string{"param_first": "element1", "taylor": "element1", "vectorize": "vector", "param_mix": "element2", "mix": "element2"}},
		nsamplesParam(10), seqlenParam("64"), seedParam(42),
		{Key: "lora_steps", Type: "int", Default: "0", Flag: "lora-steps", Doc: "LoRA recovery steps after pruning (0: none)", check: atLeast(0)},
		{Key: "lora_rank", Type: "int", Default: "8", Flag: "lora-rank", Doc: "LoRA rank", check: atLeast(1)},
		{Key: "lora_alpha", Type: "float", Default: "16", Flag: "lora-alpha", Doc: "LoRA alpha (scaling alpha/rank)", check: positive},
		{Key: "lora_lr", Type: "float", Default: "0.0001", Flag: "lora-lr", Doc: "LoRA peak learning rate", check: positive},
		{Key: "lora_batch", Type: "int", Default: "4", Flag: "lora-batch", Doc: "LoRA windows per step", check: atLeast(1)},
		{Key: "lora_seqlen", Type: "int", Default: "128", Flag: "lora-seqlen", Doc: "LoRA tokens per window", check: atLeast(2)}}}
}

// checkSpec: exactly one of sparsity and layer_ratio, and a non-empty
// layer range.
func (llmPruner) checkSpec(s *Spec) error {
	sp, lr := s.Float("sparsity"), s.Float("layer_ratio")
	if (sp > 0) == (lr > 0) {
		return fmt.Errorf("llm-pruner: give exactly one of sparsity (--sparsity: fraction of all parameters) and layer_ratio (fraction per layer)")
	}
	if end := s.Get("block_end"); end != "auto" && s.Int("block_start") >= s.Int("block_end") {
		return fmt.Errorf("block_start=%d ≥ block_end=%s (--block-start, --block-end): the layer range is empty", s.Int("block_start"), end)
	}
	return nil
}

func (llmPruner) record(c *Config, mc *MethodConfig) { mc.Sparsity = c.Sparsity }

// compress prunes (and recovers) into dir: the recovered checkpoint, never
// the pruned one before recovery, reaches c.Out.
func (llmPruner) compress(ctx context.Context, c *Config, dir string, rec *Record, progress io.Writer) error {
	pc := llmpruner.Config{Model: c.Model, Out: c.Out, Sparsity: c.Sparsity, LayerRatio: c.LayerRatio,
		BlockStart: c.BlockStart, BlockEnd: c.BlockEnd, Importance: c.Importance,
		Calib: c.Calib, Samples: c.Samples, NSamples: c.NSamples, Seqlen: c.Seqlen, Seed: c.Seed, Tokenizer: c.Tokenizer}
	res, lr, err := llmpruner.PruneRecover(ctx, pc, c.LoRA, dir, progress)
	if err != nil {
		return err
	}
	rec.Format = "dense"
	rec.CompressSeconds = res.Seconds
	if lr != nil {
		rec.CompressSeconds += lr.Seconds
	}
	rec.Notes = append(rec.Notes, fmt.Sprintf("removed %d of %d parameters (%.4f)", res.Removed, res.ParamsBefore, res.Fraction))
	return nil
}
