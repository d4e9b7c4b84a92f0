//go:build cgo && !purego

package kernels

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
)

// TestQuantQ8Native holds every int8-activation kernel this CPU runs
// (AVX2, AVX-VNNI, AVX-512 VNNI) to the Go reference quantQ8Ref: the same
// integer dot products, so they differ only by float32 rounding of the
// per-block conversions and sums (2e-5 of q8Bound), on the q8Cases,
// symmetric and asymmetric, 1 to 9 rows (one, two and three passes of up
// to four rows), with and without bias, on a sub-range of the outputs.
func TestQuantQ8Native(t *testing.T) {
	names := map[int]string{1: "avx2", 2: "avxvnni", 3: "avx512vnni"}
	ran := 0
	for isa := 1; isa <= 3; isa++ {
		if !quantQ8Has(isa) {
			t.Logf("%s: not on this CPU", names[isa])
			continue
		}
		ran++
		for ci, c := range q8Cases {
			for _, sym := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/sym=%v", names[isa], c.name, sym), func(t *testing.T) {
					m := q8Matrix(t, c, ci, sym)
					bias := gemmRandom(c.out, 9)
					for _, rows := range []int{1, 2, 3, 4, 5, 9} {
						for _, b := range [][]float32{nil, bias} {
							x := gemmRandom(rows*c.in, uint64(rows+7*ci))
							xq, sx, xs := m.q8Quantize(x, rows)
							want := make([]float32, rows*c.out)
							m.quantQ8Ref(want, xq, sx, xs, rows, b, 0, c.out)
							got := make([]float32, rows*c.out)
							o0, o1 := 1, c.out-1
							quantQ8KernelISA(isa, m, got, xq, sx, xs, rows, b, o0, o1)
							bound := q8Bound(m, x, rows, b)
							for r := 0; r < rows; r++ {
								for o := 0; o < c.out; o++ {
									i := r*c.out + o
									if o < o0 || o >= o1 {
										if got[i] != 0 {
											t.Fatalf("rows=%d: output %d outside [%d, %d) written", rows, o, o0, o1)
										}
										continue
									}
									if d := float64(got[i]) - float64(want[i]); !(d*d <= sq(2e-5*float64(bound[i])+1e-6)) {
										t.Fatalf("rows=%d bias=%v y[%d,%d] = %g, reference %g (bound %g)", rows, b != nil, r, o, got[i], want[i], bound[i])
									}
								}
							}
						}
					}
				})
			}
		}
	}
	if quantNativeOK && ran == 0 {
		t.Fatal("AVX2 available but no int8-activation kernel ran")
	}
}

func sq(v float64) float64 { return v * v }

// TestQuantizeQ8RowsNative holds the AVX2 activation quantizer to the Go
// one bit for bit (codes, block scales, group sums), for both container
// orders, several group sizes, with all-zero blocks, ties (x·id exactly
// k + 0.5) and a wide dynamic range inside one block.
func TestQuantizeQ8RowsNative(t *testing.T) {
	if !quantNativeOK {
		t.Skip("no AVX2: the Go quantizer runs")
	}
	const rows, in = 3, 384
	for _, cbits := range []int{4, 8} {
		for _, G := range []int{32, 64, 128, in} {
			x := gemmRandom(rows*in, uint64(G+cbits))
			clear(x[64:96]) // an all-zero block
			x[100] *= 1e4
			for j := 128; j < 160; j++ { // x·id = j − 128 + 0.5 − 16 exactly: ties to even
				x[j] = float32(j-128) - 15.5
			}
			x[159] = 127
			wq, gq := make([]int8, rows*in), make([]int8, rows*in)
			wsx, gsx := make([]float32, rows*in/32), make([]float32, rows*in/32)
			wxs, gxs := make([]float32, rows*in/G), make([]float32, rows*in/G)
			quantizeQ8Rows(wq, wsx, wxs, x, rows, in, G, cbits)
			quantizeQ8RowsNative(gq, gsx, gxs, x, rows, in, G, cbits)
			for i := range wq {
				if gq[i] != wq[i] {
					t.Fatalf("cbits %d G %d: xq[%d] = %d, Go %d", cbits, G, i, gq[i], wq[i])
				}
			}
			for i := range wsx {
				if gsx[i] != wsx[i] {
					t.Fatalf("cbits %d G %d: sx[%d] = %g, Go %g", cbits, G, i, gsx[i], wsx[i])
				}
			}
			for i := range wxs {
				if gxs[i] != wxs[i] {
					t.Fatalf("cbits %d G %d: xs[%d] = %g, Go %g", cbits, G, i, gxs[i], wxs[i])
				}
			}
		}
	}
}

