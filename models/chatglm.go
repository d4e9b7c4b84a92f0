package models

import (
	"fmt"

	"github.com/llmcbench/gollm/backend"
)

// chatglmArch describes ChatGLM2/3: checkpoint names and shapes, the
// linears of a block and the compression rules.
var chatglmArch = Architecture{
	Name:        "chatglm",
	ModelTypes:  []string{"chatglm"},
	Class:       "ChatGLMModel",
	parse:       parseChatGLM,
	build:       func(b *builder) arch { return buildChatGLM(b) },
	layerFormat: "transformer.encoder.layers.%d.",
	outside: func(c *Config) (before, after []TensorSpec, err error) {
		const p0 = "transformer."
		var b, a tensorList
		b.add(MatrixTensor, p0+"embedding.word_embeddings.weight", c.Vocab, c.Hidden)
		if c.PostLayerNorm {
			a.add(NormTensor, p0+"encoder.final_layernorm.weight", c.Hidden)
		}
		a.add(MatrixTensor, p0+"output_layer.weight", c.Vocab, c.Hidden)
		return b, a, nil
	},
	block: func(c *Config, i int, b *Block) {
		heads, kvHeads := c.LayerHeads(i)
		qd, kvd, inter, h := heads*c.HeadDim, kvHeads*c.HeadDim, c.LayerIntermediate(i), c.Hidden
		b.norm("input_layernorm", h, false)
		b.linear("self_attention.query_key_value", qd+2*kvd, h, c.QKVBias || c.AddBiasLinear)
		b.linear("self_attention.dense", h, qd, c.AddBiasLinear)
		b.norm("post_attention_layernorm", h, false)
		b.linear("mlp.dense_h_to_4h", 2*inter, h, c.AddBiasLinear)
		b.linear("mlp.dense_4h_to_h", h, inter, c.AddBiasLinear)
	},
	rules: func(c *Config) Rules {
		seq := [][]string{{"self_attention.query_key_value"}, {"self_attention.dense"}, {"mlp.dense_h_to_4h"}, {"mlp.dense_4h_to_h"}}
		r := Rules{Inputs: seq, TrueSequential: seq, AttnOut: "self_attention.dense", MLP: MLPFusedGated,
			MLPLinears: []string{"mlp.dense_h_to_4h", "mlp.dense_4h_to_h"}}
		ln1, ln2 := NormSpec{Short: "input_layernorm", Width: c.Hidden}, NormSpec{Short: "post_attention_layernorm", Width: c.Hidden}
		if !c.ResidualPostLN {
			// With the residual taken after the norm, scaling the norm
			// would change the residual stream.
			r.AWQ = []ScaleGroup{
				{Norm: &ln1, Layers: []string{"self_attention.query_key_value"}, Inspect: "attn"},
				{Norm: &ln2, Layers: []string{"mlp.dense_h_to_4h"}, Inspect: "mlp"},
			}
			r.Smooth = []SmoothPair{
				{Norm: ln1, Layers: []string{"self_attention.query_key_value"}},
				{Norm: ln2, Layers: []string{"mlp.dense_h_to_4h"}},
			}
		}
		// The up half is the last rows of the fused dense_h_to_4h, which
		// is what the reference's scale_fc_fc divides.
		r.AWQ = append(r.AWQ, ScaleGroup{Prev: "mlp.dense_h_to_4h", Layers: []string{"mlp.dense_4h_to_h"}})
		return r
	},
	trainEmbed: func(o TrainOps, c *Config, ids []int, _ int) (TrainValue, error) {
		return o.Embedding(o.Param("transformer.embedding.word_embeddings.weight"), ids), nil
	},
	trainBlock: trainChatGLMBlock,
	trainHead: func(o TrainOps, c *Config, x TrainValue) TrainValue {
		h := x
		if c.PostLayerNorm {
			h = trainGLMNorm(o, c, x, "transformer.encoder.final_layernorm.weight")
		}
		return o.MatMul(h, o.Param("transformer.output_layer.weight"))
	},
}

