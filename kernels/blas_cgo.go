//go:build cgo && !purego && unix

package kernels

// OpenBLAS backend. libopenblas is loaded with dlopen on the first GEMM (not
// linked), so a cgo build needs no BLAS headers or libraries to compile and
// still runs, on the pure-Go kernels, where OpenBLAS is missing. On Debian
// and Ubuntu `apt-get install libopenblas-dev` (or just the runtime package
// libopenblas0) provides libopenblas.so.0 through the alternatives system
// (/usr/lib/<triplet>/libopenblas.so.0 → openblas-pthread/); macOS's
// Homebrew openblas is looked for under /opt/homebrew and /usr/local.
//
// Environment:
//   - GOLLM_OPENBLAS: a path or soname to load instead, or "off" to run the
//     pure-Go kernels.
//   - OPENBLAS_CORETYPE: honoured when set. When it is not set and the CPU
//     has AVX-512 (F, BW, DQ, VL) or AVX2+FMA, it is set to SkylakeX or
//     Haswell for the duration of the dlopen only. Reason: Debian 12's
//     OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know newer CPU models (e.g.
//     the reference machine's Xeon, family 6 model 207) and falls back to
//     its Prescott (SSE3) kernels, ~20× slower than SkylakeX there (measured
//     15 vs 290 GFLOP/s at 1024³ on 2 cores). The SGEMM/SGEMV kernels of
//     the newer Intel/AMD targets are the SkylakeX/Haswell ones, so forcing
//     those loses nothing for float32.
//
// Threads: OpenBLAS's own thread pool (openblas_set_num_threads =
// SetThreads). On the reference machine it beat splitting the GEMM over
// goroutines that each call a single-threaded OpenBLAS by 20–30% at 512³ and
// 1024³ (e.g. 290 vs 220 GFLOP/s), and its threaded sgemv beat both the
// goroutine split and the pure-Go GEMV for m == 1. The cost: after a call
// OpenBLAS's workers keep spinning for a while, which slows Go goroutines
// that run right after on the same cores (measured ≈ +1 ms on an 8×4096→4096
// Linear of 6 ms followed by a 0.7 ms ParallelFor pass; see
// BenchmarkBLASGoroutineInterference and BenchmarkDecodeLayer). Concurrent
// calls from many goroutines are safe (OpenBLAS serialises its threaded
// sections).

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// The CBLAS enums as OpenBLAS defines them (cblas.h), passed as int.
enum { GOLLM_ROW_MAJOR = 101, GOLLM_NO_TRANS = 111, GOLLM_TRANS = 112 };

typedef void (*gollm_sgemm_fn)(int, int, int, int, int, int, float,
	const float *, int, const float *, int, float, float *, int);
typedef void (*gollm_sgemv_fn)(int, int, int, int, float, const float *, int,
	const float *, int, float, float *, int);
typedef void (*gollm_set_threads_fn)(int);
typedef char *(*gollm_string_fn)(void);

static gollm_sgemm_fn gollm_blas_sgemm_p;
static gollm_sgemv_fn gollm_blas_sgemv_p;
static gollm_set_threads_fn gollm_blas_set_threads_p;
static gollm_string_fn gollm_blas_config_p;
static gollm_string_fn gollm_blas_corename_p;

// gollm_blas_cpu_coretype names the OpenBLAS core to force on this CPU, or
// returns NULL to let OpenBLAS choose.
static const char *gollm_blas_cpu_coretype(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
#endif
	return NULL;
}

