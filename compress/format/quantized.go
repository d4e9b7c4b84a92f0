package format

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// ErrBadQuant marks an inconsistent QuantizedLinear or one a format cannot
// store (wrapped with the layer and the reason).
var ErrBadQuant = badinput.New("bad quantized layer")

// QuantizedLinear is a linear layer's integer codes and quantizer
// parameters as a method (RTN, GPTQ, AWQ, SmoothQuant) produced them:
// W[o,i] = (Q[o,i] − Zeros[g,o])·Scales[g,o] with g = GIdx[i] (or
// i/GroupSize when GIdx is nil).
type QuantizedLinear struct {
	Out, In int
	// Bits is the code width, 2..8.
	Bits int
	// GroupSize is the number of input columns per group; In or -1 means
	// one group per row (per-channel).
	GroupSize int
	// Sym records that the quantizer was symmetric (zero point 2^(Bits−1)
	// for every group); it is written to the checkpoint's config.
	Sym bool
	// Q holds the codes [Out×In], row-major, each in [0, 2^Bits).
	Q []uint8
	// Scales and Zeros are [NumGroups×Out] (group-major, as GPTQ stores
	// them); Zeros are the true zero points (integer-valued).
	Scales []float32
	Zeros  []float32
	// GIdx, if non-nil, is the group of each input column (act-order);
	// nil means column i is in group i/GroupSize.
	GIdx []int32
	// ActBits = 8 marks a W8A8 layer (SmoothQuant): activations are
	// quantized per token to int8 at run time. It requires the W8A8
	// convention: Bits 8, Sym, one group per row, Zeros all 128 (codes are
	// the int8 weights offset by 128). 0 means weight-only quantization.
	ActBits int
}

// groupSize returns the effective group size (In for one group per row).
func (q *QuantizedLinear) groupSize() int {
	if q.GroupSize <= 0 || q.GroupSize > q.In {
		return q.In
	}
	return q.GroupSize
}

// configGroupSize is the group size as quantization_config spells it
// (−1 for one group per row).
func (q *QuantizedLinear) configGroupSize() int {
	if q.groupSize() == q.In {
		return -1
	}
	return q.groupSize()
}

// NumGroups returns the number of groups per row, ceil(In/GroupSize).
func (q *QuantizedLinear) NumGroups() int {
	g := q.groupSize()
	if g <= 0 {
		return 0
	}
	return (q.In + g - 1) / g
}

// group returns the group of input column i.
func (q *QuantizedLinear) group(i int) int {
	if q.GIdx != nil {
		return int(q.GIdx[i])
	}
	return i / q.groupSize()
}

