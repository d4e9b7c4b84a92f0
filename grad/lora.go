package grad

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmcbench/gollm/kernels"
)

// LoRA is a low-rank adapter on one linear layer (Hu et al.; PEFT's
// lora.Linear without dropout): y = x·Wᵀ + b + Scale·(x·Aᵀ)·Bᵀ with A
// [r×in], B [out×r] and Scale = alpha/r.
type LoRA struct {
	A, B  *Var
	Scale float32
}

// LoRATargets lists the linear layers LLM-Pruner's recovery adapts (its
// post_training target_modules): every linear of every decoder block
// (q/k/v/o and the MLP for LLaMA, q/k/v/out_proj and fc1/fc2 for OPT,
// query_key_value, dense and both MLP linears for ChatGLM), block after
// block in execution order.
func (m *Model) LoRATargets() []string {
	var names []string
	for i := 0; i < m.Config.Layers; i++ {
		b := m.arch.Block(m.Config, i)
		for _, l := range b.Linears {
			names = append(names, b.Prefix+l.Short)
		}
	}
	return names
}

// AddLoRA attaches a rank-r adapter with scaling alpha/r to each named
// linear layer (checkpoint prefixes, as LoRATargets returns): A drawn
// from PEFT's kaiming_uniform_(a=√5), i.e. U(−1/√in, 1/√in), B zero, so the
// model's function is unchanged until B is trained.
func (m *Model) AddLoRA(names []string, rank int, alpha float64, rng *rand.Rand) error {
	if rank < 1 {
		return fmt.Errorf("grad: LoRA rank %d: must be ≥ 1", rank)
	}
	if m.LoRA == nil {
		m.LoRA = map[string]*LoRA{}
	}
	for _, name := range names {
		w, ok := m.Params[name+".weight"]
		if !ok || w.Rows <= 0 {
			return fmt.Errorf("grad: LoRA target %q is not a linear layer of the model", name)
		}
		if _, dup := m.LoRA[name]; dup {
			return fmt.Errorf("grad: LoRA target %q given twice", name)
		}
		bound := 1 / math.Sqrt(float64(w.Cols))
		a := make([]float32, rank*w.Cols)
		for i := range a {
			a[i] = float32((2*rng.Float64() - 1) * bound)
		}
		m.LoRA[name] = &LoRA{A: Param(rank, w.Cols, a), B: Param(w.Rows, rank, make([]float32, w.Rows*rank)), Scale: float32(alpha / float64(rank))}
	}
	return nil
}

// Freeze stops gradients for every base parameter (LoRA adapters keep
// theirs): backward passes then cost only what the adapters need.
func (m *Model) Freeze() {
	for _, p := range m.Params {
		p.requires = false
	}
}

// LoRAVars returns the adapters' parameters by name (<layer>.lora_A,
// <layer>.lora_B), for an optimizer.
func (m *Model) LoRAVars() map[string]*Var {
	vs := make(map[string]*Var, 2*len(m.LoRA))
	for name, l := range m.LoRA {
		vs[name+".lora_A"], vs[name+".lora_B"] = l.A, l.B
	}
	return vs
}

// MergeLoRA folds every adapter into its weight (W += Scale·B·A, in place)
// and removes the adapters: the model then computes the same function
// with plain linears.
func (m *Model) MergeLoRA() {
	for name, l := range m.LoRA {
		w := m.Params[name+".weight"]
		kernels.Sgemm(false, false, w.Rows, w.Cols, l.A.Rows, l.Scale, l.B.Val, l.B.Cols, l.A.Val, l.A.Cols, 1, w.Val, w.Cols)
	}
	m.LoRA = nil
}

// Scale returns s·x.
func (t *Tape) Scale(x *Var, s float32) *Var {
	y := t.out(x.Rows, x.Cols, x)
	for i, v := range x.Val {
		y.Val[i] = s * v
	}
	t.record(y, func(dy []float32) {
		if x.requires {
			g := x.g()
			for i, d := range dy {
				g[i] += s * d
			}
		}
	})
	return y
}
