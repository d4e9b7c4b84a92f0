package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestAttentionMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ rows, pos0, heads, kvHeads, headDim int }{
		{1, 0, 1, 1, 4},
		{5, 0, 4, 2, 8},   // GQA prefill
		{1, 17, 4, 1, 16}, // MQA decode
		{3, 9, 6, 3, 10},  // chunk after a prefix
		{64, 0, 8, 8, 32}, // enough work to split over threads
	}
	for _, c := range cases {
		total := c.pos0 + c.rows
		q := randSlice(r, c.rows*c.heads*c.headDim)
		k := randSlice(r, total*c.kvHeads*c.headDim)
		v := randSlice(r, total*c.kvHeads*c.headDim)
		got := make([]float32, len(q))
		want := make([]float32, len(q))
		scale := float32(1 / math.Sqrt(float64(c.headDim)))
		Attention(got, q, k, v, c.rows, c.pos0, c.heads, c.kvHeads, c.headDim, scale, make([]float32, AttentionScratch(total)))
		AttentionRef(want, q, k, v, c.rows, c.pos0, c.heads, c.kvHeads, c.headDim, scale)
		if d := maxAbsDiff(got, want); d > 1e-5 {
			t.Errorf("%+v: max diff %.3g", c, d)
		}
		gemm := make([]float32, len(q))
		AttentionGEMM(gemm, q, k, v, c.rows, c.pos0, c.heads, c.kvHeads, c.headDim, scale, make([]float32, AttentionGEMMScratch(c.rows, total)))
		if d := maxAbsDiff(gemm, want); d > 1e-5 {
			t.Errorf("%+v: GEMM attention max diff %.3g", c, d)
		}
	}
}

func TestAttentionIsCausal(t *testing.T) {
	// Changing the key/value of a later position must not change earlier outputs.
	r := rand.New(rand.NewPCG(3, 4))
	rows, heads, hd := 6, 2, 4
	q, k, v := randSlice(r, rows*heads*hd), randSlice(r, rows*heads*hd), randSlice(r, rows*heads*hd)
	a := make([]float32, len(q))
	b := make([]float32, len(q))
	sc := make([]float32, AttentionScratch(rows))
	Attention(a, q, k, v, rows, 0, heads, heads, hd, 0.5, sc)
	for i := (rows - 1) * heads * hd; i < len(k); i++ {
		k[i] += 3
		v[i] -= 2
	}
	Attention(b, q, k, v, rows, 0, heads, heads, hd, 0.5, sc)
	w := heads * hd
	if d := maxAbsDiff(a[:(rows-1)*w], b[:(rows-1)*w]); d != 0 {
		t.Errorf("earlier rows changed by %.3g", d)
	}
	if d := maxAbsDiff(a[(rows-1)*w:], b[(rows-1)*w:]); d == 0 {
		t.Error("last row did not change")
	}
}

func TestNorms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rows, n := 7, 33
	x := randSlice(r, rows*n)
	g, beta := randSlice(r, n), randSlice(r, n)
	rms := make([]float32, len(x))
	ln := make([]float32, len(x))
	RMSNorm(rms, x, g, 1e-5)
	LayerNorm(ln, x, g, beta, 1e-5)
	for row := 0; row < rows; row++ {
		xr := x[row*n : (row+1)*n]
		var ss, sum float64
		for _, v := range xr {
			ss += float64(v) * float64(v)
			sum += float64(v)
		}
		mean := sum / float64(n)
		var vs float64
		for _, v := range xr {
			vs += (float64(v) - mean) * (float64(v) - mean)
		}
		for i, v := range xr {
			wantR := float64(v) / math.Sqrt(ss/float64(n)+1e-5) * float64(g[i])
			wantL := (float64(v)-mean)/math.Sqrt(vs/float64(n)+1e-5)*float64(g[i]) + float64(beta[i])
			if math.Abs(float64(rms[row*n+i])-wantR) > 1e-5 || math.Abs(float64(ln[row*n+i])-wantL) > 1e-5 {
				t.Fatalf("row %d col %d: rms %v want %v, ln %v want %v", row, i, rms[row*n+i], wantR, ln[row*n+i], wantL)
			}
		}
	}
	// In place gives the same result.
	y := append([]float32(nil), x...)
	RMSNorm(y, y, g, 1e-5)
	if maxAbsDiff(y, rms) != 0 {
		t.Error("in-place RMSNorm differs")
	}
}

