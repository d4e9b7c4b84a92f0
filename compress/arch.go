package compress

import (
	"fmt"
	"strings"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// Per-architecture facts the methods need: which linears read the same
// input, GPTQ's true-sequential order, AWQ's scaling groups and
// SmoothQuant's norm→linear pairs (the references' rules for LLaMA and
// OPT; ChatGLM by analogy with the fused GPT-NeoX/BLOOM rules).

// normRef names a normalisation layer of a block by its checkpoint prefix
// inside the block ("input_layernorm") and whether it has a bias.
type normRef struct {
	Name string
	Bias bool
}

// awqGroup is one of AWQ's scaling groups: the scale is folded out of Prev
// (a norm, or the last rows of a linear) and into the input columns of
// Layers; the loss is measured on the output of the attention ("attn"), the
// MLP ("mlp") or the single layer ("").
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
	// mlp computes the MLP output for AWQ's "mlp" groups.
	mlp func(ws map[string]*models.Linear, weights map[string][]float32, x []float32, rows int, sc *mlpScratch) []float32
}

// rulesFor returns the rules of a model's architecture.
func rulesFor(c *models.Config) (*archRules, error) {
	switch c.Arch {
	case "llama":
		r := &archRules{
			inputs:  [][]string{{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, {"self_attn.o_proj"}, {"mlp.gate_proj", "mlp.up_proj"}, {"mlp.down_proj"}},
			trueSeq: [][]string{{"self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"}, {"self_attn.o_proj"}, {"mlp.up_proj", "mlp.gate_proj"}, {"mlp.down_proj"}},
			attnOut: "self_attn.o_proj",
			prefix:  func(i int) string { return fmt.Sprintf("model.layers.%d.", i) },
			mlp:     llamaMLP,
		}
		ln1, ln2 := normRef{Name: "input_layernorm"}, normRef{Name: "post_attention_layernorm"}
		r.awq = []awqGroup{
			{Norm: &ln1, Layers: []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, Inspect: "attn"},
		}
		// v→o only when the shapes match (skipped under grouped-query
		// attention, llm-awq PR #67).
		if c.KVHeads*c.HeadDim == c.Hidden && c.Heads*c.HeadDim == c.Hidden {
			r.awq = append(r.awq, awqGroup{Prev: "self_attn.v_proj", Layers: []string{"self_attn.o_proj"}})
		}
		r.awq = append(r.awq,
			awqGroup{Norm: &ln2, Layers: []string{"mlp.gate_proj", "mlp.up_proj"}, Inspect: "mlp"},
			awqGroup{Prev: "mlp.up_proj", Layers: []string{"mlp.down_proj"}},
		)
		r.smooth = []smoothPair{
			{Norm: ln1, Layers: []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
			{Norm: ln2, Layers: []string{"mlp.gate_proj", "mlp.up_proj"}},
		}
		return r, nil
	case "opt":
		r := &archRules{
			inputs:  [][]string{{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, {"self_attn.out_proj"}, {"fc1"}, {"fc2"}},
			trueSeq: [][]string{{"self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"}, {"self_attn.out_proj"}, {"fc1"}, {"fc2"}},
			attnOut: "self_attn.out_proj",
			prefix:  func(i int) string { return fmt.Sprintf("model.decoder.layers.%d.", i) },
		}
		ln1, ln2 := normRef{Name: "self_attn_layer_norm", Bias: true}, normRef{Name: "final_layer_norm", Bias: true}
		// A norm can absorb a scale only when it feeds the linears directly:
		// pre-LayerNorm OPT (125m, 1.3b…); OPT-350m normalises after.
		pre := c.DoLayerNormBefore
		if pre {
			r.awq = append(r.awq, awqGroup{Norm: &ln1, Layers: []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, Inspect: "attn"})
		}
		r.awq = append(r.awq, awqGroup{Prev: "self_attn.v_proj", Layers: []string{"self_attn.out_proj"}})
		if pre {
			r.awq = append(r.awq, awqGroup{Norm: &ln2, Layers: []string{"fc1"}})
		}
		r.awq = append(r.awq, awqGroup{Prev: "fc1", Layers: []string{"fc2"}})
		if pre {
			r.smooth = []smoothPair{
				{Norm: ln1, Layers: []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
				{Norm: ln2, Layers: []string{"fc1"}},
			}
		}
		return r, nil
	case "chatglm":
		r := &archRules{
			inputs:  [][]string{{"self_attention.query_key_value"}, {"self_attention.dense"}, {"mlp.dense_h_to_4h"}, {"mlp.dense_4h_to_h"}},
			trueSeq: [][]string{{"self_attention.query_key_value"}, {"self_attention.dense"}, {"mlp.dense_h_to_4h"}, {"mlp.dense_4h_to_h"}},
			attnOut: "self_attention.dense",
			prefix:  func(i int) string { return fmt.Sprintf("transformer.encoder.layers.%d.", i) },
			mlp:     chatglmMLP,
		}
		ln1, ln2 := normRef{Name: "input_layernorm"}, normRef{Name: "post_attention_layernorm"}
		if !c.ResidualPostLN {
			// With the residual taken after the norm, scaling the norm
			// would change the residual stream.
			r.awq = []awqGroup{
				{Norm: &ln1, Layers: []string{"self_attention.query_key_value"}, Inspect: "attn"},
				{Norm: &ln2, Layers: []string{"mlp.dense_h_to_4h"}, Inspect: "mlp"},
			}
			r.smooth = []smoothPair{
				{Norm: ln1, Layers: []string{"self_attention.query_key_value"}},
				{Norm: ln2, Layers: []string{"mlp.dense_h_to_4h"}},
			}
		}
		// The up half is the last rows of the fused dense_h_to_4h, which is
		// what the reference's scale_fc_fc divides.
		r.awq = append(r.awq, awqGroup{Prev: "mlp.dense_h_to_4h", Layers: []string{"mlp.dense_4h_to_h"}})
		return r, nil
	}
	return nil, badInput("architecture %q is not supported by compress", c.Arch)
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

// llamaMLP is LLaMA's MLP, down(silu(gate(x)) ⊙ up(x)), on x [rows×Hidden].
func llamaMLP(ls map[string]*models.Linear, weights map[string][]float32, x []float32, rows int, sc *mlpScratch) []float32 {
	g, u, d := ls["mlp.gate_proj"], ls["mlp.up_proj"], ls["mlp.down_proj"]
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

// chatglmMLP is ChatGLM's MLP: dense_h_to_4h gives [gate | up], then
// dense_4h_to_h(silu(gate) ⊙ up).
func chatglmMLP(ls map[string]*models.Linear, weights map[string][]float32, x []float32, rows int, sc *mlpScratch) []float32 {
	h4, d := ls["mlp.dense_h_to_4h"], ls["mlp.dense_4h_to_h"]
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
