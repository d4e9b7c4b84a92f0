package models

import (
	"bytes"
	"fmt"

	"github.com/llmcbench/gollm/backend"
)

// llamaArch describes the LLaMA family: checkpoint names and shapes, the
// linears of a block and the compression rules.
var llamaArch = Architecture{
	Name:       "llama",
	ModelTypes: []string{"llama", "mistral", "vicuna"},
	Class:      "LlamaForCausalLM",
	parse:      parseLlama,
	check: func(c *Config) error {
		if c.HiddenAct != "silu" {
			return fmt.Errorf("hidden_act %s is not supported (silu)", quote(c.HiddenAct))
		}
		return nil
	},
	build:       func(b *builder) arch { return buildLlama(b) },
	layerFormat: "model.layers.%d.",
	outside: func(c *Config) (before, after []TensorSpec, err error) {
		var b, a tensorList
		b.add(MatrixTensor, "model.embed_tokens.weight", c.Vocab, c.Hidden)
		a.add(NormTensor, "model.norm.weight", c.Hidden)
		if !c.TieEmbed {
			a.add(MatrixTensor, "lm_head.weight", c.Vocab, c.Hidden)
		}
		return b, a, nil
	},
	block: func(c *Config, i int, b *Block) {
		heads, kvHeads := c.LayerHeads(i)
		qd, kvd, inter, h := heads*c.HeadDim, kvHeads*c.HeadDim, c.LayerIntermediate(i), c.Hidden
		b.norm("input_layernorm", h, false)
		b.linear("self_attn.q_proj", qd, h, c.AttentionBias)
		b.linear("self_attn.k_proj", kvd, h, c.AttentionBias)
		b.linear("self_attn.v_proj", kvd, h, c.AttentionBias)
		b.linear("self_attn.o_proj", h, qd, c.AttentionBias)
		b.norm("post_attention_layernorm", h, false)
		b.linear("mlp.gate_proj", inter, h, c.MLPBias)
		b.linear("mlp.up_proj", inter, h, c.MLPBias)
		b.linear("mlp.down_proj", h, inter, c.MLPBias)
	},
	rules: func(c *Config) Rules {
		qkv := []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}
		r := Rules{
			Inputs:         [][]string{qkv, {"self_attn.o_proj"}, {"mlp.gate_proj", "mlp.up_proj"}, {"mlp.down_proj"}},
			TrueSequential: [][]string{{"self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"}, {"self_attn.o_proj"}, {"mlp.up_proj", "mlp.gate_proj"}, {"mlp.down_proj"}},
			AttnOut:        "self_attn.o_proj",
			MLP:            MLPGated,
			MLPLinears:     []string{"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"},
		}
		ln1, ln2 := NormSpec{Short: "input_layernorm", Width: c.Hidden}, NormSpec{Short: "post_attention_layernorm", Width: c.Hidden}
		r.AWQ = []ScaleGroup{{Norm: &ln1, Layers: qkv, Inspect: "attn"}}
		// v→o only when the shapes match (skipped under grouped-query
		// attention, llm-awq PR #67).
		if c.KVHeads*c.HeadDim == c.Hidden && c.Heads*c.HeadDim == c.Hidden {
			r.AWQ = append(r.AWQ, ScaleGroup{Prev: "self_attn.v_proj", Layers: []string{"self_attn.o_proj"}})
		}
		r.AWQ = append(r.AWQ,
			ScaleGroup{Norm: &ln2, Layers: []string{"mlp.gate_proj", "mlp.up_proj"}, Inspect: "mlp"},
			ScaleGroup{Prev: "mlp.up_proj", Layers: []string{"mlp.down_proj"}},
		)
		r.Smooth = []SmoothPair{{Norm: ln1, Layers: qkv}, {Norm: ln2, Layers: []string{"mlp.gate_proj", "mlp.up_proj"}}}
		return r
	},
	trainEmbed: func(o TrainOps, c *Config, ids []int, _ int) (TrainValue, error) {
		return o.Embedding(o.Param("model.embed_tokens.weight"), ids), nil
	},
	trainBlock: trainLlamaBlock,
	trainHead: func(o TrainOps, c *Config, x TrainValue) TrainValue {
		h := o.RMSNorm(x, o.Param("model.norm.weight"), c.NormEps)
		w := "lm_head.weight"
		if c.TieEmbed {
			w = "model.embed_tokens.weight"
		}
		return o.MatMul(h, o.Param(w))
	},
}

// parseLlama reads a LLaMA-family config.json.
func parseLlama(f *fields, c *Config) {
	c.Vocab = f.integer(true, "vocab_size")
	c.Hidden = f.integer(true, "hidden_size")
	c.Intermediate = f.integer(true, "intermediate_size")
	c.Layers = f.integer(true, "num_hidden_layers")
	c.Heads = f.integer(true, "num_attention_heads")
	c.KVHeads = f.integer(false, "num_key_value_heads")
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	c.HeadDim = f.integer(false, "head_dim")
	if c.HeadDim == 0 && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if v, ok := f.r["max_position_embeddings"]; ok && bytes.Equal(v, []byte("null")) {
		// transformers has no fallback for an explicit null (its rotary
		// embedding then has no length): refuse it.
		f.fail(fmt.Errorf("field \"max_position_embeddings\" is null (want a positive size, or leave it out for the default 2048)"))
	}
	c.MaxPos = f.integer(false, "max_position_embeddings")
	c.NormEps = f.epsilon(1e-6, "rms_norm_eps")
	c.TieEmbed = f.boolean("tie_word_embeddings", false)
	c.HiddenAct = f.str("hidden_act")
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	c.AttentionBias = f.boolean("attention_bias", false)
	c.MLPBias = f.boolean("mlp_bias", false)
	if err := parseRope(f.r, c); err != nil {
		f.fail(err)
	}
	c.Rope.RotaryDim = c.HeadDim
}