// gollm_blas_open loads the library at path and resolves its symbols.
// forced receives the core type set for the load (or "" when none was). It
// returns NULL on success or a message.
static const char *gollm_blas_open(const char *path, char *forced, size_t forced_len) {
	forced[0] = 0;
	const char *core = NULL;
	if (getenv("OPENBLAS_CORETYPE") == NULL) {
		core = gollm_blas_cpu_coretype();
	}
	if (core != NULL) {
		setenv("OPENBLAS_CORETYPE", core, 1);
		strncpy(forced, core, forced_len - 1);
		forced[forced_len - 1] = 0;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (core != NULL) {
		unsetenv("OPENBLAS_CORETYPE");
	}
	if (h == NULL) {
		const char *e = dlerror();
		return e != NULL ? e : "dlopen failed";
	}
	gollm_blas_sgemm_p = (gollm_sgemm_fn)dlsym(h, "cblas_sgemm");
	gollm_blas_sgemv_p = (gollm_sgemv_fn)dlsym(h, "cblas_sgemv");
	gollm_blas_set_threads_p = (gollm_set_threads_fn)dlsym(h, "openblas_set_num_threads");
	gollm_blas_config_p = (gollm_string_fn)dlsym(h, "openblas_get_config");
	gollm_blas_corename_p = (gollm_string_fn)dlsym(h, "openblas_get_corename");
	if (gollm_blas_sgemm_p == NULL || gollm_blas_sgemv_p == NULL ||
	    gollm_blas_set_threads_p == NULL || gollm_blas_config_p == NULL) {
		gollm_blas_sgemm_p = NULL;
		return "not OpenBLAS: cblas_sgemm, cblas_sgemv, openblas_set_num_threads or openblas_get_config missing";
	}
	return NULL;
}

static void gollm_blas_sgemm(int ta, int tb, int m, int n, int k, float alpha,
	const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
	gollm_blas_sgemm_p(GOLLM_ROW_MAJOR, ta ? GOLLM_TRANS : GOLLM_NO_TRANS,
		tb ? GOLLM_TRANS : GOLLM_NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void gollm_blas_sgemv(int m, int n, float alpha, const float *a, int lda,
	const float *x, float beta, float *y) {
	gollm_blas_sgemv_p(GOLLM_ROW_MAJOR, GOLLM_NO_TRANS, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

static void gollm_blas_set_threads(int n) { gollm_blas_set_threads_p(n); }

static const char *gollm_blas_config(void) { return gollm_blas_config_p(); }

static const char *gollm_blas_corename(void) {
	return gollm_blas_corename_p != NULL ? gollm_blas_corename_p() : "";
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// blasState is the outcome of loading OpenBLAS (once, on first use).
var blasState struct {
	once    sync.Once
	ok      bool   // the cblas entry points are usable
	desc    string // BLAS()'s answer
	err     error  // why OpenBLAS is not used
	threads atomic.Int32
	kChunk  int32 // blasKChunk of the loaded core (0: no k slicing)
}

// blasCandidates lists the libraries tried in order.
func blasCandidates() []string {
	if p := os.Getenv("GOLLM_OPENBLAS"); p != "" {
		return []string{p}
	}
	if runtime.GOOS == "darwin" {
		return []string{"libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"}
	}
	return []string{"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"}
}

// blasLoad loads OpenBLAS once and applies the thread count.
func blasLoad() bool {
	blasState.once.Do(func() {
		if os.Getenv("GOLLM_OPENBLAS") == "off" {
			blasState.err = errors.New("disabled by GOLLM_OPENBLAS=off")
			blasState.desc = "pure-go"
			return
		}
		var errs []string
		for _, name := range blasCandidates() {
			cname := C.CString(name)
			var forced [32]C.char
			msg := C.gollm_blas_open(cname, &forced[0], C.size_t(len(forced)))
			C.free(unsafe.Pointer(cname))
			if msg != nil {
				errs = append(errs, C.GoString(msg))
				continue
			}
			blasState.ok = true
			config := strings.TrimSpace(C.GoString(C.gollm_blas_config()))
			config = strings.TrimSpace(strings.TrimPrefix(config, "OpenBLAS"))
			desc := "openblas " + config
			core := C.GoString(C.gollm_blas_corename())
			if core != "" {
				desc += " core=" + core
			}
			blasState.kChunk = int32(blasKChunk(core))
			if f := C.GoString(&forced[0]); f != "" {
				desc += " (OPENBLAS_CORETYPE=" + f + " set by gollm)"
			}
			blasState.desc = desc
			t := gemmThreadCount()
			blasState.threads.Store(int32(t))
			C.gollm_blas_set_threads(C.int(t))
			return
		}
		blasState.err = fmt.Errorf("openblas not loaded: %s", strings.Join(errs, "; "))
		blasState.desc = "pure-go"
	})
	return blasState.ok
}

// BLAS names the GEMM backend in use: "openblas <version and build config>
// core=<kernel set>" when OpenBLAS was loaded, "pure-go" otherwise (see
// BLASError for why). The first call loads OpenBLAS if that has not
// happened yet.
func BLAS() string {
	blasLoad()
	return blasState.desc
}

// BLASError says why OpenBLAS is not in use (nil when it is).
func BLASError() error {
	blasLoad()
	return blasState.err
}

// SetThreads sets how many threads GEMM and GEMV use: the size of
// OpenBLAS's thread pool, and the goroutines of the pure-Go kernels (which
// ParallelFor further caps at MaxThreads). n < 1 means GOMAXPROCS. It loads
// OpenBLAS if that has not happened yet.
func SetThreads(n int) {
	n = gemmSetThreads(n)
	if blasLoad() && blasState.threads.Swap(int32(n)) != int32(n) {
		C.gollm_blas_set_threads(C.int(n))
	}
}

// ThreadsReproducible reports whether Sgemm and Linear give the same bits
// for any thread count with the backend in use, and if not, why. In this
// build: yes on the pure-Go kernels and on OpenBLAS's SkylakeX and
// Cooperlake cores (measured with 1 and 2 threads); no on the others, whose
// micro-kernels sum an output in an order that depends on where the
// threads' m/n partitions fall (measured on Haswell, Zen and Prescott: up
// to 92% of the outputs of a 4×11008×4096 product differ in the last bits;
// blasSgemm's k slicing, blasKChunk, is only done on the reproducible cores).
func ThreadsReproducible() (bool, string) {
	if !blasLoad() {
		return true, "pure-Go GEMM"
	}
	desc := blasState.desc
	switch core := strings.ToLower(C.GoString(C.gollm_blas_corename())); core {
	case "skylakex", "cooperlake":
		return true, desc
	default:
		return false, desc + ": its SGEMM's rounding depends on the thread count"
	}
}

// blasFits reports whether every argument fits OpenBLAS's 32-bit blasint.
func blasFits(vals ...int) bool {
	for _, v := range vals {
		if v > math.MaxInt32 {
			return false
		}
	}
	return true
}

// gemvUseBLAS reports whether Linear's m == 1 path should call OpenBLAS's
// sgemv rather than the pure-Go GEMV (measured faster where it loads).
func gemvUseBLAS() bool { return blasLoad() }

// blasSgemm runs Sgemm through cblas_sgemm and reports true, or reports
// false (doing nothing) when OpenBLAS is not available or a dimension does
// not fit its int. Arguments are checked by the caller; m, n, k > 0.
func blasSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	if !blasLoad() || !blasFits(m, n, k, lda, ldb, ldc) {
		return false
	}
	kc := blasKSlice(int(blasState.kChunk), k)
	for p := 0; p < k; p += kc {
		// Slices of at most kc of the k dimension (see blasKChunk): op(A)'s
		// columns p… start at a[p] (a[p·lda] when transposed), op(B)'s rows
		// at b[p·ldb] (b[p] when transposed); later slices add to C.
		ap, bp := p, p*ldb
		if transA {
			ap = p * lda
		}
		if transB {
			bp = p
		}
		blasSgemmRaw(transA, transB, m, n, min(kc, k-p), alpha, a[ap:], lda, b[bp:], ldb, beta, c, ldc)
		beta = 1
	}
	return true
}

// blasKChunk returns GEMM_Q, the k-slice of OpenBLAS's SGEMM, for the
// cores (openblas_get_corename) whose results blasSgemm can make the same
// for any thread count, and 0 for the others.
//
// Why: OpenBLAS blocks k into slices of GEMM_Q, but when the remainder R
// lies between GEMM_Q and 2·GEMM_Q its single-threaded driver (level3.c)
// takes ⌊R/2⌋ rounded up to GEMM_UNROLL_M first while the threaded one
// (level3_thread.c) takes ⌈R/2⌉. The float32 sums then group differently
// and the result depends on the thread count (measured: 300×300×5000 on
// SkylakeX, 62% of the outputs differ between 1 and 2 threads). Where the
// two rules disagree, blasSgemm cuts k itself into equal slices of at most
// GEMM_Q, which both drivers take whole; the threads split only m and n,
// so every output is then summed in the same order for any thread count.
// The values are SGEMM_DEFAULT_Q of OpenBLAS's param.h for x86-64 (both
// cores have GEMM_UNROLL_M 16). The other cores are not helped by this:
// their micro-kernels' rounding depends on where the threads' m/n
// partitions fall (ThreadsReproducible), so their products stay one call.
func blasKChunk(core string) int {
	switch strings.ToLower(core) {
	case "skylakex":
		return 448
	case "cooperlake":
		return 320
	default:
		return 0
	}
}

// blasKSlice returns the k of the slices blasSgemm cuts a product of depth
// k into (q = blasKChunk), or k itself where OpenBLAS's single-threaded and
// threaded drivers block it alike (q == 0: no slicing). Slices are equal
// and rounded up to 16, so they stay at most q (a multiple of 16).
func blasKSlice(q, k int) int {
	if q <= 0 || k <= q {
		return k
	}
	r := k // the remainder the drivers halve: in [q, 2q) once k ≥ q
	if k >= 2*q {
		r = (k-q)%q + q
	}
	if r == q || (r/2+15)/16*16 == (r+1)/2 {
		return k
	}
	slices := (k + q - 1) / q
	return ((k+slices-1)/slices + 15) / 16 * 16
}

// blasSgemmRaw is the bare cgo call to cblas_sgemm, without Sgemm's
// checks. The benchmarks use it to read off the overhead of Sgemm/Linear.
// It panics when OpenBLAS is not loaded (never a nil call into C).
func blasSgemmRaw(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !blasLoad() {
		panic("kernels: blasSgemmRaw called without OpenBLAS: " + blasState.err.Error())
	}
	C.gollm_blas_sgemm(blasBool(transA), blasBool(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), (*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

// blasSgemv computes y[:m] = alpha·A·x + beta·y through cblas_sgemv (A
// row-major m×n, row stride lda, x of length n) and reports true, or reports
// false when OpenBLAS is not available.
func blasSgemv(m, n int, alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) bool {
	if !blasLoad() || !blasFits(m, n, lda) {
		return false
	}
	C.gollm_blas_sgemv(C.int(m), C.int(n), C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&x[0])), C.float(beta), (*C.float)(unsafe.Pointer(&y[0])))
	return true
}

func blasBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
