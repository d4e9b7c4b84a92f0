package compress

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// randSPD returns A = BᵀB/k + εI, n×n, with correlated columns.
func randSPD(rng *rand.Rand, n int) []float64 {
	k := n + 3
	b := make([]float64, k*n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += b[p*n+i] * b[p*n+j]
			}
			a[i*n+j] = s / float64(k)
		}
		a[i*n+i] += 1e-3
	}
	return a
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

func TestCholeskyMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, cholBlock - 1, cholBlock, cholBlock + 1, 130} {
		a := randSPD(rng, n)
		got := append([]float64(nil), a...)
		want := append([]float64(nil), a...)
		if err := cholesky(got, n); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if err := choleskyRef(want, n); err != nil {
			t.Fatalf("n=%d ref: %v", n, err)
		}
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				if d := math.Abs(got[i*n+j] - want[i*n+j]); d > 1e-9*math.Max(1, math.Abs(want[i*n+j])) {
					t.Fatalf("n=%d: L[%d][%d] = %g, reference %g", n, i, j, got[i*n+j], want[i*n+j])
				}
			}
		}
	}
}

func TestUpperCholInverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 3, 33, 100} {
		a := randSPD(rng, n)
		ref, err := upperCholInverseRef(a, n)
		if err != nil {
			t.Fatal(err)
		}
		u, err := upperCholInverse(append([]float64(nil), a...), n)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(u, ref); d > 1e-7 {
			t.Errorf("n=%d: fast and reference factors differ by %g", n, d)
		}
		// UᵀU·A = I and U is upper triangular with a positive diagonal.
		for i := 0; i < n; i++ {
			if u[i*n+i] <= 0 {
				t.Fatalf("n=%d: U[%d][%d] = %g", n, i, i, u[i*n+i])
			}
			for j := 0; j < i; j++ {
				if u[i*n+j] != 0 {
					t.Fatalf("n=%d: U[%d][%d] = %g below the diagonal", n, i, j, u[i*n+j])
				}
			}
		}
		inv := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k <= min(i, j); k++ {
					s += u[k*n+i] * u[k*n+j]
				}
				inv[i*n+j] = s
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					s += inv[i*n+k] * a[k*n+j]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(s-want) > 1e-6 {
					t.Fatalf("n=%d: (UᵀU·A)[%d][%d] = %g", n, i, j, s)
				}
			}
		}
	}
}

func TestCholeskyRejectsIndefinite(t *testing.T) {
	for _, a := range [][]float64{
		{1, 2, 2, 1},
		{0, 0, 0, 1},
		{math.NaN(), 0, 0, 1},
	} {
		if err := cholesky(append([]float64(nil), a...), 2); !errors.Is(err, errNotPD) {
			t.Errorf("cholesky(%v) = %v, want errNotPD", a, err)
		}
	}
}
