package compress

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// AWQ (mit-han-lab/llm-awq run_awq, auto_scale, auto_clip) as implemented:
// per block, one float pass caches the inputs of the linears and gives the
// next block's input (the float block's output, as in the reference);
// every scaling group searches s = x̄^r over a grid of 20 ratios on the
// original weights; the scales are folded into the previous op; the
// clipping search then shrinks each (output row, group) range; finally
// every linear is quantized with AWQ's asymmetric group quantizer.

const (
	awqGrid       = 20  // scale ratios 0, 1/20, …, 19/20
	awqClipGrid   = 20  // shrink steps of 1/20…
	awqMaxShrink  = 0.5 // …down to 0.55
	awqClipTokens = 512 // tokens sampled for the clipping search
)

// awqScales returns x̄^ratio (at least 1e-4) divided by
// sqrt(max·min), the candidate scales of one grid point.
func awqScales(xmean []float32, ratio float64) []float32 {
	s := make([]float32, len(xmean))
	lo, hi := math.Inf(1), math.Inf(-1)
	for j, v := range xmean {
		p := max(float32(math.Pow(float64(v), ratio)), 1e-4)
		s[j] = p
		lo = min(lo, float64(p))
		hi = max(hi, float64(p))
	}
	n := float32(math.Sqrt(hi * lo))
	for j := range s {
		s[j] /= n
	}
	return s
}

// awqFakeQuant writes Q(W·diag(s))·diag(1/s) into dst: the weights a
// scaled layer computes with, in the unscaled basis.
func awqFakeQuant(dst, w []float32, out, in int, s []float32, bits, groupSize int, sym bool) {
	gs := groupSize
	if gs <= 0 || gs > in {
		gs = in
	}
	maxq := float32(int(1)<<bits - 1)
	kernels.ParallelFor(out, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := dst[r*in : r*in+in]
			for j, v := range w[r*in : r*in+in] {
				row[j] = v * s[j]
			}
			for c0 := 0; c0 < in; c0 += gs {
				g := row[c0:min(c0+gs, in)]
				sc, z := awqParams(g, bits, sym)
				for j, v := range g {
					g[j] = (float32(quantCode(v, sc, z, maxq)) - z) * sc
				}
			}
			for j := range row {
				row[j] /= s[j]
			}
		}
	})
}

// AWQQuantize quantizes w [out×in] with AWQ's group quantizer (round to
// nearest, range of the group itself): the last step of AWQ, after the
// scales and clipping are applied to w.
func AWQQuantize(w []float32, out, in, bits, groupSize int, sym bool) *Quantized {
	return groupQuantize(w, out, in, bits, groupSize, sym, awqParams)
}

// AWQClip is AWQ's clipping search (auto_clip_layer) for w [out×in] given
// sampled input rows x [tokens×in] (already divided by the layer's scales):
// for each output row and group, the clipping range max|w|·(1 − i/20),
// i = 0…9, whose quantized group output Σ_j x_j·q_j deviates least in mean
// square over the tokens from the unclipped Σ_j x_j·w_j. It clamps w in
// place to the chosen ranges and returns them [groups×out].
func AWQClip(w []float32, out, in int, x []float32, tokens, bits, groupSize int, sym bool) []float32 {
	gs := groupSize
	if gs <= 0 || gs > in {
		gs = in
	}
	ng := (in + gs - 1) / gs
	best := make([]float32, ng*out)
	steps := int(awqMaxShrink * awqClipGrid)
	maxq := float32(int(1)<<bits - 1)
	for g := 0; g < ng; g++ {
		c0, c1 := g*gs, min(g*gs+gs, in)
		gw := c1 - c0
		// G = X_gᵀX_g over the sampled tokens.
		G := make([]float32, gw*gw)
		kernels.Sgemm(true, false, gw, gw, tokens, 1, x[c0:], in, x[c0:], in, 0, G, gw)
		orgMax := make([]float32, out)
		minErr := make([]float32, out)
		for o := 0; o < out; o++ {
			var m float32
			for _, v := range w[o*in+c0 : o*in+c1] {
				m = max(m, float32(math.Abs(float64(v))))
			}
			orgMax[o] = m
			minErr[o] = 1e9
			best[g*out+o] = m
		}
		D := make([]float32, out*gw)
		M := make([]float32, out*gw)
		for i := 0; i < steps; i++ {
			f := 1 - float32(i)/awqClipGrid
			kernels.ParallelFor(out, 16, func(lo, hi int) {
				cw := make([]float32, gw)
				for o := lo; o < hi; o++ {
					mv := orgMax[o] * f
					src := w[o*in+c0 : o*in+c1]
					for j, v := range src {
						cw[j] = min(max(v, -mv), mv)
					}
					sc, z := awqParams(cw, bits, sym)
					d := D[o*gw : o*gw+gw]
					for j, v := range cw {
						d[j] = (float32(quantCode(v, sc, z, maxq))-z)*sc - src[j]
					}
				}
			})
			kernels.Sgemm(false, false, out, gw, gw, 1, D, gw, G, gw, 0, M, gw)
			for o := 0; o < out; o++ {
				var e float64
				for j := 0; j < gw; j++ {
					e += float64(M[o*gw+j]) * float64(D[o*gw+j])
				}
				err := float32(e / float64(tokens))
				if err < minErr[o] {
					minErr[o] = err
					best[g*out+o] = orgMax[o] * f
				}
			}
		}
		for o := 0; o < out; o++ {
			mv := best[g*out+o]
			row := w[o*in+c0 : o*in+c1]
			for j, v := range row {
				row[j] = min(max(v, -mv), mv)
			}
		}
	}
	return best
}

