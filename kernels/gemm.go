package kernels

// Dense float32 GEMM and GEMV, row-major everywhere.
//
// Layout. A row-major matrix X with r rows, c columns and leading dimension
// ld (ld ≥ c) holds element (i, j) at X[i·ld + j]. Linear's weight is
// PyTorch's nn.Linear layout, W [n×k] (out × in), so every linear layer is
// dst = x·Wᵀ: a GEMM with B transposed, and a GEMV (dot products of W's
// rows with x) for one token.
//
// Backends. With cgo (and without the purego tag) Sgemm and Linear call
// OpenBLAS's cblas_sgemm/cblas_sgemv, loaded at run time (blas_cgo.go); when
// cgo is off, the purego tag is set, or no libopenblas can be loaded, they run
// the pure-Go blocked kernel (gemm_go.go) and the pure-Go GEMV
// (gemm_gemv.go). BLAS reports which one is in use.
//
// Roofline. A GEMM does 2·m·n·k FLOPs over 4·(m·k + n·k + m·n) bytes, so
// for the shapes of a prefill (m ≥ 64) it is compute-bound: on the 2-core
// AVX-512 reference machine OpenBLAS reaches a few hundred GFLOP/s, the
// scalar pure-Go kernel about 2 FLOPs/cycle/core (no SIMD in plain Go).
// Batch-1 decode is a GEMV: 2·n·k FLOPs over 4·n·k weight bytes, half a
// FLOP per byte, so it is bound by memory bandwidth; the benchmarks report
// its GB/s next to a measured copy bandwidth (BenchmarkCopyBandwidth).

import "fmt"

// Linear computes dst[m×n] = x[m×k]·wᵀ (+ bias[n] broadcast over the rows if
// bias is non-nil), with w row-major [n×k] (PyTorch's nn.Linear layout). It
// is the hot call of every model. Small m (decode tokens) takes a GEMV
// path — OpenBLAS's sgemv per row for m ≤ 3, or the pure-Go unpacked kernel
// for m ≤ 32 — and larger m a GEMM. dst must not overlap x, w or bias. The
// OpenBLAS paths allocate nothing; the pure-Go ones allocate only
// ParallelFor's goroutine bookkeeping when they run on several goroutines,
// and reuse pooled packing buffers. It panics if a slice is shorter than its
// dimensions require.
func Linear(dst, x []float32, m, k int, w []float32, n int, bias []float32) {
	linearCheck(dst, x, m, k, w, n, bias)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		linearFillBias(dst[:m*n], n, bias)
		return
	}
	if m <= blasGEMVMaxRows && linearBLASRows(dst, x, m, k, w, n, bias) {
		return
	}
	if m <= gemvMaxRows && !gemvUseBLAS() {
		gemvGo(m, n, k, 1, x, k, w, k, 0, dst, n, bias)
		return
	}
	beta := float32(0)
	if bias != nil {
		linearFillBias(dst[:m*n], n, bias)
		beta = 1
	}
	if blasSgemm(false, true, m, n, k, 1, x, k, w, k, beta, dst, n) {
		return
	}
	gemmGo(false, true, m, n, k, 1, x, k, w, k, beta, dst, n)
}

// blasGEMVMaxRows is the largest m for which Linear calls OpenBLAS's sgemv
// once per row rather than one sgemm: at 4096→11008 on the reference
// machine, m sgemv calls beat an m-row sgemm for m ≤ 3 (m = 1: ~2.5×, m = 3:
// ~1.3×) and lose from m = 4 on.
const blasGEMVMaxRows = 3

// linearBLASRows runs Linear as one OpenBLAS sgemv per row of x and reports
// true, or reports false when OpenBLAS is not in use or the dimensions do
// not fit its int (the caller then computes all of dst another way).
func linearBLASRows(dst, x []float32, m, k int, w []float32, n int, bias []float32) bool {
	if !gemvUseBLAS() {
		return false
	}
	for i := 0; i < m; i++ {
		row := dst[i*n : (i+1)*n]
		beta := float32(0)
		if bias != nil {
			copy(row, bias[:n])
			beta = 1
		}
		if !blasSgemv(n, k, 1, w, k, x[i*k:(i+1)*k], beta, row) {
			// Dimensions past OpenBLAS's int: the same for every row, so
			// this is the first row; the caller recomputes all of dst.
			return false
		}
	}
	return true
}

