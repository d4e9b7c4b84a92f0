package compress

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

var llama7B = models.Config{Arch: "llama", Hidden: 4096, Intermediate: 11008, Layers: 32, Heads: 32, KVHeads: 32,
	HeadDim: 128, Vocab: 32000, MaxPos: 4096, DType: tensor.F16}

func TestActStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	x := randMatrix(rng, 3, 100, 5)
	for _, tc := range []struct {
		dtype tensor.DType
		tol   float64
	}{{tensor.F32, 0}, {tensor.F16, 1.0 / 2048}, {tensor.BF16, 1.0 / 256}} {
		a := newActStore(2, tc.dtype)
		a.put(1, x)
		a.put(0, x[:10])
		if a.samples() != 2 {
			t.Fatalf("%s: %d samples", tc.dtype, a.samples())
		}
		got := a.get(1, nil)
		if tc.tol == 0 && !slices.Equal(got, x) {
			t.Fatalf("%s: values changed", tc.dtype)
		}
		for i := range x {
			if d := math.Abs(float64(got[i] - x[i])); d > tc.tol*math.Abs(float64(x[i])) {
				t.Fatalf("%s: %g stored as %g", tc.dtype, x[i], got[i])
			}
		}
		if len(a.get(0, got)) != 10 {
			t.Fatalf("%s: sample 0 has the wrong length", tc.dtype)
		}
	}
}

// A 7B-sized LLaMA compresses with GPTQ at 128×2048 and prunes with Wanda
// at 128×4096 in under 24 GB by the estimate (finished pruned blocks are
// spilled to disk, one layer's KV cache is held), while a calibration set
// whose activations alone exceed 24 GB does not fit.
func TestEstimateMemory7B(t *testing.T) {
	mc := &llama7B
	gptq := estimateMemory(&Config{Method: GPTQ, Bits: 4, Seqlen: 2048}, mc, 128*2048)
	awq := estimateMemory(&Config{Method: AWQ, Bits: 4, Seqlen: 512}, mc, 128*512)
	wanda := estimateMemory(&Config{Method: Wanda, Sparsity: 0.5, Seqlen: 4096}, mc, 128*4096)
	huge := estimateMemory(&Config{Method: SparseGPT, Sparsity: 0.5, Seqlen: 4096}, mc, 1024*4096)
	t.Logf("LLaMA-2-7B estimates: GPTQ %.1f GiB, AWQ %.1f GiB, Wanda %.1f GiB, SparseGPT 1024×4096 %.1f GiB", gib(gptq), gib(awq), gib(wanda), gib(huge))
	if gib(gptq) > 24 || gib(gptq) < 10 {
		t.Errorf("GPTQ estimate %.1f GiB", gib(gptq))
	}
	// Block inputs and outputs of 128×4096 tokens in float16: 8 GiB.
	if gib(wanda) > 24 || gib(wanda) < 8 {
		t.Errorf("Wanda estimate %.1f GiB, want 8–24", gib(wanda))
	}
	if gib(huge) < 64 {
		t.Errorf("SparseGPT at 1024×4096 tokens estimated at %.1f GiB: its activations alone are 64 GiB", gib(huge))
	}
}