// parseChatGLM reads a ChatGLM2/3 config.json.
func parseChatGLM(f *fields, c *Config) {
	c.Vocab = f.integer(true, "padded_vocab_size", "vocab_size")
	c.Hidden = f.integer(true, "hidden_size")
	c.Intermediate = f.integer(true, "ffn_hidden_size")
	c.Layers = f.integer(true, "num_layers")
	c.Heads = f.integer(true, "num_attention_heads")
	c.HeadDim = f.integer(false, "kv_channels")
	if c.HeadDim == 0 && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.MultiQueryAttn = f.boolean("multi_query_attention", false)
	c.KVHeads = c.Heads
	if c.MultiQueryAttn {
		c.KVHeads = f.integer(true, "multi_query_group_num")
	}
	c.MaxPos = f.integer(false, "seq_length")
	c.NormEps = f.epsilon(1e-5, "layernorm_epsilon")
	c.TieEmbed = false
	c.HiddenAct = "swiglu"
	c.RMSNorm = f.boolean("rmsnorm", true)
	c.PostLayerNorm = f.boolean("post_layer_norm", true)
	c.ResidualPostLN = f.boolean("apply_residual_connection_post_layernorm", false)
	c.AddBiasLinear = f.boolean("add_bias_linear", false)
	c.QKVBias = f.boolean("add_qkv_bias", false)
	if f.r.has("original_rope") && !f.boolean("original_rope", true) {
		f.fail(fmt.Errorf("original_rope=false is not supported (ChatGLM's own code supports only the original rotary)"))
	}
	ratio := f.float(1, "rope_ratio")
	if !(ratio > 0) {
		f.fail(fmt.Errorf("field \"rope_ratio\" = %v must be positive", ratio))
	}
	c.Rope = RopeConfig{Theta: 10000 * ratio, Type: "default", RotaryDim: c.HeadDim / 2, Interleaved: true}
}

// trainChatGLMBlock is chatglm.block on TrainOps.
func trainChatGLMBlock(o TrainOps, c *Config, i int, p string, x TrainValue) TrainValue {
	heads, kvHeads := c.LayerHeads(i)
	inter := c.LayerIntermediate(i)
	qd, kvd := heads*c.HeadDim, kvHeads*c.HeadDim
	h := trainGLMNorm(o, c, x, p+"input_layernorm.weight")
	qkv := o.Linear(o.Input("self_attention.query_key_value", h), p+"self_attention.query_key_value")
	q := o.RoPE(o.Cols(qkv, 0, qd), heads)
	k := o.RoPE(o.Cols(qkv, qd, qd+kvd), kvHeads)
	v := o.Cols(qkv, qd+kvd, qd+2*kvd)
	q, k, v = o.QKV(q, k, v)
	a := o.Attention(q, k, v, heads, kvHeads)
	out := o.Linear(o.Input("self_attention.dense", a), p+"self_attention.dense")
	res := x
	if c.ResidualPostLN {
		res = h
	}
	x = o.Add(res, out)
	h = trainGLMNorm(o, c, x, p+"post_attention_layernorm.weight")
	f := o.Linear(o.Input("mlp.dense_h_to_4h", h), p+"mlp.dense_h_to_4h")
	s := o.SwiGLU(o.Cols(f, 0, inter), o.Cols(f, inter, 2*inter))
	out = o.Linear(o.Input("mlp.dense_4h_to_h", s), p+"mlp.dense_4h_to_h")
	res = x
	if c.ResidualPostLN {
		res = h
	}
	return o.Add(res, out)
}

// trainGLMNorm is chatglm.norm on TrainOps: RMSNorm, or LayerNorm without
// bias.
func trainGLMNorm(o TrainOps, c *Config, x TrainValue, gain string) TrainValue {
	if c.RMSNorm {
		return o.RMSNorm(x, o.Param(gain), c.NormEps)
	}
	return o.LayerNorm(x, o.Param(gain), nil, c.NormEps)
}

type glmBlock struct {
	ln1, ln2   backend.Weight
	qkv, dense *Linear
	h4h, fourH *Linear
}

