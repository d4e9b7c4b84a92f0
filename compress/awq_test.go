package compress

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestAWQScales(t *testing.T) {
	x := []float32{0.5, 2, 8}
	s := awqScales(x, 0)
	for _, v := range s {
		if v != 1 {
			t.Fatalf("ratio 0: scales %v, want ones", s)
		}
	}
	s = awqScales(x, 0.5)
	// x^0.5 = (0.707, 1.414, 2.828), normalised by sqrt(max·min) = sqrt(2).
	want := []float64{0.5, 1, 2}
	for j := range s {
		if math.Abs(float64(s[j])-want[j]) > 1e-6 {
			t.Fatalf("ratio 0.5: scales %v, want %v", s, want)
		}
	}
	if s := awqScales([]float32{0, 1}, 0.5); s[0] <= 0 {
		t.Errorf("a dead channel gets scale %g, want ≥ 1e-4 before normalising", s[0])
	}
}

// awqFakeQuant with unit scales is AWQ's quantizer itself.
func TestAWQFakeQuantUnitScales(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	out, in := 8, 64
	w := randMatrix(rng, out, in, 0.05)
	ones := make([]float32, in)
	for i := range ones {
		ones[i] = 1
	}
	got := make([]float32, len(w))
	awqFakeQuant(got, w, out, in, ones, 4, 32, false)
	if want := AWQQuantize(w, out, in, 4, 32, false).Dequantize(); !slices.Equal(got, want) {
		t.Error("fake quantization with unit scales differs from AWQQuantize")
	}
}

// On inputs with a few large channels AWQ's scaled, clipped quantization
// has a lower output error than round-to-nearest at the same bits.
func TestAWQBeatsRTNOnOutliers(t *testing.T) {
	out, in, tokens := 64, 256, 2048
	x, w, st := calibLayer(29, out, in, tokens, 6, 20, 256, wantGram|wantAbsMean)
	for _, tc := range []struct{ bits, group int }{{4, 128}, {3, 64}, {4, -1}} {
		s, ratio, loss := AWQSearchScales(w, out, in, st.absMean(), st.gram32(), tokens, tc.bits, tc.group, false)
		if s == nil || ratio <= 0 {
			t.Fatalf("%+v: ratio %g (loss %g): outlier channels should call for scaling", tc, ratio, loss)
		}
		ws := slices.Clone(w)
		mulCols(ws, out, in, s)
		xs := slices.Clone(x)
		divCols(xs, tokens, in, s)
		stride := max(1, tokens/awqClipTokens)
		var rows []float32
		for t0 := 0; t0 < tokens; t0 += stride {
			rows = append(rows, xs[t0*in:t0*in+in]...)
		}
		noClip := AWQQuantize(ws, out, in, tc.bits, tc.group, false).Dequantize()
		divCols(noClip, out, in, s)
		AWQClip(ws, out, in, rows, len(rows)/in, tc.bits, tc.group, false)
		q := AWQQuantize(ws, out, in, tc.bits, tc.group, false).Dequantize()
		divCols(q, out, in, s)
		eAWQ := outputErr(x, tokens, in, w, q, out)
		eNoClip := outputErr(x, tokens, in, w, noClip, out)
		eRTN := outputErr(x, tokens, in, w, RTNQuantize(w, out, in, tc.bits, tc.group, false).Dequantize(), out)
		eRTNawq := outputErr(x, tokens, in, w, AWQQuantize(w, out, in, tc.bits, tc.group, false).Dequantize(), out)
		t.Logf("%+v: ratio %.2f AWQ %.4g (no clip %.4g), RTN %.4g, AWQ quantizer unscaled %.4g", tc, ratio, eAWQ, eNoClip, eRTN, eRTNawq)
		if !(eAWQ < eRTN && eAWQ < eRTNawq) {
			t.Errorf("%+v: AWQ error %.4g not below RTN %.4g / %.4g", tc, eAWQ, eRTN, eRTNawq)
		}
		if eAWQ > eNoClip*1.05 {
			t.Errorf("%+v: clipping raised the error from %.4g to %.4g", tc, eNoClip, eAWQ)
		}
		// The Gram-matrix loss equals the direct mean squared error.
		wq := make([]float32, len(w))
		awqFakeQuant(wq, w, out, in, s, tc.bits, tc.group, false)
		direct := outputErrAbs(x, tokens, in, w, wq, out)
		if math.Abs(direct-loss) > 1e-3*direct {
			t.Errorf("%+v: Gram loss %g, direct %g", tc, loss, direct)
		}
	}
}

// outputErrAbs returns the mean over tokens and outputs of (x·(w'−w)ᵀ)².
func outputErrAbs(x []float32, tokens, in int, w, wq []float32, out int) float64 {
	var s float64
	for t := 0; t < tokens; t++ {
		for o := 0; o < out; o++ {
			var d float64
			for j := 0; j < in; j++ {
				d += float64(x[t*in+j]) * float64(wq[o*in+j]-w[o*in+j])
			}
			s += d * d
		}
	}
	return s / float64(tokens*out)
}

// AWQClip chooses, per output row and group, a range among 1.00…0.55 of
// the group's max|w| and clamps to it.
func TestAWQClipRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	out, in, tokens := 16, 64, 256
	x := correlatedInputs(rng, tokens, in, 0, 1)
	w := randMatrix(rng, out, in, 0.05)
	w[3] = 1 // one huge weight: clipping it is worth it at 3 bits
	orig := slices.Clone(w)
	best := AWQClip(w, out, in, x, tokens, 3, 32, false)
	for g := 0; g < 2; g++ {
		for o := 0; o < out; o++ {
			var m float32
			for _, v := range orig[o*in+g*32 : o*in+g*32+32] {
				m = max(m, float32(math.Abs(float64(v))))
			}
			f := best[g*out+o] / m
			steps := math.Round(float64(1-f) * 20)
			if f > 1+1e-6 || f < 0.55-1e-6 || math.Abs(float64(1-f)*20-steps) > 1e-4 {
				t.Fatalf("group %d row %d: range %g of max %g is not a grid point", g, o, best[g*out+o], m)
			}
			for j := g * 32; j < g*32+32; j++ {
				if math.Abs(float64(w[o*in+j])) > float64(best[g*out+o])+1e-7 {
					t.Fatalf("w[%d,%d] = %g outside ±%g", o, j, w[o*in+j], best[g*out+o])
				}
			}
		}
	}
}
