package omniquant

import (
	"context"
	"fmt"
	"math"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
)

// Forward modes of a block.
const (
	modeFP    = iota // original float weights, float activations
	modeRTN          // min/max round-to-nearest weights, no transform
	modeLearn        // current LET transform and LWC clipping
	modeFinal        // folded, quantized weights already in the model
)

// block is the optimisation state of one decoder block.
type block struct {
	r       *run
	i       int
	linears []string // weight prefixes
	params  []string // every parameter name of the block
	group   map[string]int
	up, low map[string]*grad.Var
	let     *letState
	inf     map[[2]int]*grad.Var // +Inf clipping logits for activation quantization
}

func (r *run) newBlock(i int, fpIn [][]float32) *block {
	b := &block{r: r, i: i, linears: r.linearNames(i), params: r.blockNames(i),
		group: map[string]int{}, up: map[string]*grad.Var{}, low: map[string]*grad.Var{},
		inf: map[[2]int]*grad.Var{}}
	for _, name := range b.linears {
		w := r.m.Params[name+".weight"]
		g := r.cfg.GroupSize
		if g <= 0 {
			g = w.Cols
		}
		b.group[name] = g
		n := w.Rows * (w.Cols / g)
		b.up[name] = grad.Param(w.Rows, w.Cols/g, fill(n, LWCInit))
		b.low[name] = grad.Param(w.Rows, w.Cols/g, fill(n, LWCInit))
	}
	if r.cfg.LET {
		b.let = b.newLET(fpIn)
	}
	return b
}

func fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func (b *block) constIn(x []float32) *grad.Var {
	return grad.Const(len(x)/b.r.m.Config.Hidden, b.r.m.Config.Hidden, x)
}

// effective returns the block's parameters as the forward of mode sees
// them before weight quantization: constant views of the model's values,
// or, under LET in modeLearn, the transformed values as fresh parameters
// (their gradients feed the scales; see letState.backward).
func (b *block) effective(mode int) map[string]*grad.Var {
	eff := make(map[string]*grad.Var, len(b.params))
	for _, n := range b.params {
		p := b.r.m.Params[n]
		eff[n] = grad.Const(p.Rows, p.Cols, p.Val)
	}
	if mode == modeLearn && b.let != nil {
		b.let.apply(eff)
	}
	return eff
}

// forward runs the block on x in the given mode.
func (b *block) forward(t *grad.Tape, x *grad.Var, mode int) *grad.Var {
	return b.forwardEff(t, x, mode, b.effective(mode))
}

func (b *block) forwardEff(t *grad.Tape, x *grad.Var, mode int, eff map[string]*grad.Var) *grad.Var {
	bits := b.r.cfg.WBits
	ws := make(map[string]*grad.Var, len(eff))
	for n, v := range eff {
		ws[n] = v
	}
	for _, name := range b.linears {
		w := eff[name+".weight"]
		switch {
		case mode == modeRTN || (mode == modeLearn && !b.r.cfg.LWC):
			ws[name+".weight"] = t.FakeQuant(w, bits, b.group[name])
		case mode == modeLearn:
			ws[name+".weight"] = t.FakeQuantLWC(w, b.up[name], b.low[name], bits, b.group[name])
		}
	}
	return b.blockForward(t, x, ws, mode != modeFP && !b.r.cfg.weightOnly(), nil)
}

// blockForward runs the model's block on x with the parameters in w
// replacing the model's. If aq, activations are fake-quantized per token
// at the input of every group of linears and on q, k (after RoPE) and v
// per token and head, as the reference's QuantLinear and QuantMatMul do
// (the attention probabilities stay in float: deviation). capture, if
// non-nil, sees the float input of every group of linears, by the group's
// first linear ("self_attn.q_proj").
func (b *block) blockForward(t *grad.Tape, x *grad.Var, w map[string]*grad.Var, aq bool, capture func(leader string, v *grad.Var)) *grad.Var {
	L := b.r.cfg.Seqlen
	bm := *b.r.m
	bm.Params = make(map[string]*grad.Var, len(b.r.m.Params))
	for n, v := range b.r.m.Params {
		bm.Params[n] = v
	}
	for n, v := range w {
		bm.Params[n] = v
	}
	if aq || capture != nil {
		bm.Hooks = &grad.BlockHooks{Input: func(t *grad.Tape, leader string, v *grad.Var) *grad.Var {
			if capture != nil {
				capture(leader, v)
			}
			if aq {
				return b.actQuant(t, v, 0)
			}
			return v
		}}
		if aq {
			hd := bm.Config.HeadDim
			bm.Hooks.QKV = func(t *grad.Tape, v *grad.Var) *grad.Var { return b.actQuant(t, v, hd) }
		}
	}
	return bm.Block(t, b.i, x, x.Rows/L, L)
}

// actQuant fake-quantizes x per row and group of `group` columns (0: the
// whole row) with the reference's dynamic asymmetric per-token quantizer:
// FakeQuantLWC with clipping logits +Inf (sigmoid = 1, no clipping) has
// exactly its forward and straight-through backward.
func (b *block) actQuant(t *grad.Tape, x *grad.Var, group int) *grad.Var {
	if group <= 0 {
		group = x.Cols
	}
	key := [2]int{x.Rows, x.Cols / group}
	inf, ok := b.inf[key]
	if !ok {
		inf = grad.Const(key[0], key[1], fill(key[0]*key[1], float32(math.Inf(1))))
		b.inf[key] = inf
	}
	return t.FakeQuantLWC(x, inf, inf, b.r.cfg.ABits, group)
}

