package kernels

import (
	"fmt"
	"math"
	"testing"
)

// storedOrder returns x [rows×in] in m's stored column order.
func storedOrder(m *QuantGroupMatrix, x []float32, rows int) []float32 {
	if m.perm == nil {
		return x
	}
	xs := make([]float32, rows*m.in)
	for r := 0; r < rows; r++ {
		for j, col := range m.perm {
			xs[r*m.in+j] = x[r*m.in+int(col)]
		}
	}
	return xs
}

// q8Quantize quantizes x (input order) as MulT's int8-activation path does.
func (m *QuantGroupMatrix) q8Quantize(x []float32, rows int) (xq []int8, sx, xs []float32) {
	xq = make([]int8, rows*m.in)
	sx = make([]float32, rows*m.in/quantQ8Block)
	xs = make([]float32, rows*m.groups)
	quantizeQ8Rows(xq, sx, xs, storedOrder(m, x, rows), rows, m.in, m.uniformG, m.cbits)
	return xq, sx, xs
}

// q8Want is the int8-activation reference for all outputs of x (input order).
func (m *QuantGroupMatrix) q8Want(x []float32, rows int, bias []float32) []float32 {
	xq, sx, xs := m.q8Quantize(x, rows)
	want := make([]float32, rows*m.out)
	m.quantQ8Ref(want, xq, sx, xs, rows, bias, 0, m.out)
	return want
}

// q8Bound is the magnitude the int8-activation kernel's float32 rounding is
// relative to: Σ_j |x_j|·(|q_j| + |z|)·s (+|bias|), since it sums x̂·q and
// z·Σx̂ separately before subtracting.
func q8Bound(m *QuantGroupMatrix, x []float32, rows int, bias []float32) []float32 {
	xs := storedOrder(m, x, rows)
	b := make([]float32, rows*m.out)
	for r := 0; r < rows; r++ {
		for o := 0; o < m.out; o++ {
			row := m.words[o*m.rowWords : (o+1)*m.rowWords]
			var s float64
			for j := 0; j < m.in; j++ {
				g := o*m.groups + m.group(j)
				w := (float64(quantCode(row, j, m.cbits)) + math.Abs(float64(m.zeros[g]))) * float64(m.scales[g])
				s += math.Abs(float64(xs[r*m.in+j])) * w
			}
			if bias != nil {
				s += math.Abs(float64(bias[o]))
			}
			b[r*m.out+o] = float32(s)
		}
	}
	return b
}

// q8Cases are the shapes of the int8-activation kernel: 4- and 8-bit
// containers, groups of 32, 64, 128 and per channel, act-order.
var q8Cases = []quantCase{
	{"int4-g32", 40, 128, 4, 32, false, false},
	{"int4-g64", 19, 256, 4, 64, false, false},
	{"int4-g128", 33, 384, 4, 128, false, false},
	{"int4-perchannel", 17, 96, 4, 0, false, false},
	{"int8-perchannel", 20, 160, 8, 0, false, false},
	{"int8-g128", 11, 256, 8, 128, false, false},
	{"int5-g32", 12, 64, 5, 32, false, false},
	{"int4-g32-actorder", 21, 128, 4, 32, true, false},
	{"int8-g64-actorder", 9, 192, 8, 64, true, false},
}

// q8Matrix builds case c with asymmetric (random zero points) or symmetric
// (z = 2^(bits−1) everywhere, as RTN's symmetric quantizer stores it) codes.
func q8Matrix(t *testing.T, c quantCase, ci int, symmetric bool) *QuantGroupMatrix {
	t.Helper()
	gidx, groups := c.gidx(uint64(ci))
	codes, scales, zeros := quantRandom(c.out, c.in, c.bits, groups, uint64(ci+1))
	if symmetric {
		for i := range zeros {
			zeros[i] = float32(int(1) << (c.bits - 1))
		}
	}
	m, err := NewQuantGroupMatrix(c.out, c.in, c.bits, c.group, codes, scales, zeros, gidx)
	if err != nil {
		t.Fatal(err)
	}
	if m.colGroup != nil || m.uniformG%quantQ8Block != 0 || (m.cbits != 4 && m.cbits != 8) {
		t.Fatalf("%s: not a shape of the int8-activation kernel", c.name)
	}
	return m
}

