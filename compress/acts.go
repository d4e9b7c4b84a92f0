package compress

import (
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// actStore holds one block boundary's activations for every calibration
// sample. For float16 and bfloat16 models they are stored in that dtype —
// half the memory, and what the references keep (their inputs buffer has
// the model's dtype); float32 models keep float32.
type actStore struct {
	dtype tensor.DType
	f32   [][]float32
	h16   [][]uint16
}

func newActStore(n int, dtype tensor.DType) *actStore {
	a := &actStore{dtype: dtype}
	switch dtype {
	case tensor.F16, tensor.BF16:
		a.h16 = make([][]uint16, n)
	default:
		a.dtype = tensor.F32
		a.f32 = make([][]float32, n)
	}
	return a
}

// samples returns the number of samples.
func (a *actStore) samples() int { return max(len(a.f32), len(a.h16)) }

// get writes sample s into dst (grown as needed) as float32 and returns it.
func (a *actStore) get(s int, dst []float32) []float32 {
	if a.f32 != nil {
		dst = grow(dst, len(a.f32[s]))
		copy(dst, a.f32[s])
		return dst
	}
	src := a.h16[s]
	dst = grow(dst, len(src))
	conv := tensor.F16ToF32
	if a.dtype == tensor.BF16 {
		conv = tensor.BF16ToF32
	}
	convertAll(dst, src, conv)
	return dst
}

// put stores src as sample s (rounded to the store's dtype).
func (a *actStore) put(s int, src []float32) {
	if a.f32 != nil {
		a.f32[s] = append(a.f32[s][:0], src...)
		return
	}
	if cap(a.h16[s]) < len(src) {
		a.h16[s] = make([]uint16, len(src))
	}
	dst := a.h16[s][:len(src)]
	a.h16[s] = dst
	conv := tensor.F32ToF16
	if a.dtype == tensor.BF16 {
		conv = tensor.F32ToBF16
	}
	convertAll(dst, src, conv)
}

// convertAll sets dst[i] = conv(src[i]) for every i of src, over the CPU
// cores.
func convertAll[S, D any](dst []D, src []S, conv func(S) D) {
	kernels.ParallelFor(len(src), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = conv(src[i])
		}
	})
}
