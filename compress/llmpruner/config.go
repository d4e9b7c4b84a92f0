// Package llmpruner implements LLM-Pruner (Ma et al., 2023; reference
// horseee/LLM-Pruner hf_prune.py, "block-wise" mode): dependency-aware
// structured pruning of decoder blocks. In every layer of a range it removes
// whole attention heads (under GQA/MQA whole key/value groups: the query
// heads sharing a kv head together with that kv head, so every pruned layer
// is still a valid attention) and whole MLP channels (gate/up rows with the
// matching down column), ranked by a first-order Taylor importance computed
// from one backward pass of the next-token loss over a small calibration
// set. The result is a smaller dense checkpoint in the Hugging Face layout.
//
// See docs/LLMPRUNER.md for the exact definition of Sparsity, the config
// keys written for per-layer sizes, and the deviations from the reference.
package llmpruner

import (
	"fmt"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/corpus"
)

// badInput is a bad configuration or unusable input (model folder,
// calibration text): an error wrapping badinput.ErrBadInput, which the CLI
// maps to exit code 2.
func badInput(format string, args ...any) error {
	return fmt.Errorf("llm-pruner: %w: %s", badinput.ErrBadInput, fmt.Sprintf(format, args...))
}

// Importance criteria (Config.Importance). The reference's names are
// accepted as aliases: param_first, vectorize, param_mix.
const (
	// Element1 is the element-wise first-order Taylor importance
	// ("param_first", the reference default): for every vector (row or
	// column) of a coupled group, Σ|W ⊙ ∂L/∂W|; the group's importance is
	// the sum over its vectors.
	Element1 = "element1"
	// Vector is the vector-wise first-order importance ("vectorize"):
	// |Σ W ⊙ ∂L/∂W| per vector, summed over the group.
	Vector = "vector"
	// Element2 is the mixed first/second-order importance ("param_mix"):
	// Σ|W⊙∂L/∂W − ½·W⊙F⊙W| per vector, F the diagonal Fisher estimate
	// Σ_samples (∂L_s/∂W)²/N from one backward pass per calibration sample.
	Element2 = "element2"
)

// Reference calibration defaults (hf_prune.py: get_examples("bookcorpus",
// tokenizer, num_examples=10, seq_len=64), random.seed(42)).
const (
	DefaultNSamples = 10
	DefaultSeqlen   = 64
	DefaultSeed     = 42
)

// Tokenizer turns calibration text into token ids: corpus.Encoder, which
// tokenizer.Tokenizer satisfies.
type Tokenizer = corpus.Encoder

// Config is one LLM-Pruner run.
type Config struct {
	// Model is the Hugging Face folder to prune; Out the output folder
	// the caller moves the written folder to (recorded in config.json).
	Model, Out string

	// Sparsity is the fraction of ALL the model's parameters (embeddings,
	// norms and head included, a tied head counted once) to remove, taken
	// from the attention heads and MLP channels of layers
	// [BlockStart, BlockEnd): every layer of the range gets the same
	// number of kv groups and channels removed, chosen so that the removed
	// count is as close as whole groups allow. 0 means "use LayerRatio".
	Sparsity float64
	// LayerRatio is the reference's --pruning_ratio instead: the fraction
	// of heads (rounded down to whole kv groups) and of MLP channels
	// removed in every layer of the range (0.25 over layers 4–30 of 32
	// removes ~20% of LLaMA-7B). Exactly one of Sparsity and LayerRatio is
	// set.
	LayerRatio float64
	// BlockStart and BlockEnd bound the pruned layers [BlockStart,
	// BlockEnd); BlockEnd 0 means the last layer (the whole model from
	// BlockStart).
	BlockStart, BlockEnd int
	// Importance is Element1 (default, ""), Vector or Element2.
	Importance string

	// Calib lists calibration text files: JSON lines with a "text" field
	// (optionally .gz), or plain text with one document per non-empty line
	// (BookCorpus's rows are lines).
	Calib []string
	// Samples, when set, is the calibration set itself (token ids, every
	// sample the same length); Calib, NSamples, Seqlen and Seed are then
	// not used. It lets a caller reuse another calibration loader.
	Samples [][]int
	// NSamples and Seqlen size the calibration set (0: 10 and 64).
	NSamples, Seqlen int
	// Seed seeds the sampling; negative means the reference seed 42.
	Seed int64
	// Tokenizer encodes the calibration text; nil means the model folder's
	// own tokenizer.
	Tokenizer Tokenizer
}

// Defaults returns the reference settings: element-wise first-order
// importance, 10 × 64 calibration tokens, seed 42, the whole model.
func Defaults() Config {
	return Config{Importance: Element1, NSamples: DefaultNSamples, Seqlen: DefaultSeqlen, Seed: DefaultSeed}
}

// importance returns the canonical importance name.
func (c *Config) importance() string {
	switch c.Importance {
	case "", Element1, "param_first", "taylor":
		return Element1
	case Vector, "vectorize":
		return Vector
	case Element2, "param_mix", "mix":
		return Element2
	}
	return c.Importance
}

func (c *Config) nsamples() int {
	if c.NSamples == 0 {
		return DefaultNSamples
	}
	return c.NSamples
}

func (c *Config) seqlen() int {
	if c.Seqlen == 0 {
		return DefaultSeqlen
	}
	return c.Seqlen
}

func (c *Config) seed() int64 {
	if c.Seed < 0 {
		return DefaultSeed
	}
	return c.Seed
}

// Validate checks what can be checked without reading the model; errors
// wrap badinput.ErrBadInput. The layer range is checked against the model in Prune.
func (c *Config) Validate() error {
	if c.Model == "" {
		return badInput("no model folder")
	}
	switch {
	case c.Sparsity != 0 && c.LayerRatio != 0:
		return badInput("set sparsity or layer ratio, not both")
	case c.Sparsity == 0 && c.LayerRatio == 0:
		return badInput("no sparsity (a fraction of the model's parameters in (0, 1))")
	case c.Sparsity != 0 && !(c.Sparsity > 0 && c.Sparsity < 1):
		return badInput("sparsity %v outside (0, 1)", c.Sparsity)
	case c.LayerRatio != 0 && !(c.LayerRatio > 0 && c.LayerRatio < 1):
		return badInput("layer ratio %v outside (0, 1)", c.LayerRatio)
	}
	if c.BlockStart < 0 || c.BlockEnd < 0 || (c.BlockEnd != 0 && c.BlockEnd <= c.BlockStart) {
		return badInput("--block-start %d, --block-end %d: the layer range is empty or negative", c.BlockStart, c.BlockEnd)
	}
	switch c.importance() {
	case Element1, Vector, Element2:
	default:
		return badInput("importance %q unknown (element1, vector or element2)", c.Importance)
	}
	if c.Samples != nil {
		if len(c.Samples) == 0 || len(c.Samples[0]) < 2 {
			return badInput("calibration samples empty or shorter than 2 tokens")
		}
		for i, s := range c.Samples {
			if len(s) != len(c.Samples[0]) {
				return badInput("calibration sample %d has %d tokens, sample 0 has %d", i, len(s), len(c.Samples[0]))
			}
		}
		return nil
	}
	if len(c.Calib) == 0 {
		return badInput("no calibration files")
	}
	if c.NSamples < 0 || c.Seqlen < 0 || (c.Seqlen != 0 && c.Seqlen < 2) {
		return badInput("calibration size %d × %d", c.NSamples, c.Seqlen)
	}
	return nil
}
