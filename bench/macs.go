package bench

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
)

// ModelConfig is the part of a model's config.json that Track 4's size and
// MACs depend on.
type ModelConfig struct {
	Hidden, Intermediate, Layers int64
	Heads, KVHeads, HeadDim      int64
	Vocab                        int64
	// Gated is true for a gated MLP (LLaMA's gate/up/down: three
	// matrices), false for OPT's fc1/fc2 (two).
	Gated bool
	// TiedEmbeddings is true when lm_head shares the embedding matrix.
	TiedEmbeddings bool
	// Params is the model's parameter count when known (0: from the
	// shapes). It sizes the decoder linears of models whose layers differ
	// from config.json's uniform shapes (LLM-Pruner's).
	Params int64
}

// ParseModelConfig reads the fields ModelConfig needs from a Hugging Face
// config.json (LLaMA/Mistral/Qwen names, OPT's ffn_dim, ChatGLM's
// num_layers, ffn_hidden_size, padded_vocab_size, multi_query_group_num).
// A config without hidden size, layers, heads or vocabulary is bad input.
func ParseModelConfig(raw json.RawMessage) (ModelConfig, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return ModelConfig{}, badinput.Errorf("model config: %v", err)
	}
	num := func(keys ...string) int64 {
		for _, k := range keys {
			if f, ok := m[k].(float64); ok && f > 0 {
				return int64(f)
			}
		}
		return 0
	}
	c := ModelConfig{
		Hidden:       num("hidden_size", "n_embd", "d_model"),
		Intermediate: num("intermediate_size", "ffn_dim", "ffn_hidden_size", "n_inner"),
		Layers:       num("num_hidden_layers", "num_layers", "n_layer"),
		Heads:        num("num_attention_heads", "n_head"),
		KVHeads:      num("num_key_value_heads", "multi_query_group_num"),
		HeadDim:      num("head_dim", "kv_channels"),
		Vocab:        num("vocab_size", "padded_vocab_size"),
	}
	mt, _ := m["model_type"].(string)
	c.Gated = mt != "opt" && mt != "gpt2"
	if t, ok := m["tie_word_embeddings"].(bool); ok {
		c.TiedEmbeddings = t
	} else {
		c.TiedEmbeddings = mt == "opt" // OPT ties by default, LLaMA does not
	}
	if c.Hidden == 0 || c.Layers == 0 || c.Heads == 0 || c.Vocab == 0 {
		return ModelConfig{}, badinput.Errorf("model config: want hidden_size, num_hidden_layers, num_attention_heads and vocab_size")
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.Intermediate == 0 {
		c.Intermediate = 4 * c.Hidden
	}
	return c, nil
}

// shapeDecoderLinears is the weight count of the decoder's linear layers
// from the uniform shapes: per layer q, k, v, o and the MLP.
func (c ModelConfig) shapeDecoderLinears() int64 {
	q := c.Heads * c.HeadDim
	kv := c.KVHeads * c.HeadDim
	attn := c.Hidden*q + 2*c.Hidden*kv + q*c.Hidden
	mlp := 2 * c.Hidden * c.Intermediate
	if c.Gated {
		mlp = 3 * c.Hidden * c.Intermediate
	}
	return c.Layers * (attn + mlp)
}

// embeddings is the weight count of the token embedding and lm_head.
func (c ModelConfig) embeddings() int64 {
	if c.TiedEmbeddings {
		return c.Vocab * c.Hidden
	}
	return 2 * c.Vocab * c.Hidden
}

// norms is the weight count of the RMS/layer norms (two per layer and the
// final one).
func (c ModelConfig) norms() int64 { return (2*c.Layers + 1) * c.Hidden }

// DecoderLinears is the weight count of the decoder's linear layers: from
// Params less the embeddings and norms when Params is known, else from
// the shapes. One token costs this many multiply-accumulates in them.
func (c ModelConfig) DecoderLinears() int64 {
	if c.Params > 0 {
		if d := c.Params - c.embeddings() - c.norms(); d > 0 {
			return d
		}
	}
	return c.shapeDecoderLinears()
}

