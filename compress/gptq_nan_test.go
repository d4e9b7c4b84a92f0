package compress

import (
	"math"
	"strings"
	"testing"
)

// GPTQ and SparseGPT on non-finite inputs say so, instead of suggesting a
// larger dampening (which cannot help).
func TestGPTQNonFinite(t *testing.T) {
	const n = 8
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		h := identityHessian(n, 2)
		h[3*n+5] = bad
		_, err := PrepareHessian(h, n, 0.01, false)
		if err == nil || !strings.Contains(err.Error(), "not finite") || strings.Contains(err.Error(), "dampening") {
			t.Errorf("hessian with %v: %v", bad, err)
		}
		if err != nil && !strings.Contains(err.Error(), "[3 5]") {
			t.Errorf("hessian with %v: %v does not name the entry", bad, err)
		}
	}
	hs, err := PrepareHessian(identityHessian(n, 2), n, 0.01, false)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, 4*n)
	w[2*n+1] = float32(math.NaN())
	_, err = GPTQQuantize(w, 4, n, hs, GPTQOptions{Bits: 4, BlockSize: 128})
	if err == nil || !strings.Contains(err.Error(), "weight [2 1] is NaN") {
		t.Errorf("NaN weight: %v", err)
	}
	// A genuinely indefinite (finite) matrix still gets the dampening hint.
	h := identityHessian(2, 1)
	h[1], h[2] = 5, 5
	if _, err := PrepareHessian(h, 2, 0.01, false); err == nil || !strings.Contains(err.Error(), "dampening") {
		t.Errorf("indefinite hessian: %v", err)
	}
}