// awqSingleLoss returns the mean squared output error of one linear with
// weights w' instead of w over every calibration token, from the inputs'
// Gram matrix G = Σ xxᵀ: Σ_o Δw_o·G·Δw_oᵀ / (tokens·out). scratch must hold
// out·in values.
func awqSingleLoss(wq, w []float32, out, in int, G []float32, tokens int, scratch []float32) float64 {
	D := wq // reused: Δ = w' − w in place
	for i := range D {
		D[i] -= w[i]
	}
	kernels.Sgemm(false, false, out, in, in, 1, D, in, G, in, 0, scratch, in)
	var s float64
	for i, v := range scratch[:out*in] {
		s += float64(v) * float64(D[i])
	}
	return s / float64(tokens) / float64(out)
}

// blockAWQ runs AWQ on block i.
func (e *engine) blockAWQ(ctx context.Context, i int) error {
	cfg := e.cfg
	ls := e.m.Linears(i)
	lin := byShort(ls)
	groups := e.rules.awq
	attn := false
	need := map[string]statKind{}
	for _, g := range groups {
		need[g.Layers[0]] |= wantAbsMean
		switch g.Inspect {
		case "":
			need[g.Layers[0]] |= wantGram
		case "mlp":
			need[g.Layers[0]] |= wantFeats
		case "attn":
			attn = true
		}
	}
	if attn {
		need[e.rules.attnOut] |= wantFeats
	}
	if !cfg.NoClip {
		for _, l := range ls {
			if !clipSkipped(l.Short) {
				need[l.Short] |= wantSample
			}
		}
	}
	var names []string
	for _, l := range ls {
		if need[l.Short] != 0 {
			names = append(names, l.Short)
		}
	}
	stats, err := e.collect(ctx, i, names, func(s string) statKind { return need[s] }, false, true, nil)
	if err != nil {
		return err
	}
	lead := e.rules.leaderOf()
	statOf := func(short string) *inputStat { return stats[lead[short]] }

	// Search every group's scales on the original weights.
	found := make([][]float32, len(groups))
	for gi, g := range groups {
		t := time.Now()
		xmean := statOf(g.Layers[0]).absMean()
		var ratio, loss float64
		switch g.Inspect {
		case "attn":
			found[gi], ratio, loss, err = e.awqSearchAttn(ctx, i, g, xmean, statOf(e.rules.attnOut).feats)
		case "mlp":
			found[gi], ratio, loss, err = e.awqSearchMLP(ctx, lin, g, xmean, statOf(g.Layers[0]).feats)
		default:
			found[gi], ratio, loss, err = e.awqSearchSingle(lin[g.Layers[0]], xmean, statOf(g.Layers[0]))
		}
		if err != nil {
			return err
		}
		prev := g.Prev
		if g.Norm != nil {
			prev = g.Norm.Name
		}
		e.res.scales = append(e.res.scales, ScaleRecord{Block: i, Prev: prev, Layers: g.Layers, Ratio: ratio, Loss: loss})
		e.logf("  awq block %d: %s → %v ratio %.2f loss %.4g (%.1f s)", i, prev, g.Layers, ratio, loss, time.Since(t).Seconds())
	}

	// Apply the scales to working copies of the weights.
	ws := map[string][]float32{}
	for _, l := range ls {
		src, _ := denseOf(l)
		ws[l.Short] = append([]float32(nil), src...)
	}
	biases := map[string][]float32{}
	normScale := map[string][]float32{} // per linear: scale folded into a norm
	prefix := e.rules.prefix(i)
	for gi, g := range groups {
		s := found[gi]
		for _, name := range g.Layers {
			l := lin[name]
			mulCols(ws[name], l.Out(), l.In(), s)
			if st := statOf(name); st != nil && st.rows != nil && lead[name] == name {
				divCols(st.rows, len(st.rows)/st.dim, st.dim, s)
			}
		}
		if g.Norm != nil {
			if err := e.scaleNorm(prefix, *g.Norm, s); err != nil {
				return err
			}
			for _, name := range g.Layers {
				normScale[name] = s
			}
			continue
		}
		p := lin[g.Prev]
		w := ws[g.Prev]
		r0 := p.Out() - len(s)
		for r := r0; r < p.Out(); r++ {
			row := w[r*p.In() : r*p.In()+p.In()]
			for j := range row {
				row[j] /= s[r-r0]
			}
		}
		if p.Bias != nil {
			b := append([]float32(nil), p.Bias...)
			for r := r0; r < p.Out(); r++ {
				b[r] /= s[r-r0]
			}
			biases[g.Prev] = b // saved from the model's bias
		}
	}
	if e.floatOnly {
		return e.keepFloat(ls, ws, normScale, biases)
	}
	// Clip, then quantize every linear.
	for _, l := range ls {
		t := time.Now()
		w := ws[l.Short]
		if !cfg.NoClip && !clipSkipped(l.Short) {
			st := statOf(l.Short)
			AWQClip(w, l.Out(), l.In(), st.rows, len(st.rows)/st.dim, cfg.Bits, cfg.GroupSize, cfg.Sym)
		}
		q := AWQQuantize(w, l.Out(), l.In(), cfg.Bits, cfg.GroupSize, cfg.Sym)
		if err := e.recordQuant(l, q, normScale[l.Short], biases[l.Short], 0, t); err != nil {
			return err
		}
	}
	return nil
}

