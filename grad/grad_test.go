package grad

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmcbench/gollm/models"
)

// gradCheck compares the backward of build (seeded with random weights c,
// i.e. the gradient of L = Σ c·y) with central finite differences of L
// (float32 forward, float64 objective) for every Var in wrt, on up to
// maxPerVar elements each. A Var fails when the relative error
// ‖g − fd‖/max(‖g‖, ‖fd‖) over its sampled elements exceeds tol and the
// root-mean-square error exceeds the finite-difference noise floor (1e-3:
// some gradients are exactly zero, e.g. a key bias under softmax); the
// check fails too when every gradient is zero (a check that cannot fail is
// no check).
func gradCheck(t *testing.T, name string, build func(tp *Tape) *Var, wrt []*Var, tol float64) {
	t.Helper()
	const h = 1e-3
	const maxPerVar = 48
	tp := NewTape()
	y := build(tp)
	rng := rand.New(rand.NewPCG(7, 7))
	c := make([]float32, len(y.Val))
	for i := range c {
		c[i] = float32(rng.NormFloat64())
	}
	for _, v := range wrt {
		v.Grad = nil
	}
	tp.BackwardFrom(y, c)
	objective := func() float64 {
		y := build(NewTape())
		var s float64
		for i, v := range y.Val {
			s += float64(c[i]) * float64(v)
		}
		return s
	}
	var total float64
	for vi, v := range wrt {
		if v.Grad == nil {
			t.Errorf("%s: input %d received no gradient", name, vi)
			continue
		}
		idx := make([]int, len(v.Val))
		for i := range idx {
			idx[i] = i
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		if len(idx) > maxPerVar {
			idx = idx[:maxPerVar]
		}
		var num, dg, dfd float64
		for _, i := range idx {
			old := v.Val[i]
			v.Val[i] = old + h
			lp := objective()
			v.Val[i] = old - h
			lm := objective()
			v.Val[i] = old
			fd := (lp - lm) / float64((old+h)-(old-h)) // the step float32 actually took
			g := float64(v.Grad[i])
			num += (g - fd) * (g - fd)
			dg += g * g
			dfd += fd * fd
		}
		total += dg
		den := math.Sqrt(math.Max(dg, dfd))
		rms := math.Sqrt(num / float64(len(idx)))
		if rel := math.Sqrt(num) / den; rms > 1e-3 && !(rel <= tol) {
			t.Errorf("%s: input %d (%d×%d): relative error %.3g > %g (‖g‖=%.3g ‖fd‖=%.3g)", name, vi, v.Rows, v.Cols, rel, tol, math.Sqrt(dg), math.Sqrt(dfd))
		}
	}
	if total < 1e-12 {
		t.Errorf("%s: every gradient is zero", name)
	}
}

func randParam(rng *rand.Rand, rows, cols int, std float64) *Var {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return Param(rows, cols, v)
}

func TestOpGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	P := func(r, c int) *Var { return randParam(rng, r, c, 1) }
	x := P(6, 8)
	w, b := P(5, 8), P(1, 5)
	x2 := P(6, 8)
	gamma, beta := randParam(rng, 1, 8, 1), P(1, 8)
	table := P(7, 8)
	ids := []int{3, 1, 3, 6, 0, 3}
	// Attention: batch 2 × seq 5, head dim 4.
	const B, T, hd = 2, 5, 4
	q4, k4, v4 := P(B*T, 4*hd), P(B*T, 4*hd), P(B*T, 4*hd)
	k2, v2 := P(B*T, 2*hd), P(B*T, 2*hd)
	k1, v1 := P(B*T, hd), P(B*T, hd)
	rq := P(B*T, 2*8) // 2 heads of 8 for RoPE
	inv := func(rot int) []float32 {
		rc := models.RopeConfig{Theta: 10000, Type: "default", RotaryDim: rot}
		return rc.InvFreq()
	}
	logits := P(6, 9)
	targets := []int{2, -1, 8, 0, 5, 5}
	a, tgt := P(4, 3), P(4, 3)
	cases := []struct {
		name  string
		build func(tp *Tape) *Var
		wrt   []*Var
	}{
		{"embedding", func(tp *Tape) *Var { return tp.Embedding(table, ids) }, []*Var{table}},
		{"linear+bias", func(tp *Tape) *Var { return tp.Linear(x, w, b) }, []*Var{x, w, b}},
		{"linear", func(tp *Tape) *Var { return tp.Linear(x, w, nil) }, []*Var{x, w}},
		{"add", func(tp *Tape) *Var { return tp.Add(x, x2) }, []*Var{x, x2}},
		{"cols", func(tp *Tape) *Var { return tp.Cols(x, 2, 7) }, []*Var{x}},
		{"rmsnorm", func(tp *Tape) *Var { return tp.RMSNorm(x, gamma, 1e-5) }, []*Var{x, gamma}},
		{"layernorm", func(tp *Tape) *Var { return tp.LayerNorm(x, gamma, beta, 1e-5) }, []*Var{x, gamma, beta}},
		{"layernorm-nobias", func(tp *Tape) *Var { return tp.LayerNorm(x, gamma, nil, 1e-5) }, []*Var{x, gamma}},
		{"swiglu", func(tp *Tape) *Var { return tp.SwiGLU(x, x2) }, []*Var{x, x2}},
		{"relu", func(tp *Tape) *Var { return tp.ReLU(x) }, []*Var{x}},
		{"gelu", func(tp *Tape) *Var { return tp.GELU(x) }, []*Var{x}},
		{"rope-half", func(tp *Tape) *Var { return tp.RoPE(rq, 2, 8, T, inv(8), false) }, []*Var{rq}},
		{"rope-half-partial", func(tp *Tape) *Var { return tp.RoPE(rq, 2, 8, T, inv(4), false) }, []*Var{rq}},
		{"rope-interleaved-partial", func(tp *Tape) *Var { return tp.RoPE(rq, 2, 8, T, inv(4), true) }, []*Var{rq}},
		{"attention-mha", func(tp *Tape) *Var { return tp.Attention(q4, k4, v4, B, T, 4, 4, hd, 0.5) }, []*Var{q4, k4, v4}},
		{"attention-gqa", func(tp *Tape) *Var { return tp.Attention(q4, k2, v2, B, T, 4, 2, hd, 0.5) }, []*Var{q4, k2, v2}},
		{"attention-mqa", func(tp *Tape) *Var { return tp.Attention(q4, k1, v1, B, T, 4, 1, hd, 0.5) }, []*Var{q4, k1, v1}},
		{"cross-entropy", func(tp *Tape) *Var { return tp.CrossEntropy(logits, targets) }, []*Var{logits}},
		{"mse", func(tp *Tape) *Var { return tp.MSE(a, tgt) }, []*Var{a, tgt}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gradCheck(t, tc.name, tc.build, tc.wrt, 1e-2)
		})
	}
}

