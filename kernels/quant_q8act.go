package kernels

// Int8-activation kernels for the group-quantized GEMV (decode: a few x
// rows, int4 and 8-bit containers): the x rows are quantized per block of
// 32 stored columns to int8 with one float32 scale per block (llama.cpp's
// Q8_0 activations), and each block of 32 weight codes is multiplied with
// integer dot products — AVX-512 VNNI (vpdpbusd on 256-bit registers),
// AVX-VNNI, or AVX2 (vpmaddubsw + vpmaddwd for 4-bit codes; widened
// vpmaddwd for 8-bit codes), chosen once at run time by CPU feature
// (quant_cgo.go). The codes are unsigned (0 ≤ q < 2^bits) and the
// activations signed, exactly vpdpbusd's u8 × s8 operands: no offset.
//
// Activations. For x row r and block b (stored columns 32b … 32b+31):
// d = max|x|/127, id = 1/d (0 when d = 0), xq = round(x·id) (ties to even,
// float32 arithmetic) ∈ [−127, 127], sx[b] = d. The dequantized activation
// is x̂ = xq·d; |x − x̂| ≤ d/2 (plus float32 rounding of x·id), the error
// the tests bound. For 4-bit containers the 32 xq of a block are stored in
// the kernel's order — the even columns, then the odd ones — because a
// 16-byte block of packed codes unpacks with one shift and one mask into
// [low nibbles, high nibbles] = [codes 0, 2, …, 30, codes 1, 3, …, 31].
// xs[g] = Σ_{b∈g} d_b·Σ xq_b (float32, in block order) serves the zero
// point.
//
// Arithmetic. Per output row o and group g (uniform groups, a multiple of
// 32 columns): A = Σ_{b∈g} d_b·float32(Σ_{j∈b} q_j·xq_j) (the integer dot
// is exact in int32), then y += s·(A − z·xs[g]) (float32): this is
// Σ_j x̂_j·(q_j − z)·s, the asymmetric (zero-point) case exact up to
// float32 rounding. For a one-hot x row (a single 1) d = fl(1/127),
// xq = 127 and fl(127·d) = 1, so A = q and xs = 1 exactly and MulT of the
// identity still reproduces DequantizeRows bit for bit.
//
// Roofline at batch 1 (4096→11008, int4-g128): 0.5 byte of codes and 8/128
// byte of scale and zero per weight (25 MB per call); per 32 codes the AVX2
// kernel spends ~7 vector µops (load, shift, insert, mask, dot, convert,
// FMA; vpmaddubsw adds one), about a quarter of the float kernel's unpack
// to float32, so it reaches the memory bound on both cores. The Go
// reference (quantQ8Ref) defines the result; the cgo kernels are held to it
// in quant_q8act_cgo_test.go, and it to the float32 reference within the
// activation quantization error in quant_q8act_test.go. Without cgo the
// float kernels in quant_group.go run.
//
// The path is an option (SetQuantActInt8, GOLLM_QUANT_ACT=int8), off by
// default: int8 activations move the logits of the tiny test models by
// ~1e-2 (relative), and the packed-format round-trip tests
// (compress/format TestSaveReloadQuantized) hold a reloaded model to its
// dequantized float32 twin within 1e-4.

import "math"

// quantQ8Block is the activation block: 32 stored columns, one int8 scale
// block (it divides every group size the kernels take).
const quantQ8Block = 32

// quantizeQ8Rows quantizes rows x rows (stored column order, in a multiple
// of 32) per 32-column block into xq [rows×in] (for cbits 4 in the
// even/odd order of the file comment), the block scales sx [rows×in/32] and
// the group sums xs [rows×groups] for uniform groups of G columns.
func quantizeQ8Rows(xq []int8, sx, xs, x []float32, rows, in, G, cbits int) {
	nb, groups := in/quantQ8Block, in/G
	for r := 0; r < rows; r++ {
		for g := 0; g < groups; g++ {
			var acc float32
			for b := g * G / quantQ8Block; b < (g+1)*G/quantQ8Block; b++ {
				o := r*in + b*quantQ8Block
				d, sum := quantizeQ8Block(xq[o:o+quantQ8Block], x[o:o+quantQ8Block], cbits)
				sx[r*nb+b] = d
				acc += float32(d * float32(sum))
			}
			xs[r*groups+g] = acc
		}
	}
}

