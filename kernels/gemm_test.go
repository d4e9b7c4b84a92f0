package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// gemmRandom returns n values uniform in [-1, 1) from a fixed seed.
func gemmRandom(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

func gemmAbs(x []float32) []float32 {
	if x == nil {
		return nil
	}
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

// gemmCase is one Sgemm problem; pad is added to every leading dimension.
type gemmCase struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	pad            int
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%dx%dx%d/%s%s/a%g/b%g/pad%d", tc.m, tc.n, tc.k, t(tc.transA), t(tc.transB), tc.alpha, tc.beta, tc.pad)
}

// gemmCases crosses shapes (odd sizes, m or n == 1, k past one KC slice, m
// past one MC block, n past one NC panel) with transposes, alpha/beta and
// padded leading dimensions.
func gemmCases() []gemmCase {
	shapes := [][3]int{
		{1, 1, 1}, {1, 7, 5}, {1, 300, 77}, {2, 3, 4}, {3, 5, 7}, {7, 9, 13},
		{17, 33, 65}, {64, 64, 64}, {65, 129, 257}, {130, 70, 513},
		{5, 2050, 20}, {33, 1, 17}, {2, 2, 600}, {129, 5, 3},
		{40, 520, 260}, // parallel packing of B
	}
	var cases []gemmCase
	for si, s := range shapes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				ab := [][2]float32{{1, 0}, {-0.5, 1}, {1.5, 0.7}}[(si+boolInt(ta)+2*boolInt(tb))%3]
				cases = append(cases, gemmCase{s[0], s[1], s[2], ta, tb, ab[0], ab[1], (si % 3) * 3})
			}
		}
	}
	return cases
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gemmOperands builds A, B and C for tc with their leading dimensions.
func gemmOperands(tc gemmCase, seed uint64) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc = max(1, ac+tc.pad), max(1, bc+tc.pad), max(1, tc.n+tc.pad)
	a = gemmRandom(max(0, (ar-1)*lda+ac), seed)
	b = gemmRandom(max(0, (br-1)*ldb+bc), seed+1)
	c = gemmRandom(max(0, (tc.m-1)*ldc+tc.n), seed+2)
	return
}

// gemmTolerance bounds |got − want| per element: float32 summation of k
// products (≤ k·ε·Σ|a||b| in the worst case) plus the beta term's rounding.
func gemmTolerance(k int, absSum, betaC float32) float64 {
	const eps = 1.0 / (1 << 23)
	return 2*float64(k+2)*eps*float64(absSum) + 4*eps*math.Abs(float64(betaC)) + 1e-30
}

// gemmWant returns SgemmRef's C for tc and, for gemmTolerance, the same
// product on |alpha|, |A| and |B| with beta 0.
func gemmWant(tc gemmCase, a []float32, lda int, b []float32, ldb int, c0 []float32, ldc int) (want, absSum []float32) {
	want = append([]float32(nil), c0...)
	SgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	absSum = make([]float32, len(c0))
	SgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, float32(math.Abs(float64(tc.alpha))), gemmAbs(a), lda, gemmAbs(b), ldb, 0, absSum, ldc)
	return want, absSum
}

// sgemmFunc is the signature of Sgemm and of the kernels behind it.
type sgemmFunc = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmImpls are the Sgemm implementations held to SgemmRef.
var gemmImpls = []struct {
	name string
	fn   sgemmFunc
}{
	{"Sgemm", Sgemm},
	{"gemmGo", func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		// gemmGo expects what Sgemm guarantees: checked args, m, n, k > 0, alpha ≠ 0.
		sgemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
		if m == 0 || n == 0 || k == 0 || alpha == 0 {
			SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}},
}

