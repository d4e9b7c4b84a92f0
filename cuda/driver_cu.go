//go:build cuda && !cudaemu

package cuda

/*
#cgo LDFLAGS: -L/usr/lib/x86_64-linux-gnu/stubs -L/usr/local/cuda/lib64/stubs -lcuda -ldl
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The hot path — a kernel launch — is one cgo call that makes the context
// current on whatever OS thread the goroutine runs on, then launches.
static int gl_launch(uintptr_t ctx, uintptr_t fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                     unsigned bz, void** args) {
	CUresult r = cuCtxSetCurrent((CUcontext)ctx);
	if (r != CUDA_SUCCESS) return (int)r;
	return (int)cuLaunchKernel((CUfunction)fn, gx, gy, gz, bx, by, bz, 0, 0, args, NULL);
}

static const char* gl_error_name(int r) {
	const char* s = NULL;
	if (cuGetErrorName((CUresult)r, &s) != CUDA_SUCCESS || s == NULL) return "unknown CUDA error";
	return s;
}

// cuBLAS, opened at run time by soname so that one binary runs with
// whatever CUDA version the machine has (13, 12 or 11). Only the entry
// points the engine calls are declared, with cuBLAS's ABI (enums are ints).
typedef int (*gl_blas_create_t)(void**);
typedef int (*gl_blas_destroy_t)(void*);
typedef int (*gl_blas_version_t)(void*, int*);
typedef int (*gl_blas_gemm_t)(void* handle, int transa, int transb, int m, int n, int k, const void* alpha,
                              const void* A, int Atype, int lda, long long strideA, const void* B, int Btype, int ldb,
                              long long strideB, const void* beta, void* C, int Ctype, int ldc, long long strideC,
                              int batch, int computeType, int algo);

// The library is loaded once per process; each driver has its own handle.
static void* gl_blas_lib;
static gl_blas_create_t gl_blas_create_fn;
static gl_blas_version_t gl_blas_version_fn;
static gl_blas_gemm_t gl_blas_gemm_fn;
static gl_blas_destroy_t gl_blas_destroy_fn;

// gl_blas_load loads libcublas from path (a soname or a file). lt, if not
// empty, is the matching libcublasLt, loaded first with RTLD_GLOBAL so that
// libcublas finds it even outside the loader's search path. Returns 0, or a
// negative code.
static int gl_blas_load(const char* path, const char* lt) {
	if (gl_blas_lib) return 0;
	if (lt[0] != 0) dlopen(lt, RTLD_NOW | RTLD_GLOBAL);
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) return -1;
	gl_blas_create_fn = (gl_blas_create_t)dlsym(lib, "cublasCreate_v2");
	gl_blas_version_fn = (gl_blas_version_t)dlsym(lib, "cublasGetVersion_v2");
	gl_blas_gemm_fn = (gl_blas_gemm_t)dlsym(lib, "cublasGemmStridedBatchedEx");
	gl_blas_destroy_fn = (gl_blas_destroy_t)dlsym(lib, "cublasDestroy_v2");
	if (!gl_blas_create_fn || !gl_blas_version_fn || !gl_blas_gemm_fn || !gl_blas_destroy_fn) {
		dlclose(lib);
		return -2;
	}
	gl_blas_lib = lib;
	return 0;
}

// gl_blas_create makes a handle in ctx; returns the cuBLAS version or a
// negative code.
static int gl_blas_create(uintptr_t ctx, uintptr_t* handle) {
	if (cuCtxSetCurrent((CUcontext)ctx) != CUDA_SUCCESS) return -3;
	void* h = NULL;
	if (gl_blas_create_fn(&h) != 0) return -4;
	int v = 0;
	gl_blas_version_fn(h, &v);
	*handle = (uintptr_t)h;
	return v;
}

// gl_blas_gemm: A and B of cudaDataType ab, C f32, CUBLAS_COMPUTE_32F (68),
// CUBLAS_GEMM_DEFAULT (-1). Returns the cublasStatus_t.
static int gl_blas_gemm(uintptr_t ctx, uintptr_t h, int ta, int tb, int m, int n, int k, float alpha, uintptr_t A,
                        int ab, int lda, long long sA, uintptr_t B, int ldb, long long sB, float beta, uintptr_t C,
                        int ldc, long long sC, int batch) {
	if (cuCtxSetCurrent((CUcontext)ctx) != CUDA_SUCCESS) return -3;
	return gl_blas_gemm_fn((void*)h, ta, tb, m, n, k, &alpha, (const void*)A, ab, lda, sA, (const void*)B, ab, ldb, sB,
	                       &beta, (void*)C, 0, ldc, sC, batch, 68, -1);
}

static void gl_blas_destroy(uintptr_t ctx, uintptr_t h) {
	cuCtxSetCurrent((CUcontext)ctx);
	gl_blas_destroy_fn((void*)h);
}

static uintptr_t gl_current_ctx(void) {
	CUcontext c = NULL;
	cuCtxGetCurrent(&c);
	return (uintptr_t)c;
}
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	cudakernels "github.com/llmcbench/gollm/kernels/cuda"
)

// cuDriver is the CUDA driver API through gorgonia.org/cu: the device's
// primary context (shared with cuBLAS, which uses the runtime API), the
// null stream, and the kernel module embedded from kernels/cuda.
type cuDriver struct {
	dev    cu.Device
	ctx    cu.CUContext
	cctx   C.uintptr_t // the same context as a C handle
	mod    cu.Module
	name   string
	sms    int
	mu     sync.Mutex // guards argv
	argv   unsafe.Pointer
	argp   unsafe.Pointer
	blasMu sync.Once
	blasID string
	blasH  C.uintptr_t
}

// blasLoad serialises loading the process-wide cuBLAS library.
var blasLoad sync.Mutex

const maxArgs = 64

// cuErr turns a CUresult into an error.
func cuErr(r C.int) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s (%d)", C.GoString(C.gl_error_name(r)), int(r))
}

// do runs f with the context current on a locked OS thread.
func (d *cuDriver) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return err
	}
	return f()
}

func openDriver(ordinal int) (driver, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: no usable driver: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d: %d device(s) present", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	d := &cuDriver{dev: dev}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("cuda: device %d: primary context: %w", ordinal, err)
	}
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	d.cctx = C.gl_current_ctx()
	name, _ := dev.Name()
	major, _ := dev.Attribute(cu.ComputeCapabilityMajor)
	minor, _ := dev.Attribute(cu.ComputeCapabilityMinor)
	d.sms, _ = dev.Attribute(cu.MultiprocessorCount)
	total, _ := dev.TotalMem()
	v := cu.Version()
	d.name = fmt.Sprintf("%s (sm_%d%d, %d SMs, %.1f GiB, CUDA driver %d.%d)", name, major, minor, d.sms,
		float64(total)/(1<<30), v/1000, v%1000/10)
	if d.mod, err = cu.LoadData(string(cudakernels.Fatbin)); err != nil {
		// The fatbin holds sm_80/sm_90 SASS and compute_80 PTX; try the PTX
		// alone in case the driver rejects the container.
		var err2 error
		if d.mod, err2 = cu.LoadData(cudakernels.PTX); err2 != nil {
			_ = dev.ReleasePrimaryCtx()
			return nil, fmt.Errorf("cuda: %s: loading the kernel module: fatbin: %v; ptx: %w", d.name, err, err2)
		}
	}
	d.argv = C.calloc(maxArgs, 8)
	d.argp = C.calloc(maxArgs, 8)
	for i := 0; i < maxArgs; i++ {
		*(*unsafe.Pointer)(unsafe.Add(d.argp, 8*i)) = unsafe.Add(d.argv, 8*i)
	}
	return d, nil
}

func (d *cuDriver) deviceName() string { return d.name }
func (d *cuDriver) smCount() int       { return d.sms }

func (d *cuDriver) memInfo() (free, total int64, err error) {
	err = d.do(func() error {
		var e error
		free, total, e = cu.MemInfo()
		return e
	})
	return
}

func (d *cuDriver) alloc(n int64) (devPtr, error) {
	var p cu.DevicePtr
	err := d.do(func() error {
		var e error
		p, e = cu.MemAlloc(n)
		return e
	})
	return devPtr(p), err
}

func (d *cuDriver) free(p devPtr) error {
	return d.do(func() error { return cu.MemFree(cu.DevicePtr(p)) })
}

func (d *cuDriver) htod(dst devPtr, src unsafe.Pointer, n int64) error {
	return d.do(func() error { return cu.MemcpyHtoD(cu.DevicePtr(dst), src, n) })
}

func (d *cuDriver) dtoh(dst unsafe.Pointer, src devPtr, n int64) error {
	return d.do(func() error { return cu.MemcpyDtoH(dst, cu.DevicePtr(src), n) })
}

func (d *cuDriver) dtod(dst, src devPtr, n int64) error {
	return d.do(func() error { return cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), n) })
}

func (d *cuDriver) zero(dst devPtr, n int64) error {
	return d.do(func() error { return cu.MemsetD8(cu.DevicePtr(dst), 0, n) })
}

// function returns the CUfunction handle of a kernel of the module. A
// cu.Function is a struct holding exactly the C handle; the size check
// guards that assumption.
func (d *cuDriver) function(name string) (uintptr, error) {
	var fn cu.Function
	err := d.do(func() error {
		var e error
		fn, e = d.mod.Function(name)
		return e
	})
	if err != nil {
		return 0, fmt.Errorf("kernel %q: %w", name, err)
	}
	if unsafe.Sizeof(fn) != unsafe.Sizeof(uintptr(0)) {
		return 0, fmt.Errorf("kernel %q: unexpected cu.Function layout", name)
	}
	return *(*uintptr)(unsafe.Pointer(&fn)), nil
}

func (d *cuDriver) launch(fn uintptr, grid, block dim3, args []uint64) error {
	if len(args) > maxArgs {
		return fmt.Errorf("%d kernel arguments", len(args))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(unsafe.Slice((*uint64)(d.argv), maxArgs), args)
	return cuErr(C.gl_launch(d.cctx, C.uintptr_t(fn), C.uint(grid.x), C.uint(grid.y), C.uint(grid.z),
		C.uint(block.x), C.uint(block.y), C.uint(block.z), (*unsafe.Pointer)(d.argp)))
}

// blasCandidates lists where cuBLAS may be: $GOLLM_CUBLAS, the sonames the
// loader finds (newest first), then the usual toolkit and pip locations.
func blasCandidates() []string {
	var c []string
	if p := os.Getenv("GOLLM_CUBLAS"); p != "" {
		c = append(c, p)
	}
	c = append(c, "libcublas.so.13", "libcublas.so.12", "libcublas.so.11")
	var found []string
	for _, pat := range []string{
		"/usr/local/cuda*/lib64/libcublas.so.1[1-9]",
		"/usr/local/cuda*/targets/*/lib/libcublas.so.1[1-9]",
		"/usr/lib/x86_64-linux-gnu/libcublas.so.1[1-9]",
		"/usr/local/lib/python3*/dist-packages/nvidia/cu*/lib/libcublas.so.1[1-9]",
		"/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib/libcublas.so.1[1-9]",
		"/usr/local/lib/python3*/site-packages/nvidia/cu*/lib/libcublas.so.1[1-9]",
		"/usr/local/lib/python3*/site-packages/nvidia/cublas/lib/libcublas.so.1[1-9]",
	} {
		m, _ := filepath.Glob(pat)
		found = append(found, m...)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(found)))
	return append(c, found...)
}

