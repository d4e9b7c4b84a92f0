package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestActQuant holds the per-token quantizer to its plain reference, checks
// the number of levels it produces, and checks ActQuantMatrix against the
// dense product of the quantized rows.
func TestActQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []int{2, 4, 6, 8} {
		x := make([]float32, 257)
		for i := range x {
			x[i] = float32(rng.NormFloat64()*2 + 0.3)
		}
		x[5] = 9 // an outlier
		got := make([]float32, len(x))
		QuantizeTokenAsym(got, x, bits)
		want := quantizeTokenAsymRef(x, bits)
		levels := map[float32]bool{}
		var errQ float64
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("%d bits, x[%d] = %v: %v, reference %v", bits, i, x[i], got[i], want[i])
			}
			levels[got[i]] = true
			errQ = math.Max(errQ, math.Abs(float64(got[i]-x[i])))
		}
		if len(levels) > 1<<bits || len(levels) < 3 {
			t.Errorf("%d bits: %d distinct values", bits, len(levels))
		}
		step := (9 - float64(minOf(x))) / float64(int(1)<<bits-1)
		if errQ > step*0.51 {
			t.Errorf("%d bits: error %g above half a step %g", bits, errQ, step/2)
		}
	}
	const out, in, m = 7, 64, 3
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	d, _ := NewDense(out, in, w)
	a, err := NewActQuantMatrix(d, 4)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, m*in)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	q := make([]float32, len(x))
	for r := 0; r < m; r++ {
		QuantizeTokenAsym(q[r*in:(r+1)*in], x[r*in:(r+1)*in], 4)
	}
	got, want := make([]float32, m*out), make([]float32, m*out)
	a.MulT(got, x, m, nil)
	d.MulT(want, q, m, nil)
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("output %d: %v, want %v", i, got[i], want[i])
		}
	}
	if a.Format() != "f32-a4" {
		t.Errorf("format %q", a.Format())
	}
	if _, err := NewActQuantMatrix(d, 1); err == nil {
		t.Error("1-bit activations accepted")
	}
}

func minOf(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = min(m, v)
	}
	return m
}