// TotalParams is Params, or the count from the shapes.
func (c ModelConfig) TotalParams() int64 {
	if c.Params > 0 {
		return c.Params
	}
	return c.shapeDecoderLinears() + c.embeddings() + c.norms()
}

// attentionMACs is the multiply-accumulates of the attention score (QKᵀ)
// and value (PV) products over a causal prompt of n tokens: token t
// attends to t positions, per head of HeadDim.
func (c ModelConfig) attentionMACs(n int) float64 {
	pairs := float64(n) * float64(n+1) / 2
	return 2 * pairs * float64(c.Layers*c.Heads*c.HeadDim)
}

// specShape is what a spec says about a model's arithmetic.
type specShape struct {
	method   string
	sparsity float64 // fraction of decoder-linear weights zeroed
	pattern  bool    // N:M (a pattern gollm's kernel skips)
	bits     int     // weight bits (16: not quantized)
}

func parseSpecShape(spec string) specShape {
	name, _, _ := strings.Cut(spec, ":")
	p := specParams(spec)
	s := specShape{method: name, bits: 16}
	if v, err := strconv.ParseFloat(p["sparsity"], 64); err == nil && v > 0 && v < 1 {
		s.sparsity = v
	}
	if pat := p["pattern"]; pat != "" && pat != "none" {
		s.pattern = true
		if s.sparsity == 0 {
			var n, m int
			if _, err := fmt.Sscanf(pat, "%d:%d", &n, &m); err == nil && m > 0 && n < m {
				s.sparsity = float64(n) / float64(m)
			}
		}
	}
	if b, err := strconv.Atoi(p["bits"]); err == nil && b > 0 && b < 16 {
		s.bits = b
	}
	if name == "llm-pruner" {
		// Structured pruning removes the weights: Params (or the
		// pruned shapes) already counts what is left.
		s.sparsity, s.pattern = 0, false
	}
	return s
}

// MACs is the multiply-accumulates of one forward pass over tokens tokens
// in the seed's convention (LLMCBench Track 4): every decoder linear and
// lm_head once per token; sparsity (unstructured or N:M) scales the
// decoder linears by the fraction kept; b-bit weights scale them by
// (b/16)²; lm_head stays dense fp16; plus the attention score and value
// products over the causal prompt, unscaled. For LLaMA-2-7B's config and
// 128 tokens: 0.85 T dense, 0.43 T at 50% sparsity, 0.23 T at 8 bits, the
// poster's numbers (docs/BENCH.md, "MACs").
func MACs(cfg ModelConfig, spec string, tokens int) float64 {
	s := parseSpecShape(spec)
	f := (1 - s.sparsity) * float64(s.bits) * float64(s.bits) / 256
	perToken := float64(cfg.DecoderLinears())*f + float64(cfg.Vocab*cfg.Hidden)
	return float64(tokens)*perToken + cfg.attentionMACs(tokens)
}

// GollmMACs is the multiply-accumulates gollm's kernels execute for the
// same forward pass: a 2:4 (N:M) checkpoint runs the sparse kernel, which
// skips the zeros; unstructured sparsity is stored and multiplied dense;
// quantized weights cost one multiply-accumulate each (dequantized, or in
// int8), whatever their bits.
func GollmMACs(cfg ModelConfig, spec string, tokens int) float64 {
	s := parseSpecShape(spec)
	f := 1.0
	if s.pattern {
		f = 1 - s.sparsity
	}
	perToken := float64(cfg.DecoderLinears())*f + float64(cfg.Vocab*cfg.Hidden)
	return float64(tokens)*perToken + cfg.attentionMACs(tokens)
}

// SeedSize is a model's size in bytes in the seed's convention: every
// parameter in fp16, the decoder linears at the spec's weight bits;
// sparse models stored dense (as the seed's checkpoints are); structurally
// pruned models by their remaining parameters. Quantization scales and
// zeros are not counted.
func SeedSize(cfg ModelConfig, spec string) float64 {
	s := parseSpecShape(spec)
	dec := float64(cfg.DecoderLinears())
	rest := float64(cfg.TotalParams()) - dec
	return (dec*float64(s.bits) + rest*16) / 8
}