// meanMSE returns the mean over samples of the block-output MSE in mode.
func (b *block) meanMSE(in, targets [][]float32, mode int) float64 {
	var sum float64
	for s := range in {
		t := grad.NewTape()
		y := b.forward(t, b.constIn(in[s]), mode)
		sum += float64(t.MSE(y, b.constIn(targets[s])).Item())
	}
	return sum / float64(len(in))
}

// train runs the epochs of AdamW steps, one sample per step in order.
func (b *block) train(ctx context.Context, in, targets [][]float32) error {
	var lwc, let []*grad.Var
	if b.r.cfg.LWC {
		for _, n := range b.linears {
			lwc = append(lwc, b.up[n], b.low[n])
		}
	}
	if b.let != nil {
		let = b.let.params()
	}
	opt := newAdam(append(append([]*grad.Var(nil), lwc...), let...))
	for ep := 0; ep < b.r.cfg.Epochs; ep++ {
		for s := range in {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("omniquant: block %d: %w", b.i, err)
			}
			t := grad.NewTape()
			eff := b.effective(modeLearn)
			y := b.forwardEff(t, b.constIn(in[s]), modeLearn, eff)
			loss := t.MSE(y, b.constIn(targets[s]))
			if l := loss.Item(); math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
				return fmt.Errorf("omniquant: block %d: loss is %v (epoch %d, sample %d)", b.i, l, ep, s)
			}
			t.Backward(loss)
			if b.let != nil {
				b.let.backward(eff)
			}
			opt.step(lwc, b.r.cfg.LWCLR)
			opt.step(let, b.r.cfg.LETLR)
			for _, p := range append(lwc, let...) {
				p.ZeroGrad()
			}
		}
	}
	return nil
}

// finish folds the transforms into the model's parameters, quantizes
// every linear with its learned clipping and stores the dequantized
// weights in the model; it returns the quantized linears.
func (b *block) finish() (map[string]*packed.Quantized, error) {
	eff := b.effective(modeLearn)
	for n, v := range eff {
		copy(b.r.m.Params[n].Val, v.Val)
	}
	out := map[string]*packed.Quantized{}
	for _, name := range b.linears {
		w := b.r.m.Params[name+".weight"]
		var up, low []float32
		if b.r.cfg.LWC {
			up, low = b.up[name].Val, b.low[name].Val
		}
		q := quantizeLWC(w.Val, w.Rows, w.Cols, b.r.cfg.WBits, b.group[name], up, low)
		if b.r.cfg.GroupSize <= 0 {
			q.GroupSize = -1
		}
		if err := q.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		copy(w.Val, q.Dequantize())
		out[name] = q
	}
	return out, nil
}

// quantizeLWC quantizes w [out×in] with groups of g columns and the
// clipping logits up/low [out×in/g] (nil: plain min/max, as RTN) exactly
// as the training forward does, except that a zero point outside
// [0, 2^bits−1] (a group entirely of one sign) is clamped into the range
// the packed formats can store. Scales are rounded to float16, as the
// GPTQ and AWQ formats store them.
func quantizeLWC(w []float32, out, in, bits, g int, up, low []float32) *packed.Quantized {
	groups := in / g
	qmax := float64(int(1)<<bits - 1)
	q := &packed.Quantized{Out: out, In: in, Bits: bits, GroupSize: g,
		Q: make([]uint8, out*in), Scales: make([]float32, groups*out), Zeros: make([]float32, groups*out)}
	for r := 0; r < out; r++ {
		for gi := 0; gi < groups; gi++ {
			seg := w[r*in+gi*g : r*in+(gi+1)*g]
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, x := range seg {
				lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
			}
			if up != nil {
				hi *= sigmoid(float64(up[r*groups+gi]))
				lo *= sigmoid(float64(low[r*groups+gi]))
			}
			s := math.Min(math.Max((hi-lo)/qmax, 1e-5), 1e4)
			s = float64(tensor.F16ToF32(tensor.F32ToF16(float32(s))))
			z := math.RoundToEven(math.Min(math.Max(-lo/s, -1e4), 1e4))
			z = math.Min(math.Max(z, 0), qmax)
			q.Scales[gi*out+r], q.Zeros[gi*out+r] = float32(s), float32(z)
			codes := q.Q[r*in+gi*g:]
			for i, x := range seg {
				codes[i] = uint8(math.Min(math.Max(math.RoundToEven(float64(x)/s)+z, 0), qmax))
			}
		}
	}
	return q
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// adam is torch.optim.AdamW with weight decay 0 (β 0.9, 0.999, ε 1e-8),
// one moment pair per parameter.
type adam struct {
	m, v map[*grad.Var][]float64
	t    map[*grad.Var]int
}

func newAdam(ps []*grad.Var) *adam {
	a := &adam{m: map[*grad.Var][]float64{}, v: map[*grad.Var][]float64{}, t: map[*grad.Var]int{}}
	for _, p := range ps {
		a.m[p], a.v[p] = make([]float64, len(p.Val)), make([]float64, len(p.Val))
	}
	return a
}

func (a *adam) step(ps []*grad.Var, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	for _, p := range ps {
		if p.Grad == nil {
			continue
		}
		a.t[p]++
		c1 := 1 - math.Pow(b1, float64(a.t[p]))
		c2 := 1 - math.Pow(b2, float64(a.t[p]))
		m, v := a.m[p], a.v[p]
		for i, g := range p.Grad {
			gg := float64(g)
			m[i] = b1*m[i] + (1-b1)*gg
			v[i] = b2*v[i] + (1-b2)*gg*gg
			p.Val[i] -= float32(lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps))
		}
	}
}
