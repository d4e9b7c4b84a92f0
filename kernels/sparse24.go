package kernels

// 2:4 semi-structured sparse weights: in every group of four consecutive
// input columns of a row at most two weights are non-zero. Sparse24Matrix
// keeps exactly two values per group and their positions.
//
// Memory layout (row-major by output row):
//
//	values [out × in/2] float32: the two kept weights of each group, in
//	       column order (the lower position first);
//	meta   [out × ceil(in/8)] bytes: one 4-bit index pair per group, group
//	       2k in the low nibble of byte k and group 2k+1 in the high nibble;
//	       a nibble is i0 | i1<<2 with 0 ≤ i0 < i1 ≤ 3 the positions of the
//	       two values within the group.
//
// So the 16 bits of meta covering groups 4t…4t+3 (bytes 2t, 2t+1, read
// little-endian) give, for value v = 0…7 of those groups, its position as
// bits 2v…2v+1: the AVX2 kernel turns them into a vpermps index with one
// variable shift and a mask. A group with fewer than two non-zeros keeps a
// zero value at an unused position.
//
// Roofline at batch 1: 0.5 float32 value + 1/16 byte of metadata per weight,
// ≈ 52% of the dense float32 bytes, so the ceiling is ≈ 1.9× the dense GEMV
// when both are memory-bound. The AVX2 kernel gathers x with two vpermps and
// a blend per 8 values (quant_cgo.go); large batches densify panels of rows
// into scratch and call Sgemm.

import (
	"errors"
	"fmt"
	"sync"
)

// ErrNot24 reports a matrix that is not 2:4 sparse.
var ErrNot24 = errors.New("not 2:4 sparse")

// Sparse24Matrix is a 2:4-sparse weight [Out×In] in the packed values +
// 2-bit index layout described above. MulT is safe for concurrent use.
type Sparse24Matrix struct {
	out, in  int
	values   []float32
	meta     []uint8
	metaRow  int // bytes of meta per row
	valueRow int // values per row (in/2)
	pool     sync.Pool
}

// NewSparse24Matrix packs a dense row-major w [out×in] that has at most two
// non-zeros in every group of four columns (in must be a multiple of 4).
// It returns an error wrapping ErrNot24 naming the first offending group.
func NewSparse24Matrix(out, in int, w []float32) (*Sparse24Matrix, error) {
	if out <= 0 || in <= 0 || in%4 != 0 || len(w) != out*in {
		return nil, fmt.Errorf("%w: 2:4 matrix %d×%d with %d values (in must be a multiple of 4)", ErrQuantShape, out, in, len(w))
	}
	m := &Sparse24Matrix{out: out, in: in, metaRow: (in + 7) / 8, valueRow: in / 2}
	m.values = make([]float32, out*m.valueRow)
	m.meta = make([]uint8, out*m.metaRow)
	for o := 0; o < out; o++ {
		for g := 0; g < in/4; g++ {
			grp := w[o*in+4*g : o*in+4*g+4]
			var pos [2]int
			n := 0
			for p, v := range grp {
				if v != 0 {
					if n == 2 {
						return nil, fmt.Errorf("%w: row %d, columns %d–%d hold more than two non-zeros", ErrNot24, o, 4*g, 4*g+3)
					}
					pos[n] = p
					n++
				}
			}
			// Fill unused slots with zero-valued positions, keeping order.
			switch n {
			case 0:
				pos = [2]int{0, 1}
			case 1:
				if pos[0] == 3 {
					pos = [2]int{2, 3}
				} else {
					pos[1] = pos[0] + 1
				}
			}
			m.setGroup(o, g, pos[0], pos[1], grp[pos[0]], grp[pos[1]])
		}
	}
	return m, nil
}

// NewSparse24MatrixPacked wraps already-packed values [out×in/2] and meta
// [out×ceil(in/8)] in the layout above, checking every index pair. It
// copies neither.
func NewSparse24MatrixPacked(out, in int, values []float32, meta []uint8) (*Sparse24Matrix, error) {
	m := &Sparse24Matrix{out: out, in: in, metaRow: (in + 7) / 8, valueRow: in / 2, values: values, meta: meta}
	if out <= 0 || in <= 0 || in%4 != 0 || len(values) != out*m.valueRow || len(meta) != out*m.metaRow {
		return nil, fmt.Errorf("%w: 2:4 matrix %d×%d with %d values and %d metadata bytes", ErrQuantShape, out, in, len(values), len(meta))
	}
	for o := 0; o < out; o++ {
		for g := 0; g < in/4; g++ {
			i0, i1 := m.positions(o, g)
			if i0 >= i1 {
				return nil, fmt.Errorf("%w: row %d, group %d: index pair (%d, %d) not increasing", ErrNot24, o, g, i0, i1)
			}
		}
		if in%8 == 4 && m.meta[o*m.metaRow+m.metaRow-1]>>4 != 0 {
			return nil, fmt.Errorf("%w: row %d: padding nibble is not zero", ErrNot24, o)
		}
	}
	return m, nil
}

func (m *Sparse24Matrix) setGroup(o, g, i0, i1 int, v0, v1 float32) {
	m.values[o*m.valueRow+2*g] = v0
	m.values[o*m.valueRow+2*g+1] = v1
	nib := uint8(i0 | i1<<2)
	b := &m.meta[o*m.metaRow+g/2]
	if g%2 == 0 {
		*b = *b&0xF0 | nib
	} else {
		*b = *b&0x0F | nib<<4
	}
}

// positions returns the two positions (0..3) of group g of row o.
func (m *Sparse24Matrix) positions(o, g int) (int, int) {
	nib := m.meta[o*m.metaRow+g/2] >> (4 * uint(g%2)) & 15
	return int(nib & 3), int(nib >> 2)
}

