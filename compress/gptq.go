package compress

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/kernels"
)

// Hessian is the prepared inverse Hessian of one linear input, shared by
// every linear that reads that input (q/k/v, gate/up): the dead columns,
// the act-order permutation and Hinv, the upper Cholesky factor of
// (H + λI)⁻¹ in the (permuted) column order.
type Hessian struct {
	N    int
	Dead []bool    // inputs never active: H_ii = 0
	Perm []int     // act-order: column k of the permuted problem is input Perm[k]; nil otherwise
	Hinv []float32 // [N×N], upper triangular
}

// PrepareHessian turns H = 2/n·Σ XᵀX (n×n, float64, consumed) into the
// factor GPTQ and SparseGPT use: dead inputs get H_ii = 1; with actOrder
// the columns are sorted by decreasing H_ii (ties in input order); then
// damp·mean(diag H) is added to the diagonal and Hinv = chol(H⁻¹)ᵀ is
// computed in float64. It fails when H is not positive definite even after
// dampening.
func PrepareHessian(h []float64, n int, damp float64, actOrder bool) (*Hessian, error) {
	if len(h) != n*n {
		return nil, fmt.Errorf("hessian: %d values for %d×%d", len(h), n, n)
	}
	if i, ok := firstNonFinite64(h); !ok {
		return nil, fmt.Errorf("hessian: entry [%d %d] is %g: the layer's calibration inputs are not finite (NaN/Inf weights or activations upstream)", i/n, i%n, h[i])
	}
	p := &Hessian{N: n, Dead: make([]bool, n)}
	for i := 0; i < n; i++ {
		if h[i*n+i] == 0 {
			p.Dead[i] = true
			h[i*n+i] = 1
		}
	}
	if actOrder {
		p.Perm = make([]int, n)
		for i := range p.Perm {
			p.Perm[i] = i
		}
		slices.SortStableFunc(p.Perm, func(a, b int) int { return cmp.Compare(h[b*n+b], h[a*n+a]) })
		ph := make([]float64, n*n)
		kernels.ParallelFor(n, 16, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				src := h[p.Perm[i]*n:]
				dst := ph[i*n : i*n+n]
				for j, pj := range p.Perm {
					dst[j] = src[pj]
				}
			}
		})
		copy(h, ph)
	}
	var mean float64
	for i := 0; i < n; i++ {
		mean += h[i*n+i]
	}
	mean = damp * mean / float64(n)
	for i := 0; i < n; i++ {
		h[i*n+i] += mean
	}
	u, err := upperCholInverse(h, n)
	if errors.Is(err, errNotPD) && !errors.Is(err, errNotFinite) {
		return nil, fmt.Errorf("hessian: %w; raise the dampening", err)
	}
	if err != nil {
		return nil, fmt.Errorf("hessian: %w", err)
	}
	p.Hinv = make([]float32, n*n)
	kernels.ParallelFor(n*n, 1<<16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p.Hinv[i] = float32(u[i])
		}
	})
	return p, nil
}

// GPTQOptions are GPTQ's quantizer settings.
type GPTQOptions struct {
	Bits         int
	GroupSize    int // ≤ 0: one group per row
	Sym          bool
	ActOrder     bool // requires a Hessian prepared with actOrder
	StaticGroups bool
	BlockSize    int
}

// GPTQResult is a quantized layer and GPTQ's loss Σ(w−q)²/Hinv_ii²/2.
type GPTQResult struct {
	Q    *Quantized
	Loss float64
}

