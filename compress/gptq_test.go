package compress

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func identityHessian(n int, c float64) []float64 {
	h := make([]float64, n*n)
	for i := 0; i < n; i++ {
		h[i*n+i] = c
	}
	return h
}

// With XᵀX = I the inverse Hessian is diagonal, no error is propagated and
// GPTQ must give exactly RTN's codes and parameters.
func TestGPTQIdentityHessianEqualsRTN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	out, in := 24, 96
	w := randMatrix(rng, out, in, 0.05)
	for _, o := range []GPTQOptions{
		{Bits: 4, GroupSize: -1},
		{Bits: 4, GroupSize: 32},
		{Bits: 3, GroupSize: 16, Sym: true},
		{Bits: 2, GroupSize: 48, BlockSize: 32},
		{Bits: 8, GroupSize: 32, StaticGroups: true},
		{Bits: 4, GroupSize: 32, ActOrder: true},
	} {
		o.BlockSize = max(o.BlockSize, 128)
		r, _ := gptqRun(t, identityHessian(in, 2), w, out, in, o)
		rtn := RTNQuantize(w, out, in, o.Bits, o.GroupSize, o.Sym)
		if !slices.Equal(r.Q.Q, rtn.Q) || !slices.Equal(r.Q.Scales, rtn.Scales) || !slices.Equal(r.Q.Zeros, rtn.Zeros) {
			t.Errorf("%+v: GPTQ with H = I differs from RTN", o)
		}
		if r.Q.GIdx != nil && !slices.Equal(r.Q.GIdx, gidxOf(in, o.GroupSize)) {
			t.Errorf("%+v: g_idx %v with an identity permutation", o, r.Q.GIdx)
		}
	}
}

// gptqRun prepares the Hessian h (dampening 0.01, permuted when o.ActOrder)
// and runs GPTQ on w [out×in] with it; it fails t on an error of either.
func gptqRun(t *testing.T, h []float64, w []float32, out, in int, o GPTQOptions) (*GPTQResult, *Hessian) {
	t.Helper()
	hs, err := PrepareHessian(h, in, 0.01, o.ActOrder)
	if err != nil {
		t.Fatal(err)
	}
	r, err := GPTQQuantize(w, out, in, hs, o)
	if err != nil {
		t.Fatal(err)
	}
	return r, hs
}

func gidxOf(in, gs int) []int32 {
	g := make([]int32, in)
	for i := range g {
		g[i] = int32(i / gs)
	}
	return g
}

// On correlated, outlier-heavy calibration inputs GPTQ's output error must
// be below RTN's at equal bits.
func TestGPTQBeatsRTN(t *testing.T) {
	out, in, tokens := 64, 128, 1024
	x, w, st := calibLayer(9, out, in, tokens, 4, 8, 128, wantGram)
	for _, o := range []GPTQOptions{
		{Bits: 4, GroupSize: -1},
		{Bits: 3, GroupSize: 32},
		{Bits: 4, GroupSize: 32, ActOrder: true},
		{Bits: 4, GroupSize: 32, ActOrder: true, StaticGroups: true},
		{Bits: 2, GroupSize: 64, Sym: true, BlockSize: 32},
	} {
		if o.BlockSize == 0 {
			o.BlockSize = 128
		}
		r, _ := gptqRun(t, st.hessian(), w, out, in, o)
		if err := r.Q.Validate(); err != nil {
			t.Fatal(err)
		}
		eg := outputErr(x, tokens, in, w, r.Q.Dequantize(), out)
		er := outputErr(x, tokens, in, w, RTNQuantize(w, out, in, o.Bits, o.GroupSize, o.Sym).Dequantize(), out)
		if !(eg < er) {
			t.Errorf("%+v: GPTQ output error %.4g not below RTN %.4g", o, eg, er)
		}
		if r.Loss <= 0 {
			t.Errorf("%+v: loss %g", o, r.Loss)
		}
		t.Logf("%+v: GPTQ %.4g RTN %.4g", o, eg, er)
	}
}

// A dead input (never active) gets H_ii = 1 and its weights are zeroed.
func TestGPTQDeadColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	out, in, tokens := 8, 32, 256
	x := correlatedInputs(rng, tokens, in, 0, 1)
	for tk := 0; tk < tokens; tk++ {
		x[tk*in+5] = 0
	}
	w := randMatrix(rng, out, in, 0.05)
	st := gramStat(x, tokens, in, 64, wantGram)
	r, hs := gptqRun(t, st.hessian(), w, out, in, GPTQOptions{Bits: 4, GroupSize: 16, BlockSize: 128})
	if !hs.Dead[5] || hs.Dead[4] {
		t.Fatalf("dead columns %v", hs.Dead)
	}
	deq := r.Q.Dequantize()
	for o := 0; o < out; o++ {
		if deq[o*in+5] != 0 {
			t.Fatalf("row %d: dead column quantized to %g", o, deq[o*in+5])
		}
	}
}