// keepFloat stores the scaled float weights instead of quantizing them
// (engine.floatOnly).
func (e *engine) keepFloat(ls []*models.Linear, ws, colScale, biases map[string][]float32) error {
	for _, l := range ls {
		w := ws[l.Short]
		e.res.dense[l.Name] = w
		in := append([]float32(nil), w...)
		if s := colScale[l.Short]; s != nil {
			divCols(in, l.Out(), l.In(), s)
		}
		if err := e.setDense(l, in, biases[l.Short]); err != nil {
			return err
		}
	}
	return nil
}

// scaleNorm divides a norm's weight (and bias) by s in the saved model.
func (e *engine) scaleNorm(prefix string, n normRef, s []float32) error {
	names := []string{prefix + n.Name + ".weight"}
	if n.Bias {
		names = append(names, prefix+n.Name+".bias")
	}
	for k, name := range names {
		v, ok := e.res.tensors[name]
		if !ok {
			var err error
			if v, err = e.normTensor(name, len(s), k == 0); err != nil {
				return err
			}
		}
		for j := range v {
			v[j] /= s[j]
		}
		e.res.tensors[name] = v
	}
	return nil
}

// normTensor reads a norm parameter from the checkpoint (a model with
// random weights has unit gains and zero biases).
func (e *engine) normTensor(name string, n int, gain bool) ([]float32, error) {
	ck := e.m.Checkpoint()
	if ck == nil {
		v := make([]float32, n)
		if gain {
			for j := range v {
				v[j] = 1
			}
		}
		return v, nil
	}
	t, err := ck.Tensor(name)
	if err != nil {
		return nil, err
	}
	v, err := t.Float32()
	if err != nil {
		return nil, err
	}
	if len(v) != n {
		return nil, fmt.Errorf("tensor %s has %d values, want %d", name, len(v), n)
	}
	return v, nil
}