// GPTQQuantize runs GPTQ (IST-DASLab/gptq fasterquant) on w [out×in] with
// the prepared Hessian: column by column, in blocks of BlockSize, each
// weight is rounded with its row's group quantizer and the rounding error
// err = (w−q)/Hinv_ii is spread over the remaining columns of the block
// (W[:, i:] −= err ⊗ Hinv[i, i:]), with one lazy GEMM update of the later
// columns per block. Group quantizers are computed when a group starts, on
// the weights as updated so far (or, with StaticGroups, on the original
// weights); with ActOrder the columns are visited in the Hessian's order
// and g_idx records each input's group. w is not modified.
func GPTQQuantize(w []float32, out, in int, hs *Hessian, o GPTQOptions) (*GPTQResult, error) {
	if len(w) != out*in || hs.N != in {
		return nil, fmt.Errorf("gptq: weight %d values for %d×%d, hessian %d", len(w), out, in, hs.N)
	}
	if o.ActOrder != (hs.Perm != nil) {
		return nil, fmt.Errorf("gptq: act-order %v but the hessian was prepared with act-order %v", o.ActOrder, hs.Perm != nil)
	}
	if i, ok := firstNonFinite32(w); !ok {
		return nil, fmt.Errorf("gptq: weight [%d %d] is %g: the layer's weights must be finite", i/in, i%in, w[i])
	}
	gs := o.GroupSize
	if gs <= 0 || gs > in {
		gs = in
	}
	bs := max(o.BlockSize, 1)
	q := &Quantized{Out: out, In: in, Bits: o.Bits, GroupSize: gs, Sym: o.Sym, Q: make([]uint8, out*in)}
	ng := q.NumGroups()
	q.Scales = make([]float32, ng*out)
	q.Zeros = make([]float32, ng*out)
	maxq := float32(int(1)<<o.Bits - 1)

	W := append([]float32(nil), w...)
	// One group per row: the quantizer comes from the original weights,
	// before dead columns are zeroed (as the reference's first find_params).
	if gs == in {
		setParams(q, W, 0, 0, in, gptqParams)
	}
	for i, d := range hs.Dead {
		if d {
			for r := 0; r < out; r++ {
				W[r*in+i] = 0
			}
		}
	}
	static := o.StaticGroups && gs < in
	if static {
		for g := 0; g < ng; g++ {
			setParams(q, W, g, g*gs, min(g*gs+gs, in), gptqParams)
		}
	}
	perm := hs.Perm
	if perm != nil {
		permuteCols(W, out, in, perm)
	}
	codes := make([]uint8, out*in) // in the permuted order
	hinv := hs.Hinv
	errs := make([]float32, out*bs)
	loss := make([]float64, out) // per row, summed in row order: the same for any thread count
	scratch := make([][]float32, kernels.Workers(out, 4))
	for i := range scratch {
		scratch[i] = make([]float32, bs)
	}
	for i1 := 0; i1 < in; i1 += bs {
		i2 := min(i1+bs, in)
		cnt := i2 - i1
		kernels.ParallelForWorker(out, 4, func(wk, lo, hi int) {
			w1 := scratch[wk][:cnt]
			for r := lo; r < hi; r++ {
				var l float64
				row := W[r*in : r*in+in]
				copy(w1, row[i1:i2])
				er := errs[r*cnt : r*cnt+cnt]
				for i := 0; i < cnt; i++ {
					col := i1 + i
					var g int
					switch {
					case gs == in:
						g = 0
					case static:
						g = col / gs
						if perm != nil {
							g = perm[col] / gs
						}
					default:
						g = col / gs
						if col%gs == 0 {
							// The reference reads the global W here: updated
							// by earlier blocks, not yet by this one.
							s, z := gptqParams(row[col:min(col+gs, in)], o.Bits, o.Sym)
							q.Scales[g*out+r], q.Zeros[g*out+r] = s, z
						}
					}
					s, z := q.Scales[g*out+r], q.Zeros[g*out+r]
					wv := w1[i]
					c := quantCode(wv, s, z, maxq)
					codes[r*in+col] = c
					qv := s * (float32(c) - z)
					d := hinv[col*in+col]
					e := (wv - qv) / d
					l += float64(e) * float64(e) / 2
					hrow := hinv[col*in+col+1 : col*in+i2]
					for j, hv := range hrow {
						w1[i+1+j] -= e * hv
					}
					er[i] = e
				}
				loss[r] += l
			}
		})
		if i2 < in {
			kernels.Sgemm(false, false, out, in-i2, cnt, -1, errs[:out*cnt], cnt, hinv[i1*in+i2:], in, 1, W[i2:], in)
		}
	}
	// Back to the input order; g_idx for act-order with dynamic groups.
	if perm != nil {
		kernels.ParallelFor(out, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				for k, pk := range perm {
					q.Q[r*in+pk] = codes[r*in+k]
				}
			}
		})
		if !static && gs < in {
			q.GIdx = make([]int32, in)
			for k, pk := range perm {
				q.GIdx[pk] = int32(k / gs)
			}
		}
	} else {
		q.Q = codes
	}
	var total float64
	for _, l := range loss {
		total += l
	}
	return &GPTQResult{Q: q, Loss: total}, nil
}

// setParams fills group g of every row from columns [c0, c1) of w.
func setParams(q *Quantized, w []float32, g, c0, c1 int, params paramsFunc) {
	out, in := q.Out, q.In
	kernels.ParallelFor(out, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s, z := params(w[r*in+c0:r*in+c1], q.Bits, q.Sym)
			q.Scales[g*out+r], q.Zeros[g*out+r] = s, z
		}
	})
}