// TestQuantQ8MulT turns the int8-activation kernel on (SetQuantActInt8)
// and checks MulT end to end on every instruction set this CPU runs: the
// act-order gather, the quantizer and the kernel against q8Want for 1 to 15
// rows (16 and more take the Sgemm path, checked against the float32
// reference), and one-hot rows reproducing DequantizeRows bit for bit.
func TestQuantQ8MulT(t *testing.T) {
	if !SetQuantActInt8(true) {
		t.Skip("no int8-activation kernel on this CPU")
	}
	defer SetQuantActInt8(false)
	defer quantQ8Select(quantQ8Select(0))
	for isa := 1; isa <= 3; isa++ {
		if !quantQ8Has(isa) {
			continue
		}
		quantQ8Select(isa)
		for ci, c := range q8Cases {
			m := q8Matrix(t, c, ci, false)
			bias := gemmRandom(c.out, 9)
			for _, rows := range []int{1, 4, 6, 15, quantGEMMRows} {
				x := gemmRandom(rows*c.in, uint64(rows+3*ci))
				got := make([]float32, rows*c.out)
				m.MulT(got, x, rows, bias)
				var want, bound []float32
				if m.quantQ8Applies(rows) {
					want, bound = m.q8Want(x, rows, bias), q8Bound(m, x, rows, bias)
				} else {
					w := make([]float32, c.out*c.in)
					m.DequantizeRows(w, 0, c.out)
					want = make([]float32, rows*c.out)
					LinearRef(want, x, rows, c.in, w, c.out, bias)
					bound = absBound(x, w, rows, c.in, c.out, bias)
				}
				quantClose(t, fmt.Sprintf("isa %d %s rows=%d", isa, c.name, rows), got, want, bound)
			}
			w := make([]float32, c.out*c.in)
			m.DequantizeRows(w, 0, c.out)
			x := make([]float32, c.in)
			y := make([]float32, c.out)
			for i := 0; i < c.in; i++ {
				clear(x)
				x[i] = 1
				m.MulT(y, x, 1, nil)
				for o := range y {
					if y[o] != w[o*c.in+i] {
						t.Fatalf("isa %d %s: one-hot column %d: y[%d] = %g, want W = %g", isa, c.name, i, o, y[o], w[o*c.in+i])
					}
				}
			}
		}
	}
}

// threadCPUNs returns the CPU time of the calling OS thread (user + system).
func threadCPUNs() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkGroupGEMVKernelCPU compares the float32-activation kernel
// (isa=f32) with the int8-activation ones (quantizer included) on one
// thread, at batch 1, on an in-cache 1024×4096 weight, in CPU time of the
// thread (cpu-ns/op, and GB/s-cpu = weight bytes per CPU ns): the compute
// ceiling of each kernel per core, readable on a loaded machine where wall
// time is not.
func BenchmarkGroupGEMVKernelCPU(b *testing.B) {
	const out, in = 1024, 4096
	x := gemmRandom(in, 1)
	dst := make([]float32, out)
	for _, c := range []struct{ bits, g int }{{4, 128}, {4, 32}, {8, 0}} {
		groups := 1
		if c.g > 0 {
			groups = in / c.g
		}
		codes, s, z := quantRandom(out, in, c.bits, groups, 4)
		m, err := NewQuantGroupMatrix(out, in, c.bits, c.g, codes, s, z, nil)
		if err != nil {
			b.Fatal(err)
		}
		xq, sx, xs := make([]int8, in), make([]float32, in/quantQ8Block), make([]float32, m.groups)
		for isa, name := range []string{"f32", "avx2", "avxvnni", "avx512vnni"} {
			if isa > 0 && !quantQ8Has(isa) {
				continue
			}
			b.Run(fmt.Sprintf("%s/isa=%s", m.Format(), name), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				t0 := threadCPUNs()
				for b.Loop() {
					if isa == 0 {
						quantGroupNative(m, dst, x, 1, nil, 0, out)
						continue
					}
					quantizeQ8RowsNative(xq, sx, xs, x, 1, in, m.uniformG, m.cbits)
					quantQ8KernelISA(isa, m, dst, xq, sx, xs, 1, nil, 0, out)
				}
				ns := float64(threadCPUNs()-t0) / float64(b.N)
				b.ReportMetric(ns, "cpu-ns/op")
				b.ReportMetric(float64(m.Bytes())/ns, "GB/s-cpu")
			})
		}
	}
}
