package optim

import (
	"math"
	"testing"

	"github.com/llmcbench/gollm/grad"
)

// adamwRef is torch.optim.AdamW's update of one value in float64, the
// formula AdamW documents.
type adamwRef struct{ p, m, v float64 }

func (r *adamwRef) step(g, lr, wd float64, t int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	r.p *= 1 - lr*wd
	r.m = b1*r.m + (1-b1)*g
	r.v = b2*r.v + (1-b2)*g*g
	r.p -= lr * (r.m / (1 - math.Pow(b1, float64(t)))) / (math.Sqrt(r.v/(1-math.Pow(b2, float64(t)))) + eps)
}

// testModel is a grad.Model of one 2×2 matrix and one norm gain.
func testModel() *grad.Model {
	return &grad.Model{
		Specs: []grad.ParamSpec{
			{Name: "w", Shape: []int{2, 2}, Kind: grad.Matrix},
			{Name: "g", Shape: []int{2}, Kind: grad.NormWeight},
		},
		Params: map[string]*grad.Var{
			"w": {Val: []float32{0.5, -1, 2, 0.25}, Rows: 2, Cols: 2},
			"g": {Val: []float32{1, -0.5}, Rows: 1, Cols: 2},
		},
	}
}

// TestAdamWMatchesTorchFormula runs three steps with changing gradients
// and learning rates and compares every value with the float64 formula:
// weight decay on matrices only (Step) or on every variable (StepVars).
func TestAdamWMatchesTorchFormula(t *testing.T) {
	const wd = 0.1
	grads := [][]float32{{0.3, -2, 1e-3, 5}, {-0.1, 0.4, 2, -3}, {1, 1, -1, 0.5}}
	lrs := []float64{1e-2, 5e-3, 2e-2}
	for _, vars := range []bool{false, true} {
		m := testModel()
		o := NewAdamW(m, 0.9, 0.999, 1e-8, wd)
		ref := map[string][]adamwRef{}
		for _, s := range m.Specs {
			for _, x := range m.Params[s.Name].Val {
				ref[s.Name] = append(ref[s.Name], adamwRef{p: float64(x)})
			}
		}
		for step, lr := range lrs {
			m.Params["w"].Grad = grads[step]
			m.Params["g"].Grad = grads[step][:2]
			if vars {
				o.StepVars(m.Params, lr)
			} else {
				o.Step(m, lr)
			}
			for _, s := range m.Specs {
				decay := wd
				if s.Kind != grad.Matrix && !vars {
					decay = 0
				}
				for i, x := range m.Params[s.Name].Val {
					r := &ref[s.Name][i]
					r.step(float64(m.Params[s.Name].Grad[i]), lr, decay, step+1)
					if d := math.Abs(float64(x) - r.p); d > 1e-6*math.Max(1, math.Abs(r.p)) {
						t.Errorf("vars=%v step %d: %s[%d] = %v, want %v", vars, step+1, s.Name, i, x, r.p)
					}
				}
			}
		}
		if o.T != len(lrs) {
			t.Errorf("vars=%v: T = %d after %d steps", vars, o.T, len(lrs))
		}
	}
}

// TestAdamWSkipsParamsWithoutGradient: a parameter no gradient reached
// keeps its value.
func TestAdamWSkipsParamsWithoutGradient(t *testing.T) {
	m := testModel()
	o := NewAdamW(m, 0.9, 0.999, 1e-8, 0.1)
	m.Params["w"].Grad = []float32{1, 1, 1, 1}
	o.Step(m, 0.1)
	if g := m.Params["g"].Val; g[0] != 1 || g[1] != -0.5 {
		t.Errorf("norm gain without gradient moved to %v", g)
	}
	if w := m.Params["w"].Val; w[0] == 0.5 {
		t.Errorf("matrix with gradient did not move: %v", w)
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{Peak: 1, Min: 0.1, Warmup: 10, Total: 110}
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 0.1}, {9, 1}, {10, 1}, {60, 0.55}, {110, 0.1}, {500, 0.1}} {
		if got := s.LR(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LR(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	for _, tc := range []struct {
		maxNorm float64
		want    []float32 // the gradients after clipping
	}{
		{0, []float32{3, 0, 4}},  // no clipping
		{10, []float32{3, 0, 4}}, // under the limit
		{1, []float32{0.6, 0, 0.8}},
	} {
		m := &grad.Model{
			Specs:  []grad.ParamSpec{{Name: "a", Shape: []int{2}}, {Name: "b", Shape: []int{1}}},
			Params: map[string]*grad.Var{"a": {Grad: []float32{3, 0}}, "b": {Grad: []float32{4}}},
		}
		if norm := ClipGradNorm(m, tc.maxNorm); math.Abs(norm-5) > 1e-12 {
			t.Errorf("maxNorm %v: norm %v, want 5", tc.maxNorm, norm)
		}
		got := append(append([]float32(nil), m.Params["a"].Grad...), m.Params["b"].Grad...)
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-5 {
				t.Errorf("maxNorm %v: gradients %v, want %v", tc.maxNorm, got, tc.want)
				break
			}
		}
	}
}
