//go:build cudaemu

package cuda

/*
#cgo CXXFLAGS: -std=c++17 -O2 -fno-strict-aliasing
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

int emu_kernel_count(void);
const char* emu_kernel_name(int i);
int emu_launch(int k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void** args,
               char* err, int errlen);
int emu_gemm(int transa, int transb, int m, int n, int k, float alpha, const void* A, int atype, int lda,
             long long strideA, const void* B, int ldb, long long strideB, float beta, float* C, int ldc,
             long long strideC, int batch);

// Device addresses travel as integers; these helpers turn them back into
// pointers on the C side.
static uintptr_t emu_alloc(size_t n) {
	void* p = NULL;
	if (posix_memalign(&p, 256, n) != 0) return 0;
	memset(p, 0xff, n);  // NaNs: reading unwritten memory shows in the results
	return (uintptr_t)p;
}
static void emu_free(uintptr_t p) { free((void*)p); }
static void emu_copy(uintptr_t dst, uintptr_t src, size_t n) { memmove((void*)dst, (const void*)src, n); }
static void emu_zero(uintptr_t dst, size_t n) { memset((void*)dst, 0, n); }
static int emu_gemm_u(int transa, int transb, int m, int n, int k, float alpha, uintptr_t A, int atype, int lda,
             long long strideA, uintptr_t B, int ldb, long long strideB, float beta, uintptr_t C, int ldc,
             long long strideC, int batch) {
	return emu_gemm(transa, transb, m, n, k, alpha, (const void*)A, atype, lda, strideA, (const void*)B, ldb, strideB,
		beta, (float*)C, ldc, strideC, batch);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// emuMemory is the emulated device's memory budget, so that the
// out-of-memory paths can be exercised.
var emuMemory int64 = 8 << 30

// emuDriver runs the kernels on the CPU emulator; device memory is C heap
// memory and device addresses are host addresses.
type emuDriver struct {
	mu    sync.Mutex
	names map[string]int
	used  int64
	sizes map[devPtr]int64
	argv  unsafe.Pointer // C memory: 64 slots of 8 bytes
	argp  unsafe.Pointer // C memory: 64 pointers into argv
	err   *C.char
}

const maxArgs = 64

func openDriver(ordinal int) (driver, error) {
	if ordinal != 0 {
		return nil, fmt.Errorf("cuda: device %d: the emulator has one device", ordinal)
	}
	d := &emuDriver{names: map[string]int{}, sizes: map[devPtr]int64{}}
	for i := 0; i < int(C.emu_kernel_count()); i++ {
		d.names[C.GoString(C.emu_kernel_name(C.int(i)))] = i
	}
	d.argv = C.calloc(maxArgs, 8)
	d.argp = C.calloc(maxArgs, 8)
	for i := 0; i < maxArgs; i++ {
		*(*unsafe.Pointer)(unsafe.Add(d.argp, 8*i)) = unsafe.Add(d.argv, 8*i)
	}
	d.err = (*C.char)(C.calloc(1024, 1))
	return d, nil
}

func (d *emuDriver) deviceName() string { return "CPU emulator (cudaemu build)" }
func (d *emuDriver) smCount() int       { return 4 }

func (d *emuDriver) memInfo() (int64, int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return emuMemory - d.used, emuMemory, nil
}

// errOutOfMemory mirrors CUDA_ERROR_OUT_OF_MEMORY.
var errOutOfMemory = errors.New("out of memory")

func (d *emuDriver) alloc(n int64) (devPtr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used+n > emuMemory {
		return 0, errOutOfMemory
	}
	p := devPtr(C.emu_alloc(C.size_t(n)))
	if p == 0 {
		return 0, errOutOfMemory
	}
	d.used += n
	d.sizes[p] = n
	return p, nil
}

func (d *emuDriver) free(p devPtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.sizes[p]
	if !ok {
		return fmt.Errorf("emulator: free of unknown address %#x", p)
	}
	delete(d.sizes, p)
	d.used -= n
	C.emu_free(C.uintptr_t(p))
	return nil
}

func (d *emuDriver) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	C.emu_copy(C.uintptr_t(dst), C.uintptr_t(uintptr(src)), C.size_t(n))
	return nil
}

func (d *emuDriver) dtoh(dst unsafe.Pointer, src devPtr, n int64) error {
	C.emu_copy(C.uintptr_t(uintptr(dst)), C.uintptr_t(src), C.size_t(n))
	return nil
}

func (d *emuDriver) dtod(dst, src devPtr, n int64) error {
	C.emu_copy(C.uintptr_t(dst), C.uintptr_t(src), C.size_t(n))
	return nil
}

func (d *emuDriver) zero(dst devPtr, n int64) error {
	C.emu_zero(C.uintptr_t(dst), C.size_t(n))
	return nil
}

func (d *emuDriver) function(name string) (uintptr, error) {
	k, ok := d.names[name]
	if !ok {
		return 0, fmt.Errorf("emulator: kernel %q is not in kernels.def", name)
	}
	return uintptr(k), nil
}

func (d *emuDriver) launch(fn uintptr, grid, block dim3, args []uint64) error {
	if len(args) > maxArgs {
		return fmt.Errorf("emulator: %d kernel arguments", len(args))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(unsafe.Slice((*uint64)(d.argv), maxArgs), args)
	if C.emu_launch(C.int(fn), C.uint(grid.x), C.uint(grid.y), C.uint(grid.z), C.uint(block.x), C.uint(block.y), C.uint(block.z),
		(*unsafe.Pointer)(d.argp), d.err, 1024) != 0 {
		return errors.New(C.GoString(d.err))
	}
	return nil
}

func (d *emuDriver) blas() string { return "reference GEMM (emulated cuBLAS)" }

func (d *emuDriver) gemm(g *gemmCall) error {
	C.emu_gemm_u(b2i(g.transA), b2i(g.transB), C.int(g.m), C.int(g.n), C.int(g.k), C.float(g.alpha),
		C.uintptr_t(g.a), C.int(g.ab.cudaType()), C.int(g.lda), C.longlong(g.strideA),
		C.uintptr_t(g.b), C.int(g.ldb), C.longlong(g.strideB), C.float(g.beta),
		C.uintptr_t(g.c), C.int(g.ldc), C.longlong(g.strideC), C.int(g.batch))
	return nil
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (d *emuDriver) sync() error { return nil }

func (d *emuDriver) timer() (func() (float64, error), error) {
	last := time.Now()
	return func() (float64, error) {
		now := time.Now()
		ms := float64(now.Sub(last).Nanoseconds()) / 1e6
		last = now
		return ms, nil
	}, nil
}

func (d *emuDriver) close() error {
	C.free(d.argv)
	C.free(d.argp)
	C.free(unsafe.Pointer(d.err))
	return nil
}

// emulated reports the cudaemu build (tests shorten their runs).
const emulated = true

func init() { allocGranularity = 4 }
