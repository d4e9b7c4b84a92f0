//go:build !cgo || purego || !unix

package kernels

import "errors"

// Pure-Go backend: no cgo (CGO_ENABLED=0), the purego build tag, or a
// system without dlopen (non-unix). GEMM and GEMV run the kernels in
// gemm_go.go and gemm_gemv.go.

// BLAS names the GEMM backend in use; in this build it is always "pure-go".
func BLAS() string { return "pure-go" }

// BLASError says why OpenBLAS is not in use.
func BLASError() error {
	return errors.New("openblas not used: built without cgo, with the purego tag, or for a non-unix system")
}

// SetThreads sets how many goroutines the pure-Go GEMM and GEMV use
// (ParallelFor further caps them at MaxThreads). n < 1 means GOMAXPROCS.
func SetThreads(n int) { gemmSetThreads(n) }

// ThreadsReproducible reports whether Sgemm and Linear give the same bits
// for any thread count, and why: in this build always (the pure-Go kernels
// split only m and n over goroutines, and block k in fixed slices).
func ThreadsReproducible() (bool, string) { return true, "pure-Go GEMM" }

// gemvUseBLAS reports false: there is no BLAS in this build.
func gemvUseBLAS() bool { return false }

// blasSgemm reports false: there is no BLAS in this build, the caller runs
// the pure-Go kernel.
func blasSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	return false
}

// blasSgemv reports false: there is no BLAS in this build, the caller runs
// the pure-Go kernel.
func blasSgemv(m, n int, alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) bool {
	return false
}
