package compress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/internal/threadtest"
)

// TestSparseGPTThreadsReproducible: the Hessian of 500-token samples (Gram
// GEMMs whose k = 500 lies between OpenBLAS's GEMM_Q and 2·GEMM_Q on every
// core blasSgemm knows, where its threaded and single-threaded drivers cut
// k differently) and SparseGPT on it give the same bits with 1 and 2
// threads, where kernels.ThreadsReproducible says so.
func TestSparseGPTThreadsReproducible(t *testing.T) {
	const out, in, tokens, seq = 64, 256, 1500, 500
	rng := rand.New(rand.NewPCG(41, 42))
	x := correlatedInputs(rng, tokens, in, 4, 8)
	orig := randMatrix(rng, out, in, 0.05)
	var hs [2][]float64
	var ws [2][]float32
	threadtest.OneAndTwo(t, func(i, _ int) error {
		hs[i] = gramStat(x, tokens, in, seq, wantGram).hessian()
		h, err := PrepareHessian(slices.Clone(hs[i]), in, 0.01, false)
		if err != nil {
			return err
		}
		ws[i] = slices.Clone(orig)
		_, err = SparseGPTPrune(ws[i], out, in, h, PruneOptions{Sparsity: 0.5}, 32)
		return err
	})
	for j := range hs[0] {
		if math.Float64bits(hs[0][j]) != math.Float64bits(hs[1][j]) {
			t.Fatalf("Hessian[%d]: %v with 1 thread, %v with 2", j, hs[0][j], hs[1][j])
		}
	}
	for j := range ws[0] {
		if math.Float32bits(ws[0][j]) != math.Float32bits(ws[1][j]) {
			t.Fatalf("pruned weight %d: %v with 1 thread, %v with 2", j, ws[0][j], ws[1][j])
		}
	}
}

// TestThreadsReproducible: SparseGPT and GPTQ on a fixture give the same
// bits in every compressed weight and the same layer records with 1 and 2 threads (kernels.SetThreads
// and SetMaxThreads, as --threads sets them), where the GEMM backend is
// reproducible across thread counts (kernels.ThreadsReproducible;
// docs/METHODS.md, "Determinism").
func TestThreadsReproducible(t *testing.T) {
	for _, tc := range []struct{ model, method string }{
		{"llama2", SparseGPT},
		{"llama3", GPTQ},
	} {
		t.Run(tc.model+"-"+tc.method, func(t *testing.T) {
			var ws [2]map[string][]float32
			var recs [2][]LayerRecord
			threadtest.OneAndTwo(t, func(i, _ int) error {
				r := compressFixture(t, fixtureConfig(t, tc.model, tc.method), nil)
				recs[i] = slices.Clone(r.res.layers)
				for j := range recs[i] {
					recs[i][j].Seconds = 0 // wall time
				}
				ws[i] = map[string][]float32{}
				for _, l := range blockLinears(r.m) {
					ws[i][l.Name] = weightsOf(l.Host)
				}
				return nil
			})
			// The per-layer records (sparsity, GPTQ loss; not the wall time) too.
			if fmt.Sprintf("%#v", recs[0]) != fmt.Sprintf("%#v", recs[1]) {
				t.Errorf("layer records differ between 1 and 2 threads:\n%#v\n%#v", recs[0], recs[1])
			}
			for name, a := range ws[0] {
				b := ws[1][name]
				for j := range a {
					if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
						t.Fatalf("%s[%d]: %v with 1 thread, %v with 2", name, j, a[j], b[j])
					}
				}
			}
		})
	}
}
