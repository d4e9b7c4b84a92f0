package compress

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

func TestGPTQParams(t *testing.T) {
	tests := []struct {
		name        string
		x           []float32
		bits        int
		sym         bool
		scale, zero float32
	}{
		// Asymmetric: range extended to 0, scale (max−min)/15, zero round(−min/scale).
		{"asym", []float32{-1, 0.5, 2}, 4, false, roundScale(3.0 / 15), roundEven(1 / roundScale(3.0/15))},
		{"asym-positive", []float32{1, 3}, 4, false, roundScale(3.0 / 15), 0},
		{"sym", []float32{-1, 0.5, 2}, 4, true, roundScale(4.0 / 15), 8},
		{"zeros", []float32{0, 0}, 3, false, roundScale(2.0 / 7), roundEven(1 / roundScale(2.0/7))},
		{"8bit-sym", []float32{-3, 1}, 8, true, roundScale(6.0 / 255), 128},
	}
	for _, tc := range tests {
		s, z := gptqParams(tc.x, tc.bits, tc.sym)
		if s != tc.scale || z != tc.zero {
			t.Errorf("%s: gptqParams = (%g, %g), want (%g, %g)", tc.name, s, z, tc.scale, tc.zero)
		}
		if tensor.F16ToF32(tensor.F32ToF16(s)) != s {
			t.Errorf("%s: scale %g is not a float16 value", tc.name, s)
		}
	}
}

func TestAWQParams(t *testing.T) {
	// Asymmetric over the group's own range: [1, 4] → scale 0.2, zero clamp(−round(5), 0, 15) = 0.
	s, z := awqParams([]float32{1, 2, 4}, 4, false)
	if s != roundScale(0.2) || z != 0 {
		t.Errorf("awqParams positive group = (%g, %g)", s, z)
	}
	s, z = awqParams([]float32{-2, 1}, 4, false)
	if s != roundScale(0.2) || z != 10 {
		t.Errorf("awqParams = (%g, %g), want (%g, 10)", s, z, roundScale(0.2))
	}
	s, z = awqParams([]float32{-2, 1}, 4, true)
	if s != roundScale(2.0/7) || z != 8 {
		t.Errorf("awqParams sym = (%g, %g)", s, z)
	}
	if s, _ := awqParams([]float32{5, 5}, 4, false); s != roundScale(1e-5/15) {
		t.Errorf("constant group scale = %g", s)
	}
}

func TestQuantCodeRoundsHalfToEven(t *testing.T) {
	for _, tc := range []struct{ w, s, z, maxq float32 }{{2.5, 1, 0, 15}, {3.5, 1, 0, 15}, {-0.5, 1, 8, 15}, {100, 1, 0, 15}, {-100, 1, 0, 15}} {
		want := float32(math.RoundToEven(float64(tc.w/tc.s))) + tc.z
		want = min(max(want, 0), tc.maxq)
		if got := quantCode(tc.w, tc.s, tc.z, tc.maxq); float32(got) != want {
			t.Errorf("quantCode(%g) = %d, want %g", tc.w, got, want)
		}
	}
}

func TestRTNQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		bits, group int
		sym         bool
	}{{4, 16, false}, {3, 32, true}, {2, -1, false}, {8, 64, false}, {5, 16, true}} {
		out, in := 12, 64
		w := randMatrix(rng, out, in, 0.02)
		q := RTNQuantize(w, out, in, tc.bits, tc.group, tc.sym)
		if err := q.Validate(); err != nil {
			t.Fatal(err)
		}
		deq := q.Dequantize()
		gs := q.GroupSize
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				s := q.Scales[(i/gs)*out+o]
				if d := math.Abs(float64(deq[o*in+i] - w[o*in+i])); d > float64(s)*0.5001 && !tc.sym {
					t.Fatalf("%+v: |w−q| = %g exceeds scale/2 = %g at (%d,%d)", tc, d, s/2, o, i)
				}
			}
		}
		if e := outputErrW(w, deq); e > math.Pow(2, -2*float64(tc.bits)+2) {
			t.Errorf("%+v: relative weight error %g too large", tc, e)
		}
	}
}

func outputErrW(w, q []float32) float64 {
	var n, d float64
	for i := range w {
		n += float64(q[i]-w[i]) * float64(q[i]-w[i])
		d += float64(w[i]) * float64(w[i])
	}
	return n / d
}
