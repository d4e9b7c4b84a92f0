package models

import "github.com/llmcbench/gollm/backend"

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
	c := b.m.Config
	const p0 = "transformer."
	heads, kvHeads := c.LayerHeads(i)
	qd, kvd, inter := heads*c.HeadDim, kvHeads*c.HeadDim, c.LayerIntermediate(i)
	{
		p := layerPrefix(p0+"encoder.layers.{i}.", i)
		a.blocks[i] = (glmBlock{
			ln1:   b.vec(p+"input_layernorm.weight", c.Hidden),
			ln2:   b.vec(p+"post_attention_layernorm.weight", c.Hidden),
			qkv:   b.linear(i, p+"self_attention.query_key_value", "self_attention.query_key_value", qd+2*kvd, c.Hidden, c.QKVBias || c.AddBiasLinear),
			dense: b.linear(i, p+"self_attention.dense", "self_attention.dense", c.Hidden, qd, c.AddBiasLinear),
			h4h:   b.linear(i, p+"mlp.dense_h_to_4h", "mlp.dense_h_to_4h", 2*inter, c.Hidden, c.AddBiasLinear),
			fourH: b.linear(i, p+"mlp.dense_4h_to_h", "mlp.dense_4h_to_h", c.Hidden, inter, c.AddBiasLinear),
		})
	}
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
