package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// quantRandom builds random codes, scales and zeros for a group matrix.
func quantRandom(out, in, bits, groups int, seed uint64) (codes []uint8, scales, zeros []float32) {
	r := rand.New(rand.NewPCG(seed, 11))
	codes = make([]uint8, out*in)
	for i := range codes {
		codes[i] = uint8(r.IntN(1 << bits))
	}
	scales = make([]float32, groups*out)
	zeros = make([]float32, groups*out)
	for i := range scales {
		scales[i] = 0.01 + 0.1*r.Float32()
		zeros[i] = float32(r.IntN(1 << bits))
	}
	return codes, scales, zeros
}

// quantDequant is the definition W[o,i] = (q − z[g(i),o])·s[g(i),o].
func quantDequant(out, in, groupSize int, codes []uint8, scales, zeros []float32, gidx []int32) []float32 {
	if groupSize <= 0 || groupSize > in {
		groupSize = in
	}
	w := make([]float32, out*in)
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			g := i / groupSize
			if gidx != nil {
				g = int(gidx[i])
			}
			w[o*in+i] = (float32(codes[o*in+i]) - zeros[g*out+o]) * scales[g*out+o]
		}
	}
	return w
}

// quantClose reports whether got matches want within a tolerance scaled by
// the magnitude of the terms (bound[i] = Σ|x·w| for output i).
func quantClose(t *testing.T, what string, got, want, bound []float32) {
	t.Helper()
	for i := range want {
		tol := 2e-5*float64(bound[i]) + 1e-6
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			t.Fatalf("%s: element %d = %g, want %g (|diff| %g > tol %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

// absBound returns Σ_j |x[r,j]·w[o,j]| (+|bias|) for every output.
func absBound(x, w []float32, rows, in, out int, bias []float32) []float32 {
	b := make([]float32, rows*out)
	for r := 0; r < rows; r++ {
		for o := 0; o < out; o++ {
			var s float64
			for j := 0; j < in; j++ {
				s += math.Abs(float64(x[r*in+j]) * float64(w[o*in+j]))
			}
			if bias != nil {
				s += math.Abs(float64(bias[o]))
			}
			b[r*out+o] = float32(s)
		}
	}
	return b
}

type quantCase struct {
	name                 string
	out, in, bits, group int
	actOrder             bool // random uniform act-order g_idx
	ragged               bool // non-uniform g_idx
}

var quantCases = []quantCase{
	{"int4-g32", 40, 128, 4, 32, false, false},
	{"int4-g128", 33, 256, 4, 128, false, false},
	{"int4-perchannel", 17, 96, 4, 0, false, false},
	{"int3-g64", 24, 128, 3, 64, false, false},
	{"int2-g32", 24, 64, 2, 32, false, false},
	{"int8-perchannel", 20, 160, 8, 0, false, false},
	{"int5-g32", 12, 64, 5, 32, false, false},
	{"int4-g16-generic", 10, 48, 4, 16, false, false},
	{"int4-partial-last-group", 9, 96, 4, 64, false, false},
	{"int4-odd-in", 7, 37, 4, 0, false, false},
	{"int4-g32-actorder", 21, 128, 4, 32, true, false},
	{"int3-g32-actorder", 8, 96, 3, 32, true, false},
	{"int4-ragged-gidx", 6, 64, 4, 16, false, true},
}

// gidxFor returns the case's g_idx (nil for the plain layout).
func (c quantCase) gidx(seed uint64) ([]int32, int) {
	g := c.group
	if g <= 0 || g > c.in {
		g = c.in
	}
	groups := (c.in + g - 1) / g
	if !c.actOrder && !c.ragged {
		return nil, groups
	}
	r := rand.New(rand.NewPCG(seed, 5))
	gidx := make([]int32, c.in)
	perm := r.Perm(c.in)
	for j, i := range perm {
		gidx[i] = int32(j / g)
	}
	if c.ragged { // move a few columns between groups
		for k := 0; k < 5; k++ {
			gidx[r.IntN(c.in)] = int32(r.IntN(groups))
		}
	}
	return gidx, groups
}

// matrix builds quantCases[ci]'s matrix from random codes, scales and
// zeros (seeded by ci) and returns it with them.
func (c quantCase) matrix(t *testing.T, ci int) (m *QuantGroupMatrix, codes []uint8, scales, zeros []float32, gidx []int32) {
	t.Helper()
	gidx, groups := c.gidx(uint64(ci))
	codes, scales, zeros = quantRandom(c.out, c.in, c.bits, groups, uint64(ci+1))
	m, err := NewQuantGroupMatrix(c.out, c.in, c.bits, c.group, codes, scales, zeros, gidx)
	if err != nil {
		t.Fatal(err)
	}
	return m, codes, scales, zeros, gidx
}

func TestQuantGroupMatrixMulT(t *testing.T) {
	for ci, c := range quantCases {
		t.Run(c.name, func(t *testing.T) {
			m, codes, scales, zeros, gidx := c.matrix(t, ci)
			if o, i := m.Dims(); o != c.out || i != c.in {
				t.Fatalf("Dims = %d×%d", o, i)
			}
			w := quantDequant(c.out, c.in, c.group, codes, scales, zeros, gidx)
			// DequantizeRows is the definition.
			dq := make([]float32, c.out*c.in)
			m.DequantizeRows(dq, 0, c.out)
			for i := range w {
				if dq[i] != w[i] {
					t.Fatalf("DequantizeRows[%d] = %g, want %g", i, dq[i], w[i])
				}
			}
			bias := gemmRandom(c.out, 9)
			for _, rows := range []int{1, 2, 3, 4, 5, 9, quantGEMMRows + 3} {
				for _, b := range [][]float32{nil, bias} {
					x := gemmRandom(rows*c.in, uint64(rows))
					want := make([]float32, rows*c.out)
					LinearRef(want, x, rows, c.in, w, c.out, b)
					ref := make([]float32, rows*c.out)
					m.MulTRef(ref, x, rows, b)
					bound := absBound(x, w, rows, c.in, c.out, b)
					quantClose(t, fmt.Sprintf("MulTRef rows=%d", rows), ref, want, bound)
					got := make([]float32, rows*c.out)
					m.MulT(got, x, rows, b)
					if m.quantQ8Applies(rows) {
						// The int8-activation kernel: held to its own reference
						// (TestQuantQ8Ref holds that to the float32 one).
						want := m.q8Want(x, rows, b)
						quantClose(t, fmt.Sprintf("MulT (%s) rows=%d bias=%v", QuantActKernel(), rows, b != nil), got, want, q8Bound(m, x, rows, b))
					} else {
						quantClose(t, fmt.Sprintf("MulT (%s) rows=%d bias=%v", QuantKernels(), rows, b != nil), got, want, bound)
					}
					// The pure-Go kernels, whatever MulT picked.
					xs := x
					if m.perm != nil {
						xs = make([]float32, len(x))
						for r := 0; r < rows; r++ {
							for j, col := range m.perm {
								xs[r*c.in+j] = x[r*c.in+int(col)]
							}
						}
					}
					clear(got)
					if m.colGroup == nil && m.uniformG%32 == 0 {
						m.rowsGo(got, xs, rows, b, 0, c.out)
						quantClose(t, fmt.Sprintf("rowsGo rows=%d", rows), got, want, bound)
						if rows == 1 {
							sx := make([]float32, m.groups)
							m.groupSums(sx, xs)
							clear(got)
							m.rowsGo1(got, xs, sx, b, 0, c.out)
							quantClose(t, "rowsGo1", got, want, bound)
						}
						dq := make([]float32, c.out*c.in)
						m.dequantStored(dq, 0, c.out)
						for o := 0; o < c.out; o++ {
							for j := 0; j < c.in; j++ {
								if dq[o*c.in+j] != w[o*c.in+m.col(j)] {
									t.Fatalf("dequantStored[%d,%d] = %g, want %g", o, j, dq[o*c.in+j], w[o*c.in+m.col(j)])
								}
							}
						}
					}
					clear(got)
					m.rowsGeneric(got, xs, rows, b, 0, c.out)
					quantClose(t, fmt.Sprintf("rowsGeneric rows=%d", rows), got, want, bound)
				}
			}
		})
	}
}

// TestQuantGroupMatrixIdentity holds MulT of one-hot rows to the
// dequantized weights exactly (bit for bit), the property the checkpoint
// round-trip tests rely on.
func TestQuantGroupMatrixIdentity(t *testing.T) {
	for ci, c := range quantCases {
		t.Run(c.name, func(t *testing.T) {
			m, codes, scales, zeros, gidx := c.matrix(t, ci)
			w := quantDequant(c.out, c.in, c.group, codes, scales, zeros, gidx)
			for _, chunk := range []int{1, 3, c.in} { // direct kernel and (c.in ≥ 24) the Sgemm path
				for i0 := 0; i0 < c.in; i0 += chunk {
					n := min(chunk, c.in-i0)
					x := make([]float32, n*c.in)
					for r := 0; r < n; r++ {
						x[r*c.in+i0+r] = 1
					}
					got := make([]float32, n*c.out)
					m.MulT(got, x, n, nil)
					for r := 0; r < n; r++ {
						for o := 0; o < c.out; o++ {
							if g, want := got[r*c.out+o], w[o*c.in+i0+r]; g != want {
								t.Fatalf("chunk %d: W[%d,%d] via MulT = %g, want %g", chunk, o, i0+r, g, want)
							}
						}
					}
				}
			}
		})
	}
}

func TestQuantGroupMatrixUnpack(t *testing.T) {
	for ci, c := range quantCases {
		m, codes, scales, zeros, gidx := c.matrix(t, ci)
		q2, s2, z2, g2 := m.Unpack()
		for i := range codes {
			if q2[i] != codes[i] {
				t.Fatalf("%s: code %d = %d, want %d", c.name, i, q2[i], codes[i])
			}
		}
		for i := range scales {
			if s2[i] != scales[i] || z2[i] != zeros[i] {
				t.Fatalf("%s: scale/zero %d differ", c.name, i)
			}
		}
		for i := range g2 {
			want := int32(i / max(1, min(c.group, c.in)))
			if c.group <= 0 {
				want = 0
			}
			if gidx != nil {
				want = gidx[i]
			}
			if g2[i] != want {
				t.Fatalf("%s: g_idx[%d] = %d, want %d", c.name, i, g2[i], want)
			}
		}
	}
}

func TestQuantGroupMatrixFormatBytes(t *testing.T) {
	codes, s, z := quantRandom(8, 256, 4, 2, 1)
	m, err := NewQuantGroupMatrix(8, 256, 4, 128, codes, s, z, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := m.Format(); f != "int4-g128" {
		t.Errorf("Format = %q", f)
	}
	if b := m.Bytes(); b != 8*256/2+2*4*8*2 {
		t.Errorf("Bytes = %d", b)
	}
	codes, s, z = quantRandom(8, 64, 8, 1, 1)
	m, _ = NewQuantGroupMatrix(8, 64, 8, -1, codes, s, z, nil)
	if f := m.Format(); f != "int8" {
		t.Errorf("Format = %q", f)
	}
}

func TestNewQuantGroupMatrixErrors(t *testing.T) {
	codes, s, z := quantRandom(4, 64, 4, 2, 1)
	bad := append([]uint8(nil), codes...)
	bad[5] = 16
	tests := []struct {
		name                 string
		out, in, bits, group int
		codes                []uint8
		s, z                 []float32
		gidx                 []int32
		want                 error
	}{
		{"bits 1", 4, 64, 1, 32, codes, s, z, nil, ErrQuantCode},
		{"bits 9", 4, 64, 9, 32, codes, s, z, nil, ErrQuantCode},
		{"code too big", 4, 64, 4, 32, bad, s, z, nil, ErrQuantCode},
		{"short codes", 4, 64, 4, 32, codes[:10], s, z, nil, ErrQuantShape},
		{"groups mismatch", 4, 64, 4, 16, codes, s, z, nil, ErrQuantShape},
		{"zeros short", 4, 64, 4, 32, codes, s, z[:4], nil, ErrQuantShape},
		{"gidx short", 4, 64, 4, 32, codes, s, z, make([]int32, 3), ErrQuantShape},
		{"gidx out of range", 4, 64, 4, 32, codes, s, z, func() []int32 { g := make([]int32, 64); g[3] = 2; return g }(), ErrQuantShape},
		{"zero rows", 0, 64, 4, 32, nil, nil, nil, nil, ErrQuantShape},
	}
	for _, tc := range tests {
		_, err := NewQuantGroupMatrix(tc.out, tc.in, tc.bits, tc.group, tc.codes, tc.s, tc.z, tc.gidx)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestQuantizeActivations(t *testing.T) {
	x := []float32{0, 0, 0, 0, 1.27, -0.635, 0.005, 0.015, 0.025, -1.27, 2.54, 0.1}
	q := make([]int8, len(x))
	sx := make([]float32, 3)
	QuantizeActivations(q, sx, x, 3, 4)
	if sx[0] != 0 || q[0] != 0 || q[3] != 0 {
		t.Errorf("zero row: sx=%g q=%v", sx[0], q[:4])
	}
	if sx[1] != float32(1.27)/127 {
		t.Errorf("sx[1] = %g", sx[1])
	}
	for j := 4; j < 12; j++ {
		r := j / 4
		want := math.RoundToEven(float64(x[j] / sx[r]))
		if float64(q[j]) != want || want > 127 || want < -127 {
			t.Errorf("q[%d] = %d, want %g", j, q[j], want)
		}
	}
	if q[4] != 127 || q[5] != -64 || q[10] != 127 { // -0.635/0.01 = -63.5 rounds to even
		t.Errorf("extremes: %v", q)
	}
}

func TestQuantW8A8MatrixMulT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, dims := range [][2]int{{16, 64}, {37, 200}, {5, 7}, {64, 4096}, {64, 176}, {4, 16}, {9, 48}} {
		out, in := dims[0], dims[1]
		w := make([]int8, out*in)
		for i := range w {
			w[i] = int8(r.IntN(255) - 127)
		}
		sw := make([]float32, out)
		for i := range sw {
			sw[i] = 0.001 + 0.01*r.Float32()
		}
		m, err := NewQuantW8A8Matrix(out, in, w, sw)
		if err != nil {
			t.Fatal(err)
		}
		bias := gemmRandom(out, 4)
		for _, rows := range []int{1, 2, 4, 5, 9, 30} {
			x := gemmRandom(rows*in, uint64(rows+in))
			if rows > 1 {
				clear(x[in : 2*in]) // an all-zero token
			}
			for _, b := range [][]float32{nil, bias} {
				want := make([]float32, rows*out)
				m.MulTRef(want, x, rows, b)
				got := make([]float32, rows*out)
				m.MulT(got, x, rows, b)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%d×%d rows=%d (%s): y[%d] = %g, want %g (integer kernel must match exactly)", out, in, rows, QuantKernels(), i, got[i], want[i])
					}
				}
				// And the float definition: Σ (xq·sx)·(wq·sw).
				q, sx := make([]int8, rows*in), make([]float32, rows)
				QuantizeActivations(q, sx, x, rows, in)
				// Both native paths (AVX2; VNNI where the CPU has it) and Go.
				variants := [][]uint8{nil}
				if w8a8UseVNNI() {
					xu := make([]uint8, len(q))
					for i, v := range q {
						xu[i] = uint8(v) ^ 0x80
					}
					variants = append(variants, xu)
				}
				for _, xu := range variants {
					clear(got)
					m.rows(got, q, xu, sx, rows, b, 0, out)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("rows (vnni=%v): y[%d] = %g, want %g", xu != nil, i, got[i], want[i])
						}
					}
				}
				for rr := 0; rr < rows; rr++ {
					for o := 0; o < out; o++ {
						var s, bound float64
						for j := 0; j < in; j++ {
							p := float64(q[rr*in+j]) * float64(sx[rr]) * float64(w[o*in+j]) * float64(sw[o])
							s += p
							bound += math.Abs(p)
						}
						if b != nil {
							s += float64(b[o])
							bound += math.Abs(float64(b[o]))
						}
						if d := math.Abs(s - float64(got[rr*out+o])); d > 1e-5*bound+1e-6 {
							t.Fatalf("fake-quant definition: y[%d,%d] = %g, want %g", rr, o, got[rr*out+o], s)
						}
					}
				}
			}
		}
	}
	if _, err := NewQuantW8A8Matrix(2, 3, make([]int8, 5), make([]float32, 2)); !errors.Is(err, ErrQuantShape) {
		t.Errorf("bad shape: err = %v", err)
	}
}

// TestQuantConcurrentMulT runs MulT of one matrix from several goroutines
// (the pooled scratch must not be shared).
func TestQuantConcurrentMulT(t *testing.T) {
	gidx, groups := quantCases[10].gidx(10)
	c := quantCases[10]
	codes, s, z := quantRandom(c.out, c.in, c.bits, groups, 1)
	m, err := NewQuantGroupMatrix(c.out, c.in, c.bits, c.group, codes, s, z, gidx)
	if err != nil {
		t.Fatal(err)
	}
	x := gemmRandom(3*c.in, 1)
	want := make([]float32, 3*c.out)
	m.MulT(want, x, 3, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]float32, 3*c.out)
			for it := 0; it < 50; it++ {
				m.MulT(got, x, 3, nil)
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Sprintf("iteration %d: y[%d] = %g, want %g", it, i, got[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestQuantMulTPanicsOnShortSlices(t *testing.T) {
	codes, s, z := quantRandom(4, 32, 4, 1, 1)
	m, _ := NewQuantGroupMatrix(4, 32, 4, 0, codes, s, z, nil)
	defer func() {
		if recover() == nil {
			t.Error("MulT with a short dst did not panic")
		}
	}()
	m.MulT(make([]float32, 3), make([]float32, 32), 1, nil)
}