func TestSgemmMatchesRef(t *testing.T) {
	defer SetThreads(0)
	t.Logf("BLAS: %s", BLAS())
	for _, threads := range []int{1, 3} {
		SetThreads(threads)
		for ci, tc := range gemmCases() {
			a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(ci))
			want, absSum := gemmWant(tc, a, lda, b, ldb, c0, ldc)
			for _, impl := range gemmImpls {
				got := append([]float32(nil), c0...)
				impl.fn(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				for i := 0; i < tc.m; i++ {
					for j := 0; j < tc.n; j++ {
						idx := i*ldc + j
						tol := gemmTolerance(tc.k, absSum[idx], tc.beta*c0[idx])
						if d := math.Abs(float64(got[idx] - want[idx])); !(d <= tol) {
							t.Fatalf("threads %d %s %v: C[%d,%d] = %g, want %g (|diff| %g > tol %g)", threads, impl.name, tc, i, j, got[idx], want[idx], d, tol)
						}
					}
				}
				// Padding between rows of C must be untouched.
				for i := 0; i+1 < tc.m; i++ {
					for j := tc.n; j < ldc; j++ {
						if idx := i*ldc + j; got[idx] != c0[idx] {
							t.Fatalf("threads %d %s %v: padding C[%d] changed", threads, impl.name, tc, idx)
						}
					}
				}
			}
		}
	}
}

func TestSgemmBLASConventions(t *testing.T) {
	nan := float32(math.NaN())
	m, n, k := 3, 5, 4
	a, b := gemmRandom(m*k, 1), gemmRandom(k*n, 2)
	tests := []struct {
		name        string
		alpha, beta float32
		a, b        []float32
		c           float32             // initial value of every C element
		want        func(ref []float32) // fills the expected C
	}{
		{"beta0 ignores NaN in C", 1, 0, a, b, nan, func(ref []float32) {
			SgemmRef(false, false, m, n, k, 1, a, k, b, n, 0, ref, n)
		}},
		{"alpha0 does not read A or B", 0, 2, nanSlice(m * k), nanSlice(k * n), 3, func(ref []float32) {
			for i := range ref {
				ref[i] = 6
			}
		}},
		{"alpha0 beta0 zeroes C", 0, 0, nanSlice(m * k), nanSlice(k * n), nan, func(ref []float32) { clear(ref) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make([]float32, m*n)
			tt.want(want)
			for _, impl := range []string{"Sgemm", "SgemmRef"} {
				c := make([]float32, m*n)
				for i := range c {
					c[i] = tt.c
				}
				if impl == "Sgemm" {
					Sgemm(false, false, m, n, k, tt.alpha, tt.a, k, tt.b, n, tt.beta, c, n)
				} else {
					SgemmRef(false, false, m, n, k, tt.alpha, tt.a, k, tt.b, n, tt.beta, c, n)
				}
				for i := range c {
					if d := math.Abs(float64(c[i] - want[i])); !(d <= 1e-5) {
						t.Fatalf("%s: C[%d] = %g, want %g", impl, i, c[i], want[i])
					}
				}
			}
		})
	}
	// k == 0: C = beta·C.
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	for i, want := range []float32{0.5, 1, 1.5, 2} {
		if c[i] != want {
			t.Fatalf("k=0: C[%d] = %g, want %g", i, c[i], want)
		}
	}
}

func nanSlice(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func TestSgemmPanicsOnBadArguments(t *testing.T) {
	a, b, c := make([]float32, 12), make([]float32, 12), make([]float32, 9)
	tests := []struct {
		name string
		call func()
		msg  string
	}{
		{"negative m", func() { Sgemm(false, false, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3) }, "negative dimension"},
		{"lda below k", func() { Sgemm(false, false, 3, 3, 4, 1, a, 3, b, 3, 0, c, 3) }, "ldA=3"},
		{"ldb below n with transB", func() { Sgemm(false, true, 3, 3, 4, 1, a, 4, b, 3, 0, c, 3) }, "ldB=3"},
		{"short A", func() { Sgemm(false, false, 3, 3, 4, 1, a[:11], 4, b, 3, 0, c, 3) }, "len(A)=11"},
		{"short C", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c[:8], 3) }, "len(C)=8"},
		{"ldc below n", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c, 2) }, "ldC=2"},
		{"Linear short w", func() { Linear(c, a, 3, 4, b[:11], 3, nil) }, "len(w)=11"},
		{"Linear short bias", func() { Linear(c, a, 3, 4, b, 3, []float32{1, 2}) }, "len(bias)=2"},
		{"Linear short dst", func() { Linear(c[:8], a, 3, 4, b, 3, nil) }, "len(dst)=8"},
		{"LinearRef short x", func() { LinearRef(c, a[:11], 3, 4, b, 3, nil) }, "len(x)=11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if s := fmt.Sprint(r); !strings.Contains(s, tt.msg) || !strings.HasPrefix(s, "kernels.") {
					t.Fatalf("panic %q, want it to name the call and contain %q", s, tt.msg)
				}
			}()
			tt.call()
		})
	}
}

