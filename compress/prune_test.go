package compress

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKthSmallestMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{1, 2, 5, 100, 1001} {
		for _, ties := range []bool{false, true} {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
				if ties {
					v[i] = float32(rng.IntN(4))
				}
			}
			sorted := slices.Clone(v)
			slices.Sort(sorted)
			for _, k := range []int{0, n / 2, n - 1} {
				if got := kthSmallest(slices.Clone(v), k); got != sorted[k] {
					t.Fatalf("n=%d k=%d: %g, want %g", n, k, got, sorted[k])
				}
			}
		}
	}
}

// smallestMask must select what a stable ascending sort cut after k
// selects (torch.sort(stable=True), as Wanda uses).
func TestSmallestMaskIsStableSortPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for trial := 0; trial < 50; trial++ {
		n := 1 + rng.IntN(64)
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.IntN(5))
		}
		k := rng.IntN(n + 1)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s[a], s[b]) })
		want := make([]bool, n)
		for _, i := range idx[:k] {
			want[i] = true
		}
		got := make([]bool, n)
		smallestMask(s, k, got, nil)
		if !slices.Equal(got, want) {
			t.Fatalf("scores %v k=%d: mask %v, want %v", s, k, got, want)
		}
	}
}

func TestMagnitudePrune(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	out, in := 16, 64
	for _, o := range []PruneOptions{{Sparsity: 0.5}, {Sparsity: 0.3}, {Sparsity: 0.9}, {N: 2, M: 4}, {N: 4, M: 8}, {N: 1, M: 4}} {
		w := randMatrix(rng, out, in, 1)
		orig := slices.Clone(w)
		n, err := MagnitudePrune(w, out, in, o)
		if err != nil {
			t.Fatal(err)
		}
		if o.M > 0 {
			checkNM(t, w, out, in, o.N, o.M)
			if want := out * in * o.N / o.M; n != want || countZeros(w) != want {
				t.Errorf("%+v: pruned %d (%d zeros), want %d", o, n, countZeros(w), want)
			}
			continue
		}
		want := int(float64(out*in) * o.Sparsity)
		if n != want || countZeros(w) != want {
			t.Errorf("%+v: pruned %d (%d zeros), want exactly %d", o, n, countZeros(w), want)
		}
		// One threshold per layer: every pruned |w| ≤ every kept |w|.
		maxPruned, minKept := 0.0, math.Inf(1)
		for i, v := range w {
			a := math.Abs(float64(orig[i]))
			if v == 0 {
				maxPruned = math.Max(maxPruned, a)
			} else {
				minKept = math.Min(minKept, a)
			}
		}
		if maxPruned > minKept {
			t.Errorf("%+v: pruned |w| up to %g but kept %g", o, maxPruned, minKept)
		}
	}
	if _, err := MagnitudePrune(make([]float32, 6), 1, 6, PruneOptions{N: 2, M: 4}); err == nil {
		t.Error("4 does not divide 6: want an error")
	}
}

func TestWandaPrune(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	out, in, tokens := 32, 64, 512
	x := correlatedInputs(rng, tokens, in, 4, 10)
	st := gramStat(x, tokens, in, 128, wantColSq)
	norms := st.wandaNorms()
	for _, o := range []PruneOptions{{Sparsity: 0.5}, {Sparsity: 0.25}, {N: 2, M: 4}} {
		w := randMatrix(rng, out, in, 1)
		orig := slices.Clone(w)
		if _, err := WandaPrune(w, out, in, norms, o); err != nil {
			t.Fatal(err)
		}
		if o.M > 0 {
			checkNM(t, w, out, in, o.N, o.M)
		} else {
			k := int(float64(in) * o.Sparsity)
			for r := 0; r < out; r++ {
				if z := countZeros(w[r*in : r*in+in]); z != k {
					t.Fatalf("%+v: row %d has %d zeros, want %d (per output row)", o, r, z, k)
				}
				// Every pruned score ≤ every kept score within the row.
				maxP, minK := 0.0, math.Inf(1)
				for j := 0; j < in; j++ {
					s := math.Abs(float64(orig[r*in+j])) * math.Sqrt(norms[j])
					if w[r*in+j] == 0 {
						maxP = math.Max(maxP, s)
					} else {
						minK = math.Min(minK, s)
					}
				}
				if maxP > minK*(1+1e-6) {
					t.Fatalf("row %d: pruned score %g above kept %g", r, maxP, minK)
				}
			}
		}
		// Wanda keeps the weights of the outlier channels that magnitude
		// pruning throws away: its output error is lower.
		mag := slices.Clone(orig)
		if _, err := MagnitudePrune(mag, out, in, o); err != nil {
			t.Fatal(err)
		}
		ew, em := outputErr(x, tokens, in, orig, w, out), outputErr(x, tokens, in, orig, mag, out)
		if !(ew < em) {
			t.Errorf("%+v: Wanda error %.4g not below magnitude %.4g", o, ew, em)
		}
	}
	// Norms are the per-sample mean of ‖X_j‖².
	var want float64
	for tk := 0; tk < tokens; tk++ {
		want += float64(x[tk*in+3]) * float64(x[tk*in+3])
	}
	want /= float64(tokens / 128)
	if math.Abs(norms[3]-want) > 1e-6*want {
		t.Errorf("scaler_row[3] = %g, want %g", norms[3], want)
	}
}