// permuteCols reorders the columns of w [out×in]: new column k is old
// column perm[k].
func permuteCols(w []float32, out, in int, perm []int) {
	kernels.ParallelForWorker(out, 16, func(_, lo, hi int) {
		tmp := make([]float32, in)
		for r := lo; r < hi; r++ {
			row := w[r*in : r*in+in]
			for k, pk := range perm {
				tmp[k] = row[pk]
			}
			copy(row, tmp)
		}
	})
}

// firstNonFinite64 returns the index of the first NaN or ±Inf in v, and
// ok=false, or ok=true when every value is finite.
func firstNonFinite64(v []float64) (int, bool) {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i, false
		}
	}
	return 0, true
}

// firstNonFinite32 is firstNonFinite64 for float32.
func firstNonFinite32(v []float32) (int, bool) {
	for i, x := range v {
		if x != x || x > math.MaxFloat32 || x < -math.MaxFloat32 {
			return i, false
		}
	}
	return 0, true
}

// gptq quantizes with second-order error compensation (GPTQQuantize), a
// block's linears in true-sequential order (or all from one pass);
// linears reading one input share its prepared Hessian.
type gptq struct{ blockDefaults }

func (gptq) Info() MethodInfo {
	return MethodInfo{Name: GPTQ, Doc: "quantize with second-order error compensation (GPTQ)", Params: []Param{
		bitsParam(4, bits2to8), groupParam, symParam,
		{Key: "act_order", Type: "bool", Default: "false", Flag: "act-order", Doc: "quantize columns by decreasing Hessian diagonal (desc_act)"},
		{Key: "static_groups", Type: "bool", Default: "false", Flag: "static-groups", Doc: "group quantizers from the original weights"},
		{Key: "true_sequential", Type: "bool", Default: "true", NegFlag: "no-true-sequential", Doc: "quantize a block in the order [k,v,q] → [o] → [up,gate] → [down], recollecting statistics"},
		dampParam, blockParam, nsamplesParam(128), seqlenParam("2048"), seedParam(0), samplingParam(corpus.SampleWindow)}}
}

func (gptq) calibrated() bool                             { return true }
func (gptq) format(c *Config) string                      { return quantFormat(c.Bits) }
func (gptq) workBytes(_ *Config, maxIn, _, _ int64) int64 { return hessianBytes(maxIn) }

func (gptq) record(c *Config, mc *MethodConfig) {
	recordQuantizer(c, mc)
	mc.ActOrder, mc.StaticGroups, mc.TrueSequential = c.ActOrder, c.StaticGroups, c.TrueSequential
	mc.Damp, mc.BlockSize = c.Damp, c.BlockSize
}

// saveMeta records the settings AutoGPTQ's quantize_config carries even
// when false.
func (gptq) saveMeta(c *Config, meta map[string]any) {
	meta["damp_percent"] = c.Damp
	meta["true_sequential"] = c.TrueSequential
	meta["static_groups"] = c.StaticGroups
}

// hessianBytes is the working memory of the widest input's Hessian: the
// float64 matrix, its factor and a copy, and the float32 Hinv.
func hessianBytes(maxIn int64) int64 { return 8*maxIn*maxIn*3 + 4*maxIn*maxIn }

func (gptq) block(ctx context.Context, e *engine, i int) error {
	ls := e.m.Linears(i)
	lin := byShort(ls)
	subsets := [][]string{shorts(ls)}
	if e.cfg.TrueSequential {
		subsets = e.rules.trueSeq
	}
	opt := GPTQOptions{Bits: e.cfg.Bits, GroupSize: e.cfg.GroupSize, Sym: e.cfg.Sym, ActOrder: e.cfg.ActOrder, StaticGroups: e.cfg.StaticGroups, BlockSize: e.cfg.BlockSize}
	lead := e.rules.leaderOf()
	for _, sub := range subsets {
		stats, err := e.collect(ctx, i, sub, func(string) statKind { return wantGram }, true, false, nil)
		if err != nil {
			return err
		}
		hess := map[*inputStat]*Hessian{}
		for _, name := range sub {
			l := lin[name]
			t := time.Now()
			st := stats[lead[name]]
			hs := hess[st]
			if hs == nil {
				if hs, err = PrepareHessian(st.hessian(), st.dim, e.cfg.Damp, e.cfg.ActOrder); err != nil {
					return fmt.Errorf("linear %s: %w", l.Name, err)
				}
				hess[st] = hs
			}
			src, _ := denseOf(l)
			r, err := GPTQQuantize(src, l.Out(), l.In(), hs, opt)
			if err != nil {
				return fmt.Errorf("linear %s: %w", l.Name, err)
			}
			if err := e.recordQuant(l, r.Q, nil, nil, r.Loss, t); err != nil {
				return err
			}
		}
	}
	return e.forwardAll(ctx, i, nil)
}
