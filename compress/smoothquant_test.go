package compress

import (
	"math"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/models"
)

func TestSmoothScales(t *testing.T) {
	act := []float32{4, 1, 0}
	w1 := []float32{1, -2, 0, 0.5, 1, 0} // 2×3
	w2 := []float32{-3, 0.1, 0}          // 1×3
	s := SmoothScales(act, [][]float32{w1, w2}, []int{2, 1}, 0.5)
	want := []float64{math.Sqrt(4) / math.Sqrt(3), 1 / math.Sqrt(2), 1e-5}
	for j := range s {
		if math.Abs(float64(s[j])-want[j]) > 1e-6*math.Max(1, want[j]) {
			t.Errorf("s[%d] = %g, want %g", j, s[j], want[j])
		}
	}
}

func TestDefaultAlpha(t *testing.T) {
	for _, tc := range []struct {
		c    models.Config
		want float64
	}{
		{models.Config{Arch: "opt"}, 0.5},
		{models.Config{Arch: "llama", ModelType: "llama", Layers: 32}, 0.85},
		{models.Config{Arch: "llama", ModelType: "llama", Layers: 80}, 0.9},
		{models.Config{Arch: "llama", ModelType: "mistral", Layers: 32}, 0.8},
		{models.Config{Arch: "chatglm"}, 0.5},
	} {
		if got := DefaultAlpha(&tc.c); got != tc.want {
			t.Errorf("%s/%s: α = %g, want %g", tc.c.Arch, tc.c.ModelType, got, tc.want)
		}
	}
}

// fakeW8A8 returns x·Wᵀ computed as SmoothQuant's W8A8 linear: x quantized
// per token (absmax/127), w per output channel.
func fakeW8A8(x []float32, tokens, in int, w []float32, out int) []float32 {
	wq := W8Quantize(w, out, in).Dequantize()
	xq := slices.Clone(x)
	for t := 0; t < tokens; t++ {
		row := xq[t*in : t*in+in]
		var m float32
		for _, v := range row {
			m = max(m, float32(math.Abs(float64(v))))
		}
		s := max(m, 1e-5) / 127
		for j, v := range row {
			row[j] = roundEven(v/s) * s
		}
	}
	y := make([]float32, tokens*out)
	for t := 0; t < tokens; t++ {
		for o := 0; o < out; o++ {
			var d float64
			for j := 0; j < in; j++ {
				d += float64(xq[t*in+j]) * float64(wq[o*in+j])
			}
			y[t*out+o] = float32(d)
		}
	}
	return y
}

func relErr(a, ref []float32) float64 {
	var n, d float64
	for i := range a {
		n += float64(a[i]-ref[i]) * float64(a[i]-ref[i])
		d += float64(ref[i]) * float64(ref[i])
	}
	return math.Sqrt(n / d)
}

// Smoothing leaves the float product unchanged and lowers the W8A8 error
// when a few input channels carry outliers.
func TestSmoothQuantLowersW8A8Error(t *testing.T) {
	out, in, tokens := 64, 128, 512
	x, w, st := calibLayer(33, out, in, tokens, 4, 60, 128, wantAbsMax)
	s := SmoothScales(st.absMax, [][]float32{w}, []int{out}, 0.5)
	xs, ws := slices.Clone(x), slices.Clone(w)
	divCols(xs, tokens, in, s)
	mulCols(ws, out, in, s)

	ref := make([]float32, tokens*out)
	smooth := make([]float32, tokens*out)
	for tk := 0; tk < tokens; tk++ {
		for o := 0; o < out; o++ {
			var a, b float64
			for j := 0; j < in; j++ {
				a += float64(x[tk*in+j]) * float64(w[o*in+j])
				b += float64(xs[tk*in+j]) * float64(ws[o*in+j])
			}
			ref[tk*out+o], smooth[tk*out+o] = float32(a), float32(b)
		}
	}
	if e := relErr(smooth, ref); e > 1e-5 {
		t.Errorf("smoothing changed the float output by %g (relative)", e)
	}
	plain := relErr(fakeW8A8(x, tokens, in, w, out), ref)
	smoothed := relErr(fakeW8A8(xs, tokens, in, ws, out), ref)
	t.Logf("W8A8 relative error: plain %.4g, smoothed %.4g", plain, smoothed)
	if !(smoothed < plain/2) {
		t.Errorf("smoothing did not lower the W8A8 error enough: %.4g → %.4g", plain, smoothed)
	}
	// W8 codes: symmetric int8 offset by 128.
	q := W8Quantize(ws, out, in)
	for i, c := range q.Q {
		if c == 0 {
			t.Fatalf("code 0 at %d: int8 range is ±127", i)
		}
	}
	for _, z := range q.Zeros {
		if z != 128 {
			t.Fatalf("zero point %g, want 128", z)
		}
	}
}
