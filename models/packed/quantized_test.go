package packed

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/kernels"
)

func TestQuantizedValidate(t *testing.T) {
	base := func() *Quantized { return randomQuant(4, 64, 4, 32, 5) }
	tests := []struct {
		name   string
		mutate func(q *Quantized)
		ok     bool
	}{
		{"valid", func(q *Quantized) {}, true},
		{"per-channel -1", func(q *Quantized) { *q = *randomQuant(4, 64, 4, -1, 5) }, true},
		{"per-channel In", func(q *Quantized) { *q = *randomQuant(4, 64, 4, 64, 5) }, true},
		{"act-order g_idx", func(q *Quantized) { q.GIdx = make([]int32, 64); q.GIdx[0] = 1 }, true},
		{"bits 1", func(q *Quantized) { q.Bits = 1 }, false},
		{"bits 9", func(q *Quantized) { q.Bits = 9 }, false},
		{"group 0", func(q *Quantized) { q.GroupSize = 0 }, false},
		{"group > in", func(q *Quantized) { q.GroupSize = 65 }, false},
		{"group -2", func(q *Quantized) { q.GroupSize = -2 }, false},
		{"code overflow", func(q *Quantized) { q.Q[3] = 16 }, false},
		{"short codes", func(q *Quantized) { q.Q = q.Q[:10] }, false},
		{"scales for wrong groups", func(q *Quantized) { q.GroupSize = 16 }, false},
		{"inf zero", func(q *Quantized) { q.Zeros[1] = float32(math.Inf(1)) }, false},
		{"nan scale", func(q *Quantized) { q.Scales[2] = float32(math.NaN()) }, false},
		{"g_idx out of range", func(q *Quantized) { q.GIdx = make([]int32, 64); q.GIdx[5] = 2 }, false},
		{"g_idx short", func(q *Quantized) { q.GIdx = make([]int32, 3) }, false},
		{"act bits 4", func(q *Quantized) { q.ActBits = 4 }, false},
		{"W8A8 on 4-bit", func(q *Quantized) { q.ActBits = 8 }, false},
		{"zero dims", func(q *Quantized) { q.Out = 0 }, false},
	}
	for _, tc := range tests {
		q := base()
		tc.mutate(q)
		err := q.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadQuant) {
			t.Errorf("%s: error %v does not wrap ErrBadQuant", tc.name, err)
		}
		if _, merr := q.Matrix(); (merr == nil) != tc.ok {
			t.Errorf("%s: Matrix() error = %v", tc.name, merr)
		}
	}
}

// The kernel built by Matrix computes the dequantized weights exactly, and
// FromMatrix gives back the same Quantized (act-order included), so a
// loaded packed layer can be written again unchanged.
func TestMatrixRoundTrip(t *testing.T) {
	gidx := make([]int32, 64)
	for i := range gidx {
		gidx[i] = int32((i * 5) % 64 / 32) // not contiguous: act-order
	}
	for _, tc := range []struct {
		name string
		q    *Quantized
	}{
		{"int4 g32", randomQuant(8, 64, 4, 32, 1)},
		{"int2 per-channel", randomQuant(8, 64, 2, -1, 2)},
		{"int3 g16", randomQuant(8, 64, 3, 16, 3)},
		{"int8 act-order", func() *Quantized { q := randomQuant(8, 64, 8, 32, 4); q.GIdx = gidx; return q }()},
		{"W8A8", func() *Quantized {
			q := randomQuant(8, 64, 8, -1, 5)
			q.Sym, q.ActBits = true, 8
			for i := range q.Zeros {
				q.Zeros[i] = 128
			}
			return q
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.q.Matrix()
			if err != nil {
				t.Fatal(err)
			}
			want := tc.q.Dequantize()
			if got := Weights(m); !slices.Equal(got, want) {
				t.Errorf("Weights differ from Dequantize")
			}
			if got := kernels.DenseWeights(m); !slices.Equal(got, want) {
				t.Errorf("MulT of the identity differs from Dequantize")
			}
			back, ok := FromMatrix(m)
			if !ok {
				t.Fatal("FromMatrix: not a packed matrix")
			}
			if !slices.Equal(back.Q, tc.q.Q) || !slices.Equal(back.Scales, tc.q.Scales) || !slices.Equal(back.Zeros, tc.q.Zeros) ||
				!slices.Equal(back.GIdx, tc.q.GIdx) || back.Bits != tc.q.Bits || back.ConfigGroupSize() != tc.q.ConfigGroupSize() || back.ActBits != tc.q.ActBits {
				t.Errorf("FromMatrix = %d bits, group %d, act %d; want %d, %d, %d (or different codes)",
					back.Bits, back.ConfigGroupSize(), back.ActBits, tc.q.Bits, tc.q.ConfigGroupSize(), tc.q.ActBits)
			}
		})
	}
}

// TestPackSparse24 checks the 2:4 API the compress package calls.
func TestPackSparse24(t *testing.T) {
	w := []float32{0, 0, 3, 4, 0, 0, 5, 0, 9, 8, 0, 0, 1, 0, 1, 0}
	sp, err := PackSparse24(2, 8, w)
	if err != nil {
		t.Fatal(err)
	}
	if got := kernels.DenseWeights(sp); !slices.Equal(got, w) {
		t.Fatalf("W = %v, want %v", got, w)
	}
	if _, err := PackSparse24(2, 8, []float32{1, 2, 3, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}); !errors.Is(err, kernels.ErrNot24) {
		t.Errorf("three non-zeros: err = %v", err)
	}
}

// TestWeights checks Weights on a packed matrix (exact dequantization), a
// 2:4 matrix and a matrix type it does not know (identity rows through
// MulT).
func TestWeights(t *testing.T) {
	q := &Quantized{Out: 2, In: 4, Bits: 4, GroupSize: -1, Q: []uint8{0, 1, 2, 15, 3, 4, 5, 6}, Scales: []float32{0.5, 0.25}, Zeros: []float32{8, 8}}
	m, err := q.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Weights(m), q.Dequantize(); !slices.Equal(got, want) {
		t.Errorf("quantized: %v, want %v", got, want)
	}
	w := []float32{1, 0, 0, 2, 0, 3, 4, 0}
	sp, err := PackSparse24(2, 4, w)
	if err != nil {
		t.Fatal(err)
	}
	if got := Weights(sp); !slices.Equal(got, w) {
		t.Errorf("2:4: %v, want %v", got, w)
	}
	if got := Weights(opaque{sp}); !slices.Equal(got, w) {
		t.Errorf("other format: %v, want %v", got, w)
	}
}

// opaque hides a matrix's type from Weights.
type opaque struct{ kernels.Matrix }
