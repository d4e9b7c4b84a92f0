package kernels

import "fmt"

// Matrix is a linear layer's weight W [out×in] in some storage format
// (dense float32 here; quantized and 2:4-sparse packed formats elsewhere).
// Models multiply through it without knowing the format.
type Matrix interface {
	// Dims returns (out, in).
	Dims() (out, in int)
	// MulT computes dst[m×out] = x[m×in]·Wᵀ (+ bias[out] if bias != nil).
	MulT(dst, x []float32, m int, bias []float32)
	// Bytes is the storage the weight occupies (for size accounting).
	Bytes() int64
	// Format names the storage format ("f32", "int8", "int4-g128", "2:4", ...).
	Format() string
}

// Dense is a row-major float32 weight [Out×In] (PyTorch's nn.Linear layout).
type Dense struct {
	Out, In int
	W       []float32
}

// NewDense wraps w (len out·in) as a Matrix.
func NewDense(out, in int, w []float32) (*Dense, error) {
	if len(w) != out*in {
		return nil, fmt.Errorf("dense weight: %d values for %d×%d", len(w), out, in)
	}
	return &Dense{Out: out, In: in, W: w}, nil
}

// Dims returns (out, in).
func (d *Dense) Dims() (int, int) { return d.Out, d.In }

// MulT computes dst = x·Wᵀ + bias through the GEMM/GEMV kernels.
func (d *Dense) MulT(dst, x []float32, m int, bias []float32) {
	Linear(dst[:m*d.Out], x[:m*d.In], m, d.In, d.W, d.Out, bias)
}

// Bytes returns 4·out·in.
func (d *Dense) Bytes() int64 { return 4 * int64(d.Out) * int64(d.In) }

// Format returns "f32".
func (d *Dense) Format() string { return "f32" }

// DenseWeights returns the W [out×in] that m multiplies by, read back
// through m.MulT on one-hot rows: for a packed format it is the weight the
// kernel really applies, the reference a format's round trip is held to.
func DenseWeights(m Matrix) []float32 {
	out, in := m.Dims()
	w := make([]float32, out*in)
	x := make([]float32, in)
	y := make([]float32, out)
	for i := 0; i < in; i++ {
		clear(x)
		x[i] = 1
		m.MulT(y, x, 1, nil)
		for o := 0; o < out; o++ {
			w[o*in+i] = y[o]
		}
	}
	return w
}
