package grad

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkNormBackward measures the forward and backward of RMSNorm,
// LayerNorm and a biased Linear on rows×width activations: the backward
// passes whose gamma/beta/bias gradients are reduced over rows (in fixed
// chunks, kernels.ParallelForChunks).
func BenchmarkNormBackward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	randVals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, s := range [][2]int{{2048, 4096}, {512, 64}} {
		rows, n := s[0], s[1]
		x := Param(rows, n, randVals(rows*n))
		gamma, beta := Param(1, n, randVals(n)), Param(1, n, randVals(n))
		w, bias := Param(n, n, randVals(n*n)), Param(1, n, randVals(n))
		seed := randVals(rows * n)
		ops := map[string]func(t *Tape) *Var{
			"rmsnorm":   func(t *Tape) *Var { return t.RMSNorm(x, gamma, 1e-5) },
			"layernorm": func(t *Tape) *Var { return t.LayerNorm(x, gamma, beta, 1e-5) },
			"linear":    func(t *Tape) *Var { return t.Linear(x, w, bias) },
		}
		for _, name := range []string{"rmsnorm", "layernorm", "linear"} {
			if name == "linear" && n > 1024 {
				continue // GEMM-bound: BenchmarkSgemm in package kernels
			}
			b.Run(fmt.Sprintf("%s/%dx%d", name, rows, n), func(b *testing.B) {
				for b.Loop() {
					t := NewTape()
					t.BackwardFrom(ops[name](t), seed)
					x.ZeroGrad()
					gamma.ZeroGrad()
					beta.ZeroGrad()
					w.ZeroGrad()
					bias.ZeroGrad()
				}
			})
		}
	}
}
