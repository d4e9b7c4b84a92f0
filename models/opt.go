package models

import "github.com/llmcbench/gollm/backend"

// optPositionOffset is OPT's learned-position offset: position p reads row p+2.
const optPositionOffset = 2

type optBlock struct {
	attnLNg, attnLNb backend.Weight
	ffnLNg, ffnLNb   backend.Weight
	q, k, v, o       *Linear
	fc1, fc2         *Linear
}

// opt is Meta's OPT: learned positions, LayerNorm before (125m…66b) or after
// (350m) each sub-block, ReLU MLP, biases, optional project_in/project_out.
type opt struct {
	m                  *Model
	embedW, pos        backend.Weight
	projIn, projOut    *Linear
	finalLNg, finalLNb backend.Weight
	lm                 *Linear
	blocks             []optBlock
}

func buildOPT(b *builder) *opt {
	c := b.m.Config
	a := &opt{m: b.m}
	const p0 = "model.decoder."
	a.embedW = b.vec(p0+"embed_tokens.weight", c.Vocab, c.WordEmbedProjDim)
	a.pos = b.vec(p0+"embed_positions.weight", c.MaxPos+optPositionOffset, c.Hidden)
	if c.WordEmbedProjDim != c.Hidden {
		a.projIn = b.linear(-1, p0+"project_in", "project_in", c.Hidden, c.WordEmbedProjDim, false)
		a.projOut = b.linear(-1, p0+"project_out", "project_out", c.WordEmbedProjDim, c.Hidden, false)
	}
	a.blocks = make([]optBlock, c.Layers)
	if !b.lazy {
		for i := 0; i < c.Layers && b.err == nil; i++ {
			a.loadBlock(b, i)
		}
	}
	ln := c.LNElementwise
	if c.DoLayerNormBefore && !c.RemoveFinalLN {
		a.finalLNg = b.optVec(ln, p0+"final_layer_norm.weight", c.Hidden)
		a.finalLNb = b.optVec(ln, p0+"final_layer_norm.bias", c.Hidden)
	}
	headName := "model.decoder.embed_tokens"
	if !c.TieEmbed && (b.src.has("lm_head.weight") || hasPacked(b, "lm_head")) {
		headName = "lm_head"
	}
	a.lm = b.linear(-1, headName, "lm_head", c.Vocab, c.WordEmbedProjDim, false)
	return a
}

func (a *opt) loadBlock(b *builder, i int) {
	c := b.m.Config
	const p0 = "model.decoder."
	ln := c.LNElementwise
	{
		p := layerPrefix(p0+"layers.{i}.", i)
		// Per-layer sizes (LLM-Pruner outputs); hidden_size otherwise.
		heads, _ := c.LayerHeads(i)
		qd, inter := heads*c.HeadDim, c.LayerIntermediate(i)
		a.blocks[i] = (optBlock{
			attnLNg: b.optVec(ln, p+"self_attn_layer_norm.weight", c.Hidden),
			attnLNb: b.optVec(ln, p+"self_attn_layer_norm.bias", c.Hidden),
			ffnLNg:  b.optVec(ln, p+"final_layer_norm.weight", c.Hidden),
			ffnLNb:  b.optVec(ln, p+"final_layer_norm.bias", c.Hidden),
			q:       b.linear(i, p+"self_attn.q_proj", "self_attn.q_proj", qd, c.Hidden, c.EnableBias),
			k:       b.linear(i, p+"self_attn.k_proj", "self_attn.k_proj", qd, c.Hidden, c.EnableBias),
			v:       b.linear(i, p+"self_attn.v_proj", "self_attn.v_proj", qd, c.Hidden, c.EnableBias),
			o:       b.linear(i, p+"self_attn.out_proj", "self_attn.out_proj", c.Hidden, qd, c.EnableBias),
			fc1:     b.linear(i, p+"fc1", "fc1", inter, c.Hidden, c.EnableBias),
			fc2:     b.linear(i, p+"fc2", "fc2", c.Hidden, inter, c.EnableBias),
		})
	}
}

func (a *opt) dropBlock(i int) { a.blocks[i] = optBlock{} }

func (a *opt) layerNorm(dst, x backend.Tensor, g, bias backend.Weight) {
	if g == nil {
		// elementwise_affine=false: plain normalisation.
		panic("models: OPT without elementwise LayerNorm affine parameters is not supported")
	}
	a.m.Backend.LayerNorm(dst, x, g, bias, a.m.Config.NormEps)
}

func (a *opt) embed(s *State, x backend.Tensor, ids []int, pos0 int) {
	c, be := a.m.Config, a.m.Backend
	if a.projIn != nil {
		e := s.buf("emb", len(ids), c.WordEmbedProjDim)
		be.Embedding(e, a.embedW, ids)
		a.m.linear(s, a.projIn, x, e)
	} else {
		be.Embedding(x, a.embedW, ids)
	}
	be.AddRows(x, a.pos, pos0+optPositionOffset)
}

func (a *opt) block(s *State, i int, x backend.Tensor, pos0 int) {
	c, m, be := a.m.Config, a.m, a.m.Backend
	bl := &a.blocks[i]
	n := x.Rows()
	heads, _ := c.LayerHeads(i)
	qd := heads * c.HeadDim
	h := s.buf("h", n, c.Hidden)
	q := s.buf("q", n, qd)
	k := s.buf("k", n, qd)
	v := s.buf("v", n, qd)
	att := s.buf("att", n, qd)
	in := x
	if c.DoLayerNormBefore {
		a.layerNorm(h, x, bl.attnLNg, bl.attnLNb)
		in = h
	}
	m.linear(s, bl.q, q, in)
	m.linear(s, bl.k, k, in)
	m.linear(s, bl.v, v, in)
	m.attention(s, i, att, q, k, v, pos0, false)
	m.linear(s, bl.o, h, att)
	be.Add(x, x, h)
	if !c.DoLayerNormBefore {
		a.layerNorm(x, x, bl.attnLNg, bl.attnLNb)
	}
	in = x
	if c.DoLayerNormBefore {
		a.layerNorm(h, x, bl.ffnLNg, bl.ffnLNb)
		in = h
	}
	f := s.buf("ffn", n, c.LayerIntermediate(i))
	m.linear(s, bl.fc1, f, in)
	if c.HiddenAct == "gelu" {
		be.GELU(f)
	} else {
		be.ReLU(f)
	}
	m.linear(s, bl.fc2, h, f)
	be.Add(x, x, h)
	if !c.DoLayerNormBefore {
		a.layerNorm(x, x, bl.ffnLNg, bl.ffnLNb)
	}
}

func (a *opt) head(s *State, x backend.Tensor) backend.Tensor {
	c := a.m.Config
	h := x
	if a.finalLNg != nil {
		h = s.buf("final", x.Rows(), c.Hidden)
		a.layerNorm(h, x, a.finalLNg, a.finalLNb)
	}
	if a.projOut != nil {
		p := s.buf("projout", x.Rows(), c.WordEmbedProjDim)
		a.m.linear(s, a.projOut, p, h)
		h = p
	}
	return h
}

func (a *opt) lmHead() *Linear { return a.lm }

func (a *opt) linears(i int) []*Linear {
	if i < 0 {
		ls := []*Linear{a.lm}
		if a.projIn != nil {
			ls = append(ls, a.projIn, a.projOut)
		}
		return ls
	}
	bl := &a.blocks[i]
	return []*Linear{bl.q, bl.k, bl.v, bl.o, bl.fc1, bl.fc2}
}
