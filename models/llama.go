package models

import "github.com/llmcbench/gollm/backend"

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
	c := b.m.Config
	heads, kvHeads := c.LayerHeads(i)
	qd, kvd, inter := heads*c.HeadDim, kvHeads*c.HeadDim, c.LayerIntermediate(i)
	{
		p := layerPrefix("model.layers.{i}.", i)
		a.blocks[i] = (llamaBlock{
			ln1:  b.vec(p+"input_layernorm.weight", c.Hidden),
			ln2:  b.vec(p+"post_attention_layernorm.weight", c.Hidden),
			q:    b.linear(i, p+"self_attn.q_proj", "self_attn.q_proj", qd, c.Hidden, c.AttentionBias),
			k:    b.linear(i, p+"self_attn.k_proj", "self_attn.k_proj", kvd, c.Hidden, c.AttentionBias),
			v:    b.linear(i, p+"self_attn.v_proj", "self_attn.v_proj", kvd, c.Hidden, c.AttentionBias),
			o:    b.linear(i, p+"self_attn.o_proj", "self_attn.o_proj", c.Hidden, qd, c.AttentionBias),
			gate: b.linear(i, p+"mlp.gate_proj", "mlp.gate_proj", inter, c.Hidden, c.MLPBias),
			up:   b.linear(i, p+"mlp.up_proj", "mlp.up_proj", inter, c.Hidden, c.MLPBias),
			down: b.linear(i, p+"mlp.down_proj", "mlp.down_proj", c.Hidden, inter, c.MLPBias),
		})
	}
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
