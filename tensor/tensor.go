package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/llmcbench/gollm/kernels"
)

// Tensor is a named, typed, shaped block of little-endian bytes. Data may
// alias a memory-mapped file: treat it as read-only unless you made it.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Numel returns the number of elements (1 for a scalar).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Numel returns the number of elements of t.
func (t *Tensor) Numel() int { return Numel(t.Shape) }

// FromFloat32 makes an F32 tensor holding a copy of v.
func FromFloat32(name string, shape []int, v []float32) *Tensor {
	t := &Tensor{Name: name, DType: F32, Shape: append([]int(nil), shape...), Data: make([]byte, 4*len(v))}
	for i, x := range v {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(x))
	}
	return t
}

// Encode converts v to dtype (F32, F16 or BF16, rounding to nearest even)
// and returns a new tensor.
func Encode(name string, dtype DType, shape []int, v []float32) (*Tensor, error) {
	t := &Tensor{Name: name, DType: dtype, Shape: append([]int(nil), shape...)}
	switch dtype {
	case F32:
		return FromFloat32(name, shape, v), nil
	case F16:
		t.Data = make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(t.Data[2*i:], F32ToF16(x))
		}
	case BF16:
		t.Data = make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(t.Data[2*i:], F32ToBF16(x))
		}
	default:
		return nil, fmt.Errorf("tensor %q: cannot encode floats as %s", name, dtype)
	}
	return t, nil
}

// Float32 converts t to a new []float32. Floating-point and integer types
// are converted by value; BOOL gives 0 or 1.
func (t *Tensor) Float32() ([]float32, error) {
	n := t.Numel()
	if len(t.Data) != n*t.DType.Size() {
		return nil, fmt.Errorf("tensor %q: %d bytes for %d elements of %s", t.Name, len(t.Data), n, t.DType)
	}
	dst := make([]float32, n)
	if err := t.ConvertTo(dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ConvertTo converts t into dst (len(dst) must equal t.Numel()), splitting
// large conversions over the CPU cores.
func (t *Tensor) ConvertTo(dst []float32) error {
	n := t.Numel()
	if len(dst) != n || len(t.Data) != n*t.DType.Size() {
		return fmt.Errorf("tensor %q: convert %d elements of %s into %d floats", t.Name, n, t.DType, len(dst))
	}
	d := t.Data
	kernels.ParallelFor(n, 1<<16, func(lo, hi int) {
		switch t.DType {
		case F32, F16, BF16:
			convertRange(t.DType, d, dst, lo, hi)
		case F64:
			for i := lo; i < hi; i++ {
				dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
			}
		case I8:
			for i := lo; i < hi; i++ {
				dst[i] = float32(int8(d[i]))
			}
		case U8, Bool:
			for i := lo; i < hi; i++ {
				dst[i] = float32(d[i])
			}
		case I16:
			for i := lo; i < hi; i++ {
				dst[i] = float32(int16(binary.LittleEndian.Uint16(d[2*i:])))
			}
		case I32:
			for i := lo; i < hi; i++ {
				dst[i] = float32(int32(binary.LittleEndian.Uint32(d[4*i:])))
			}
		case I64:
			for i := lo; i < hi; i++ {
				dst[i] = float32(int64(binary.LittleEndian.Uint64(d[8*i:])))
			}
		case F8E4M3:
			for i := lo; i < hi; i++ {
				dst[i] = f8e4m3Table[d[i]]
			}
		case F8E5M2:
			for i := lo; i < hi; i++ {
				dst[i] = f16Table[uint16(d[i])<<8]
			}
		}
	})
	return nil
}

// Int64 converts an integer tensor to []int64.
func (t *Tensor) Int64() ([]int64, error) {
	n := t.Numel()
	if len(t.Data) != n*t.DType.Size() {
		return nil, fmt.Errorf("tensor %q: %d bytes for %d elements of %s", t.Name, len(t.Data), n, t.DType)
	}
	out := make([]int64, n)
	d := t.Data
	for i := range out {
		switch t.DType {
		case I64:
			out[i] = int64(binary.LittleEndian.Uint64(d[8*i:]))
		case I32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(d[4*i:])))
		case I16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(d[2*i:])))
		case I8:
			out[i] = int64(int8(d[i]))
		case U8, Bool:
			out[i] = int64(d[i])
		default:
			return nil, fmt.Errorf("tensor %q: %s is not an integer type", t.Name, t.DType)
		}
	}
	return out, nil
}

// Int32s views an I32 tensor's bytes as []int32 without copying (the host
// is little-endian on every platform gollm supports).
func (t *Tensor) Int32s() ([]int32, error) {
	if t.DType != I32 || len(t.Data) != 4*t.Numel() {
		return nil, fmt.Errorf("tensor %q: want I32, have %s", t.Name, t.DType)
	}
	if len(t.Data) == 0 {
		return nil, nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&t.Data[0])), len(t.Data)/4), nil
}