// awqSearchAttn searches the scales of the attention inputs: each grid
// point's fake-quantized q/k/v weights are put in the model, the block is
// run over every sample (the MLP skipped) and the attention output (the
// output projection of the captured attention result, with float weights)
// is compared with the float block's.
func (e *engine) awqSearchAttn(ctx context.Context, i int, g awqGroup, xmean []float32, orgAtt [][]float32) ([]float32, float64, float64, error) {
	cfg := e.cfg
	ls := e.m.Linears(i)
	lin := byShort(ls)
	o := lin[e.rules.attnOut]
	wo, err := denseOf(o)
	if err != nil {
		return nil, 0, 0, err
	}
	orig := map[string]kernels.Matrix{}
	origW := map[string][]float32{}
	for _, name := range g.Layers {
		orig[name] = lin[name].Host
		if origW[name], err = denseOf(lin[name]); err != nil {
			return nil, 0, 0, err
		}
	}
	restoreSkip, err := e.skipAfter(ls, g.Layers)
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = restoreSkip() }()
	defer func() {
		for name, m := range orig {
			_ = e.m.SetWeight(lin[name], m, nil)
		}
	}()
	fq := map[string][]float32{}
	for _, name := range g.Layers {
		fq[name] = make([]float32, lin[name].Out()*lin[name].In())
	}
	var diff, y []float32
	var loss float64
	hook := func(s int, l *models.Linear, x []float32, rows int) {
		if l != o {
			return
		}
		n := rows * o.In()
		diff = grow(diff, n)
		for j := range diff {
			diff[j] = x[j] - orgAtt[s][j]
		}
		y = grow(y, rows*o.Out())
		kernels.Linear(y, diff, rows, o.In(), wo, o.Out(), nil)
		loss += sumSq(y)
	}
	bestLoss, bestRatio := math.Inf(1), -1.0
	var best []float32
	for k := 0; k < awqGrid; k++ {
		ratio := float64(k) / awqGrid
		s := awqScales(xmean, ratio)
		for _, name := range g.Layers {
			l := lin[name]
			awqFakeQuant(fq[name], origW[name], l.Out(), l.In(), s, cfg.Bits, cfg.GroupSize, cfg.Sym)
			if err := e.setDense(l, fq[name], nil); err != nil {
				return nil, 0, 0, err
			}
		}
		loss = 0
		if _, err := e.collect(ctx, i, nil, nil, false, false, hook); err != nil {
			return nil, 0, 0, err
		}
		mse := loss / float64(e.tokens) / float64(o.Out())
		if mse < bestLoss {
			bestLoss, bestRatio, best = mse, ratio, s
		}
	}
	if best == nil {
		return nil, 0, 0, fmt.Errorf("awq: no finite loss in the scale search of %v", g.Layers)
	}
	return best, bestRatio, bestLoss, nil
}

// awqSearchMLP searches the scales of the MLP inputs: the MLP output with
// fake-quantized up/gate weights against the float one, on the cached MLP
// inputs of every sample.
func (e *engine) awqSearchMLP(ctx context.Context, lin map[string]*models.Linear, g awqGroup, xmean []float32, feats [][]float32) ([]float32, float64, float64, error) {
	cfg := e.cfg
	if e.rules.mlp == nil {
		return nil, 0, 0, fmt.Errorf("awq: no MLP rule for this architecture")
	}
	hid := lin[g.Layers[0]].In()
	var sc mlpScratch
	org := make([][]float32, len(feats))
	for s, x := range feats {
		org[s] = append([]float32(nil), e.rules.mlp(lin, nil, x, len(x)/hid, &sc)...)
	}
	weights := map[string][]float32{}
	for _, name := range g.Layers {
		weights[name] = make([]float32, lin[name].Out()*lin[name].In())
	}
	bestLoss, bestRatio := math.Inf(1), -1.0
	var best []float32
	for k := 0; k < awqGrid; k++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, err
		}
		ratio := float64(k) / awqGrid
		s := awqScales(xmean, ratio)
		for _, name := range g.Layers {
			l := lin[name]
			src, _ := denseOf(l)
			awqFakeQuant(weights[name], src, l.Out(), l.In(), s, cfg.Bits, cfg.GroupSize, cfg.Sym)
		}
		var loss float64
		for si, x := range feats {
			out := e.rules.mlp(lin, weights, x, len(x)/hid, &sc)
			for j, v := range out {
				d := float64(v - org[si][j])
				loss += d * d
			}
		}
		mse := loss / float64(e.tokens) / float64(hid)
		if mse < bestLoss {
			bestLoss, bestRatio, best = mse, ratio, s
		}
	}
	if best == nil {
		return nil, 0, 0, fmt.Errorf("awq: no finite loss in the scale search of %v", g.Layers)
	}
	return best, bestRatio, bestLoss, nil
}