func TestRoPE(t *testing.T) {
	cases := []struct {
		name        string
		headDim     int
		rotDim      int
		interleaved bool
	}{
		{"rotate_half full", 8, 8, false},
		{"interleaved half (ChatGLM)", 8, 4, true},
		{"rotate_half partial", 12, 8, false},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			heads, rows, pos0 := 3, 4, 5
			inv := make([]float32, c.rotDim/2)
			for i := range inv {
				inv[i] = float32(1 / math.Pow(10000, float64(2*i)/float64(c.rotDim)))
			}
			x := randSlice(r, rows*heads*c.headDim)
			y := append([]float32(nil), x...)
			RoPE(y, heads, c.headDim, pos0, inv, c.interleaved, 1)
			for row := 0; row < rows; row++ {
				for h := 0; h < heads; h++ {
					base := (row*heads + h) * c.headDim
					// Rotation preserves each pair's norm and leaves the pass-through dims alone.
					for i := 0; i < c.rotDim/2; i++ {
						a, b := base+i, base+i+c.rotDim/2
						if c.interleaved {
							a, b = base+2*i, base+2*i+1
						}
						ang := float64(pos0+row) * float64(inv[i])
						wa := float64(x[a])*math.Cos(ang) - float64(x[b])*math.Sin(ang)
						wb := float64(x[b])*math.Cos(ang) + float64(x[a])*math.Sin(ang)
						if math.Abs(float64(y[a])-wa) > 1e-4 || math.Abs(float64(y[b])-wb) > 1e-4 {
							t.Fatalf("row %d head %d pair %d: (%v,%v) want (%v,%v)", row, h, i, y[a], y[b], wa, wb)
						}
					}
					for d := c.rotDim; d < c.headDim; d++ {
						if y[base+d] != x[base+d] {
							t.Fatalf("pass-through dim %d changed", d)
						}
					}
				}
			}
		})
	}
}

func TestSoftmaxAndActivations(t *testing.T) {
	x := []float32{1000, 1001, 999}
	Softmax(x)
	var s float32
	for _, v := range x {
		s += v
	}
	if math.Abs(float64(s)-1) > 1e-6 || !(x[1] > x[0] && x[0] > x[2]) {
		t.Errorf("softmax %v", x)
	}
	if got := LogSoftmax([]float32{0, 0}, 1); math.Abs(got+math.Ln2) > 1e-12 {
		t.Errorf("log softmax %v", got)
	}
	if v := Silu(0); v != 0 {
		t.Errorf("silu(0) = %v", v)
	}
	if v := Silu(10); math.Abs(float64(v)-10/(1+math.Exp(-10))) > 1e-5 {
		t.Errorf("silu(10) = %v", v)
	}
	g := []float32{-1, 0, 1}
	GELU(g)
	if g[1] != 0 || math.Abs(float64(g[2])-0.8413447) > 1e-6 || math.Abs(float64(g[0])+0.1586553) > 1e-6 {
		t.Errorf("gelu %v", g)
	}
	rl := []float32{-1, 2}
	ReLU(rl)
	if rl[0] != 0 || rl[1] != 2 {
		t.Errorf("relu %v", rl)
	}
}

func TestParallelFor(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		for _, grain := range []int{0, 1, 3, 5000} {
			seen := make([]int32, n)
			ParallelForWorker(n, grain, func(w, lo, hi int) {
				if w < 0 || w >= Workers(n, grain) {
					t.Errorf("worker %d out of range", w)
				}
				for i := lo; i < hi; i++ {
					seen[i]++
				}
			})
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, c)
				}
			}
		}
	}
}