// linearImpls are the Linear implementations held to LinearRef.
var linearImpls = []struct {
	name string
	fn   func(dst, x []float32, m, k int, w []float32, n int, bias []float32)
}{
	{"Linear", Linear},
	{"gemmGo", func(dst, x []float32, m, k int, w []float32, n int, bias []float32) {
		beta := float32(0)
		if bias != nil {
			linearFillBias(dst[:m*n], n, bias)
			beta = 1
		}
		gemmGo(false, true, m, n, k, 1, x, k, w, k, beta, dst, n)
	}},
	{"gemvGo", func(dst, x []float32, m, k int, w []float32, n int, bias []float32) {
		gemvGo(m, n, k, 1, x, k, w, k, 0, dst, n, bias)
	}},
}

func TestLinearMatchesRef(t *testing.T) {
	defer SetThreads(0)
	ms := []int{1, 2, 3, 7, 130}
	ks := []int{1, 5, 64, 300, 513}
	ns := []int{1, 3, 4, 5, 17, 100}
	for _, threads := range []int{1, 2, 5} {
		SetThreads(threads)
		seed := uint64(0)
		for _, m := range ms {
			for _, k := range ks {
				for _, n := range ns {
					if m*k*n > 1<<20 {
						continue
					}
					seed++
					x, w := gemmRandom(m*k, seed), gemmRandom(n*k, seed+100)
					var bias []float32
					if seed%2 == 0 {
						bias = gemmRandom(n, seed+200)
					}
					want := make([]float32, m*n)
					LinearRef(want, x, m, k, w, n, bias)
					absSum := make([]float32, m*n)
					LinearRef(absSum, gemmAbs(x), m, k, gemmAbs(w), n, gemmAbs(bias))
					for _, impl := range linearImpls {
						got := nanSlice(m * n)
						impl.fn(got, x, m, k, w, n, bias)
						for i := range got {
							tol := gemmTolerance(k+1, absSum[i], 0)
							if d := math.Abs(float64(got[i] - want[i])); !(d <= tol) {
								t.Fatalf("threads %d %s m=%d k=%d n=%d bias=%v: dst[%d] = %g, want %g (tol %g)",
									threads, impl.name, m, k, n, bias != nil, i, got[i], want[i], tol)
							}
						}
					}
				}
			}
		}
	}
}

func TestLinearZeroK(t *testing.T) {
	dst := nanSlice(6)
	Linear(dst, nil, 2, 0, nil, 3, []float32{1, 2, 3})
	for i, want := range []float32{1, 2, 3, 1, 2, 3} {
		if dst[i] != want {
			t.Fatalf("bias only: dst = %v", dst)
		}
	}
	Linear(dst, nil, 2, 0, nil, 3, nil)
	for _, v := range dst {
		if v != 0 {
			t.Fatalf("no bias: dst = %v", dst)
		}
	}
}

