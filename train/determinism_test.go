package train

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/llmcbench/gollm/internal/threadtest"
)

// TestTrainThreadsReproducible: a few training steps with 1 and 2 threads
// (kernels.SetThreads and SetMaxThreads, as --threads sets them) end with
// the same bits in every parameter and the same loss curve, where the GEMM
// backend is reproducible across thread counts (kernels.ThreadsReproducible;
// docs/METHODS.md, "Determinism").
func TestTrainThreadsReproducible(t *testing.T) {
	dir := t.TempDir()
	var runs [2]*Result
	threadtest.OneAndTwo(t, func(i, th int) error {
		o := tinyOptions(t, dir)
		// 8×63 = 504 rows: the weight-gradient GEMMs have k = 504, between
		// GEMM_Q and 2·GEMM_Q, where OpenBLAS's threaded and single-threaded
		// drivers cut k differently.
		o.Steps, o.Warmup, o.SeqLen = 4, 1, 63
		o.Out = filepath.Join(dir, "threads"+strconv.Itoa(th))
		var err error
		runs[i], err = Run(context.Background(), o)
		return err
	})
	a, b := runs[0], runs[1]
	for i := range a.Curve {
		if math.Float64bits(a.Curve[i].Loss) != math.Float64bits(b.Curve[i].Loss) {
			t.Errorf("step %d: loss %v with 1 thread, %v with 2", i, a.Curve[i].Loss, b.Curve[i].Loss)
		}
	}
	for _, s := range a.Model.Specs {
		pa, pb := a.Model.Params[s.Name].Val, b.Model.Params[s.Name].Val
		for j := range pa {
			if math.Float32bits(pa[j]) != math.Float32bits(pb[j]) {
				t.Fatalf("%s[%d]: %v with 1 thread, %v with 2", s.Name, j, pa[j], pb[j])
			}
		}
	}
}
