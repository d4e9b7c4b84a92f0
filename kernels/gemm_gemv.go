package kernels

// Pure-Go GEMV and small-batch "NT" GEMM: y[i,j] = alpha·(x[i,:]·W[j,:]) +
// beta·y[i,j] (+ bias[j]) with x [m×k] and W row-major [n×k] (PyTorch's
// Linear layout: both operands contiguous along k), for m = 1 (batch-1
// decode) up to gemvMaxRows, without packing.
//
// Roofline: 2·m·n·k FLOPs over 4·n·k bytes of weights (x and y stay in
// cache). At m = 1 that is 0.5 FLOP/byte, bound by memory bandwidth if the
// loop issues loads fast enough: the kernel walks four rows of W at once
// against one pass over x (x is loaded once per four rows), with two
// accumulators per row (eight independent add chains hide the FP add
// latency) and k unrolled by two. For m ≥ 2 it takes x rows in pairs: a 2×4
// register tile read straight from two x rows and four W rows (6 loads per
// 8 multiply-adds, the same intensity as the packed GEMM micro-kernel), so
// small batches run at the scalar compute bound with no packing pass over W.
// Work is split over groups of four W rows, up to gemmThreadCount()
// goroutines.
//
// Measured on the reference 2-core Xeon at 4096→11008 (GOAMD64=v1, two
// goroutines): m = 1, 4 rows × 2 accumulators ≈ 16–20 GB/s (one row with 8
// accumulators ≈ 11 GB/s, 2 rows × 4 accumulators ≈ 13 GB/s); m = 2…32,
// ≈ 10–11 GFLOP/s, against the packed GEMM's 2.8 (m = 2), 5.8 (m = 8) and
// 9.5 (m = 32) GFLOP/s, which overtakes it at m = 64 (10.9 vs 10.4). OpenBLAS's
// sgemv is faster still on that machine, so the OpenBLAS build uses it for
// m ≤ blasGEMVMaxRows and sgemm above; this kernel is the pure-Go build's.

// gemvMaxRows is the largest m for which the pure-Go Linear and Sgemm (with
// transB) use the unpacked NT kernel instead of the packed GEMM (measured
// crossover, see above: above it packing W pays for itself).
const gemvMaxRows = 32

// gemvGo computes y[i·ldy+j] = alpha·dot(x[i·ldx : i·ldx+k], w[j·ldw :
// j·ldw+k]) + beta·y[i·ldy+j] (+ bias[j] when bias is non-nil) for i < m,
// j < n. beta == 0 does not read y. Allocation-free when it runs on one
// goroutine.
func gemvGo(m, n, k int, alpha float32, x []float32, ldx int, w []float32, ldw int, beta float32, y []float32, ldy int, bias []float32) {
	threads := gemmThreadCount()
	// Chunks of whole 4-row groups, at least ~64 KiB of weights each so a
	// goroutine pays for itself.
	groups := (n + 3) / 4
	grain := max(1, 4096/max(k, 1), (groups+threads-1)/threads)
	if Workers(groups, grain) == 1 {
		// One chunk: no closure, no goroutine, no allocation.
		gemvRows(m, n, k, alpha, x, ldx, w, ldw, beta, y, ldy, bias, 0, n)
		return
	}
	ParallelFor(groups, grain, func(lo, hi int) {
		gemvRows(m, n, k, alpha, x, ldx, w, ldw, beta, y, ldy, bias, lo*4, min(hi*4, n))
	})
}

