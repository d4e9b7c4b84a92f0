package omniquant

import (
	"context"
	"math"
	"testing"

	"github.com/llmcbench/gollm/internal/threadtest"
)

// TestThreadsReproducible: OmniQuant W4A4 (LWC and LET, so the norm-gain
// gradients' reductions are exercised) gives the same codes, scales and
// block losses with 1 and 2 threads (kernels.SetThreads and SetMaxThreads,
// as --threads sets them), where the GEMM backend is reproducible across
// thread counts (kernels.ThreadsReproducible; docs/METHODS.md,
// "Determinism"). One 500-token sample: the weight-gradient GEMMs then have
// k = 500, between GEMM_Q and 2·GEMM_Q of every OpenBLAS core blasSgemm
// knows, where OpenBLAS's threaded and single-threaded drivers cut k
// differently (the fixture's 256 positions are no limit for RoPE).
func TestThreadsReproducible(t *testing.T) {
	dir := "../../testdata/llama3-tiny"
	var res [2]*Result
	threadtest.OneAndTwo(t, func(i, _ int) error {
		cfg := Config{Model: dir, WBits: 4, ABits: 4, GroupSize: -1, Epochs: 2,
			Calib: []string{calibFile(t)}, NSamples: 1, Seqlen: 500, Tokenizer: tok(t, dir)}
		var err error
		res[i], err = Quantize(context.Background(), cfg, nil)
		return err
	})
	for j, b := range res[0].Blocks {
		if c := res[1].Blocks[j]; math.Float64bits(b.FinalMSE) != math.Float64bits(c.FinalMSE) || math.Float64bits(b.InitMSE) != math.Float64bits(c.InitMSE) {
			t.Errorf("block %d: init/final MSE %v/%v with 1 thread, %v/%v with 2", j, b.InitMSE, b.FinalMSE, c.InitMSE, c.FinalMSE)
		}
	}
	for name, a := range res[0].Quant {
		b := res[1].Quant[name]
		if string(a.Q) != string(b.Q) {
			t.Errorf("%s: codes differ between 1 and 2 threads", name)
		}
		for j := range a.Scales {
			if math.Float32bits(a.Scales[j]) != math.Float32bits(b.Scales[j]) || a.Zeros[j] != b.Zeros[j] {
				t.Fatalf("%s: group %d scale/zero %v/%v with 1 thread, %v/%v with 2", name, j, a.Scales[j], a.Zeros[j], b.Scales[j], b.Zeros[j])
			}
		}
	}
}
