//go:build cgo && !purego && unix

package kernels

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// BenchmarkSgemmOpenBLAS calls cblas_sgemm directly (the bare cgo call, no
// checks or dispatch) on BenchmarkSgemm's shapes, so the overhead of our
// layer is BenchmarkSgemm's rate over this one.
func BenchmarkSgemmOpenBLAS(b *testing.B) {
	if err := BLASError(); err != nil {
		b.Skip(err)
	}
	b.Logf("BLAS: %s", BLAS())
	benchSgemm(b, blasSgemmRaw)
}

// BenchmarkLinearGEMVOpenBLASSgemm runs batch-1 Linear as an m == 1
// cblas_sgemm (x·Wᵀ) instead of sgemv, the alternative Linear's m == 1 path
// was chosen against (with the pure-Go GEMV, BenchmarkLinearGEMVGo).
func BenchmarkLinearGEMVOpenBLASSgemm(b *testing.B) {
	if err := BLASError(); err != nil {
		b.Skip(err)
	}
	gemvBench(b, func(dst, x, w []float32, in, out int) {
		blasSgemmRaw(false, true, 1, out, in, 1, x, in, w, in, 0, dst, out)
	})
}

// BenchmarkBLASGoroutineInterference measures what OpenBLAS's spinning
// worker threads cost Go code that runs right after a GEMM: "gemm" is a
// small-batch Linear (8×4096→4096), "goop" a ParallelFor elementwise pass
// of comparable kind to the norms and activations between GEMMs, and
// "gemm+goop" both back to back. The interference is
// (gemm+goop) − gemm − goop per op.
func BenchmarkBLASGoroutineInterference(b *testing.B) {
	if err := BLASError(); err != nil {
		b.Skip(err)
	}
	m, k, n := 8, 4096, 4096
	x, w, dst := gemmRandom(m*k, 1), gemmRandom(n*k, 2), make([]float32, m*n)
	buf := gemmRandom(1<<16, 3)
	goop := func() {
		ParallelFor(len(buf), 1024, func(lo, hi int) {
			p := buf[lo:hi]
			for r := 0; r < 20; r++ {
				for i := range p {
					p[i] = p[i]*0.999 + 0.001
				}
			}
		})
	}
	b.Run("gemm", func(b *testing.B) {
		for b.Loop() {
			Linear(dst, x, m, k, w, n, nil)
		}
	})
	b.Run("goop", func(b *testing.B) {
		for b.Loop() {
			goop()
		}
	})
	b.Run("gemm+goop", func(b *testing.B) {
		for b.Loop() {
			Linear(dst, x, m, k, w, n, nil)
			goop()
		}
	})
}

// blasChildEnv marks the re-executed test binary of the tests below.
const blasChildEnv = "GOLLM_KERNELS_BLAS_CHILD"

// TestBLASChild runs only inside the child processes started below: it
// prints BLAS() and checks that Sgemm still matches the reference.
func TestBLASChild(t *testing.T) {
	if os.Getenv(blasChildEnv) == "" {
		t.Skip("helper for TestBLASLoading")
	}
	m, n, k := 9, 7, 300
	a, bb := gemmRandom(m*k, 1), gemmRandom(n*k, 2)
	got, want := make([]float32, m*n), make([]float32, m*n)
	Sgemm(false, true, m, n, k, 1, a, k, bb, k, 0, got, n)
	SgemmRef(false, true, m, n, k, 1, a, k, bb, k, 0, want, n)
	for i := range got {
		if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("C[%d] = %g, want %g", i, got[i], want[i])
		}
	}
	os.Stdout.WriteString("BLAS=" + BLAS() + "\n")
}

// TestBLASLoading re-runs the test binary with different environments and
// checks which backend each one ends up on.
func TestBLASLoading(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	haveOpenBLAS := BLASError() == nil
	tests := []struct {
		name    string
		env     []string
		want    []string // substrings of BLAS()
		reject  []string
		needLib bool
	}{
		{"missing library falls back to pure Go", []string{"GOLLM_OPENBLAS=/nonexistent/libopenblas.so.0"}, []string{"BLAS=pure-go"}, nil, false},
		{"GOLLM_OPENBLAS=off", []string{"GOLLM_OPENBLAS=off"}, []string{"BLAS=pure-go"}, nil, false},
		{"user OPENBLAS_CORETYPE is honoured", []string{"OPENBLAS_CORETYPE=Haswell"}, []string{"BLAS=openblas ", "core=Haswell"}, []string{"set by gollm"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needLib && !haveOpenBLAS {
				t.Skipf("OpenBLAS not loadable here: %v", BLASError())
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestBLASChild$", "-test.v")
			cmd.Env = append(os.Environ(), append(tt.env, blasChildEnv+"=1")...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
			for _, r := range tt.reject {
				if strings.Contains(string(out), r) {
					t.Errorf("child output has %q:\n%s", r, out)
				}
			}
		})
	}
}

// openblasKBlocks returns the k-slices OpenBLAS's single-threaded
// (level3.c, threaded false) or threaded (level3_thread.c) SGEMM driver
// cuts depth k into, for GEMM_Q q and GEMM_UNROLL_M u.
func openblasKBlocks(k, q, u int, threaded bool) []int {
	var bs []int
	for ls := 0; ls < k; {
		l := k - ls
		switch {
		case l >= 2*q:
			l = q
		case l > q && threaded:
			l = (l + 1) / 2
		case l > q:
			l = (l/2 + u - 1) / u * u
		}
		bs = append(bs, l)
		ls += l
	}
	return bs
}

// TestBLASKSlice: every product blasSgemm hands OpenBLAS in one call is
// blocked alike by both drivers, and the slices it cuts otherwise are at
// most GEMM_Q and cover k.
func TestBLASKSlice(t *testing.T) {
	for _, q := range []int{448, 320} {
		sliced := 0
		for k := 1; k <= 6000; k++ {
			kc := blasKSlice(q, k)
			if kc == k {
				if a, b := openblasKBlocks(k, q, 16, false), openblasKBlocks(k, q, 16, true); !slices.Equal(a, b) {
					t.Fatalf("q %d, k %d in one call: blocks %v single-threaded, %v threaded", q, k, a, b)
				}
				continue
			}
			sliced++
			if kc > q || kc <= 0 || kc%16 != 0 {
				t.Fatalf("q %d, k %d: slice %d", q, k, kc)
			}
		}
		if sliced == 0 {
			t.Fatalf("q %d: no k sliced", q)
		}
	}
	if kc := blasKSlice(0, 5000); kc != 5000 {
		t.Errorf("q 0 sliced k 5000 into %d", kc)
	}
}