// Validate checks the dimensions, the code range, the parameter lengths,
// that scales and zeros are finite and that GIdx is in range. It does not
// check what a particular file format additionally requires (Save does).
func (q *QuantizedLinear) Validate() error {
	switch {
	case q.Out <= 0 || q.In <= 0:
		return fmt.Errorf("%w: dimensions %d×%d", ErrBadQuant, q.Out, q.In)
	case q.Bits < 2 || q.Bits > 8:
		return fmt.Errorf("%w: %d bits (supported: 2..8)", ErrBadQuant, q.Bits)
	case q.GroupSize == 0 || q.GroupSize < -1 || q.GroupSize > q.In:
		return fmt.Errorf("%w: group size %d for %d input columns (want -1 or 1..%d)", ErrBadQuant, q.GroupSize, q.In, q.In)
	case len(q.Q) != q.Out*q.In:
		return fmt.Errorf("%w: %d codes for %d×%d", ErrBadQuant, len(q.Q), q.Out, q.In)
	}
	ng := q.NumGroups()
	if len(q.Scales) != ng*q.Out || len(q.Zeros) != ng*q.Out {
		return fmt.Errorf("%w: %d scales and %d zeros, want %d groups × %d rows", ErrBadQuant, len(q.Scales), len(q.Zeros), ng, q.Out)
	}
	maxq := uint8(1<<q.Bits - 1)
	for i, c := range q.Q {
		if c > maxq {
			return fmt.Errorf("%w: code %d at (%d, %d) exceeds %d bits", ErrBadQuant, c, i/q.In, i%q.In, q.Bits)
		}
	}
	for i := range q.Scales {
		s, z := float64(q.Scales[i]), float64(q.Zeros[i])
		if math.IsNaN(s) || math.IsInf(s, 0) || math.IsNaN(z) || math.IsInf(z, 0) {
			return fmt.Errorf("%w: group %d row %d: scale %g, zero %g not finite", ErrBadQuant, i/q.Out, i%q.Out, s, z)
		}
	}
	if q.GIdx != nil {
		if len(q.GIdx) != q.In {
			return fmt.Errorf("%w: g_idx has %d entries for %d columns", ErrBadQuant, len(q.GIdx), q.In)
		}
		for i, g := range q.GIdx {
			if g < 0 || int(g) >= ng {
				return fmt.Errorf("%w: g_idx[%d] = %d outside [0, %d)", ErrBadQuant, i, g, ng)
			}
		}
	}
	switch q.ActBits {
	case 0:
	case 8:
		if err := q.checkW8A8(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: activation bits %d (supported: 0 = weight-only, 8 = W8A8)", ErrBadQuant, q.ActBits)
	}
	return nil
}

// checkW8A8 checks the W8A8 convention.
func (q *QuantizedLinear) checkW8A8() error {
	if q.Bits != 8 || q.NumGroups() != 1 || q.GIdx != nil {
		return fmt.Errorf("%w: W8A8 needs 8-bit codes with one group per row (have %d bits, %d groups)", ErrBadQuant, q.Bits, q.NumGroups())
	}
	for i, z := range q.Zeros {
		if z != 128 {
			return fmt.Errorf("%w: W8A8 needs every zero point 128 (symmetric int8 offset by 128); row %d has %g", ErrBadQuant, i, z)
		}
	}
	return nil
}

// Dequantize returns the fake-quantized weights [Out×In]:
// W[o,i] = (Q[o,i] − Zeros[g,o])·Scales[g,o], computed in float32.
func (q *QuantizedLinear) Dequantize() []float32 {
	w := make([]float32, q.Out*q.In)
	for o := 0; o < q.Out; o++ {
		for i := 0; i < q.In; i++ {
			g := q.group(i)*q.Out + o
			w[o*q.In+i] = (float32(q.Q[o*q.In+i]) - q.Zeros[g]) * q.Scales[g]
		}
	}
	return w
}

// RoundScalesF16 rounds every scale to the nearest float16 value, as the
// GPTQ and AWQ formats store them. Call it before computing reference
// outputs when the checkpoint must reload to exactly the same weights
// (Save rounds the scales it writes either way).
func (q *QuantizedLinear) RoundScalesF16() {
	for i, s := range q.Scales {
		q.Scales[i] = tensor.F16ToF32(tensor.F32ToF16(s))
	}
}

// Matrix returns a kernels.Matrix that multiplies on the packed codes: a
// kernels.QuantW8A8Matrix for W8A8 layers (ActBits 8), else a
// kernels.QuantGroupMatrix (int8 per-channel, int4/int3/int2 group-wise,
// act-order permuted once). It never holds a dequantized copy.
func (q *QuantizedLinear) Matrix() (kernels.Matrix, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.ActBits == 8 {
		w := make([]int8, len(q.Q))
		for i, c := range q.Q {
			w[i] = int8(int(c) - 128)
		}
		return kernels.NewQuantW8A8Matrix(q.Out, q.In, w, append([]float32(nil), q.Scales...))
	}
	return kernels.NewQuantGroupMatrix(q.Out, q.In, q.Bits, q.groupSize(), q.Q, q.Scales, q.Zeros, q.GIdx)
}

// FromMatrix recovers a QuantizedLinear from a packed matrix that this
// package (or its loaders) built, so a loaded quantized model can be saved
// again in another format. It reports false for other matrix types.
//
// An ActQuantMatrix gives its weight's codes (the activation bits are a
// run-time setting of the checkpoint's quantization_config).
func FromMatrix(m kernels.Matrix) (*QuantizedLinear, bool) {
	switch t := m.(type) {
	case *kernels.ActQuantMatrix:
		return FromMatrix(t.W)
	case *kernels.QuantGroupMatrix:
		out, in := t.Dims()
		codes, scales, zeros, gidx := t.Unpack()
		q := &QuantizedLinear{Out: out, In: in, Bits: t.Bits(), GroupSize: t.GroupSize(), Q: codes, Scales: scales, Zeros: zeros}
		if q.GroupSize == in {
			q.GroupSize = -1
		}
		for i, g := range gidx {
			if int(g) != i/q.groupSize() {
				q.GIdx = gidx
				break
			}
		}
		q.Sym = true
		for _, z := range zeros {
			if z != float32(int(1)<<(q.Bits-1)) {
				q.Sym = false
				break
			}
		}
		return q, true
	case *kernels.QuantW8A8Matrix:
		out, in := t.Dims()
		w, s := t.Weights()
		q := &QuantizedLinear{Out: out, In: in, Bits: 8, GroupSize: -1, Sym: true, ActBits: 8,
			Q: make([]uint8, len(w)), Scales: append([]float32(nil), s...), Zeros: make([]float32, out)}
		for i, v := range w {
			q.Q[i] = uint8(int(v) + 128)
		}
		for i := range q.Zeros {
			q.Zeros[i] = 128
		}
		return q, true
	}
	return nil, false
}

// Sparse24 is a 2:4-sparse weight packed as values + 2-bit indices (see
// kernels.Sparse24Matrix for the layout); it implements kernels.Matrix.
type Sparse24 = kernels.Sparse24Matrix

// PackSparse24 packs a dense row-major w [out×in] that has at most two
// non-zeros in every group of four consecutive columns of every row. It
// returns an error wrapping kernels.ErrNot24 if w is not 2:4.
func PackSparse24(out, in int, w []float32) (*Sparse24, error) {
	return kernels.NewSparse24Matrix(out, in, w)
}

// denseOf returns the float32 weights [out×in] of any matrix: the slice
// itself for kernels.Dense, the unpacked weights for the packed types, and
// MulT of identity rows otherwise.
func denseOf(m kernels.Matrix) []float32 {
	out, in := m.Dims()
	switch t := m.(type) {
	case *kernels.Dense:
		return t.W
	case *kernels.QuantGroupMatrix:
		w := make([]float32, out*in)
		t.DequantizeRows(w, 0, out)
		return w
	case *kernels.Sparse24Matrix:
		w := make([]float32, out*in)
		t.DenseRows(w, 0, out)
		return w
	case *kernels.QuantW8A8Matrix:
		q, s := t.Weights()
		w := make([]float32, out*in)
		for i, v := range q {
			w[i] = float32(v) * s[i/in]
		}
		return w
	}
	// Generic: W rows are MulT's outputs on identity inputs, in chunks.
	w := make([]float32, out*in)
	const chunk = 64
	x := make([]float32, chunk*in)
	y := make([]float32, chunk*out)
	for i0 := 0; i0 < in; i0 += chunk {
		n := min(chunk, in-i0)
		clear(x)
		for r := 0; r < n; r++ {
			x[r*in+i0+r] = 1
		}
		m.MulT(y, x, n, nil)
		for r := 0; r < n; r++ {
			for o := 0; o < out; o++ {
				w[o*in+i0+r] = y[r*out+o]
			}
		}
	}
	return w
}

// Weights returns the float weights [out×in] a matrix computes with: the
// exact dequantization of a quantized matrix, a dense matrix's values, or
// (any other format) identity rows run through MulT.
func Weights(m kernels.Matrix) []float32 {
	if q, ok := FromMatrix(m); ok {
		return q.Dequantize()
	}
	if d, ok := m.(*kernels.Dense); ok {
		return d.W
	}
	out, in := m.Dims()
	x := make([]float32, in*in)
	for i := 0; i < in; i++ {
		x[i*in+i] = 1
	}
	y := make([]float32, in*out)
	m.MulT(y, x, in, nil)
	w := make([]float32, out*in)
	for i := 0; i < in; i++ {
		for o := 0; o < out; o++ {
			w[o*in+i] = y[i*out+o]
		}
	}
	return w
}
