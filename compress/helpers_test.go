package compress

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmcbench/gollm/kernels"
)

// randMatrix returns rows×cols values with standard deviation std.
func randMatrix(rng *rand.Rand, rows, cols int, std float64) []float32 {
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * std)
	}
	return w
}

// correlatedInputs returns tokens×dim activations with correlated channels
// (z·A for a random mixing A) and, if outliers > 0, that many channels
// scaled up by outlierScale, as in LLM activations.
func correlatedInputs(rng *rand.Rand, tokens, dim, outliers int, outlierScale float32) []float32 {
	k := max(dim/4, 1)
	z := randMatrix(rng, tokens, k, 1)
	a := randMatrix(rng, k, dim, 1/math.Sqrt(float64(k)))
	x := make([]float32, tokens*dim)
	kernels.Sgemm(false, false, tokens, dim, k, 1, z, k, a, dim, 0, x, dim)
	noise := randMatrix(rng, tokens, dim, 0.1)
	for i := range x {
		x[i] += noise[i]
	}
	for c := 0; c < outliers; c++ {
		j := (c*7919 + 3) % dim
		for t := 0; t < tokens; t++ {
			x[t*dim+j] *= outlierScale
		}
	}
	return x
}

// gramStat accumulates x as the engine does (one "sample" per chunk of
// rows).
func gramStat(x []float32, tokens, dim, chunk int, kind statKind) *inputStat {
	s := newInputStat(dim, kind, 1)
	for t0 := 0; t0 < tokens; t0 += chunk {
		n := min(chunk, tokens-t0)
		s.add(x[t0*dim:(t0+n)*dim], n, t0)
	}
	return s
}

// calibLayer draws one layer's calibration problem from the stream seeded
// (seed, seed+1): inputs x [tokens×in] from correlatedInputs, weights
// w [out×in] with standard deviation 0.05, and x's statistics st gathered
// in chunks of chunk rows.
func calibLayer(seed uint64, out, in, tokens, outliers int, outlierScale float32, chunk int, kind statKind) (x, w []float32, st *inputStat) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	x = correlatedInputs(rng, tokens, in, outliers, outlierScale)
	w = randMatrix(rng, out, in, 0.05)
	return x, w, gramStat(x, tokens, in, chunk, kind)
}

// outputErr returns ‖x·(w'−w)ᵀ‖² / ‖x·wᵀ‖².
func outputErr(x []float32, tokens, in int, w, wq []float32, out int) float64 {
	y := make([]float32, tokens*out)
	yq := make([]float32, tokens*out)
	kernels.LinearRef(y, x, tokens, in, w, out, nil)
	kernels.LinearRef(yq, x, tokens, in, wq, out, nil)
	var num, den float64
	for i := range y {
		d := float64(yq[i] - y[i])
		num += d * d
		den += float64(y[i]) * float64(y[i])
	}
	return num / den
}

func countZeros(w []float32) int {
	n := 0
	for _, v := range w {
		if v == 0 {
			n++
		}
	}
	return n
}

// checkNM fails unless every run of m columns of every row has at least n
// zeros.
func checkNM(t *testing.T, w []float32, out, in, n, m int) {
	t.Helper()
	for r := 0; r < out; r++ {
		for g := 0; g < in; g += m {
			z := countZeros(w[r*in+g : r*in+g+m])
			if z < n {
				t.Fatalf("row %d columns %d..%d: %d zeros, want %d of %d", r, g, g+m, z, n, m)
			}
		}
	}
}
