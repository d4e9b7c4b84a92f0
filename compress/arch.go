package compress

import (
	"strings"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// Per-architecture facts the methods need — which linears read the same
// input, GPTQ's true-sequential order, AWQ's scaling groups and
// SmoothQuant's norm→linear pairs — come from the architecture's
// description in package models (models.Architecture.Rules); archRules
// holds them in the form the methods use.

// normRef names a normalisation layer of a block by its checkpoint prefix
// inside the block ("input_layernorm") and whether it has a bias.
type normRef struct {
	Name string
	Bias bool
}

// awqGroup is one of AWQ's scaling groups (models.ScaleGroup): the scale
// is folded out of Prev (a norm, or the last rows of a linear) and into
// the input columns of Layers; the loss is measured on the output of the
// attention ("attn"), the MLP ("mlp") or the single layer ("").
type awqGroup struct {
	Norm    *normRef // the previous op is a norm…
	Prev    string   // …or this linear (its last rows)
	Layers  []string
	Inspect string
}

// smoothPair is one of SmoothQuant's norm → linears pairs.
type smoothPair struct {
	Norm   normRef
	Layers []string
}

type archRules struct {
	// inputs groups the linears that read one input (leader first, in
	// execution order).
	inputs [][]string
	// trueSeq is GPTQ's true-sequential order.
	trueSeq [][]string
	// attnOut is the linear whose input is the attention output.
	attnOut string
	awq     []awqGroup
	smooth  []smoothPair
	// prefix is the checkpoint prefix of block i ("model.layers.3.").
	prefix func(i int) string
	// mlp computes the MLP output for AWQ's "mlp" groups (nil: the
	// architecture has no "mlp" group).
	mlp mlpFunc
}

// mlpFunc computes a block's MLP output on x [rows×Hidden] with the
// block's linears ls, their weights overridden by weights (by short name).
type mlpFunc func(ls map[string]*models.Linear, weights map[string][]float32, x []float32, rows int, sc *mlpScratch) []float32

// rulesFor returns the rules of a model's architecture.
func rulesFor(c *models.Config) (*archRules, error) {
	a, err := models.ArchitectureOf(c)
	if err != nil {
		return nil, badInput("architecture %q is not supported by compress", c.Arch)
	}
	d := a.Rules(c)
	r := &archRules{inputs: d.Inputs, trueSeq: d.TrueSequential, attnOut: d.AttnOut, prefix: a.LayerPrefix}
	switch d.MLP {
	case models.MLPGated:
		r.mlp = gatedMLP(d.MLPLinears[0], d.MLPLinears[1], d.MLPLinears[2])
	case models.MLPFusedGated:
		r.mlp = fusedGatedMLP(d.MLPLinears[0], d.MLPLinears[1])
	}
	for _, g := range d.AWQ {
		ag := awqGroup{Prev: g.Prev, Layers: g.Layers, Inspect: g.Inspect}
		if g.Norm != nil {
			ag.Norm = &normRef{Name: g.Norm.Short, Bias: g.Norm.Bias}
		}
		r.awq = append(r.awq, ag)
	}
	for _, p := range d.Smooth {
		r.smooth = append(r.smooth, smoothPair{Norm: normRef{Name: p.Norm.Short, Bias: p.Norm.Bias}, Layers: p.Layers})
	}
	return r, nil
}

// clipSkipped is the reference's rule (auto_clip_block): no clipping search
// for the query and key projections, whose errors pass through the q·k
// product.
func clipSkipped(short string) bool {
	for _, s := range []string{"q_", "k_", "query", "key", "Wqkv"} {
		if strings.Contains(short, s) {
			return true
		}
	}
	return false
}

// leaderOf maps every linear short name to the first linear of its input
// group.
func (r *archRules) leaderOf() map[string]string {
	m := map[string]string{}
	for _, g := range r.inputs {
		for _, s := range g {
			m[s] = g[0]
		}
	}
	return m
}

// mlpScratch holds the MLP buffers of one sample.
type mlpScratch struct{ a, b, out []float32 }

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// linearW returns the float weights of l: the override in weights, or the
// layer's own dense weight.
func linearW(l *models.Linear, weights map[string][]float32) []float32 {
	if w, ok := weights[l.Short]; ok {
		return w
	}
	return l.Host.(*kernels.Dense).W
}

// gatedMLP is the gated MLP (models.MLPGated, LLaMA's),
// down(silu(gate(x)) ⊙ up(x)).
func gatedMLP(gate, up, down string) mlpFunc {
	return func(ls map[string]*models.Linear, weights map[string][]float32, x []float32, rows int, sc *mlpScratch) []float32 {
		g, u, d := ls[gate], ls[up], ls[down]
		inter, hid := g.Out(), g.In()
		sc.a = grow(sc.a, rows*inter)
		sc.b = grow(sc.b, rows*inter)
		sc.out = grow(sc.out, rows*hid)
		kernels.Linear(sc.a, x, rows, hid, linearW(g, weights), inter, g.Bias)
		kernels.Linear(sc.b, x, rows, hid, linearW(u, weights), inter, u.Bias)
		kernels.SwiGLU(sc.a, sc.a, sc.b)
		kernels.Linear(sc.out, sc.a, rows, inter, linearW(d, weights), hid, d.Bias)
		return sc.out
	}
}

// fusedGatedMLP is the gated MLP with gate and up fused in one linear
// (models.MLPFusedGated, ChatGLM's): gateUp gives [gate | up], then
// down(silu(gate) ⊙ up).
func fusedGatedMLP(gateUp, down string) mlpFunc {
	return func(ls map[string]*models.Linear, weights map[string][]float32, x []float32, rows int, sc *mlpScratch) []float32 {
		h4, d := ls[gateUp], ls[down]
		two, hid := h4.Out(), h4.In()
		inter := two / 2
		sc.a = grow(sc.a, rows*two)
		sc.b = grow(sc.b, rows*inter)
		sc.out = grow(sc.out, rows*hid)
		kernels.Linear(sc.a, x, rows, hid, linearW(h4, weights), two, h4.Bias)
		for r := 0; r < rows; r++ {
			f := sc.a[r*two : r*two+two]
			kernels.SwiGLU(sc.b[r*inter:r*inter+inter], f[:inter], f[inter:])
		}
		kernels.Linear(sc.out, sc.b, rows, inter, linearW(d, weights), hid, d.Bias)
		return sc.out
	}
}
