package kernels

import (
	"fmt"
	"math"
)

// ActQuantMatrix runs a weight (any Matrix, e.g. the packed quantized
// kernels) on activations quantized per token at run time: each input row
// is fake-quantized to Bits with OmniQuant's dynamic asymmetric quantizer
// (scale = (max − min)/(2^b − 1) clamped to [1e-5, 1e4], zero =
// round(−min/scale), codes clamped to [0, 2^b − 1], x' = (code − zero)·scale)
// before the weight's MulT. This is how OmniQuant evaluates its W4A4 and
// W6A6 models (fake-quantized activations, quantized weights).
type ActQuantMatrix struct {
	W    Matrix
	Bits int
	buf  []float32
}

// NewActQuantMatrix wraps w with per-token activation quantization to bits
// (2–8).
func NewActQuantMatrix(w Matrix, bits int) (*ActQuantMatrix, error) {
	if bits < 2 || bits > 8 {
		return nil, fmt.Errorf("%w: activation bits %d (want 2..8)", ErrQuantCode, bits)
	}
	return &ActQuantMatrix{W: w, Bits: bits}, nil
}

// Dims returns the weight's (out, in).
func (a *ActQuantMatrix) Dims() (int, int) { return a.W.Dims() }

// Bytes is the weight's storage.
func (a *ActQuantMatrix) Bytes() int64 { return a.W.Bytes() }

// Format names the weight format and the activation bits, e.g. "int4-g128-a4".
func (a *ActQuantMatrix) Format() string { return fmt.Sprintf("%s-a%d", a.W.Format(), a.Bits) }

// MulT quantizes the m rows of x per token, then computes dst = x'·Wᵀ
// (+ bias). It keeps a scratch buffer: not safe for concurrent calls.
func (a *ActQuantMatrix) MulT(dst, x []float32, m int, bias []float32) {
	_, in := a.W.Dims()
	if cap(a.buf) < m*in {
		a.buf = make([]float32, m*in)
	}
	q := a.buf[:m*in]
	ParallelFor(m, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			QuantizeTokenAsym(q[r*in:(r+1)*in], x[r*in:(r+1)*in], a.Bits)
		}
	})
	a.W.MulT(dst, q, m, bias)
}

// QuantizeTokenAsym writes to dst the per-token asymmetric fake
// quantization of x to bits (see ActQuantMatrix).
func QuantizeTokenAsym(dst, x []float32, bits int) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	qmax := float64(int(1)<<bits - 1)
	s := math.Min(math.Max((float64(hi)-float64(lo))/qmax, 1e-5), 1e4)
	z := math.RoundToEven(math.Min(math.Max(-float64(lo)/s, -1e4), 1e4))
	inv := 1 / s
	for i, v := range x {
		c := math.Min(math.Max(math.RoundToEven(float64(v)*inv)+z, 0), qmax)
		dst[i] = float32((c - z) * s)
	}
}

// quantizeTokenAsymRef is QuantizeTokenAsym written as the reference
// quantizer reads (division by the scale), for the test.
func quantizeTokenAsymRef(x []float32, bits int) []float32 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		lo = math.Min(lo, float64(v))
		hi = math.Max(hi, float64(v))
	}
	qmax := math.Pow(2, float64(bits)) - 1
	s := math.Min(math.Max((hi-lo)/qmax, 1e-5), 1e4)
	z := math.RoundToEven(math.Min(math.Max(-lo/s, -1e4), 1e4))
	out := make([]float32, len(x))
	for i, v := range x {
		c := math.Min(math.Max(math.RoundToEven(float64(v)/s)+z, 0), qmax)
		out[i] = float32((c - z) * s)
	}
	return out
}