// TestLinearConcurrent runs Linear from many goroutines at once (as
// parallel compression workers do); every result must match the reference.
func TestLinearConcurrent(t *testing.T) {
	shapes := [][3]int{{1, 256, 96}, {4, 128, 64}, {70, 130, 40}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := shapes[g%len(shapes)]
			m, k, n := s[0], s[1], s[2]
			x, w, bias := gemmRandom(m*k, uint64(g)), gemmRandom(n*k, uint64(g+50)), gemmRandom(n, uint64(g+90))
			want := make([]float32, m*n)
			LinearRef(want, x, m, k, w, n, bias)
			got := make([]float32, m*n)
			for rep := 0; rep < 20; rep++ {
				Linear(got, x, m, k, w, n, bias)
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
						errs <- fmt.Errorf("goroutine %d rep %d: dst[%d] = %g, want %g", g, rep, i, got[i], want[i])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLinearGEMVAllocations: the batch-1 decode path (m == 1) must not
// allocate on the OpenBLAS path, and allocates only ParallelFor's goroutine
// bookkeeping (not its operands) on the pure-Go path.
func TestLinearGEMVAllocations(t *testing.T) {
	defer SetThreads(0)
	k, n := 512, 1024
	x, w, bias, dst := gemmRandom(k, 1), gemmRandom(n*k, 2), gemmRandom(n, 3), make([]float32, n)
	SetThreads(1)
	if a := testing.AllocsPerRun(20, func() { Linear(dst, x, 1, k, w, n, bias) }); a != 0 {
		t.Errorf("Linear m=1, one thread: %v allocations per call, want 0", a)
	}
	if a := testing.AllocsPerRun(20, func() { gemvGo(1, n, k, 1, x, k, w, k, 0, dst, n, bias) }); a != 0 {
		t.Errorf("gemvGo, one thread: %v allocations per call, want 0", a)
	}
	SetThreads(2)
	a := testing.AllocsPerRun(20, func() { Linear(dst, x, 1, k, w, n, bias) })
	if BLASError() == nil && a != 0 {
		t.Errorf("Linear m=1 through OpenBLAS: %v allocations per call, want 0", a)
	}
	if a > 8 {
		t.Errorf("Linear m=1, two threads: %v allocations per call, want ≤ 8 (ParallelFor's bookkeeping only)", a)
	}
}

func TestSetThreadsAndBLASName(t *testing.T) {
	defer SetThreads(0)
	SetThreads(3)
	if got := gemmThreadCount(); got != 3 {
		t.Fatalf("after SetThreads(3): %d threads", got)
	}
	SetThreads(0)
	if got := gemmThreadCount(); got < 1 {
		t.Fatalf("after SetThreads(0): %d threads", got)
	}
	name := BLAS()
	switch {
	case BLASError() == nil && !strings.HasPrefix(name, "openblas "):
		t.Fatalf("BLAS() = %q with no error, want an openblas description", name)
	case BLASError() != nil && name != "pure-go":
		t.Fatalf("BLAS() = %q with error %v, want pure-go", name, BLASError())
	}
	t.Logf("BLAS() = %q, BLASError() = %v", name, BLASError())
}

// FuzzSgemm holds Sgemm and the pure-Go kernel to the reference on
// arbitrary small shapes, transposes, padding and alpha/beta
// (go test -fuzz=FuzzSgemm ./kernels/).
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint64(1))
	f.Add(uint8(1), uint8(64), uint8(33), uint8(2), uint64(2))
	f.Add(uint8(40), uint8(9), uint8(200), uint8(7), uint64(3))
	f.Add(uint8(0), uint8(4), uint8(0), uint8(31), uint64(4))
	f.Fuzz(func(t *testing.T, m8, n8, k8, flags uint8, seed uint64) {
		tc := gemmCase{
			m: int(m8 % 72), n: int(n8 % 72), k: int(k8),
			transA: flags&1 != 0, transB: flags&2 != 0,
			alpha: []float32{1, -0.5, 0, 2}[flags>>2&3],
			beta:  []float32{0, 1, 0.25, -1}[flags>>4&3],
			pad:   int(flags >> 6),
		}
		a, lda, b, ldb, c0, ldc := gemmOperands(tc, seed)
		want, absSum := gemmWant(tc, a, lda, b, ldb, c0, ldc)
		for _, impl := range gemmImpls {
			got := append([]float32(nil), c0...)
			impl.fn(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= gemmTolerance(tc.k, absSum[i], tc.beta*c0[i])) {
					t.Fatalf("%s %v: C[%d] = %g, want %g", impl.name, tc, i, got[i], want[i])
				}
			}
		}
	})
}
