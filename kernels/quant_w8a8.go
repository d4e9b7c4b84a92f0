package kernels

// W8A8 (SmoothQuant): int8 weights with one scale per output row, and int8
// activations quantized per token at run time.
//
// For each x row r: sx = max_j |x[r,j]| / 127 and xq[r,j] = round(x[r,j]/sx)
// (ties to even, as torch.round; xq ∈ [−127, 127]; an all-zero row has
// sx = 0 and xq = 0). Then y[r,o] = (float32(Σ_j xq[r,j]·wq[o,j]) · sx) · sw[o]
// (+ bias[o]), with the int8×int8 products summed exactly in int32. This is
// SmoothQuant's fake-quantized linear (per-token dynamic activations,
// per-channel weights) computed in integers, so it equals
// Σ_j (xq·sx)·(wq·sw) up to float32 rounding of the final product.
//
// Memory layout: wq row-major [out×in] int8, sw [out] float32.
//
// Roofline at batch 1: one byte per weight (45 MB at 4096×11008 against 180
// MB in float32). The AVX2 kernel (quant_cgo.go) widens 16 weights to int16
// and multiplies with vpmaddwd (16 MACs in ~4 µops), so it stays bound by
// memory bandwidth; rows of x are taken four at a time per pass over W. On
// CPUs with AVX512-VNNI, vpdpbusd does 32 MACs per instruction on the
// activations offset to unsigned (xq + 128), corrected exactly by a
// precomputed 128·Σ w per row — the fast path for prefill batches.

import (
	"fmt"
	"math"
	"sync"
)

// QuantW8A8Matrix is a weight [Out×In] of int8 codes with per-output-row
// float32 scales whose MulT quantizes activations per token to int8 and
// multiplies in integers. MulT is safe for concurrent use.
type QuantW8A8Matrix struct {
	out, in int
	w       []int8
	scales  []float32
	// wsum[o] = 128·Σ w[o, j] over the first in/32·32 columns: the
	// correction for the VNNI kernel's unsigned (offset) activations.
	wsum []int32
	pool sync.Pool
}

// NewQuantW8A8Matrix wraps w [out×in] (int8, row-major) and scales [out].
// It copies neither: the caller must not modify them afterwards.
func NewQuantW8A8Matrix(out, in int, w []int8, scales []float32) (*QuantW8A8Matrix, error) {
	if out <= 0 || in <= 0 || len(w) != out*in || len(scales) != out {
		return nil, fmt.Errorf("%w: w8a8 %d×%d with %d weights and %d scales", ErrQuantShape, out, in, len(w), len(scales))
	}
	m := &QuantW8A8Matrix{out: out, in: in, w: w, scales: scales, wsum: make([]int32, out)}
	for o := range m.wsum {
		var s int32
		for _, v := range w[o*in : o*in+in/32*32] {
			s += int32(v)
		}
		m.wsum[o] = 128 * s
	}
	return m, nil
}

// Dims returns (out, in).
func (m *QuantW8A8Matrix) Dims() (int, int) { return m.out, m.in }

// Bytes returns out·in + 4·out.
func (m *QuantW8A8Matrix) Bytes() int64 { return int64(len(m.w)) + 4*int64(len(m.scales)) }

// Format returns "w8a8".
func (m *QuantW8A8Matrix) Format() string { return "w8a8" }

// Weights returns the int8 weights [out×in] and the per-row scales (not
// copies: do not modify).
func (m *QuantW8A8Matrix) Weights() ([]int8, []float32) { return m.w, m.scales }

