package models

import (
	"fmt"

	"github.com/llmcbench/gollm/backend"
)

// optArch describes Meta's OPT: checkpoint names and shapes, the linears
// of a block and the compression rules.
var optArch = Architecture{
	Name:       "opt",
	ModelTypes: []string{"opt"},
	Class:      "OPTForCausalLM",
	parse:      parseOPT,
	check: func(c *Config) error {
		if c.Hidden%c.Heads != 0 {
			return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
		}
		if c.HiddenAct != "relu" && c.HiddenAct != "gelu" {
			return fmt.Errorf("activation_function %s is not supported (relu, gelu)", quote(c.HiddenAct))
		}
		if !c.LNElementwise {
			return fmt.Errorf("layer_norm_elementwise_affine=false is not supported (OPT's LayerNorms without gain and bias)")
		}
		return nil
	},
	build:       func(b *builder) arch { return buildOPT(b) },
	layerFormat: "model.decoder.layers.%d.",
	outside: func(c *Config) (before, after []TensorSpec, err error) {
		if !c.LNElementwise {
			return nil, nil, fmt.Errorf("OPT without elementwise LayerNorm parameters is not supported")
		}
		const p0 = "model.decoder."
		var b, a tensorList
		b.add(MatrixTensor, p0+"embed_tokens.weight", c.Vocab, c.WordEmbedProjDim)
		b.add(MatrixTensor, p0+"embed_positions.weight", c.MaxPos+optPositionOffset, c.Hidden)
		if c.WordEmbedProjDim != c.Hidden {
			b.linear(p0+"project_in", c.Hidden, c.WordEmbedProjDim, false)
			b.linear(p0+"project_out", c.WordEmbedProjDim, c.Hidden, false)
		}
		if c.DoLayerNormBefore && !c.RemoveFinalLN {
			a.add(NormTensor, p0+"final_layer_norm.weight", c.Hidden)
			a.add(BiasTensor, p0+"final_layer_norm.bias", c.Hidden)
		}
		if !c.TieEmbed {
			a.add(MatrixTensor, "lm_head.weight", c.Vocab, c.WordEmbedProjDim)
		}
		return b, a, nil
	},
	block: func(c *Config, i int, b *Block) {
		// q/k/v/out are sized by the layer's head count (hidden_size
		// unless LLM-Pruner removed heads; head_dim stays hidden_size /
		// num_attention_heads of the unpruned model).
		heads, _ := c.LayerHeads(i)
		qd, inter, h := heads*c.HeadDim, c.LayerIntermediate(i), c.Hidden
		b.norm("self_attn_layer_norm", h, true)
		b.linear("self_attn.q_proj", qd, h, c.EnableBias)
		b.linear("self_attn.k_proj", qd, h, c.EnableBias)
		b.linear("self_attn.v_proj", qd, h, c.EnableBias)
		b.linear("self_attn.out_proj", h, qd, c.EnableBias)
		b.norm("final_layer_norm", h, true)
		b.linear("fc1", inter, h, c.EnableBias)
		b.linear("fc2", h, inter, c.EnableBias)
	},
	rules: func(c *Config) Rules {
		qkv := []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}
		r := Rules{
			Inputs:         [][]string{qkv, {"self_attn.out_proj"}, {"fc1"}, {"fc2"}},
			TrueSequential: [][]string{{"self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"}, {"self_attn.out_proj"}, {"fc1"}, {"fc2"}},
			AttnOut:        "self_attn.out_proj",
			MLP:            MLPPlain,
			MLPLinears:     []string{"fc1", "fc2"},
		}
		ln1 := NormSpec{Short: "self_attn_layer_norm", Width: c.Hidden, Bias: true}
		ln2 := NormSpec{Short: "final_layer_norm", Width: c.Hidden, Bias: true}
		// A norm can absorb a scale only when it feeds the linears
		// directly: pre-LayerNorm OPT (125m, 1.3b…); OPT-350m normalises
		// after.
		pre := c.DoLayerNormBefore
		if pre {
			r.AWQ = append(r.AWQ, ScaleGroup{Norm: &ln1, Layers: qkv, Inspect: "attn"})
		}
		r.AWQ = append(r.AWQ, ScaleGroup{Prev: "self_attn.v_proj", Layers: []string{"self_attn.out_proj"}})
		if pre {
			r.AWQ = append(r.AWQ, ScaleGroup{Norm: &ln2, Layers: []string{"fc1"}})
		}
		r.AWQ = append(r.AWQ, ScaleGroup{Prev: "fc1", Layers: []string{"fc2"}})
		if pre {
			r.Smooth = []SmoothPair{{Norm: ln1, Layers: qkv}, {Norm: ln2, Layers: []string{"fc1"}}}
		}
		return r
	},
	trainEmbed: trainOPTEmbed,
	trainBlock: trainOPTBlock,
	trainHead:  trainOPTHead,
}

