//go:build !cgo || purego

package kernels

// Without cgo (or with the purego tag) the quantized and 2:4 kernels are the
// pure-Go ones in quant_group.go, quant_w8a8.go and sparse24.go.

// QuantKernels names the quantized/sparse kernel implementation in use:
// always "go" in this build.
func QuantKernels() string { return "go" }

func quantGroupNative(*QuantGroupMatrix, []float32, []float32, int, []float32, int, int) bool {
	return false
}

func w8a8Native(*QuantW8A8Matrix, []float32, []int8, []uint8, []float32, int, []float32, int, int) bool {
	return false
}

func w8a8UseVNNI() bool { return false }

func sparse24Native(*Sparse24Matrix, []float32, []float32, int, []float32, int, int) bool {
	return false
}

func quantDequantNative(*QuantGroupMatrix, []float32, int, int) bool { return false }

// QuantActKernel names the kernel of the int4/int8 group-quantized GEMV:
// always "f32-act" (codes unpacked to float32) in this build.
func QuantActKernel() string { return "f32-act" }

// SetQuantActInt8 reports false: this build has no int8-activation kernel.
func SetQuantActInt8(bool) bool { return false }

func quantQ8BestISA() int { return 0 }

func quantQ8Native() bool { return false }

func quantQ8Kernel(*QuantGroupMatrix, []float32, []int8, []float32, []float32, int, []float32, int, int) {
}

func quantQ8Select(int) int { return 0 }

func quantizeQ8RowsNative(xq []int8, sx, xs, x []float32, rows, in, G, cbits int) {
	quantizeQ8Rows(xq, sx, xs, x, rows, in, G, cbits)
}