// QuantizeActivations quantizes each of the rows x rows [rows×in]
// symmetrically to int8 (absmax/127, round half to even) into q, writing
// each row's scale to sx. It is the activation step of MulT.
func QuantizeActivations(q []int8, sx []float32, x []float32, rows, in int) {
	for r := 0; r < rows; r++ {
		xr, qr := x[r*in:(r+1)*in], q[r*in:(r+1)*in]
		var amax float32
		for _, v := range xr {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 127
		sx[r] = s
		if s == 0 {
			clear(qr)
			continue
		}
		for j, v := range xr {
			qr[j] = int8(max(-127, min(127, quantRoundEven(v/s))))
		}
	}
}

// MulTRef is the plain reference for MulT (single-threaded, the same
// integer arithmetic).
func (m *QuantW8A8Matrix) MulTRef(dst, x []float32, rows int, bias []float32) {
	quantCheck("QuantW8A8Matrix", m.out, m.in, dst, x, rows, bias)
	q, sx := make([]int8, rows*m.in), make([]float32, rows)
	QuantizeActivations(q, sx, x, rows, m.in)
	for r := 0; r < rows; r++ {
		for o := 0; o < m.out; o++ {
			var acc int32
			for j := 0; j < m.in; j++ {
				acc += int32(q[r*m.in+j]) * int32(m.w[o*m.in+j])
			}
			dst[r*m.out+o] = w8a8Out(acc, sx[r], m.scales[o], bias, o)
		}
	}
}

// w8a8Out is the epilogue shared by every W8A8 kernel.
func w8a8Out(acc int32, sx, sw float32, bias []float32, o int) float32 {
	v := float32(float32(acc) * sx * sw) // explicit rounding: never fused with the bias add
	if bias != nil {
		v += bias[o]
	}
	return v
}

// MulT computes dst[rows×out] = x·Wᵀ (+ bias) with per-token int8
// activations, split over output rows. It panics if a slice is too short.
// The sum over in must fit int32: in ≤ 2^31/127² ≈ 133 000.
func (m *QuantW8A8Matrix) MulT(dst, x []float32, rows int, bias []float32) {
	quantCheck("QuantW8A8Matrix", m.out, m.in, dst, x, rows, bias)
	if rows == 0 {
		return
	}
	sc, _ := m.pool.Get().(*quantScratch)
	if sc == nil {
		sc = new(quantScratch)
	}
	defer m.pool.Put(sc)
	if cap(sc.i8) < rows*m.in {
		sc.i8 = make([]int8, rows*m.in)
	}
	sc.i8 = sc.i8[:rows*m.in]
	sc.sx = growF32(sc.sx, rows)
	QuantizeActivations(sc.i8, sc.sx, x, rows, m.in)
	q, sx := sc.i8, sc.sx
	var xu []uint8
	if w8a8UseVNNI() {
		if cap(sc.u8) < rows*m.in {
			sc.u8 = make([]uint8, rows*m.in)
		}
		xu = sc.u8[:rows*m.in]
		for i, v := range q {
			xu[i] = uint8(v) ^ 0x80 // v + 128
		}
	}
	grain := quantGrain(m.out, m.in)
	if Workers(m.out, grain) == 1 {
		m.rows(dst, q, xu, sx, rows, bias, 0, m.out)
		return
	}
	ParallelFor(m.out, grain, func(lo, hi int) { m.rows(dst, q, xu, sx, rows, bias, lo, hi) })
}

func (m *QuantW8A8Matrix) rows(dst []float32, q []int8, xu []uint8, sx []float32, rows int, bias []float32, o0, o1 int) {
	if w8a8Native(m, dst, q, xu, sx, rows, bias, o0, o1) {
		return
	}
	for o := o0; o < o1; o++ {
		w := m.w[o*m.in : (o+1)*m.in]
		for r := 0; r < rows; r++ {
			dst[r*m.out+o] = w8a8Out(w8a8Dot(w, q[r*m.in:(r+1)*m.in]), sx[r], m.scales[o], bias, o)
		}
	}
}

// w8a8Dot is the pure-Go int8 dot product with four accumulators.
func w8a8Dot(w, x []int8) int32 {
	x = x[:len(w)]
	var s0, s1, s2, s3 int32
	j := 0
	for ; j+4 <= len(w); j += 4 {
		s0 += int32(w[j]) * int32(x[j])
		s1 += int32(w[j+1]) * int32(x[j+1])
		s2 += int32(w[j+2]) * int32(x[j+2])
		s3 += int32(w[j+3]) * int32(x[j+3])
	}
	for ; j < len(w); j++ {
		s0 += int32(w[j]) * int32(x[j])
	}
	return s0 + s1 + s2 + s3
}
