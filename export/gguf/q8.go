package gguf

import (
	"encoding/binary"
	"math"

	"github.com/llmcbench/gollm/tensor"
)

// Q8Block is the number of values of a Q8_0 block.
const Q8Block = 32

// q8BlockBytes is a Q8_0 block's size: an f16 scale and 32 int8 values.
const q8BlockBytes = 2 + Q8Block

// QuantizeQ8_0 encodes x (a multiple of 32 values) as Q8_0 blocks appended
// to dst, gollm's way: each block's scale d is max|x|/127 rounded to f16,
// and each value is round-to-nearest (half away from zero) of x/d, with d
// the stored f16 scale so that decoding reproduces the rounding exactly,
// clamped to [-127, 127]. An all-zero block stores d = 0 and zeros.
// (llama.cpp's reference quantizer divides by the unrounded scale instead;
// the two differ by at most one step on a few values.)
func QuantizeQ8_0(dst []byte, x []float32) []byte {
	for b := 0; b+Q8Block <= len(x); b += Q8Block {
		blk := x[b : b+Q8Block]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		h := tensor.F32ToF16(amax / 127)
		d := tensor.F16ToF32(h)
		dst = binary.LittleEndian.AppendUint16(dst, h)
		for _, v := range blk {
			var q float64
			if d != 0 {
				q = math.Round(float64(v) / float64(d))
			}
			q = max(-127, min(127, q))
			dst = append(dst, byte(int8(q)))
		}
	}
	return dst
}

// DequantizeQ8_0 decodes Q8_0 blocks (src) into dst, one float per value.
func DequantizeQ8_0(dst []float32, src []byte) []float32 {
	for b := 0; b+q8BlockBytes <= len(src); b += q8BlockBytes {
		d := tensor.F16ToF32(binary.LittleEndian.Uint16(src[b:]))
		for _, q := range src[b+2 : b+q8BlockBytes] {
			dst = append(dst, d*float32(int8(q)))
		}
	}
	return dst
}
