package compress

import (
	"math"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
)

// Quantized is a linear layer's quantized weight as a method produces it:
// integer codes and per-(group, output row) scales and zero points, with
// W[o,i] = (Q[o,i] − Zeros[g,o])·Scales[g,o] where g = GIdx[i] (or
// i/GroupSize when GIdx is nil). It is packed.Quantized, the one type a
// packed weight has from here to the saved checkpoint and the kernel.
type Quantized = packed.Quantized

// roundScale rounds a scale to the nearest float16 value (GPTQ/AWQ
// checkpoints store scales in float16), keeping it positive and finite, so
// that the codes a method chooses dequantize to exactly what it measured.
func roundScale(s float32) float32 {
	r := tensor.F16ToF32(tensor.F32ToF16(s))
	switch {
	case r <= 0 || math.IsNaN(float64(r)):
		return 0x1p-24 // the smallest float16 subnormal
	case math.IsInf(float64(r), 1):
		return 65504
	}
	return r
}

// roundEven is torch.round: half-way cases go to the even integer.
func roundEven(x float32) float32 { return float32(math.RoundToEven(float64(x))) }

// quantCode is the reference quantize(): clamp(round(w/scale)+zero, 0, maxq).
func quantCode(w, scale, zero, maxq float32) uint8 {
	q := roundEven(w/scale) + zero
	if q < 0 || q != q {
		q = 0
	}
	if q > maxq {
		q = maxq
	}
	return uint8(q)
}

// gptqParams computes GPTQ's Quantizer.find_params for one row's group x:
// the range is extended to contain 0; asymmetric scale (max−min)/maxq with
// zero round(−min/scale); symmetric range ±max|x| with zero (maxq+1)/2.
// The scale is rounded to float16.
func gptqParams(x []float32, bits int, sym bool) (scale, zero float32) {
	maxq := float32(int(1)<<bits - 1)
	var lo, hi float32
	for _, v := range x {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	if sym {
		hi = max(-lo, hi)
		if lo < 0 {
			lo = -hi
		}
	}
	if lo == 0 && hi == 0 {
		lo, hi = -1, 1
	}
	scale = roundScale((hi - lo) / maxq)
	if sym {
		return scale, (maxq + 1) / 2
	}
	return scale, roundEven(-lo / scale)
}

// awqParams computes AWQ's pseudo_quantize_tensor parameters for one group:
// asymmetric scale max((max−min), 1e-5)/maxq and zero clamp(−round(min/scale),
// 0, maxq) over the group's own range (not extended to 0); symmetric
// (zero_point=False) scale max(max|x|, 1e-5)/(2^(b−1)−1) with codes offset
// by 2^(b−1). The scale is rounded to float16.
func awqParams(x []float32, bits int, sym bool) (scale, zero float32) {
	if sym {
		var m float32
		for _, v := range x {
			m = max(m, float32(math.Abs(float64(v))))
		}
		return roundScale(max(m, 1e-5) / float32(int(1)<<(bits-1)-1)), float32(int(1) << (bits - 1))
	}
	maxq := float32(int(1)<<bits - 1)
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	scale = roundScale(max(hi-lo, 1e-5) / maxq)
	zero = min(max(-roundEven(lo/scale), 0), maxq)
	return scale, zero
}

// paramsFunc computes one group's scale and zero.
type paramsFunc func(x []float32, bits int, sym bool) (scale, zero float32)

// groupQuantize quantizes w [out×in] group by group with the given
// parameter rule (round to nearest: RTN, AWQ's final step, SmoothQuant's
// weights). groupSize ≤ 0 or ≥ in means one group per row.
func groupQuantize(w []float32, out, in, bits, groupSize int, sym bool, params paramsFunc) *Quantized {
	if groupSize <= 0 || groupSize > in {
		groupSize = in
	}
	q := &Quantized{Out: out, In: in, Bits: bits, GroupSize: groupSize, Sym: sym, Q: make([]uint8, out*in)}
	ng := q.NumGroups()
	q.Scales = make([]float32, ng*out)
	q.Zeros = make([]float32, ng*out)
	maxq := float32(int(1)<<bits - 1)
	kernels.ParallelFor(out, 8, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			row := w[o*in : o*in+in]
			for g := 0; g < ng; g++ {
				c0, c1 := g*groupSize, min(g*groupSize+groupSize, in)
				s, z := params(row[c0:c1], bits, sym)
				q.Scales[g*out+o], q.Zeros[g*out+o] = s, z
				for i := c0; i < c1; i++ {
					q.Q[o*in+i] = quantCode(row[i], s, z, maxq)
				}
			}
		}
	})
	return q
}

// RTNQuantize is round-to-nearest quantization of w [out×in] with GPTQ's
// quantizer (per output row and group of groupSize columns; -1 for one
// group per row), the baseline GPTQ compares against.
func RTNQuantize(w []float32, out, in, bits, groupSize int, sym bool) *Quantized {
	return groupQuantize(w, out, in, bits, groupSize, sym, gptqParams)
}