// blasPath is the library loaded for the process ("" until one is).
var blasPath string

func (d *cuDriver) blas() string {
	d.blasMu.Do(func() {
		blasLoad.Lock()
		if blasPath == "" {
			for _, path := range blasCandidates() {
				lt := ""
				if strings.Contains(path, "/") {
					lt = strings.Replace(path, "libcublas.so", "libcublasLt.so", 1)
				}
				cp, clt := C.CString(path), C.CString(lt)
				rc := C.gl_blas_load(cp, clt)
				C.free(unsafe.Pointer(cp))
				C.free(unsafe.Pointer(clt))
				if rc == 0 {
					blasPath = path
					break
				}
			}
		}
		blasLoad.Unlock()
		if blasPath == "" {
			return
		}
		var h C.uintptr_t
		if v := C.gl_blas_create(d.cctx, &h); v >= 0 {
			d.blasH = h
			d.blasID = fmt.Sprintf("cuBLAS %d (%s)", int(v), blasPath)
		}
	})
	return d.blasID
}

func (d *cuDriver) gemm(g *gemmCall) error {
	if d.blasID == "" {
		return fmt.Errorf("no cuBLAS library")
	}
	r := C.gl_blas_gemm(d.cctx, d.blasH, b2i(g.transA), b2i(g.transB), C.int(g.m), C.int(g.n), C.int(g.k), C.float(g.alpha),
		C.uintptr_t(g.a), C.int(g.ab.cudaType()), C.int(g.lda), C.longlong(g.strideA),
		C.uintptr_t(g.b), C.int(g.ldb), C.longlong(g.strideB), C.float(g.beta),
		C.uintptr_t(g.c), C.int(g.ldc), C.longlong(g.strideC), C.int(g.batch))
	if r != 0 {
		return fmt.Errorf("cublasGemmStridedBatchedEx(%dx%dx%d, batch %d): status %d", g.m, g.n, g.k, g.batch, int(r))
	}
	return nil
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (d *cuDriver) sync() error { return d.do(cu.Synchronize) }

func (d *cuDriver) timer() (func() (float64, error), error) {
	var prev cu.Event
	err := d.do(func() error {
		var e error
		if prev, e = cu.MakeEvent(cu.DefaultEvent); e != nil {
			return e
		}
		return prev.Record(cu.Stream{})
	})
	if err != nil {
		return nil, err
	}
	return func() (float64, error) {
		var ms float64
		err := d.do(func() error {
			ev, e := cu.MakeEvent(cu.DefaultEvent)
			if e != nil {
				return e
			}
			if e = ev.Record(cu.Stream{}); e != nil {
				return e
			}
			if e = ev.Synchronize(); e != nil {
				return e
			}
			ms, e = prev.Elapsed(ev)
			_ = cu.DestroyEvent(&prev)
			prev = ev
			return e
		})
		return ms, err
	}, nil
}

func (d *cuDriver) close() error {
	err := d.do(func() error {
		if d.blasH != 0 {
			C.gl_blas_destroy(d.cctx, d.blasH)
			d.blasH = 0
		}
		if e := d.mod.Unload(); e != nil {
			return e
		}
		return nil
	})
	C.free(d.argv)
	C.free(d.argp)
	if e := d.dev.ReleasePrimaryCtx(); err == nil {
		err = e
	}
	return err
}

// emulated reports the cudaemu build (tests shorten their runs).
const emulated = false