// parseOPT reads an OPT config.json.
func parseOPT(f *fields, c *Config) {
	c.Vocab = f.integer(true, "vocab_size")
	c.Hidden = f.integer(true, "hidden_size")
	c.Intermediate = f.integer(true, "ffn_dim")
	c.Layers = f.integer(true, "num_hidden_layers")
	c.Heads = f.integer(true, "num_attention_heads")
	c.KVHeads = c.Heads
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.MaxPos = f.integer(true, "max_position_embeddings")
	c.NormEps = 1e-5
	c.TieEmbed = f.boolean("tie_word_embeddings", true)
	c.HiddenAct = f.str("activation_function")
	if c.HiddenAct == "" {
		c.HiddenAct = "relu"
	}
	c.WordEmbedProjDim = f.integer(false, "word_embed_proj_dim")
	if c.WordEmbedProjDim == 0 {
		c.WordEmbedProjDim = c.Hidden
	}
	c.DoLayerNormBefore = f.boolean("do_layer_norm_before", true)
	c.EnableBias = f.boolean("enable_bias", true)
	c.RemoveFinalLN = f.boolean("_remove_final_layer_norm", false)
	c.LNElementwise = f.boolean("layer_norm_elementwise_affine", true)
}

// optPositionOffset is OPT's learned-position offset: position p reads row p+2.
const optPositionOffset = 2

// trainOPTEmbed is opt.embed on TrainOps.
func trainOPTEmbed(o TrainOps, c *Config, ids []int, seqLen int) (TrainValue, error) {
	if seqLen > c.MaxPos {
		return nil, fmt.Errorf("sequence of %d tokens, OPT's learned positions stop at %d", seqLen, c.MaxPos)
	}
	const p0 = "model.decoder."
	x := o.Embedding(o.Param(p0+"embed_tokens.weight"), ids)
	if c.WordEmbedProjDim != c.Hidden {
		x = o.MatMul(x, o.Param(p0+"project_in.weight"))
	}
	pos := make([]int, len(ids))
	for i := range pos {
		pos[i] = i%seqLen + optPositionOffset
	}
	return o.Add(x, o.Embedding(o.Param(p0+"embed_positions.weight"), pos)), nil
}

// trainOPTBlock is opt.block on TrainOps.
func trainOPTBlock(o TrainOps, c *Config, i int, p string, x TrainValue) TrainValue {
	heads, kvHeads := c.LayerHeads(i)
	ln := func(x TrainValue, name string) TrainValue {
		return o.LayerNorm(x, o.Param(p+name+".weight"), o.Param(p+name+".bias"), c.NormEps)
	}
	in := x
	if c.DoLayerNormBefore {
		in = ln(x, "self_attn_layer_norm")
	}
	in = o.Input("self_attn.q_proj", in)
	q := o.Linear(in, p+"self_attn.q_proj")
	k := o.Linear(in, p+"self_attn.k_proj")
	v := o.Linear(in, p+"self_attn.v_proj")
	q, k, v = o.QKV(q, k, v)
	a := o.Attention(q, k, v, heads, kvHeads)
	x = o.Add(x, o.Linear(o.Input("self_attn.out_proj", a), p+"self_attn.out_proj"))
	if !c.DoLayerNormBefore {
		x = ln(x, "self_attn_layer_norm")
	}
	in = x
	if c.DoLayerNormBefore {
		in = ln(x, "final_layer_norm")
	}
	f := o.Linear(o.Input("fc1", in), p+"fc1")
	if c.HiddenAct == "gelu" {
		f = o.GELU(f)
	} else {
		f = o.ReLU(f)
	}
	x = o.Add(x, o.Linear(o.Input("fc2", f), p+"fc2"))
	if !c.DoLayerNormBefore {
		x = ln(x, "final_layer_norm")
	}
	return x
}

// trainOPTHead is opt.head and the LM head on TrainOps.
func trainOPTHead(o TrainOps, c *Config, x TrainValue) TrainValue {
	const p0 = "model.decoder."
	h := x
	if c.DoLayerNormBefore && !c.RemoveFinalLN {
		h = o.LayerNorm(h, o.Param(p0+"final_layer_norm.weight"), o.Param(p0+"final_layer_norm.bias"), c.NormEps)
	}
	if c.WordEmbedProjDim != c.Hidden {
		h = o.MatMul(h, o.Param(p0+"project_out.weight"))
	}
	w := "lm_head.weight"
	if c.TieEmbed {
		w = p0 + "embed_tokens.weight"
	}
	return o.MatMul(h, o.Param(w))
}

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
	if c.DoLayerNormBefore && !c.RemoveFinalLN {
		a.finalLNg = b.vec(p0+"final_layer_norm.weight", c.Hidden)
		a.finalLNb = b.vec(p0+"final_layer_norm.bias", c.Hidden)
	}
	headName := "model.decoder.embed_tokens"
	if !c.TieEmbed && (b.src.has("lm_head.weight") || hasPacked(b, "lm_head")) {
		headName = "lm_head"
	}
	a.lm = b.linear(-1, headName, "lm_head", c.Vocab, c.WordEmbedProjDim, false)
	return a
}

func (a *opt) loadBlock(b *builder, i int) {
	n, l := b.block(i)
	a.blocks[i] = optBlock{attnLNg: n[0].g, attnLNb: n[0].b, ffnLNg: n[1].g, ffnLNb: n[1].b,
		q: l[0], k: l[1], v: l[2], o: l[3], fc1: l[4], fc2: l[5]}
}

func (a *opt) dropBlock(i int) { a.blocks[i] = optBlock{} }

func (a *opt) layerNorm(dst, x backend.Tensor, g, bias backend.Weight) {
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
