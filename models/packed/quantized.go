package packed

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// ErrBadQuant marks an inconsistent Quantized or one a format cannot store
// (wrapped with the layer and the reason).
var ErrBadQuant = badinput.New("bad quantized layer")

// Quantized is a linear layer's packed integer weight, the one type it has
// from quantization to kernel: the quantizers (package compress: RTN,
// GPTQ, AWQ, SmoothQuant, OmniQuant) produce it, the writers (GPTQTensors,
// AWQTensors, W8A8Tensors; compress/format.Save) store it, the readers
// (LoadQuantized) return it, and Matrix builds the kernel that multiplies
// on its codes. W[o,i] = (Q[o,i] − Zeros[g,o])·Scales[g,o] with g = GIdx[i]
// (or i/GroupSize when GIdx is nil).
type Quantized struct {
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
func (q *Quantized) groupSize() int {
	if q.GroupSize <= 0 || q.GroupSize > q.In {
		return q.In
	}
	return q.GroupSize
}

// ConfigGroupSize is the group size as quantization_config spells it
// (−1 for one group per row).
func (q *Quantized) ConfigGroupSize() int {
	if q.groupSize() == q.In {
		return -1
	}
	return q.groupSize()
}

// NumGroups returns the number of groups per row, ceil(In/GroupSize).
func (q *Quantized) NumGroups() int {
	g := q.groupSize()
	if g <= 0 {
		return 0
	}
	return (q.In + g - 1) / g
}

// group returns the group of input column i.
func (q *Quantized) group(i int) int {
	if q.GIdx != nil {
		return int(q.GIdx[i])
	}
	return i / q.groupSize()
}

// ActOrder reports whether GIdx departs from contiguous groups (GPTQ's
// desc_act), which AWQ cannot store and GPTQ records as desc_act.
func (q *Quantized) ActOrder() bool {
	for i, g := range q.GIdx {
		if int(g) != i/q.groupSize() {
			return true
		}
	}
	return false
}

// Validate checks the dimensions, the code range, the parameter lengths,
// that scales and zeros are finite and that GIdx is in range. It does not
// check what a particular file format additionally requires (CheckGPTQ,
// CheckAWQ, CheckW8A8).
func (q *Quantized) Validate() error {
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
		if err := q.CheckW8A8(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: activation bits %d (supported: 0 = weight-only, 8 = W8A8)", ErrBadQuant, q.ActBits)
	}
	return nil
}

// CheckW8A8 checks the W8A8 convention (8-bit codes, one group per row,
// every zero point 128), which the compressed-tensors int-quantized
// format needs.
func (q *Quantized) CheckW8A8() error {
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
// W[o,i] = (Q[o,i] − Zeros[g,o])·Scales[g,o], computed in float32 (rows
// in parallel).
func (q *Quantized) Dequantize() []float32 {
	w := make([]float32, q.Out*q.In)
	kernels.ParallelFor(q.Out, 16, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			for i := 0; i < q.In; i++ {
				g := q.group(i)*q.Out + o
				w[o*q.In+i] = (float32(q.Q[o*q.In+i]) - q.Zeros[g]) * q.Scales[g]
			}
		}
	})
	return w
}

// RoundScalesF16 rounds every scale to the nearest float16 value, as the
// GPTQ and AWQ formats store them. Call it before computing reference
// outputs when the checkpoint must reload to exactly the same weights
// (the writers round the scales they store either way).
func (q *Quantized) RoundScalesF16() {
	for i, s := range q.Scales {
		q.Scales[i] = tensor.F16ToF32(tensor.F32ToF16(s))
	}
}

// Matrix returns a kernels.Matrix that multiplies on the packed codes: a
// kernels.QuantW8A8Matrix for W8A8 layers (ActBits 8), else a
// kernels.QuantGroupMatrix (int8 per-channel, int4/int3/int2 group-wise,
// act-order permuted once). The kernel packs the codes into its own word
// layout (q's slices are not retained); it never holds a dequantized copy.
func (q *Quantized) Matrix() (kernels.Matrix, error) {
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

// FromMatrix recovers the Quantized of a packed matrix that Matrix (or a
// loader) built, so a loaded quantized model can be saved again in another
// format. It reports false for other matrix types.
//
// An ActQuantMatrix gives its weight's codes (the activation bits are a
// run-time setting of the checkpoint's quantization_config).
func FromMatrix(m kernels.Matrix) (*Quantized, bool) {
	switch t := m.(type) {
	case *kernels.ActQuantMatrix:
		return FromMatrix(t.W)
	case *kernels.QuantGroupMatrix:
		out, in := t.Dims()
		codes, scales, zeros, gidx := t.Unpack()
		q := &Quantized{Out: out, In: in, Bits: t.Bits(), GroupSize: t.GroupSize(), Q: codes, Scales: scales, Zeros: zeros, GIdx: gidx}
		if q.GroupSize == in {
			q.GroupSize = -1
		}
		if !q.ActOrder() {
			q.GIdx = nil
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
		q := &Quantized{Out: out, In: in, Bits: 8, GroupSize: -1, Sym: true, ActBits: 8,
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

// PackSparse24 packs a dense row-major w [out×in] that has at most two
// non-zeros in every group of four consecutive columns of every row as a
// kernels.Sparse24Matrix (values + 2-bit indices). It returns an error
// wrapping kernels.ErrNot24 if w is not 2:4.
func PackSparse24(out, in int, w []float32) (*kernels.Sparse24Matrix, error) {
	return kernels.NewSparse24Matrix(out, in, w)
}

// Weights returns the float weights [out×in] a matrix computes with: a
// dense matrix's own slice (not a copy), the exact dequantization of the
// packed types (group-quantized, W8A8, 2:4; an ActQuantMatrix gives its
// weight's), and for any other format the outputs of identity rows run
// through MulT, 64 at a time.
func Weights(m kernels.Matrix) []float32 {
	out, in := m.Dims()
	switch t := m.(type) {
	case *kernels.Dense:
		return t.W
	case *kernels.ActQuantMatrix:
		return Weights(t.W)
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
