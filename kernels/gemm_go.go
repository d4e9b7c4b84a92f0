package kernels

// Pure-Go blocked SGEMM: the fallback when OpenBLAS is not there (cgo off,
// the purego tag, or no libopenblas at run time), and always compiled so
// that tests and benchmarks can hold it against the reference in every build.
//
// Blocking (Goto/BLIS): for each NC-wide column block of op(B) and each
// KC-deep slice of k, op(B)[pc:pc+kc, jc:jc+nc] is packed into NR-wide
// micro-panels (kc×NR, row by row) shared by all workers; each worker packs
// MC-row blocks of op(A) into MR-tall micro-panels (kc×MR) and runs the
// MR×NR micro-kernel over them, keeping the B micro-panel in L1 and the A
// block in L2. C is updated in place: the first k-slice applies beta, later
// slices add.
//
// Micro-kernel: 2×4 register block (8 float32 accumulators), k unrolled by
// two. Measured on the reference Xeon (GOAMD64=v1, no SIMD from the Go
// compiler): 2×4 unrolled by two runs at ~7.7 GFLOP/s per core, 4×4 spills
// accumulators and drops to ~3.4, 3×3 ~4.5. Scalar float32 mul+add is the
// bound (about 2–3 FLOPs/cycle/core), so the packed panels keep every load in
// L1 and the kernel at that bound.
//
// Threads: the work of each (jc, pc) step is split into units of one MC-row
// block × one NR panel, dealt in equal contiguous chunks to up to
// gemmThreadCount() goroutines through ParallelForWorker. Packing buffers
// come from a sync.Pool, so steady-state calls do not allocate them again.

import (
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	gemmMR = 2    // micro-kernel rows
	gemmNR = 4    // micro-kernel columns
	gemmKC = 256  // depth of a packed slice: kc·(MR+NR)·4 B = 6 KiB of L1
	gemmMC = 128  // rows of a packed A block: MC·KC·4 B = 128 KiB of L2
	gemmNC = 2048 // columns of a packed B panel: KC·NC·4 B = 2 MiB

	// gemmMinWork is the least work (multiply-adds, or copies when packing)
	// worth a goroutine: ~10 µs of scalar work against a ~1 µs spawn. Below
	// it the call stays on the calling goroutine (measured: 8³ took 4.3 µs
	// split over two goroutines, 0.7 µs on one; 64³ 132 µs vs 88 µs).
	gemmMinWork = 1 << 16
)

// gemmThreads is the thread count SetThreads sets for GEMM/GEMV (both the
// OpenBLAS and the pure-Go kernels).
var gemmThreads atomic.Int32

func init() { gemmThreads.Store(int32(runtime.GOMAXPROCS(0))) }

// gemmSetThreads stores n (n < 1 means GOMAXPROCS) and returns the value
// stored.
func gemmSetThreads(n int) int {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	gemmThreads.Store(int32(n))
	return n
}

// gemmThreadCount is the number of goroutines the pure-Go GEMM/GEMV may use.
func gemmThreadCount() int { return max(1, int(gemmThreads.Load())) }

// gemmScratch holds the packing buffers of one gemmGo call.
type gemmScratch struct {
	b []float32   // packed op(B) panel, up to KC×NC
	a [][]float32 // one packed op(A) block per worker, MC×KC each
}

var gemmPool = sync.Pool{New: func() any { return new(gemmScratch) }}

// gemmGo is the pure-Go Sgemm (arguments already checked; m, n, k > 0).
func gemmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if transB && m <= gemvMaxRows && (!transA || m == 1 && lda == 1) {
		// A few rows times Bᵀ: both operands contiguous along k, the
		// unpacked NT kernel (gemm_gemv.go) beats packing B. With transA
		// and m == 1, lda == 1 makes op(A) the first k elements of A.
		gemvGo(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
		return
	}
	gemmGoPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmGoPacked is gemmGo's packed, blocked path.
func gemmGoPacked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	threads := gemmThreadCount()
	s := gemmPool.Get().(*gemmScratch)
	defer gemmPool.Put(s)
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		panels := (nc + gemmNR - 1) / gemmNR
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			betaEff := beta
			if pc > 0 {
				betaEff = 1
			}
			if need := panels * gemmNR * kc; cap(s.b) < need {
				s.b = make([]float32, gemmNC*gemmKC)
			}
			bp := s.b[:panels*gemmNR*kc]
			// Goroutines only where each gets ≥ gemmMinWork multiply-adds
			// (or copies, for packing): a spawn costs about a microsecond.
			packThreads := min(threads, max(1, panels*gemmNR*kc/gemmMinWork))
			ParallelFor(panels, (panels+packThreads-1)/packThreads, func(lo, hi int) {
				for jp := lo; jp < hi; jp++ {
					gemmPackB(bp[jp*gemmNR*kc:(jp+1)*gemmNR*kc], transB, b, ldb, pc, kc, jc+jp*gemmNR, min(gemmNR, n-jc-jp*gemmNR))
				}
			})

			// Units: one MC-row block × one NR panel, in block-major order,
			// dealt out in threads equal contiguous chunks (balanced for any
			// number of blocks; a worker packs each block it meets once).
			mBlocks := (m + gemmMC - 1) / gemmMC
			units := mBlocks * panels
			workThreads := min(threads, max(1, m*nc*kc/gemmMinWork))
			grain := (units + workThreads - 1) / workThreads
			workers := Workers(units, grain)
			for len(s.a) < workers {
				s.a = append(s.a, make([]float32, gemmMC*gemmKC))
			}
			sa := s.a
			ParallelForWorker(units, grain, func(w, lo, hi int) {
				var ap []float32
				if w < len(sa) {
					ap = sa[w]
				} else { // MaxThreads grew between Workers and here
					ap = make([]float32, gemmMC*gemmKC)
				}
				for u := lo; u < hi; {
					blk := u / panels
					ic := blk * gemmMC
					mc := min(gemmMC, m-ic)
					gemmPackA(ap, transA, a, lda, ic, mc, pc, kc)
					p0, p1 := u%panels, min(panels, u%panels+hi-u)
					gemmMacro(mc, kc, ap, bp, p0, p1, c, ldc, ic, jc, n, alpha, betaEff)
					u += p1 - p0
				}
			})
		}
	}
}