// Dims returns (out, in).
func (m *Sparse24Matrix) Dims() (int, int) { return m.out, m.in }

// Bytes returns 4·out·in/2 + out·ceil(in/8).
func (m *Sparse24Matrix) Bytes() int64 { return 4*int64(len(m.values)) + int64(len(m.meta)) }

// Format returns "2:4".
func (m *Sparse24Matrix) Format() string { return "2:4" }

// Packed returns the values and metadata (not copies: do not modify).
func (m *Sparse24Matrix) Packed() (values []float32, meta []uint8) { return m.values, m.meta }

// DenseRows writes rows [o0, o1) of W to dst [(o1−o0)×in].
func (m *Sparse24Matrix) DenseRows(dst []float32, o0, o1 int) {
	for o := o0; o < o1; o++ {
		d := dst[(o-o0)*m.in : (o-o0+1)*m.in]
		clear(d)
		vals := m.values[o*m.valueRow : (o+1)*m.valueRow]
		meta := m.meta[o*m.metaRow : (o+1)*m.metaRow]
		g := 0
		for ; g+2 <= m.in/4; g += 2 {
			b := meta[g/2]
			d0, d1 := d[4*g:4*g+4:4*g+4], d[4*g+4:4*g+8:4*g+8]
			v := vals[2*g : 2*g+4 : 2*g+4]
			d0[b&3] = v[0]
			d0[b>>2&3] = v[1]
			d1[b>>4&3] = v[2]
			d1[b>>6] = v[3]
		}
		if g < m.in/4 {
			b := meta[g/2]
			d[4*g+int(b&3)] = vals[2*g]
			d[4*g+int(b>>2&3)] = vals[2*g+1]
		}
	}
}

// MulTRef is the plain reference for MulT: a float64 sum per output over
// the kept values, single-threaded.
func (m *Sparse24Matrix) MulTRef(dst, x []float32, rows int, bias []float32) {
	quantCheck("Sparse24Matrix", m.out, m.in, dst, x, rows, bias)
	for r := 0; r < rows; r++ {
		xr := x[r*m.in : (r+1)*m.in]
		for o := 0; o < m.out; o++ {
			var s float64
			for g := 0; g < m.in/4; g++ {
				i0, i1 := m.positions(o, g)
				s += float64(m.values[o*m.valueRow+2*g])*float64(xr[4*g+i0]) + float64(m.values[o*m.valueRow+2*g+1])*float64(xr[4*g+i1])
			}
			if bias != nil {
				s += float64(bias[o])
			}
			dst[r*m.out+o] = float32(s)
		}
	}
}

// MulT computes dst[rows×out] = x·Wᵀ (+ bias): the direct kernel on the
// packed layout for small batches (split over output rows), panels
// densified into pooled scratch and Sgemm from quantGEMMRows rows. It
// panics if a slice is too short.
func (m *Sparse24Matrix) MulT(dst, x []float32, rows int, bias []float32) {
	quantCheck("Sparse24Matrix", m.out, m.in, dst, x, rows, bias)
	if rows == 0 {
		return
	}
	if rows >= quantGEMMRows {
		sc, _ := m.pool.Get().(*quantScratch)
		if sc == nil {
			sc = new(quantScratch)
		}
		defer m.pool.Put(sc)
		p := min(quantPanelRows(m.in), m.out)
		sc.pan = growF32(sc.pan, p*m.in)
		for o0 := 0; o0 < m.out; o0 += p {
			o1 := min(o0+p, m.out)
			pan := sc.pan[:(o1-o0)*m.in]
			m.DenseRows(pan, o0, o1) // one goroutine, as QuantGroupMatrix.mulTPanels
			Sgemm(false, true, rows, o1-o0, m.in, 1, x, m.in, pan, m.in, 0, dst[o0:], m.out)
		}
		if bias != nil {
			for r := 0; r < rows; r++ {
				Add(dst[r*m.out:(r+1)*m.out], dst[r*m.out:(r+1)*m.out], bias[:m.out])
			}
		}
		return
	}
	grain := quantGrain(m.out, m.in)
	if Workers(m.out, grain) == 1 {
		m.rows(dst, x, rows, bias, 0, m.out)
		return
	}
	ParallelFor(m.out, grain, func(lo, hi int) { m.rows(dst, x, rows, bias, lo, hi) })
}

func (m *Sparse24Matrix) rows(dst, x []float32, rows int, bias []float32, o0, o1 int) {
	if m.in%16 == 0 && sparse24Native(m, dst, x, rows, bias, o0, o1) {
		return
	}
	for o := o0; o < o1; o++ {
		vals := m.values[o*m.valueRow : (o+1)*m.valueRow]
		meta := m.meta[o*m.metaRow : (o+1)*m.metaRow]
		for r := 0; r < rows; r++ {
			xr := x[r*m.in : (r+1)*m.in]
			var s0, s1 float32
			g := 0
			for ; g+2 <= m.in/4; g += 2 {
				b := meta[g/2]
				x0, x1 := xr[4*g:4*g+4:4*g+4], xr[4*g+4:4*g+8:4*g+8]
				s0 += vals[2*g]*x0[b&3] + vals[2*g+1]*x0[b>>2&3]
				s1 += vals[2*g+2]*x1[b>>4&3] + vals[2*g+3]*x1[b>>6]
			}
			if g < m.in/4 {
				b := meta[g/2]
				x0 := xr[4*g : 4*g+4 : 4*g+4]
				s0 += vals[2*g]*x0[b&3] + vals[2*g+1]*x0[b>>2&3]
			}
			v := s0 + s1
			if bias != nil {
				v += bias[o]
			}
			dst[r*m.out+o] = v
		}
	}
}
