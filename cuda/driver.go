//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/llmcbench/gollm/internal/badinput"
)

// devPtr is a device address.
type devPtr uintptr

// dim3 is a CUDA grid or block shape.
type dim3 struct{ x, y, z int }

// gemmCall is one cublasGemmStridedBatchedEx: column-major
// C[i, j] = alpha·Σ_l op(A)[i, l]·op(B)[l, j] + beta·C[i, j] for each of
// batch matrices, A and B of the same dtype, C f32, f32 accumulation.
// Strides and leading dimensions count elements.
type gemmCall struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	ab             dtype
	a              devPtr
	lda            int
	strideA        int64
	b              devPtr
	ldb            int
	strideB        int64
	c              devPtr
	ldc            int
	strideC        int64
	batch          int
}

// driver is what the backend needs from a device: the CUDA driver API
// (driver_cu.go) or the CPU emulator (driver_emu.go). Every method may be
// called from any goroutine; implementations make their context current.
type driver interface {
	// deviceName describes the device, e.g. "NVIDIA H200 (sm_90, 132 SMs, 140.4 GiB)".
	deviceName() string
	// smCount is the number of streaming multiprocessors.
	smCount() int
	memInfo() (free, total int64, err error)
	alloc(bytes int64) (devPtr, error)
	free(p devPtr) error
	htod(dst devPtr, src unsafe.Pointer, bytes int64) error
	dtoh(dst unsafe.Pointer, src devPtr, bytes int64) error
	dtod(dst, src devPtr, bytes int64) error
	zero(dst devPtr, bytes int64) error
	// function looks a kernel up by name in the loaded module.
	function(name string) (uintptr, error)
	// launch enqueues fn; args holds one 8-byte slot per kernel parameter
	// (4-byte parameters in the low half).
	launch(fn uintptr, grid, block dim3, args []uint64) error
	// blas names the loaded GEMM library ("" when there is none).
	blas() string
	gemm(g *gemmCall) error
	sync() error
	// timer returns a function that records an event and reports the
	// milliseconds since the previous one (device time).
	timer() (func() (float64, error), error)
	close() error
}

// dtype is a storage type on the device.
type dtype int

const (
	f32 dtype = iota
	f16
	bf16
)

func (d dtype) size() int64 {
	if d == f32 {
		return 4
	}
	return 2
}

// String returns the name used in kernel suffixes and options.
func (d dtype) String() string { return [...]string{"f32", "f16", "bf16"}[d] }

// cudaType is the cudaDataType_t value cuBLAS uses.
func (d dtype) cudaType() int { return [...]int{0, 2, 14}[d] }

// ErrBadOption marks an invalid Options value (a usage error).
var ErrBadOption = badinput.New("bad option")

func parseDType(s string) (dtype, error) {
	switch s {
	case "", "f16", "fp16", "float16", "half":
		return f16, nil
	case "bf16", "bfloat16":
		return bf16, nil
	case "f32", "fp32", "float32":
		return f32, nil
	}
	return 0, fmt.Errorf("cuda: dtype %q: %w: want f16, bf16 or f32", s, ErrBadOption)
}

// Kernel argument encoders: each parameter occupies one 8-byte slot.
func argP(p devPtr) uint64 { return uint64(p) }
func argI(v int) uint64 {
	if v != int(int32(v)) {
		panic(fmt.Sprintf("cuda: kernel argument %d overflows int32", v))
	}
	return uint64(uint32(int32(v)))
}
func argF(v float32) uint64 { return uint64(math.Float32bits(v)) }
func argI64(v int64) uint64 { return uint64(v) }
func ceilDiv(a, b int) int  { return (a + b - 1) / b }
