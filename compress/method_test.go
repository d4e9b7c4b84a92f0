package compress

import (
	"slices"
	"testing"
)

// The registry is the one list of methods: names unique and in the CLI's
// order, the block methods are Methods, and each block method's hooks give
// a format and a record for its defaults.
func TestRegistry(t *testing.T) {
	var names []string
	for _, m := range registry {
		names = append(names, m.Info().Name)
	}
	if want := []string{Magnitude, Wanda, SparseGPT, LLMPruner, RTN, GPTQ, AWQ, SmoothQuant, OmniQuant}; !slices.Equal(names, want) || !slices.Equal(AllMethods, want) {
		t.Fatalf("registry %v, AllMethods %v, want %v", names, AllMethods, want)
	}
	if want := []string{Magnitude, Wanda, SparseGPT, RTN, GPTQ, AWQ, SmoothQuant}; !slices.Equal(Methods, want) {
		t.Fatalf("Methods %v, want %v", Methods, want)
	}
	for _, tc := range []struct {
		method, format string
		calibrated     bool
	}{
		{Magnitude, "dense", false}, {Wanda, "dense", true}, {SparseGPT, "dense", true}, {RTN, "gptq", false},
		{GPTQ, "gptq", true}, {AWQ, "awq", true}, {SmoothQuant, "w8a8", true},
	} {
		c := Defaults(tc.method)
		c.resolve()
		bm := c.blockMethod()
		if f := bm.format(&c); f != tc.format || bm.calibrated() != tc.calibrated || needsCalib(tc.method) != tc.calibrated {
			t.Errorf("%s: format %q calibrated %v, want %q %v", tc.method, f, bm.calibrated(), tc.format, tc.calibrated)
		}
		if mc := c.methodConfig(); mc.Method != tc.method || (mc.Bits == 0) == (mc.Sparsity == 0) {
			t.Errorf("%s: record %+v", tc.method, mc)
		}
	}
}