// TestQuantizeQ8Block checks the activation quantizer: codes in
// [−127, 127], |x − xq·d| ≤ d/2 (+ float32 rounding), the even/odd order
// of 4-bit containers, the returned Σ xq, and the two exact cases (an
// all-zero block, a one-hot block).
func TestQuantizeQ8Block(t *testing.T) {
	for _, cbits := range []int{4, 8} {
		for seed := uint64(1); seed <= 20; seed++ {
			x := gemmRandom(quantQ8Block, seed)
			if seed%5 == 0 { // a wide range inside one block
				x[3] *= 1000
			}
			q := make([]int8, quantQ8Block)
			d, sum := quantizeQ8Block(q, x, cbits)
			var amax float64
			for _, v := range x {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			if want := float32(amax) / 127; d != want {
				t.Fatalf("cbits %d seed %d: d = %g, want max|x|/127 = %g", cbits, seed, d, want)
			}
			var s int32
			for j, v := range x {
				c := q[quantQ8Pos(j, cbits)]
				s += int32(c)
				if c < -127 {
					t.Fatalf("code %d < −127", c)
				}
				if e := math.Abs(float64(v) - float64(c)*float64(d)); e > float64(d)/2*(1+1e-6)+1e-7*math.Abs(float64(v)) {
					t.Fatalf("cbits %d seed %d: |x − x̂| = %g at %d > d/2 = %g", cbits, seed, e, j, d/2)
				}
			}
			if s != sum {
				t.Fatalf("Σ xq = %d, returned %d", s, sum)
			}
		}
		q := make([]int8, quantQ8Block)
		if d, sum := quantizeQ8Block(q, make([]float32, quantQ8Block), cbits); d != 0 || sum != 0 {
			t.Fatalf("zero block: d = %g, Σ = %d", d, sum)
		}
		for i := 0; i < quantQ8Block; i++ {
			x := make([]float32, quantQ8Block)
			x[i] = 1
			d, sum := quantizeQ8Block(q, x, cbits)
			if sum != 127 || q[quantQ8Pos(i, cbits)] != 127 || float32(127*d) != 1 {
				t.Fatalf("one-hot %d: Σ = %d, code %d, 127·d = %g (want 127, 127, 1)", i, sum, q[quantQ8Pos(i, cbits)], float32(127*d))
			}
		}
	}
}

// TestQuantQ8Ref holds the int8-activation reference to the float32 one
// within the activation quantization error: |y − ŷ| ≤ Σ_j |w_j|·d_b(j)/2
// (each x moves by at most half its block's step) plus float32 rounding.
func TestQuantQ8Ref(t *testing.T) {
	for ci, c := range q8Cases {
		for _, sym := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sym=%v", c.name, sym), func(t *testing.T) {
				m := q8Matrix(t, c, ci, sym)
				bias := gemmRandom(c.out, 9)
				w := make([]float32, c.out*c.in)
				m.DequantizeRows(w, 0, c.out)
				for _, rows := range []int{1, 3, 4, 7} {
					x := gemmRandom(rows*c.in, uint64(rows+10*ci))
					want := make([]float32, rows*c.out)
					m.MulTRef(want, x, rows, bias)
					_, sx, _ := m.q8Quantize(x, rows)
					got := m.q8Want(x, rows, bias)
					rnd := q8Bound(m, x, rows, bias)
					var worst float64
					for r := 0; r < rows; r++ {
						for o := 0; o < c.out; o++ {
							var qerr float64 // Σ |w|·d/2 in stored order
							for j := 0; j < c.in; j++ {
								qerr += math.Abs(float64(w[o*c.in+m.col(j)])) * float64(sx[r*c.in/quantQ8Block+j/quantQ8Block]) / 2
							}
							i := r*c.out + o
							d := math.Abs(float64(got[i]) - float64(want[i]))
							if tol := qerr*(1+1e-5) + 2e-5*float64(rnd[i]) + 1e-6; !(d <= tol) {
								t.Fatalf("rows=%d y[%d,%d] = %g, float32 reference %g: |diff| %g > %g", rows, r, o, got[i], want[i], d, tol)
							}
							worst = max(worst, d/qerr)
						}
					}
					if worst == 0 {
						t.Fatalf("rows=%d: the int8-activation reference equals the float32 one exactly (activations not quantized?)", rows)
					}
				}
			})
		}
	}
}
