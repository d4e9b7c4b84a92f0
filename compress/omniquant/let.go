package omniquant

import (
	"math"

	"github.com/llmcbench/gollm/grad"
)

// letState holds the learnable equivalent transformation of one LLaMA
// block (no shift, as the reference for LLaMA):
//
//	input_layernorm γ1/sQKV, q/k/v weight columns ·sQKV
//	q rows /sQK, k rows ·sQK (sQK per k channel, tied across each RoPE
//	pair so the rotation commutes; under GQA a q row uses its kv head's)
//	v rows /sVO, o columns ·sVO (o column of head h uses its kv head's)
//	post_attention_layernorm γ2/sFC, gate/up weight columns ·sFC
//
// Each keeps the float function of the block unchanged.
type letState struct {
	b                   *block
	sQKV, sFC, sVO, sQK *grad.Var
	pair                []int // RoPE partner of each k channel within a head (itself if unrotated)
}

// smoothAlpha returns SmoothQuant's migration strength OmniQuant uses.
func (c *Config) smoothAlpha() float64 {
	if c.WBits == 4 && c.ABits == 4 {
		return 0.75
	}
	return 0.5
}

// newLET initialises the scales from SmoothQuant's formula
// s_j = max|X_j|^α / max_i|W_ij|^(1−α) (both clamped to ≥ 1e-5) with the
// activation maxima of the full-precision block on its calibration
// inputs: q_proj's input and weight for sQKV, up_proj's for sFC, o_proj's
// for sVO (under GQA the maxima of the o columns sharing a kv channel are
// combined); sQK starts at 1, as the reference.
func (b *block) newLET(fpIn [][]float32) *letState {
	c := b.r.m.Config
	p := b.r.m.Architecture().LayerPrefix(b.i)
	act := map[string][]float64{}
	eff := b.effective(modeFP)
	for _, x := range fpIn {
		b.blockForward(grad.NewTape(), b.constIn(x), eff, false, func(n string, v *grad.Var) {
			a := act[n]
			if a == nil {
				a = make([]float64, v.Cols)
				act[n] = a
			}
			for r := 0; r < v.Rows; r++ {
				for j, y := range v.Val[r*v.Cols : (r+1)*v.Cols] {
					a[j] = math.Max(a[j], math.Abs(float64(y)))
				}
			}
		})
	}
	colMax := func(n string) []float64 {
		w := b.r.m.Params[p+n+".weight"]
		m := make([]float64, w.Cols)
		for r := 0; r < w.Rows; r++ {
			for j, y := range w.Val[r*w.Cols : (r+1)*w.Cols] {
				m[j] = math.Max(m[j], math.Abs(float64(y)))
			}
		}
		return m
	}
	alpha := b.r.cfg.smoothAlpha()
	smooth := func(a, w []float64) []float32 {
		s := make([]float32, len(a))
		for j := range s {
			v := math.Pow(math.Max(a[j], 1e-5), alpha) / math.Pow(math.Max(w[j], 1e-5), 1-alpha)
			s[j] = float32(math.Max(v, 1e-5))
		}
		return s
	}
	kvd := c.KVHeads * c.HeadDim
	// o_proj: combine the columns of the q heads sharing each kv channel.
	oa, ow := act["self_attn.o_proj"], colMax("self_attn.o_proj")
	va, vw := make([]float64, kvd), make([]float64, kvd)
	for col := range oa {
		k := b.kvChannel(col)
		va[k], vw[k] = math.Max(va[k], oa[col]), math.Max(vw[k], ow[col])
	}
	l := &letState{b: b,
		sQKV: grad.Param(1, c.Hidden, smooth(act["self_attn.q_proj"], colMax("self_attn.q_proj"))),
		sFC:  grad.Param(1, c.Hidden, smooth(act["mlp.gate_proj"], colMax("mlp.up_proj"))), // up_proj reads the gate_proj group's input
		sVO:  grad.Param(1, kvd, smooth(va, vw)),
		sQK:  grad.Param(1, kvd, fill(kvd, 1)),
		pair: make([]int, c.HeadDim),
	}
	half := len(c.Rope.InvFreq())
	for d := range l.pair {
		l.pair[d] = d
		switch {
		case c.Rope.Interleaved && d < 2*half:
			l.pair[d] = d ^ 1
		case !c.Rope.Interleaved && d < half:
			l.pair[d] = d + half
		case !c.Rope.Interleaved && d < 2*half:
			l.pair[d] = d - half
		}
	}
	return l
}

// kvChannel maps a q row (or o column) to the k/v channel of its kv head.
func (b *block) kvChannel(qc int) int {
	c := b.r.m.Config
	h, d := qc/c.HeadDim, qc%c.HeadDim
	return (h/(c.Heads/c.KVHeads))*c.HeadDim + d
}