// quantizeQ8Block quantizes one 32-value block (see the file comment) and
// returns its scale and Σ xq.
func quantizeQ8Block(q []int8, x []float32, cbits int) (float32, int32) {
	x, q = x[:quantQ8Block], q[:quantQ8Block]
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	var sum int32
	for j, v := range x {
		c := int32(max(-127, min(127, math.RoundToEven(float64(v*id)))))
		sum += c
		q[quantQ8Pos(j, cbits)] = int8(c)
	}
	return d, sum
}

// quantQ8Pos returns where the activation of code j (0..31) of a 32-code
// block of container width cbits (4 or 8) sits in the kernel's order.
func quantQ8Pos(j, cbits int) int {
	if cbits == 4 {
		return j/2 + j%2*16
	}
	return j
}

// quantQ8Ref is the plain reference for the int8-activation kernel: outputs
// [o0, o1) of every row from the quantized activations (xq, sx, xs as
// quantizeQ8Rows writes them), with the integer dot products and the
// float32 epilogue of the file comment, single-threaded.
func (m *QuantGroupMatrix) quantQ8Ref(dst []float32, xq []int8, sx, xs []float32, rows int, bias []float32, o0, o1 int) {
	G, nb := m.uniformG, m.in/quantQ8Block
	for o := o0; o < o1; o++ {
		row := m.words[o*m.rowWords : (o+1)*m.rowWords]
		for r := 0; r < rows; r++ {
			var tot float32
			for g := 0; g < m.groups; g++ {
				var a float32
				for b := g * G / quantQ8Block; b < (g+1)*G/quantQ8Block; b++ {
					var dot int32
					for j := 0; j < quantQ8Block; j++ {
						q := int32(quantCode(row, b*quantQ8Block+j, m.cbits))
						dot += q * int32(xq[r*m.in+b*quantQ8Block+quantQ8Pos(j, m.cbits)])
					}
					a += float32(float32(dot) * sx[r*nb+b])
				}
				s, z := m.scales[o*m.groups+g], m.zeros[o*m.groups+g]
				tot += float32(s * float32(a-float32(z*xs[r*m.groups+g])))
			}
			if bias != nil {
				tot += bias[o]
			}
			dst[r*m.out+o] = tot
		}
	}
}

// quantQ8Applies reports whether MulT of rows x rows runs the
// int8-activation kernel: a native kernel is available and enabled,
// 1 ≤ rows < quantGEMMRows, 4- or 8-bit containers, uniform groups of a
// multiple of 32 columns.
func (m *QuantGroupMatrix) quantQ8Applies(rows int) bool {
	return quantQ8Native() && rows >= 1 && rows < quantGEMMRows &&
		(m.cbits == 4 || m.cbits == 8) && m.colGroup == nil && m.uniformG%quantQ8Block == 0
}

// mulTQ8 is MulT through the int8-activation kernel (x in stored column
// order; quantQ8Applies holds).
func (m *QuantGroupMatrix) mulTQ8(sc *quantScratch, dst, xs []float32, rows int, bias []float32) {
	nb := m.in / quantQ8Block
	if cap(sc.i8) < rows*m.in {
		sc.i8 = make([]int8, rows*m.in)
	}
	xq := sc.i8[:rows*m.in]
	sc.sx = growF32(sc.sx, rows*nb)
	sc.xg = growF32(sc.xg, rows*m.groups)
	quantizeQ8RowsNative(xq, sc.sx, sc.xg, xs, rows, m.in, m.uniformG, m.cbits)
	grain := quantGrain(m.out, m.in)
	if Workers(m.out, grain) == 1 {
		quantQ8Kernel(m, dst, xq, sc.sx, sc.xg, rows, bias, 0, m.out)
		return
	}
	ParallelFor(m.out, grain, func(lo, hi int) { quantQ8Kernel(m, dst, xq, sc.sx, sc.xg, rows, bias, lo, hi) })
}