// trainLlamaBlock is llama.block on TrainOps.
func trainLlamaBlock(o TrainOps, c *Config, i int, p string, x TrainValue) TrainValue {
	heads, kvHeads := c.LayerHeads(i)
	h := o.Input("self_attn.q_proj", o.RMSNorm(x, o.Param(p+"input_layernorm.weight"), c.NormEps))
	q := o.RoPE(o.Linear(h, p+"self_attn.q_proj"), heads)
	k := o.RoPE(o.Linear(h, p+"self_attn.k_proj"), kvHeads)
	v := o.Linear(h, p+"self_attn.v_proj")
	q, k, v = o.QKV(q, k, v)
	a := o.Attention(q, k, v, heads, kvHeads)
	x = o.Add(x, o.Linear(o.Input("self_attn.o_proj", a), p+"self_attn.o_proj"))
	h = o.Input("mlp.gate_proj", o.RMSNorm(x, o.Param(p+"post_attention_layernorm.weight"), c.NormEps))
	s := o.SwiGLU(o.Linear(h, p+"mlp.gate_proj"), o.Linear(h, p+"mlp.up_proj"))
	return o.Add(x, o.Linear(o.Input("mlp.down_proj", s), p+"mlp.down_proj"))
}

// llamaBlock is one LLaMA decoder layer.
type llamaBlock struct {
	ln1, ln2       backend.Weight
	q, k, v, o     *Linear
	gate, up, down *Linear
}

// llama is the LLaMA family (LLaMA 1/2/3, Vicuna, Mistral-style): RMSNorm,
// rotary positions, grouped-query attention, SwiGLU MLP.
type llama struct {
	m      *Model
	embedW backend.Weight
	norm   backend.Weight
	lm     *Linear
	blocks []llamaBlock
}

func buildLlama(b *builder) *llama {
	c := b.m.Config
	a := &llama{m: b.m}
	a.embedW = b.vec("model.embed_tokens.weight", c.Vocab, c.Hidden)
	a.blocks = make([]llamaBlock, c.Layers)
	if !b.lazy {
		for i := 0; i < c.Layers && b.err == nil; i++ {
			a.loadBlock(b, i)
		}
	}
	a.norm = b.vec("model.norm.weight", c.Hidden)
	headName := "lm_head"
	if c.TieEmbed || !b.src.has("lm_head.weight") && b.src.has("model.embed_tokens.weight") && !hasPacked(b, "lm_head") {
		headName = "model.embed_tokens"
	}
	a.lm = b.linear(-1, headName, "lm_head", c.Vocab, c.Hidden, false)
	return a
}

func (a *llama) loadBlock(b *builder, i int) {
	n, l := b.block(i)
	a.blocks[i] = llamaBlock{ln1: n[0].g, ln2: n[1].g, q: l[0], k: l[1], v: l[2], o: l[3], gate: l[4], up: l[5], down: l[6]}
}

func (a *llama) dropBlock(i int) { a.blocks[i] = llamaBlock{} }

// hasPacked reports whether a packed-format loader recognises prefix.
func hasPacked(b *builder, prefix string) bool {
	return b.src.has(prefix+".qweight") || b.src.has(prefix+".weight_packed")
}

func (a *llama) embed(s *State, x backend.Tensor, ids []int, _ int) {
	a.m.Backend.Embedding(x, a.embedW, ids)
}

func (a *llama) block(s *State, i int, x backend.Tensor, pos0 int) {
	c, m, be := a.m.Config, a.m, a.m.Backend
	bl := &a.blocks[i]
	n := x.Rows()
	h := s.buf("h", n, c.Hidden)
	heads, kvHeads := c.LayerHeads(i)
	inter := c.LayerIntermediate(i)
	q := s.buf("q", n, heads*c.HeadDim)
	k := s.buf("k", n, kvHeads*c.HeadDim)
	v := s.buf("v", n, kvHeads*c.HeadDim)
	att := s.buf("att", n, heads*c.HeadDim)
	be.RMSNorm(h, x, bl.ln1, c.NormEps)
	m.linear(s, bl.q, q, h)
	m.linear(s, bl.k, k, h)
	m.linear(s, bl.v, v, h)
	m.attention(s, i, att, q, k, v, pos0, true)
	m.linear(s, bl.o, h, att)
	be.Add(x, x, h)
	be.RMSNorm(h, x, bl.ln2, c.NormEps)
	g := s.buf("gate", n, inter)
	u := s.buf("up", n, inter)
	m.linear(s, bl.gate, g, h)
	m.linear(s, bl.up, u, h)
	be.SwiGLU(g, g, u)
	m.linear(s, bl.down, h, g)
	be.Add(x, x, h)
}

func (a *llama) head(s *State, x backend.Tensor) backend.Tensor {
	h := s.buf("final", x.Rows(), x.Cols())
	a.m.Backend.RMSNorm(h, x, a.norm, a.m.Config.NormEps)
	return h
}

func (a *llama) lmHead() *Linear { return a.lm }

func (a *llama) linears(i int) []*Linear {
	if i < 0 {
		return []*Linear{a.lm}
	}
	bl := &a.blocks[i]
	return []*Linear{bl.q, bl.k, bl.v, bl.o, bl.gate, bl.up, bl.down}
}