// gemmPackA packs op(A)[ic:ic+mc, pc:pc+kc] into MR-tall micro-panels:
// panel r holds rows ic+r·MR… as kc groups of MR values (rows past m are
// zero).
func gemmPackA(ap []float32, transA bool, a []float32, lda, ic, mc, pc, kc int) {
	for r := 0; r*gemmMR < mc; r++ {
		dst := ap[r*gemmMR*kc : (r+1)*gemmMR*kc]
		rows := min(gemmMR, mc-r*gemmMR)
		i0 := ic + r*gemmMR
		if !transA {
			for i := 0; i < gemmMR; i++ {
				if i >= rows {
					for p := 0; p < kc; p++ {
						dst[p*gemmMR+i] = 0
					}
					continue
				}
				src := a[(i0+i)*lda+pc : (i0+i)*lda+pc+kc]
				for p, v := range src {
					dst[p*gemmMR+i] = v
				}
			}
			continue
		}
		for p := 0; p < kc; p++ {
			src := a[(pc+p)*lda+i0 : (pc+p)*lda+i0+rows]
			d := dst[p*gemmMR : (p+1)*gemmMR]
			copy(d, src)
			clear(d[rows:])
		}
	}
}

// gemmPackB packs the nr ≤ NR columns j0… of op(B)[pc:pc+kc, :] into one
// micro-panel bp (kc groups of NR values; columns past nr are zero).
func gemmPackB(bp []float32, transB bool, b []float32, ldb, pc, kc, j0, nr int) {
	if !transB {
		for p := 0; p < kc; p++ {
			d := bp[p*gemmNR : (p+1)*gemmNR]
			copy(d, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+nr])
			clear(d[nr:])
		}
		return
	}
	if nr == gemmNR {
		// Four rows of B, read side by side, interleaved into the panel.
		r0 := b[j0*ldb+pc : j0*ldb+pc+kc]
		r1 := b[(j0+1)*ldb+pc : (j0+1)*ldb+pc+kc]
		r2 := b[(j0+2)*ldb+pc : (j0+2)*ldb+pc+kc]
		r3 := b[(j0+3)*ldb+pc : (j0+3)*ldb+pc+kc]
		bp = bp[:gemmNR*kc]
		for p := range r0 {
			d := bp[p*gemmNR : p*gemmNR+gemmNR : p*gemmNR+gemmNR]
			d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		}
		return
	}
	for j := 0; j < gemmNR; j++ {
		if j >= nr {
			for p := 0; p < kc; p++ {
				bp[p*gemmNR+j] = 0
			}
			continue
		}
		src := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kc]
		for p, v := range src {
			bp[p*gemmNR+j] = v
		}
	}
}

// gemmMacro multiplies the packed A block (mc×kc) by the packed B panels
// p0…p1−1 and updates the matching tiles of C (rows ic…, columns jc+p·NR…,
// clipped at n columns).
func gemmMacro(mc, kc int, ap, bp []float32, p0, p1 int, c []float32, ldc, ic, jc, n int, alpha, beta float32) {
	for jp := p0; jp < p1; jp++ {
		j := jc + jp*gemmNR
		nr := min(gemmNR, n-j)
		bpp := bp[jp*gemmNR*kc : (jp+1)*gemmNR*kc]
		for ir := 0; ir < mc; ir += gemmMR {
			mr := min(gemmMR, mc-ir)
			acc := gemmKernel2x4(kc, ap[ir*kc:(ir+gemmMR)*kc], bpp)
			gemmStore(c[(ic+ir)*ldc+j:], ldc, &acc, mr, nr, alpha, beta)
		}
	}
}

// gemmKernel2x4 returns the 2×4 tile Σ_p ap[p]ᵀ·bp[p] of two packed
// micro-panels (ap: kc×2, bp: kc×4), row-major in the result.
func gemmKernel2x4(kc int, ap, bp []float32) [gemmMR * gemmNR]float32 {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	ap = ap[:gemmMR*kc]
	bp = bp[:gemmNR*kc]
	for len(ap) >= 2*gemmMR && len(bp) >= 2*gemmNR {
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		b0, b1, b2, b3 = bp[4], bp[5], bp[6], bp[7]
		a0 = ap[2]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 = ap[3]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		ap = ap[2*gemmMR:]
		bp = bp[2*gemmNR:]
	}
	if len(ap) >= gemmMR && len(bp) >= gemmNR { // odd kc
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0, a1 := ap[0], ap[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	return [gemmMR * gemmNR]float32{c00, c01, c02, c03, c10, c11, c12, c13}
}

// gemmStore writes C[i][j] = alpha·acc[i][j] + beta·C[i][j] for the mr×nr
// corner of a tile (beta == 0: C is not read).
func gemmStore(c []float32, ldc int, acc *[gemmMR * gemmNR]float32, mr, nr int, alpha, beta float32) {
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		t := acc[i*gemmNR : i*gemmNR+nr]
		if beta == 0 {
			for j, v := range t {
				row[j] = alpha * v
			}
			continue
		}
		for j, v := range t {
			row[j] = alpha*v + beta*row[j]
		}
	}
}