func (l *letState) params() []*grad.Var { return []*grad.Var{l.sQKV, l.sFC, l.sVO, l.sQK} }

// names returns the parameter-name prefix of the block.
func (l *letState) names() (p string) { return l.b.r.m.Architecture().LayerPrefix(l.b.i) }

// apply replaces the block's norm gains and q/k/v/o/gate/up weights in eff
// by their transformed values, as fresh parameters.
func (l *letState) apply(eff map[string]*grad.Var) {
	p := l.names()
	m := l.b.r.m.Params
	norm := func(n string, s *grad.Var) {
		src := m[p+n]
		v := make([]float32, len(src.Val))
		for j := range v {
			v[j] = src.Val[j] / s.Val[j]
		}
		eff[p+n] = grad.Param(src.Rows, src.Cols, v)
	}
	// scaleW sets w'[r,j] = w[r,j]·col(j)·row(r).
	scaleW := func(n string, col func(j int) float32, row func(r int) float32) {
		src := m[p+n+".weight"]
		v := make([]float32, len(src.Val))
		for r := 0; r < src.Rows; r++ {
			rs := row(r)
			for j := 0; j < src.Cols; j++ {
				v[r*src.Cols+j] = src.Val[r*src.Cols+j] * col(j) * rs
			}
		}
		eff[p+n+".weight"] = grad.Param(src.Rows, src.Cols, v)
	}
	one := func(int) float32 { return 1 }
	qkv := func(j int) float32 { return l.sQKV.Val[j] }
	fc := func(j int) float32 { return l.sFC.Val[j] }
	norm("input_layernorm.weight", l.sQKV)
	norm("post_attention_layernorm.weight", l.sFC)
	scaleW("self_attn.q_proj", qkv, func(r int) float32 { return 1 / l.sQK.Val[l.b.kvChannel(r)] })
	scaleW("self_attn.k_proj", qkv, func(r int) float32 { return l.sQK.Val[r] })
	scaleW("self_attn.v_proj", qkv, func(r int) float32 { return 1 / l.sVO.Val[r] })
	scaleW("self_attn.o_proj", func(j int) float32 { return l.sVO.Val[l.b.kvChannel(j)] }, one)
	scaleW("mlp.gate_proj", fc, one)
	scaleW("mlp.up_proj", fc, one)
}

// backward turns the gradients that reached the transformed tensors in
// eff into gradients of the scales: a tensor proportional to s (or 1/s)
// contributes Σ dW'·W'/s (or its negative).
func (l *letState) backward(eff map[string]*grad.Var) {
	p := l.names()
	c := l.b.r.m.Config
	gQKV, gFC := make([]float64, c.Hidden), make([]float64, c.Hidden)
	kvd := c.KVHeads * c.HeadDim
	gVO, gQK := make([]float64, kvd), make([]float64, kvd)
	// each calls f(r, j, dW'·W') over the tensor's elements with a gradient.
	each := func(n string, f func(r, j int, v float64)) {
		w := eff[p+n]
		if w.Grad == nil {
			return
		}
		for r := 0; r < w.Rows; r++ {
			for j := 0; j < w.Cols; j++ {
				i := r*w.Cols + j
				f(r, j, float64(w.Grad[i])*float64(w.Val[i]))
			}
		}
	}
	each("input_layernorm.weight", func(_, j int, v float64) { gQKV[j] -= v })
	each("post_attention_layernorm.weight", func(_, j int, v float64) { gFC[j] -= v })
	each("self_attn.q_proj.weight", func(r, j int, v float64) { gQKV[j] += v; gQK[l.b.kvChannel(r)] -= v })
	each("self_attn.k_proj.weight", func(r, j int, v float64) { gQKV[j] += v; gQK[r] += v })
	each("self_attn.v_proj.weight", func(r, j int, v float64) { gQKV[j] += v; gVO[r] -= v })
	each("self_attn.o_proj.weight", func(_, j int, v float64) { gVO[l.b.kvChannel(j)] += v })
	each("mlp.gate_proj.weight", func(_, j int, v float64) { gFC[j] += v })
	each("mlp.up_proj.weight", func(_, j int, v float64) { gFC[j] += v })
	// Tie each RoPE pair of sQK: both channels get the pair's gradient.
	hd := c.HeadDim
	tied := make([]float64, kvd)
	for k := range gQK {
		base, d := k-k%hd, k%hd
		tied[k] = gQK[k]
		if q := l.pair[d]; q != d {
			tied[k] += gQK[base+q]
		}
	}
	set := func(s *grad.Var, g []float64) {
		out := make([]float32, len(g))
		for j := range g {
			out[j] = float32(g[j] / float64(s.Val[j]))
		}
		s.Grad = out
	}
	set(l.sQKV, gQKV)
	set(l.sFC, gFC)
	set(l.sVO, gVO)
	set(l.sQK, tied)
}