// TestAttentionMatchesReference holds the GEMM attention to a plain
// float64 causal attention for MHA, GQA and MQA.
func TestAttentionMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const T, hd = 7, 4
	for _, kvh := range []int{4, 2, 1} {
		q, k, v := randParam(rng, T, 4*hd, 1), randParam(rng, T, kvh*hd, 1), randParam(rng, T, kvh*hd, 1)
		got := NewTape().Attention(q, k, v, 1, T, 4, kvh, hd, 0.5)
		want := make([]float32, T*4*hd)
		attentionRef(want, q.Val, k.Val, v.Val, T, 4, kvh, hd, 0.5)
		for i := range want {
			if d := math.Abs(float64(got.Val[i] - want[i])); d > 1e-5 {
				t.Fatalf("kv heads %d: out[%d] = %v, reference %v", kvh, i, got.Val[i], want[i])
			}
		}
	}
}

// attentionRef is a plain float64 causal attention (one sequence).
func attentionRef(out, q, k, v []float32, T, heads, kvHeads, hd int, scale float64) {
	g := heads / kvHeads
	for r := 0; r < T; r++ {
		for h := 0; h < heads; h++ {
			ko := (h / g) * hd
			s := make([]float64, r+1)
			m := math.Inf(-1)
			for j := 0; j <= r; j++ {
				var d float64
				for e := 0; e < hd; e++ {
					d += float64(q[r*heads*hd+h*hd+e]) * float64(k[j*kvHeads*hd+ko+e])
				}
				s[j] = d * scale
				m = math.Max(m, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - m)
				sum += s[j]
			}
			for e := 0; e < hd; e++ {
				var acc float64
				for j := range s {
					acc += s[j] / sum * float64(v[j*kvHeads*hd+ko+e])
				}
				out[r*heads*hd+h*hd+e] = float32(acc)
			}
		}
	}
}

func TestFakeQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ bits, group int }{{4, 8}, {3, 16}, {2, 0}, {8, 4}} {
		w := randParam(rng, 4, 16, 1)
		tp := NewTape()
		y := tp.FakeQuant(w, tc.bits, tc.group)
		g := tc.group
		if g <= 0 {
			g = 16
		}
		for r := 0; r < 4; r++ {
			for gi := 0; gi < 16/g; gi++ {
				seg := w.Val[r*16+gi*g : r*16+(gi+1)*g]
				lo, hi := minMax(seg)
				s := (hi - lo) / float64(int(1)<<tc.bits-1)
				levels := map[float32]bool{}
				for i := range seg {
					q := y.Val[r*16+gi*g+i]
					levels[q] = true
					if d := math.Abs(float64(q - seg[i])); d > s/2+1e-6 {
						t.Errorf("bits %d group %d: |Q(w)−w| = %v > scale/2 = %v", tc.bits, tc.group, d, s/2)
					}
				}
				if len(levels) > 1<<tc.bits {
					t.Errorf("bits %d: %d distinct levels in a group", tc.bits, len(levels))
				}
			}
		}
		seed := make([]float32, len(y.Val))
		for i := range seed {
			seed[i] = float32(i) - 3
		}
		tp.BackwardFrom(y, seed)
		for i := range seed {
			if w.Grad[i] != seed[i] {
				t.Fatalf("straight-through gradient [%d] = %v, want %v", i, w.Grad[i], seed[i])
			}
		}
	}
}

func TestFakeQuantLWC(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const rows, cols, group, bits = 3, 16, 8, 3
	w := randParam(rng, rows, cols, 1)
	// Large factors: sigmoid ≈ 1, no clipping: the same grid as FakeQuant.
	big := func() *Var {
		v := make([]float32, rows*cols/group)
		for i := range v {
			v[i] = 30
		}
		return Param(rows, cols/group, v)
	}
	a := NewTape().FakeQuantLWC(w, big(), big(), bits, group)
	b := NewTape().FakeQuant(w, bits, group)
	for i := range a.Val {
		if math.Abs(float64(a.Val[i]-b.Val[i])) > 1e-5 {
			t.Fatalf("unclipped LWC [%d] = %v, FakeQuant %v", i, a.Val[i], b.Val[i])
		}
	}
	// Clipping-aware STE against the surrogate (round = identity, zero
	// points frozen at their value at the base point).
	up, low := randParam(rng, rows, cols/group, 1), randParam(rng, rows, cols/group, 1)
	id := func(x float64) float64 { return x }
	zeros := make([]float64, rows*cols/group)
	for r := 0; r < rows; r++ {
		for gi := 0; gi < cols/group; gi++ {
			k := r*(cols/group) + gi
			lo, hi := minMax(w.Val[r*cols+gi*group : r*cols+(gi+1)*group])
			xmax, xmin := sigmoid(float64(up.Val[k]))*hi, sigmoid(float64(low.Val[k]))*lo
			zeros[k] = math.RoundToEven(-xmin / ((xmax - xmin) / float64(int(1)<<bits-1)))
		}
	}
	gradCheck(t, "lwc", func(tp *Tape) *Var {
		return tp.fakeQuantLWC(w, up, low, bits, group, id, zeros)
	}, []*Var{w, up, low}, 2e-2)
}
