package tensor

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, dt := range []DType{F32, F16, BF16} {
		for _, c := range []struct {
			at   int
			v    float32
			want string
		}{{-1, 0, ""}, {0, nan, "NaN"}, {70000, inf, "+Inf"}, {199999, -inf, "-Inf"}} {
			v := make([]float32, 200000) // several parallel chunks
			for i := range v {
				v[i] = float32(i%7) - 3
			}
			if c.at >= 0 {
				v[c.at] = c.v
			}
			tt, err := Encode("w", dt, []int{400, 500}, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.NonFinite(); got != c.at {
				t.Errorf("%s: NonFinite = %d, want %d", dt, got, c.at)
			}
			d, bad, err := tt.Float32Finite()
			if err != nil || bad != c.at {
				t.Errorf("%s: Float32Finite bad = %d (%v), want %d", dt, bad, err, c.at)
			}
			want, _ := tt.Float32()
			if !slices.EqualFunc(d, want, func(a, b float32) bool { return a == b || a != a && b != b }) {
				t.Errorf("%s: Float32Finite converts differently from Float32", dt)
			}
			if c.at >= 0 {
				if msg := tt.NonFiniteError(c.at); !strings.Contains(msg, c.want) {
					t.Errorf("%s: message %q lacks %q", dt, msg, c.want)
				}
			}
		}
	}
	// A NaN after the first in a chunk: the first is reported.
	v := make([]float32, 10)
	v[3], v[8] = float32(math.NaN()), float32(math.NaN())
	if got := FromFloat32("x", []int{10}, v).NonFinite(); got != 3 {
		t.Errorf("first NaN at %d, want 3", got)
	}
	if got := (&Tensor{DType: I32, Shape: []int{1}, Data: []byte{0xff, 0xff, 0x80, 0x7f}}).NonFinite(); got != -1 {
		t.Errorf("integer tensor reported non-finite at %d", got)
	}
}