// Act-order with dynamic groups records g_idx in the permuted order: each
// group holds exactly GroupSize inputs.
func TestGPTQActOrderGIdx(t *testing.T) {
	out, in, tokens := 16, 64, 512
	_, w, st := calibLayer(13, out, in, tokens, 3, 10, 64, wantGram)
	r, hs := gptqRun(t, st.hessian(), w, out, in, GPTQOptions{Bits: 4, GroupSize: 16, ActOrder: true, BlockSize: 128})
	if r.Q.GIdx == nil {
		t.Fatal("no g_idx with act-order")
	}
	count := map[int32]int{}
	for _, g := range r.Q.GIdx {
		count[g]++
	}
	for g, n := range count {
		if n != 16 {
			t.Errorf("group %d has %d columns", g, n)
		}
	}
	// The most active input (largest H_ii) is quantized first: group 0.
	if r.Q.GIdx[hs.Perm[0]] != 0 {
		t.Errorf("first input in act order has group %d", r.Q.GIdx[hs.Perm[0]])
	}
	if _, err := GPTQQuantize(w, out, in, hs, GPTQOptions{Bits: 4, GroupSize: 16}); err == nil {
		t.Error("a permuted hessian was accepted without act-order")
	}
}

// gptqRef is the plain reference for GPTQQuantize: one column at a time
// with the full update of every later column, in float64, quantizer
// parameters taken when a group starts. It equals the blocked algorithm
// when groups start at block boundaries.
func gptqRef(w []float32, out, in int, hs *Hessian, o GPTQOptions) []float32 {
	gs := o.GroupSize
	if gs <= 0 {
		gs = in
	}
	W := make([]float64, len(w))
	for r := 0; r < out; r++ {
		for k := 0; k < in; k++ {
			src := k
			if hs.Perm != nil {
				src = hs.Perm[k]
			}
			if !hs.Dead[src] {
				W[r*in+k] = float64(w[r*in+src])
			}
		}
	}
	maxq := float32(int(1)<<o.Bits - 1)
	q := make([]float32, len(w))
	row32 := make([]float32, in)
	for r := 0; r < out; r++ {
		var s, z float32
		if gs == in {
			s, z = gptqParams(w[r*in:r*in+in], o.Bits, o.Sym)
		}
		for k := 0; k < in; k++ {
			if gs < in && k%gs == 0 {
				for j := k; j < min(k+gs, in); j++ {
					row32[j] = float32(W[r*in+j])
				}
				s, z = gptqParams(row32[k:min(k+gs, in)], o.Bits, o.Sym)
			}
			wv := float32(W[r*in+k])
			qv := s * (float32(quantCode(wv, s, z, maxq)) - z)
			src := k
			if hs.Perm != nil {
				src = hs.Perm[k]
			}
			q[r*in+src] = qv
			e := (float64(wv) - float64(qv)) / float64(hs.Hinv[k*in+k])
			for j := k + 1; j < in; j++ {
				W[r*in+j] -= e * float64(hs.Hinv[k*in+j])
			}
		}
	}
	return q
}

func TestGPTQMatchesPlainReference(t *testing.T) {
	out, in, tokens := 32, 96, 512
	_, w, st := calibLayer(15, out, in, tokens, 2, 6, 128, wantGram)
	for _, o := range []GPTQOptions{
		{Bits: 4, GroupSize: -1, BlockSize: 32},
		{Bits: 3, GroupSize: 32, BlockSize: 32},
		{Bits: 4, GroupSize: 32, BlockSize: 32, ActOrder: true},
		{Bits: 4, GroupSize: 64, BlockSize: 32, Sym: true},
	} {
		r, hs := gptqRun(t, st.hessian(), w, out, in, o)
		got, want := r.Q.Dequantize(), gptqRef(w, out, in, hs, o)
		diff := 0
		for i := range got {
			if got[i] != want[i] {
				diff++
			}
		}
		t.Logf("%+v: %d of %d differ", o, diff, len(got))
		// Float rounding may flip a code at an exact tie; allow very few.
		if diff > len(got)/500 {
			t.Errorf("%+v: %d of %d weights differ from the plain reference", o, diff, len(got))
		}
	}
}
