package kernels

import (
	"fmt"
	"math"
	"testing"
)

// withThreads runs f with n threads for both the GEMM (SetThreads) and
// ParallelFor (SetMaxThreads), as --threads sets them, and restores the
// defaults.
func withThreads(n int, f func()) {
	SetMaxThreads(n)
	SetThreads(n)
	defer func() { SetMaxThreads(0); SetThreads(0) }()
	f()
}

// TestSgemmThreadsReproducible: where ThreadsReproducible says so, Sgemm
// and Linear give the same bits with 1 and 2 threads, including shapes
// large enough for OpenBLAS's threaded driver and k past its GEMM_Q
// (300×300×5000 differed in 62% of its outputs on SkylakeX before
// blasSgemm cut k into slices).
func TestSgemmThreadsReproducible(t *testing.T) {
	ok, why := ThreadsReproducible()
	if !ok {
		t.Skip(why)
	}
	shapes := [][3]int{{64, 172, 256}, {4, 11008, 700}, {300, 300, 5000}, {512, 256, 1000}, {300, 300, 620}, {2, 64, 3000}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}} {
			t.Run(fmt.Sprintf("%dx%dx%d/%v", m, n, k, tr), func(t *testing.T) {
				a, b := gemmRandom(m*k, 1), gemmRandom(k*n, 2)
				lda, ldb := k, n
				if tr[0] {
					lda = m
				}
				if tr[1] {
					ldb = k
				}
				var outs [2][]float32
				for i, th := range []int{1, 2} {
					withThreads(th, func() {
						outs[i] = gemmRandom(m*n, 3) // beta = 0.5 reads C
						Sgemm(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, 0.5, outs[i], n)
					})
				}
				if d := bitsDiffer(outs[0], outs[1]); d > 0 {
					t.Fatalf("%d of %d outputs differ between 1 and 2 threads (%s)", d, m*n, why)
				}
				if tr[1] {
					bias := gemmRandom(n, 4)
					for i, th := range []int{1, 2} {
						withThreads(th, func() {
							outs[i] = make([]float32, m*n)
							Linear(outs[i], a, m, k, b, n, bias)
						})
					}
					if d := bitsDiffer(outs[0], outs[1]); d > 0 {
						t.Fatalf("Linear: %d of %d outputs differ between 1 and 2 threads (%s)", d, m*n, why)
					}
				}
			})
		}
	}
}

func bitsDiffer(a, b []float32) int {
	d := 0
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			d++
		}
	}
	return d
}

// TestParallelForChunksFixed: the chunks depend on n and grain only, cover
// [0, n) in order, and number at most maxReduceChunks.
func TestParallelForChunksFixed(t *testing.T) {
	for _, tc := range []struct{ n, grain int }{{0, 4}, {1, 4}, {10, 4}, {1000, 4}, {100000, 1}, {33, 0}} {
		var got [3][][2]int
		for i, th := range []int{1, 2, 5} {
			count, _ := ReduceChunks(tc.n, tc.grain)
			got[i] = make([][2]int, count)
			withThreads(th, func() {
				ParallelForChunks(tc.n, tc.grain, func(c, lo, hi int) { got[i][c] = [2]int{lo, hi} })
			})
		}
		if len(got[0]) > maxReduceChunks {
			t.Errorf("n %d: %d chunks", tc.n, len(got[0]))
		}
		next := 0
		for c, r := range got[0] {
			if r[0] != next || r[1] <= r[0] || got[1][c] != r || got[2][c] != r {
				t.Fatalf("n %d grain %d: chunk %d is %v (2 threads %v, 5 threads %v), want it to start at %d", tc.n, tc.grain, c, r, got[1][c], got[2][c], next)
			}
			next = r[1]
		}
		if next != tc.n {
			t.Errorf("n %d: chunks end at %d", tc.n, next)
		}
	}
}