// LinearRef is the plain reference for Linear: one float64 dot product per
// output, single-threaded. Tests hold Linear to it.
func LinearRef(dst, x []float32, m, k int, w []float32, n int, bias []float32) {
	linearCheck(dst, x, m, k, w, n, bias)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(x[i*k+p]) * float64(w[j*k+p])
			}
			if bias != nil {
				s += float64(bias[j])
			}
			dst[i*n+j] = float32(s)
		}
	}
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or Xᵀ as transA/transB say, op(A) is m×k, op(B) is k×n and C is
// m×n; lda, ldb and ldc are the leading dimensions (row strides) of A, B and
// C as stored. As in BLAS, beta == 0 means C is not read (NaNs in C do not
// propagate) and alpha == 0 means A and B are not read. C must not overlap A
// or B. It panics if a dimension is negative, a leading dimension is too
// small or a slice is too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		gemmScaleC(m, n, beta, c, ldc)
		return
	}
	if blasSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmRef is the plain reference for Sgemm: a float64 triple loop,
// single-threaded, with the same BLAS conventions for alpha == 0 and
// beta == 0.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			if alpha != 0 {
				for p := 0; p < k; p++ {
					ai, bi := i*lda+p, p*ldb+j
					if transA {
						ai = p*lda + i
					}
					if transB {
						bi = j*ldb + p
					}
					s += float64(a[ai]) * float64(b[bi])
				}
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}

// linearFillBias sets every n-wide row of dst to bias (or to zero when bias
// is nil).
func linearFillBias(dst []float32, n int, bias []float32) {
	for r := 0; r+n <= len(dst); r += n {
		if bias == nil {
			clear(dst[r : r+n])
		} else {
			copy(dst[r:r+n], bias[:n])
		}
	}
}

// gemmScaleC computes C = beta·C over the m×n matrix C (beta == 0 stores
// zeros without reading C).
func gemmScaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// linearCheck panics unless the slices hold the dimensions Linear is given.
func linearCheck(dst, x []float32, m, k int, w []float32, n int, bias []float32) {
	switch {
	case m < 0 || k < 0 || n < 0:
		panic(fmt.Sprintf("kernels.Linear: negative dimension m=%d k=%d n=%d", m, k, n))
	case len(x) < m*k:
		panic(fmt.Sprintf("kernels.Linear: len(x)=%d < m·k=%d·%d", len(x), m, k))
	case len(w) < n*k:
		panic(fmt.Sprintf("kernels.Linear: len(w)=%d < n·k=%d·%d", len(w), n, k))
	case len(dst) < m*n:
		panic(fmt.Sprintf("kernels.Linear: len(dst)=%d < m·n=%d·%d", len(dst), m, n))
	case bias != nil && len(bias) < n:
		panic(fmt.Sprintf("kernels.Linear: len(bias)=%d < n=%d", len(bias), n))
	}
}

// sgemmCheck panics unless the dimensions, leading dimensions and slice
// lengths given to Sgemm are consistent.
func sgemmCheck(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k // A as stored
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	gemmCheckMatrix("A", a, ar, ac, lda)
	gemmCheckMatrix("B", b, br, bc, ldb)
	gemmCheckMatrix("C", c, m, n, ldc)
}

// gemmCheckMatrix panics unless x can hold a rows×cols row-major matrix with
// leading dimension ld (BLAS requires ld ≥ max(1, cols)).
func gemmCheckMatrix(name string, x []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels.Sgemm: ld%s=%d < max(1, %d columns)", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels.Sgemm: len(%s)=%d < %d for %d×%d with ld %d", name, len(x), (rows-1)*ld+cols, rows, cols, ld))
	}
}
