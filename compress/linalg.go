package compress

// Dense float64 linear algebra for the Hessian-based methods (GPTQ and
// SparseGPT): a blocked Cholesky factorisation and the upper Cholesky factor
// of the inverse, which both methods use as "Hinv".
//
// Cost: n³/3 multiply-adds for the factorisation and n³/3 for the
// triangular inverse, in float64 for stability (the reference runs float32
// on a GPU). Both are blocked so that the trailing rows stream through the
// cache once per block of nb columns, and run on every core.

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/llmcbench/gollm/kernels"
)

const cholBlock = 48

// errNotPD reports a matrix that is not (numerically) positive definite.
var errNotPD = errors.New("matrix is not positive definite")

// errNotFinite is errNotPD for a matrix holding NaN or Inf (no dampening
// helps).
var errNotFinite = fmt.Errorf("%w: it holds NaN or Inf", errNotPD)

// parallelDynamic calls fn(lo, hi) for chunks of [0, n) of size chunk,
// handing chunks to kernels.MaxThreads goroutines as they finish (for loops
// whose iterations differ in cost).
func parallelDynamic(n, chunk int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	chunk = max(chunk, 1)
	workers := min(kernels.MaxThreads(), (n+chunk-1)/chunk)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		for {
			lo := int(next.Add(int64(chunk))) - chunk
			if lo >= n {
				return
			}
			fn(lo, min(lo+chunk, n))
		}
	}
	for range workers - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); work() }()
	}
	work()
	wg.Wait()
}

// dot64 is the float64 dot product of a and b[:len(a)].
func dot64(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// cholesky overwrites the lower triangle of the symmetric positive definite
// matrix a (n×n, row-major) with L, where a = L·Lᵀ. The strict upper
// triangle is not read and is left as it was.
func cholesky(a []float64, n int) error {
	for k0 := 0; k0 < n; k0 += cholBlock {
		k1 := min(k0+cholBlock, n)
		// Diagonal block (earlier blocks' updates are already applied).
		for j := k0; j < k1; j++ {
			rj := a[j*n+k0 : j*n+j]
			d := a[j*n+j] - dot64(rj, rj)
			if math.IsNaN(d) || math.IsInf(d, 0) {
				return fmt.Errorf("%w (pivot %d is %g)", errNotFinite, j, d)
			}
			if !(d > 0) {
				return fmt.Errorf("%w (pivot %d is %g)", errNotPD, j, d)
			}
			d = math.Sqrt(d)
			a[j*n+j] = d
			for i := j + 1; i < k1; i++ {
				a[i*n+j] = (a[i*n+j] - dot64(a[i*n+k0:i*n+j], rj)) / d
			}
		}
		if k1 == n {
			break
		}
		// Panel below the diagonal block, then the trailing update
		// a[i][j] -= L[i, k0:k1]·L[j, k0:k1] for k1 ≤ j ≤ i.
		parallelDynamic(n-k1, 16, func(lo, hi int) {
			for i := k1 + lo; i < k1+hi; i++ {
				ri := a[i*n : i*n+n]
				for j := k0; j < k1; j++ {
					ri[j] = (ri[j] - dot64(ri[k0:j], a[j*n+k0:j*n+j])) / a[j*n+j]
				}
			}
		})
		parallelDynamic(n-k1, 8, func(lo, hi int) {
			for i := k1 + lo; i < k1+hi; i++ {
				pi := a[i*n+k0 : i*n+k1]
				ri := a[i*n : i*n+n]
				for j := k1; j <= i; j++ {
					ri[j] -= dot64(pi, a[j*n+k0:j*n+k1])
				}
			}
		})
	}
	return nil
}

// invLowerT returns Xᵀ where X = L⁻¹ for the lower-triangular L stored in
// the lower triangle of l (n×n row-major): row j of the result holds column
// j of L⁻¹, which is zero before position j.
func invLowerT(l []float64, n int) []float64 {
	xt := make([]float64, n*n)
	const rb = 32 // rows of Xᵀ computed together, sharing each row of L
	parallelDynamic((n+rb-1)/rb, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			j0, j1 := b*rb, min(b*rb+rb, n)
			for i := j0; i < n; i++ {
				li := l[i*n : i*n+i+1]
				inv := 1 / li[i]
				for j := j0; j < min(j1, i+1); j++ {
					row := xt[j*n : j*n+n]
					if i == j {
						row[j] = inv
						continue
					}
					row[i] = -dot64(li[j:i], row[j:i]) * inv
				}
			}
		}
	})
	return xt
}

