package compress

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/models"
)

// SmoothQuant (mit-han-lab/smoothquant smooth.py, fake_quant.py) as
// implemented: per-channel activation maxima max|X_j| of every linear input
// over the calibration set (float model); for each norm → linears pair the
// smoothing factors s_j = max|X_j|^α / max_fc(max_i |W_ij|)^(1−α) (both
// clamped at 1e-5) are folded out of the norm and into the weights; then
// every linear of the block is quantized to int8 per output channel
// (symmetric absmax/127). Activations are quantized per token at run time
// by the W8A8 kernel.

// DefaultAlpha returns SmoothQuant's published migration strength for a
// model: 0.5 for OPT (and ChatGLM, which has no published value), 0.8 for
// Mistral, 0.9 for LLaMA-2-70B-sized models (80 layers), 0.85 for the other
// LLaMA models (LLaMA-2-7B/13B, LLaMA-3).
func DefaultAlpha(c *models.Config) float64 {
	switch {
	case c.Arch == "opt" || c.Arch == "chatglm":
		return 0.5
	case strings.Contains(strings.ToLower(c.ModelType), "mistral"):
		return 0.8
	case c.Layers >= 80:
		return 0.9
	}
	return 0.85
}

// SmoothScales returns the smoothing factors of one norm → linears pair:
// s_j = max(actMax_j^α / max(max_fc max_i |W_fc[i,j]|, 1e-5)^(1−α), 1e-5).
// ws are the linears' weights, each [outs[k]×in].
func SmoothScales(actMax []float32, ws [][]float32, outs []int, alpha float64) []float32 {
	in := len(actMax)
	wmax := make([]float32, in)
	for k, w := range ws {
		for r := 0; r < outs[k]; r++ {
			for j, v := range w[r*in : r*in+in] {
				wmax[j] = max(wmax[j], float32(math.Abs(float64(v))))
			}
		}
	}
	s := make([]float32, in)
	for j := range s {
		wm := max(float64(wmax[j]), 1e-5)
		s[j] = float32(max(math.Pow(float64(actMax[j]), alpha)/math.Pow(wm, 1-alpha), 1e-5))
	}
	return s
}

// w8Params is SmoothQuant's per-channel weight quantizer: scale
// max(max|w|, 1e-5)/127, codes round(w/scale) ∈ [−127, 127] stored offset
// by 128 (zero point 128).
func w8Params(x []float32, _ int, _ bool) (scale, zero float32) {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return roundScale(max(m, 1e-5) / 127), 128
}

// W8Quantize quantizes w [out×in] to int8 per output channel (SmoothQuant's
// W8A8 weights: ActBits 8, activations quantized per token at run time).
func W8Quantize(w []float32, out, in int) *Quantized {
	q := groupQuantize(w, out, in, 8, in, true, w8Params)
	q.ActBits = 8
	return q
}

// blockSmooth runs SmoothQuant on block i.
func (e *engine) blockSmooth(ctx context.Context, i int) error {
	ls := e.m.Linears(i)
	lin := byShort(ls)
	stats, err := e.collect(ctx, i, shorts(ls), func(string) statKind { return wantAbsMax }, false, true, nil)
	if err != nil {
		return err
	}
	lead := e.rules.leaderOf()
	ws := map[string][]float32{}
	for _, l := range ls {
		src, _ := denseOf(l)
		ws[l.Short] = append([]float32(nil), src...)
	}
	colScale := map[string][]float32{}
	prefix := e.rules.prefix(i)
	for _, p := range e.rules.smooth {
		act := stats[lead[p.Layers[0]]].absMax
		var mats [][]float32
		var outs []int
		for _, name := range p.Layers {
			mats = append(mats, ws[name])
			outs = append(outs, lin[name].Out())
		}
		s := SmoothScales(act, mats, outs, e.cfg.Alpha)
		for _, name := range p.Layers {
			l := lin[name]
			mulCols(ws[name], l.Out(), l.In(), s)
			colScale[name] = s
		}
		if err := e.scaleNorm(prefix, p.Norm, s); err != nil {
			return err
		}
		e.res.scales = append(e.res.scales, ScaleRecord{Block: i, Prev: p.Norm.Name, Layers: p.Layers, Ratio: e.cfg.Alpha})
	}
	if e.floatOnly {
		return e.keepFloat(ls, ws, colScale, nil)
	}
	for _, l := range ls {
		t := time.Now()
		q := W8Quantize(ws[l.Short], l.Out(), l.In())
		if err := e.recordQuant(l, q, colScale[l.Short], nil, 0, t); err != nil {
			return err
		}
	}
	return nil
}

// smoothQuant migrates activation outliers into the weights with
// per-channel scales folded into the preceding norms, then quantizes the
// weights to int8 per output channel for W8A8 kernels (blockSmooth).
type smoothQuant struct{ blockDefaults }

func (smoothQuant) Info() MethodInfo {
	return MethodInfo{Name: SmoothQuant, Doc: "migrate activation outliers into the weights, then W8A8 per-channel int8 (SmoothQuant)", Params: []Param{
		bitsParam(8, func(v float64) string { return unless(v == 8, "smoothquant is W8A8 (bits 8)") }),
		{Key: "alpha", Type: "float", Default: "auto", Flag: "alpha", Doc: "migration strength (auto: the model's published value)",
			check: func(v float64) string { return unless(v > 0 && v <= 1, "want a value in (0, 1]") }},
		nsamplesParam(512), seqlenParam("512"), seedParam(42), samplingParam(corpus.SampleTruncate)}}
}

func (smoothQuant) calibrated() bool      { return true }
func (smoothQuant) format(*Config) string { return "w8a8" }

// fixSettings: W8A8 weights are symmetric, one group per output row.
func (smoothQuant) fixSettings(c *Config) { c.Sym, c.GroupSize = true, -1 }

func (smoothQuant) record(c *Config, mc *MethodConfig) {
	recordQuantizer(c, mc)
	mc.Alpha = c.Alpha
}

func (smoothQuant) block(ctx context.Context, e *engine, i int) error { return e.blockSmooth(ctx, i) }
