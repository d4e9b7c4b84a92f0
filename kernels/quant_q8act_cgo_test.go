//go:build cgo && !purego

package kernels

import (
	"fmt"
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