// chatglm is ChatGLM2/3: fused QKV with bias, multi-query groups, rotary on
// the first half of each head with interleaved pairs, SwiGLU from a fused
// dense_h_to_4h, RMSNorm, untied output_layer.
type chatglm struct {
	m      *Model
	embedW backend.Weight
	final  backend.Weight
	out    *Linear
	blocks []glmBlock
}

func buildChatGLM(b *builder) *chatglm {
	c := b.m.Config
	a := &chatglm{m: b.m}
	const p0 = "transformer."
	a.embedW = b.vec(p0+"embedding.word_embeddings.weight", c.Vocab, c.Hidden)
	a.blocks = make([]glmBlock, c.Layers)
	if !b.lazy {
		for i := 0; i < c.Layers && b.err == nil; i++ {
			a.loadBlock(b, i)
		}
	}
	if c.PostLayerNorm {
		a.final = b.vec(p0+"encoder.final_layernorm.weight", c.Hidden)
	}
	a.out = b.linear(-1, p0+"output_layer", "output_layer", c.Vocab, c.Hidden, false)
	return a
}

func (a *chatglm) loadBlock(b *builder, i int) {
	n, l := b.block(i)
	a.blocks[i] = glmBlock{ln1: n[0].g, ln2: n[1].g, qkv: l[0], dense: l[1], h4h: l[2], fourH: l[3]}
}

func (a *chatglm) dropBlock(i int) { a.blocks[i] = glmBlock{} }

func (a *chatglm) norm(dst, x backend.Tensor, g backend.Weight) {
	c := a.m.Config
	if c.RMSNorm {
		a.m.Backend.RMSNorm(dst, x, g, c.NormEps)
	} else {
		a.m.Backend.LayerNorm(dst, x, g, nil, c.NormEps)
	}
}

func (a *chatglm) embed(s *State, x backend.Tensor, ids []int, _ int) {
	a.m.Backend.Embedding(x, a.embedW, ids)
}

func (a *chatglm) block(s *State, i int, x backend.Tensor, pos0 int) {
	c, m, be := a.m.Config, a.m, a.m.Backend
	bl := &a.blocks[i]
	n := x.Rows()
	heads, kvHeads := c.LayerHeads(i)
	inter := c.LayerIntermediate(i)
	qd, kvd := heads*c.HeadDim, kvHeads*c.HeadDim
	h := s.buf("h", n, c.Hidden)
	qkv := s.buf("qkv", n, qd+2*kvd)
	q := s.buf("q", n, qd)
	k := s.buf("k", n, kvd)
	v := s.buf("v", n, kvd)
	att := s.buf("att", n, qd)
	o := s.buf("o", n, c.Hidden)
	a.norm(h, x, bl.ln1)
	m.linear(s, bl.qkv, qkv, h)
	be.CopyCols(q, qkv, 0)
	be.CopyCols(k, qkv, qd)
	be.CopyCols(v, qkv, qd+kvd)
	m.attention(s, i, att, q, k, v, pos0, true)
	m.linear(s, bl.dense, o, att)
	if c.ResidualPostLN {
		be.Add(x, h, o)
	} else {
		be.Add(x, x, o)
	}
	a.norm(h, x, bl.ln2)
	f := s.buf("h4h", n, 2*inter)
	g := s.buf("gate", n, inter)
	u := s.buf("up", n, inter)
	m.linear(s, bl.h4h, f, h)
	be.CopyCols(g, f, 0)
	be.CopyCols(u, f, inter)
	be.SwiGLU(g, g, u)
	m.linear(s, bl.fourH, o, g)
	if c.ResidualPostLN {
		be.Add(x, h, o)
	} else {
		be.Add(x, x, o)
	}
}

func (a *chatglm) head(s *State, x backend.Tensor) backend.Tensor {
	if a.final == nil {
		return x
	}
	h := s.buf("final", x.Rows(), x.Cols())
	a.norm(h, x, a.final)
	return h
}

func (a *chatglm) lmHead() *Linear { return a.out }

func (a *chatglm) linears(i int) []*Linear {
	if i < 0 {
		return []*Linear{a.out}
	}
	bl := &a.blocks[i]
	return []*Linear{bl.qkv, bl.dense, bl.h4h, bl.fourH}
}