// sparsegptRef is the plain reference for SparseGPTPrune: one column at a
// time with the full float64 update of every later column, masks chosen at
// block starts (unstructured) or every M columns (N:M).
func sparsegptRef(w []float32, out, in int, hs *Hessian, o PruneOptions, bs int) []float32 {
	W := make([]float64, len(w))
	for i, v := range w {
		if !hs.Dead[i%in] {
			W[i] = float64(v)
		}
	}
	mask := make([]bool, out*in)
	d := func(j int) float64 { return float64(hs.Hinv[j*in+j]) }
	for i1 := 0; i1 < in; i1 += bs {
		i2 := min(i1+bs, in)
		if o.M == 0 {
			cnt := i2 - i1
			sc := make([]float32, out*cnt)
			for r := 0; r < out; r++ {
				for i := 0; i < cnt; i++ {
					v := float32(W[r*in+i1+i])
					dd := float32(d(i1 + i))
					sc[r*cnt+i] = v * v / (dd * dd)
				}
			}
			mk := make([]bool, out*cnt)
			smallestMask(sc, int(float64(out*cnt)*o.Sparsity), mk, nil)
			for r := 0; r < out; r++ {
				copy(mask[r*in+i1:r*in+i2], mk[r*cnt:r*cnt+cnt])
			}
		}
		for col := i1; col < i2; col++ {
			for r := 0; r < out; r++ {
				if o.M > 0 && (col-i1)%o.M == 0 {
					sc := make([]float32, o.M)
					for j := 0; j < o.M; j++ {
						v := float32(W[r*in+col+j])
						dd := float32(d(col + j))
						sc[j] = v * v / (dd * dd)
					}
					nmMask(sc, o.N, o.M, mask[r*in+col:r*in+col+o.M])
				}
				if !mask[r*in+col] {
					continue
				}
				e := W[r*in+col] / d(col)
				for j := col + 1; j < in; j++ {
					W[r*in+j] -= e * float64(hs.Hinv[col*in+j])
				}
				W[r*in+col] = 0
			}
		}
	}
	res := make([]float32, len(W))
	for i, v := range W {
		res[i] = float32(v)
	}
	return res
}

func TestSparseGPT(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	out, in, tokens := 48, 128, 1024
	x := correlatedInputs(rng, tokens, in, 4, 8)
	st := gramStat(x, tokens, in, 128, wantGram)
	for _, o := range []PruneOptions{{Sparsity: 0.5}, {Sparsity: 0.7}, {N: 2, M: 4}, {N: 4, M: 8}} {
		hs, err := PrepareHessian(st.hessian(), in, 0.01, false)
		if err != nil {
			t.Fatal(err)
		}
		orig := randMatrix(rng, out, in, 0.05)
		w := slices.Clone(orig)
		n, err := SparseGPTPrune(w, out, in, hs, o, 32)
		if err != nil {
			t.Fatal(err)
		}
		if o.M > 0 {
			checkNM(t, w, out, in, o.N, o.M)
		} else {
			// Exactly ⌊numel·sparsity⌋ per 32-column block.
			for b := 0; b < in; b += 32 {
				z := 0
				for r := 0; r < out; r++ {
					z += countZeros(w[r*in+b : r*in+b+32])
				}
				if want := int(float64(out*32) * o.Sparsity); z != want {
					t.Fatalf("%+v: block %d has %d zeros, want %d", o, b/32, z, want)
				}
			}
		}
		if n != countZeros(w) {
			t.Errorf("%+v: reported %d pruned, %d zeros", o, n, countZeros(w))
		}
		ref := sparsegptRef(orig, out, in, hs, o, 32)
		var maxd float64
		for i := range ref {
			if (ref[i] == 0) != (w[i] == 0) {
				t.Fatalf("%+v: mask differs from the plain reference at %d", o, i)
			}
			maxd = math.Max(maxd, math.Abs(float64(ref[i]-w[i])))
		}
		if maxd > 1e-4 {
			t.Errorf("%+v: weights differ from the plain reference by %g", o, maxd)
		}
		// The OBS update beats magnitude and Wanda at equal sparsity.
		mag, wan := slices.Clone(orig), slices.Clone(orig)
		if _, err := MagnitudePrune(mag, out, in, o); err != nil {
			t.Fatal(err)
		}
		if _, err := WandaPrune(wan, out, in, gramStat(x, tokens, in, 128, wantColSq).wandaNorms(), o); err != nil {
			t.Fatal(err)
		}
		es := outputErr(x, tokens, in, orig, w, out)
		em := outputErr(x, tokens, in, orig, mag, out)
		ew := outputErr(x, tokens, in, orig, wan, out)
		if !(es < em && es < ew) {
			t.Errorf("%+v: SparseGPT error %.4g, magnitude %.4g, Wanda %.4g", o, es, em, ew)
		}
		t.Logf("%+v: SparseGPT %.4g magnitude %.4g Wanda %.4g", o, es, em, ew)
	}
}