// upperCholInverse returns U (n×n row-major, float64) with UᵀU = A⁻¹ and U
// upper triangular with a positive diagonal — torch's
// cholesky(cholesky_inverse(cholesky(A)), upper=True). It uses the reversal
// J (J·A·J = L̃L̃ᵀ ⇒ U = J·L̃⁻¹·J) so that one factorisation and one
// triangular inverse suffice. a is overwritten.
func upperCholInverse(a []float64, n int) ([]float64, error) {
	// Reverse rows and columns in place: a[i][j] ↔ a[n-1-i][n-1-j].
	for i := 0; i < n*n/2; i++ {
		a[i], a[n*n-1-i] = a[n*n-1-i], a[i]
	}
	if err := cholesky(a, n); err != nil {
		return nil, err
	}
	xt := invLowerT(a, n) // xt[j][i] = L̃⁻¹[i][j]
	// U[i][j] = L̃⁻¹[n-1-i][n-1-j] = xt[n-1-j][n-1-i] for j ≥ i.
	u := a // reuse the storage
	kernels.ParallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := u[i*n : i*n+n]
			for j := 0; j < i; j++ {
				row[j] = 0
			}
			for j := i; j < n; j++ {
				row[j] = xt[(n-1-j)*n+n-1-i]
			}
		}
	})
	return u, nil
}

// choleskyRef is the plain reference for cholesky (unblocked, serial).
func choleskyRef(a []float64, n int) error {
	for j := 0; j < n; j++ {
		d := a[j*n+j]
		for k := 0; k < j; k++ {
			d -= a[j*n+k] * a[j*n+k]
		}
		if !(d > 0) {
			return errNotPD
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / d
		}
	}
	return nil
}

// upperCholInverseRef is the plain reference for upperCholInverse, the
// three steps the reference code takes: L = chol(A), A⁻¹ = L⁻ᵀL⁻¹ by
// solving, U = upper Cholesky factor of A⁻¹ (UᵀU = A⁻¹).
func upperCholInverseRef(a []float64, n int) ([]float64, error) {
	l := append([]float64(nil), a...)
	if err := choleskyRef(l, n); err != nil {
		return nil, err
	}
	// invT is A⁻¹ transposed: column c of A⁻¹ is stored as row c.
	invT := make([]float64, n*n)
	col := make([]float64, n)
	for c := 0; c < n; c++ {
		// Solve L y = e_c, then Lᵀ x = y.
		for i := range col {
			col[i] = 0
		}
		col[c] = 1
		for i := 0; i < n; i++ {
			s := col[i]
			for k := 0; k < i; k++ {
				s -= l[i*n+k] * col[k]
			}
			col[i] = s / l[i*n+i]
		}
		for i := n - 1; i >= 0; i-- {
			s := col[i]
			for k := i + 1; k < n; k++ {
				s -= l[k*n+i] * col[k]
			}
			col[i] = s / l[i*n+i]
		}
		copy(invT[c*n:(c+1)*n], col)
	}
	// Upper factor: A⁻¹ = UᵀU with U = Lᵀ for the lower Cholesky factor L
	// of invT (whose lower triangle is A⁻¹'s upper one).
	if err := choleskyRef(invT, n); err != nil {
		return nil, err
	}
	u := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			u[i*n+j] = invT[j*n+i]
		}
	}
	return u, nil
}
