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

// Q4Block is the number of values of a Q4_0 block.
const Q4Block = 32

// q4BlockBytes is a Q4_0 block's size: an f16 scale and 32 4-bit values,
// value j in the low nibble of byte j and value j+16 in its high nibble.
const q4BlockBytes = 2 + Q4Block/2

// QuantizeQ4_0 encodes x (a multiple of 32 values) as Q4_0 blocks appended
// to dst, gollm's way: each block's scale d is m/-8 rounded to f16, where m
// is the block's value of largest magnitude (so m itself maps to the code
// 0, i.e. -8·d, using the whole range -8…7), and each value's code is
// round-to-nearest (half away from zero) of x/d plus 8, with the stored f16
// scale, clamped to [0, 15]. Decoding gives (code-8)·d.
func QuantizeQ4_0(dst []byte, x []float32) []byte {
	for b := 0; b+Q4Block <= len(x); b += Q4Block {
		blk := x[b : b+Q4Block]
		var m float32
		for _, v := range blk {
			if math.Abs(float64(v)) > math.Abs(float64(m)) {
				m = v
			}
		}
		h := tensor.F32ToF16(m / -8)
		d := tensor.F16ToF32(h)
		dst = binary.LittleEndian.AppendUint16(dst, h)
		code := func(v float32) byte {
			if d == 0 {
				return 8
			}
			return byte(max(0, min(15, math.Round(float64(v)/float64(d))+8)))
		}
		for j := range Q4Block / 2 {
			dst = append(dst, code(blk[j])|code(blk[j+Q4Block/2])<<4)
		}
	}
	return dst
}

// DequantizeQ4_0 decodes Q4_0 blocks (src) into dst, one float per value.
func DequantizeQ4_0(dst []float32, src []byte) []float32 {
	for b := 0; b+q4BlockBytes <= len(src); b += q4BlockBytes {
		d := tensor.F16ToF32(binary.LittleEndian.Uint16(src[b:]))
		qs := src[b+2 : b+q4BlockBytes]
		for _, q := range qs {
			dst = append(dst, d*float32(int(q&15)-8))
		}
		for _, q := range qs {
			dst = append(dst, d*float32(int(q>>4)-8))
		}
	}
	return dst
}