// gemvRows computes columns j0…j1−1 of gemvGo (W rows j0…j1−1).
func gemvRows(m, n, k int, alpha float32, x []float32, ldx int, w []float32, ldw int, beta float32, y []float32, ldy int, bias []float32, j0, j1 int) {
	j := j0
	for ; j+4 <= j1; j += 4 {
		w0, w1 := w[j*ldw:j*ldw+k], w[(j+1)*ldw:(j+1)*ldw+k]
		w2, w3 := w[(j+2)*ldw:(j+2)*ldw+k], w[(j+3)*ldw:(j+3)*ldw+k]
		i := 0
		for ; i+2 <= m; i += 2 {
			acc := gemvDot2x4(x[i*ldx:i*ldx+k], x[(i+1)*ldx:(i+1)*ldx+k], w0, w1, w2, w3)
			for r := 0; r < 2; r++ {
				yr := y[(i+r)*ldy:]
				for c := 0; c < 4; c++ {
					gemvStore(yr, bias, j+c, acc[r*4+c], alpha, beta)
				}
			}
		}
		if i < m {
			d0, d1, d2, d3 := gemvDot4(w0, w1, w2, w3, x[i*ldx:i*ldx+k])
			yr := y[i*ldy:]
			gemvStore(yr, bias, j, d0, alpha, beta)
			gemvStore(yr, bias, j+1, d1, alpha, beta)
			gemvStore(yr, bias, j+2, d2, alpha, beta)
			gemvStore(yr, bias, j+3, d3, alpha, beta)
		}
	}
	for ; j < j1; j++ {
		wj := w[j*ldw : j*ldw+k]
		for i := 0; i < m; i++ {
			gemvStore(y[i*ldy:], bias, j, gemvDot(wj, x[i*ldx:i*ldx+k]), alpha, beta)
		}
	}
}

// gemvStore writes y[j] = alpha·d + beta·y[j] (+ bias[j]).
func gemvStore(y, bias []float32, j int, d, alpha, beta float32) {
	v := alpha * d
	if beta != 0 {
		v += beta * y[j]
	}
	if bias != nil {
		v += bias[j]
	}
	y[j] = v
}

// gemvDot4 returns the dot products of x with four rows w0…w3 (each at
// least len(x) long).
func gemvDot4(w0, w1, w2, w3, x []float32) (float32, float32, float32, float32) {
	k := len(x)
	w0, w1, w2, w3 = w0[:k], w1[:k], w2[:k], w3[:k]
	var a0, a1, b0, b1, c0, c1, d0, d1 float32
	p := 0
	for ; p+2 <= k; p += 2 {
		x0, x1 := x[p], x[p+1]
		a0 += w0[p] * x0
		a1 += w0[p+1] * x1
		b0 += w1[p] * x0
		b1 += w1[p+1] * x1
		c0 += w2[p] * x0
		c1 += w2[p+1] * x1
		d0 += w3[p] * x0
		d1 += w3[p+1] * x1
	}
	if p < k {
		xp := x[p]
		a0 += w0[p] * xp
		b0 += w1[p] * xp
		c0 += w2[p] * xp
		d0 += w3[p] * xp
	}
	return a0 + a1, b0 + b1, c0 + c1, d0 + d1
}

// gemvDot2x4 returns the 2×4 tile of dot products of rows x0, x1 with rows
// w0…w3 (row-major: [x0·w0, x0·w1, x0·w2, x0·w3, x1·w0, …]).
func gemvDot2x4(x0, x1, w0, w1, w2, w3 []float32) [8]float32 {
	k := len(x0)
	x1, w0, w1, w2, w3 = x1[:k], w0[:k], w1[:k], w2[:k], w3[:k]
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	p := 0
	for ; p+2 <= k; p += 2 {
		a0, a1 := x0[p], x1[p]
		b0, b1, b2, b3 := w0[p], w1[p], w2[p], w3[p]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a0, a1 = x0[p+1], x1[p+1]
		b0, b1, b2, b3 = w0[p+1], w1[p+1], w2[p+1], w3[p+1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	if p < k {
		a0, a1 := x0[p], x1[p]
		b0, b1, b2, b3 := w0[p], w1[p], w2[p], w3[p]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	return [8]float32{c00, c01, c02, c03, c10, c11, c12, c13}
}

// gemvDot returns the dot product of w[:len(x)] and x with eight
// accumulators.
func gemvDot(w, x []float32) float32 {
	w = w[:len(x)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(w) >= 8 && len(x) >= 8 {
		s0 += w[0] * x[0]
		s1 += w[1] * x[1]
		s2 += w[2] * x[2]
		s3 += w[3] * x[3]
		s4 += w[4] * x[4]
		s5 += w[5] * x[5]
		s6 += w[6] * x[6]
		s7 += w[7] * x[7]
		w, x = w[8:], x[8:]
	}
	for i, v := range x {
		s0 += w[i] * v
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
