package kernels

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// sparse24Random returns a random 2:4-sparse matrix; some groups keep fewer
// than two non-zeros (as pruning of already-zero weights leaves them).
func sparse24Random(out, in int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 24))
	w := make([]float32, out*in)
	for o := 0; o < out; o++ {
		for g := 0; g < in/4; g++ {
			p := r.Perm(4)
			keep := 2
			switch r.IntN(10) {
			case 0:
				keep = 0
			case 1:
				keep = 1
			}
			for k := 0; k < keep; k++ {
				w[o*in+4*g+p[k]] = 2*r.Float32() - 1
			}
		}
	}
	return w
}

func TestSparse24MatrixMulT(t *testing.T) {
	for _, dims := range [][2]int{{16, 64}, {33, 128}, {7, 12}, {9, 20}, {5, 4}, {40, 4096}} {
		out, in := dims[0], dims[1]
		t.Run(fmt.Sprintf("%dx%d", out, in), func(t *testing.T) {
			w := sparse24Random(out, in, uint64(out*in))
			m, err := NewSparse24Matrix(out, in, w)
			if err != nil {
				t.Fatal(err)
			}
			dense := make([]float32, out*in)
			m.DenseRows(dense, 0, out)
			for i := range w {
				if dense[i] != w[i] {
					t.Fatalf("DenseRows[%d] = %g, want %g", i, dense[i], w[i])
				}
			}
			bias := gemmRandom(out, 2)
			for _, rows := range []int{1, 2, 3, 4, 7, quantGEMMRows + 1} {
				for _, b := range [][]float32{nil, bias} {
					x := gemmRandom(rows*in, uint64(rows))
					want := make([]float32, rows*out)
					LinearRef(want, x, rows, in, w, out, b)
					bound := absBound(x, w, rows, in, out, b)
					ref := make([]float32, rows*out)
					m.MulTRef(ref, x, rows, b)
					quantClose(t, "MulTRef", ref, want, bound)
					got := make([]float32, rows*out)
					m.MulT(got, x, rows, b)
					quantClose(t, fmt.Sprintf("MulT (%s) rows=%d", QuantKernels(), rows), got, want, bound)
				}
			}
			// Identity: exact weights.
			for i := 0; i < in; i++ {
				x := make([]float32, in)
				x[i] = 1
				y := make([]float32, out)
				m.MulT(y, x, 1, nil)
				for o := 0; o < out; o++ {
					if y[o] != w[o*in+i] {
						t.Fatalf("W[%d,%d] via MulT = %g, want %g", o, i, y[o], w[o*in+i])
					}
				}
			}
		})
	}
}

func TestSparse24MatrixErrors(t *testing.T) {
	w := sparse24Random(4, 16, 1)
	w[5], w[6], w[7] = 1, 2, 3 // row 0, group 1: three non-zeros
	if _, err := NewSparse24Matrix(4, 16, w); !errors.Is(err, ErrNot24) {
		t.Errorf("three non-zeros: err = %v", err)
	}
	if _, err := NewSparse24Matrix(4, 10, make([]float32, 40)); !errors.Is(err, ErrQuantShape) {
		t.Errorf("in not a multiple of 4: err = %v", err)
	}
	if _, err := NewSparse24Matrix(4, 16, make([]float32, 10)); !errors.Is(err, ErrQuantShape) {
		t.Errorf("short w: err = %v", err)
	}
	m, err := NewSparse24Matrix(2, 16, sparse24Random(2, 16, 3))
	if err != nil {
		t.Fatal(err)
	}
	vals, meta := m.Packed()
	m2, err := NewSparse24MatrixPacked(2, 16, vals, meta)
	if err != nil {
		t.Fatalf("repacking valid data: %v", err)
	}
	if m2.Format() != "2:4" || m2.Bytes() != 4*16+4 {
		t.Errorf("Format %q Bytes %d", m2.Format(), m2.Bytes())
	}
	badMeta := append([]uint8(nil), meta...)
	badMeta[1] = 0x05 // group 2: positions (1, 1)
	if _, err := NewSparse24MatrixPacked(2, 16, vals, badMeta); !errors.Is(err, ErrNot24) {
		t.Errorf("bad index pair: err = %v", err)
	}
	if _, err := NewSparse24MatrixPacked(2, 16, vals[:3], meta); !errors.Is(err, ErrQuantShape) {
		t.Errorf("short values: err = %v", err)
	}
}