// awqSearchSingle searches the input scales of one linear against its own
// output error, computed from the Gram matrix of its inputs.
func (e *engine) awqSearchSingle(l *models.Linear, xmean []float32, st *inputStat) ([]float32, float64, float64, error) {
	w, err := denseOf(l)
	if err != nil {
		return nil, 0, 0, err
	}
	s, ratio, loss := AWQSearchScales(w, l.Out(), l.In(), xmean, st.gram32(), st.tokens, e.cfg.Bits, e.cfg.GroupSize, e.cfg.Sym)
	if s == nil {
		return nil, 0, 0, fmt.Errorf("awq: no finite loss in the scale search of %s", l.Name)
	}
	return s, ratio, loss, nil
}

// AWQSearchScales is AWQ's grid search for one linear w [out×in] whose
// inputs have per-channel mean magnitudes xmean and Gram matrix G = Σ xxᵀ
// over tokens inputs: the scales x̄^r (r = 0, 1/20, …, 19/20) whose
// fake-quantized layer Q(W·s)/s has the least mean squared output error.
// It returns the scales, the ratio and the error (nil scales if every loss
// was NaN).
func AWQSearchScales(w []float32, out, in int, xmean, G []float32, tokens, bits, groupSize int, sym bool) ([]float32, float64, float64) {
	wq := make([]float32, len(w))
	scratch := make([]float32, len(w))
	bestLoss, bestRatio := math.Inf(1), -1.0
	var best []float32
	for k := 0; k < awqGrid; k++ {
		ratio := float64(k) / awqGrid
		s := awqScales(xmean, ratio)
		awqFakeQuant(wq, w, out, in, s, bits, groupSize, sym)
		mse := awqSingleLoss(wq, w, out, in, G, tokens, scratch)
		if mse < bestLoss {
			bestLoss, bestRatio, best = mse, ratio, s
		}
	}
	return best, bestRatio, bestLoss
}

// awq searches per-channel scales (and clipping ranges) that protect the
// salient input channels, folds them into the preceding norms or linears
// and quantizes round-to-nearest (blockAWQ).
type awq struct{ blockDefaults }

func (awq) Info() MethodInfo {
	return MethodInfo{Name: AWQ, Doc: "activation-aware scaling and clipping search, then round to nearest (AWQ)", Params: []Param{
		bitsParam(4, bits2to8), groupParam, symParam,
		{Key: "clip", Type: "bool", Default: "true", NegFlag: "no-clip", Doc: "search the clipping range per group"},
		nsamplesParam(128), seqlenParam("512"), seedParam(42), samplingParam(corpus.SampleConcat)}}
}

func (awq) calibrated() bool { return true }

// format is AutoAWQ's GEMM layout at 4 bits, the GPTQ layout at 2, 3, 8.
func (awq) format(c *Config) string {
	if c.Bits == 4 {
		return "awq"
	}
	return quantFormat(c.Bits)
}

// workBytes: the cached attention and MLP inputs and float MLP outputs,
// and the clipping search's Gram matrix of the widest input.
func (awq) workBytes(_ *Config, maxIn, tokens, hidden int64) int64 {
	return 4*tokens*hidden*3 + 8*maxIn*maxIn + 4*maxIn*maxIn
}

func (awq) record(c *Config, mc *MethodConfig) {
	recordQuantizer(c, mc)
	mc.AWQGrid, mc.AWQClip = awqGrid, !c.NoClip
	if !c.NoClip {
		mc.AWQClipTokens = awqClipTokens
	}
}

func (awq) block(ctx context.Context, e *engine, i int) error { return e.blockAWQ(ctx, i) }
