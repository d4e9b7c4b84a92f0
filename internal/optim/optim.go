// Package optim holds the optimizer pieces that gollm's training (package
// train) and LLM-Pruner's LoRA recovery (compress/llmpruner) share: AdamW
// with decoupled weight decay, the linear warm-up + cosine learning-rate
// schedule and global-norm gradient clipping, over package grad's
// parameters.
package optim

import (
	"math"

	"github.com/llmcbench/gollm/grad"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), as
// torch.optim.AdamW computes it:
//
//	p ← p·(1 − lr·wd)
//	m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
//	p ← p − lr·(m/(1−β1ᵗ)) / (sqrt(v/(1−β2ᵗ)) + ε)
//
// Weight decay applies to matrices and embeddings (grad.Matrix), not to
// norm gains or biases. The moments are float32, one pair per parameter.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// T is the number of updates done (the bias-correction step).
	T int
	// M and V are the first and second moments by parameter name.
	M, V map[string][]float32
}

// NewAdamW returns an optimizer with zero moments for m's parameters.
func NewAdamW(m *grad.Model, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay, M: map[string][]float32{}, V: map[string][]float32{}}
	for _, s := range m.Specs {
		o.M[s.Name] = make([]float32, s.Numel())
		o.V[s.Name] = make([]float32, s.Numel())
	}
	return o
}

// Step applies one update with learning rate lr to every parameter of m
// that has a gradient.
func (o *AdamW) Step(m *grad.Model, lr float64) {
	o.T++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.T))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.T))
	for _, s := range m.Specs {
		p := m.Params[s.Name]
		if p.Grad == nil {
			continue
		}
		mm, vv := o.M[s.Name], o.V[s.Name]
		decay := float32(1)
		if s.Kind == grad.Matrix {
			decay = float32(1 - lr*o.WeightDecay)
		}
		o.update(p, mm, vv, decay, lr, bc1, bc2)
	}
}

// StepVars applies one update with learning rate lr to every variable of
// vars that has a gradient (decoupled weight decay on all of them), keeping
// moments by name: the optimizer of parameters outside a Model's specs,
// such as LoRA adapters.
func (o *AdamW) StepVars(vars map[string]*grad.Var, lr float64) {
	o.T++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.T))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.T))
	for name, p := range vars {
		if p.Grad == nil {
			continue
		}
		if o.M[name] == nil {
			o.M[name], o.V[name] = make([]float32, len(p.Val)), make([]float32, len(p.Val))
		}
		o.update(p, o.M[name], o.V[name], float32(1-lr*o.WeightDecay), lr, bc1, bc2)
	}
}

// update is the AdamW step of one parameter.
func (o *AdamW) update(p *grad.Var, mm, vv []float32, decay float32, lr, bc1, bc2 float64) {
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	stepSize := lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	for i, g := range p.Grad {
		mm[i] = b1*mm[i] + (1-b1)*g
		vv[i] = b2*vv[i] + (1-b2)*g*g
		den := math.Sqrt(float64(vv[i]))/sqrtBC2 + o.Eps
		p.Val[i] = p.Val[i]*decay - float32(stepSize*float64(mm[i])/den)
	}
}

// Schedule is linear warm-up to Peak over Warmup steps, then cosine decay
// to Min at step Total.
type Schedule struct {
	Peak, Min     float64
	Warmup, Total int
}

// LR returns the learning rate of update step (0-based).
func (s Schedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step+1) / float64(s.Warmup)
	}
	span := max(1, s.Total-s.Warmup)
	p := math.Min(1, float64(step-s.Warmup)/float64(span))
	return s.Min + 0.5*(s.Peak-s.Min)*(1+math.Cos(math.Pi*p))
}

// ClipGradNorm scales every gradient of m so that their global L2 norm is
// at most maxNorm (maxNorm ≤ 0: no clipping) and returns the norm before
// clipping, as torch.nn.utils.clip_grad_norm_.
func ClipGradNorm(m *grad.Model, maxNorm float64) float64 {
	var ss float64
	for _, s := range m.Specs {
		for _, g := range m.Params[s.Name].Grad {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 && norm > maxNorm {
		c := float32(maxNorm / (norm + 1e-6))
		for _, s := range m.Specs {
			g := m.Params[s.Name].Grad
			for i := range g {
				g[i] *= c
			}
		}
	}
	return norm
}
