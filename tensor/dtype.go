// Package tensor holds gollm's host-side tensor storage: element types,
// shapes, float16/bfloat16/float8 conversion, and the safetensors reader
// (memory-mapped, lazy, sharded) and writer.
package tensor

import (
	"fmt"
	"math"

	"github.com/x448/float16"
)

// DType is an element type as safetensors names it.
type DType uint8

// The element types gollm reads. F8E4M3 and F8E5M2 are readable (converted
// to float32) but not computed in.
const (
	Invalid DType = iota
	F32
	F16
	BF16
	F64
	I8
	U8
	I16
	I32
	I64
	Bool
	F8E4M3
	F8E5M2
)

var dtypeNames = [...]string{
	Invalid: "INVALID", F32: "F32", F16: "F16", BF16: "BF16", F64: "F64",
	I8: "I8", U8: "U8", I16: "I16", I32: "I32", I64: "I64", Bool: "BOOL",
	F8E4M3: "F8_E4M3", F8E5M2: "F8_E5M2",
}

var dtypeSizes = [...]int{
	F32: 4, F16: 2, BF16: 2, F64: 8, I8: 1, U8: 1, I16: 2, I32: 4, I64: 8,
	Bool: 1, F8E4M3: 1, F8E5M2: 1,
}

// String returns the safetensors spelling of d ("F16", "BF16", ...).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", d)
}

// Size returns the size of one element in bytes (0 for Invalid).
func (d DType) Size() int {
	if int(d) < len(dtypeSizes) {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case F32, F16, BF16, F64, F8E4M3, F8E5M2:
		return true
	}
	return false
}

// ParseDType parses a safetensors dtype name; it also accepts the
// PyTorch-style names used in config.json ("float16", "bfloat16",
// "float32").
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if i > 0 && n == s {
			return DType(i), nil
		}
	}
	switch s {
	case "float32", "torch.float32", "float":
		return F32, nil
	case "float16", "torch.float16", "half":
		return F16, nil
	case "bfloat16", "torch.bfloat16":
		return BF16, nil
	}
	return Invalid, fmt.Errorf("unknown dtype %q", s)
}

// F16ToF32 converts one IEEE half-precision value.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// F32ToF16 converts with round-to-nearest-even (IEEE semantics).
func F32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

// BF16ToF32 converts one bfloat16 value (exact).
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToBF16 converts with round-to-nearest-even, as PyTorch does; NaN stays
// a quiet NaN.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// F8E4M3ToF32 converts one float8 e4m3fn value (the OCP "fn" variant: no
// infinities, S.1111.111 is NaN).
func F8E4M3ToF32(b uint8) float32 { return f8e4m3Table[b] }

// F8E5M2ToF32 converts one float8 e5m2 value (the top byte of a float16).
func F8E5M2ToF32(b uint8) float32 { return f16Table[uint16(b)<<8] }

var (
	f16Table    [1 << 16]float32
	f8e4m3Table [256]float32
)

func init() {
	for i := range f16Table {
		f16Table[i] = float16.Frombits(uint16(i)).Float32()
	}
	for i := range f8e4m3Table {
		sign := float32(1)
		if i&0x80 != 0 {
			sign = -1
		}
		exp := (i >> 3) & 0xf
		man := i & 0x7
		var v float32
		switch {
		case exp == 0xf && man == 0x7:
			v = float32(math.NaN())
		case exp == 0:
			v = float32(man) / 8 * float32(math.Ldexp(1, -6))
		default:
			v = (1 + float32(man)/8) * float32(math.Ldexp(1, exp-7))
		}
		f8e4m3Table[i] = sign * v
	}
}
