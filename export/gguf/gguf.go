// Package gguf writes and reads GGUF files, the single-file model format of
// llama.cpp (ggml), and exports gollm's dense LLaMA-family checkpoints to it
// so the same model runs in llama.cpp.
//
// The layout (GGUF version 3, all integers little-endian):
//
//	"GGUF" | version u32 | tensor count u64 | metadata count u64
//	metadata: key (u64 length + bytes) | value type u32 | value
//	tensor infos: name | n_dims u32 | dims u64… (innermost first) | ggml type u32 | offset u64
//	padding to the alignment (general.alignment, default 32)
//	tensor data, each tensor starting at a multiple of the alignment
//
// A string is a u64 byte length and the bytes; an array is the element
// type u32, the element count u64 and the elements.
package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
)

// Magic and Version are the GGUF header fields this package writes.
const (
	Magic   = "GGUF"
	Version = 3
	// DefaultAlignment is the data alignment when general.alignment is
	// absent.
	DefaultAlignment = 32
)

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

// TensorType is a ggml tensor type.
type TensorType uint32

// The ggml tensor types this package writes and reads.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q4_0 TensorType = 2
	Q8_0 TensorType = 8
)

func (t TensorType) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q4_0:
		return "q4_0"
	case Q8_0:
		return "q8_0"
	}
	return fmt.Sprintf("ggml type %d", uint32(t))
}

// RowBytes returns the bytes of a row of n elements of type t, or an error
// when t is unknown or n does not fill whole quantization blocks.
func (t TensorType) RowBytes(n int) (int, error) {
	switch t {
	case F32:
		return 4 * n, nil
	case F16:
		return 2 * n, nil
	case Q8_0:
		if n%Q8Block != 0 {
			return 0, fmt.Errorf("q8_0 row of %d elements is not a multiple of %d", n, Q8Block)
		}
		return n / Q8Block * q8BlockBytes, nil
	case Q4_0:
		if n%Q4Block != 0 {
			return 0, fmt.Errorf("q4_0 row of %d elements is not a multiple of %d", n, Q4Block)
		}
		return n / Q4Block * q4BlockBytes, nil
	}
	return 0, fmt.Errorf("unsupported %s", t)
}

// Value is one metadata value: Type says which field holds it. An array
// holds its elements in Array (each a Value of type Elem).
type Value struct {
	Type  ValueType
	Uint  uint64 // unsigned integers and bool (0 or 1)
	Int   int64  // signed integers
	Float float64
	Str   string
	Elem  ValueType // array element type
	Array []Value
}

// Convenience constructors of metadata values.
func String(s string) Value   { return Value{Type: TypeString, Str: s} }
func Uint32(v uint32) Value   { return Value{Type: TypeUint32, Uint: uint64(v)} }
func Int32(v int32) Value     { return Value{Type: TypeInt32, Int: int64(v)} }
func Float32(v float32) Value { return Value{Type: TypeFloat32, Float: float64(v)} }

// Bool makes a boolean value.
func Bool(v bool) Value {
	x := Value{Type: TypeBool}
	if v {
		x.Uint = 1
	}
	return x
}

// Strings makes an array of strings.
func Strings(v []string) Value { return array(TypeString, v, String) }

// Float32s makes an array of float32.
func Float32s(v []float32) Value { return array(TypeFloat32, v, Float32) }

// Int32s makes an array of int32.
func Int32s(v []int32) Value { return array(TypeInt32, v, Int32) }

// array makes an array of elem values, one(x) for each x of v.
func array[T any](elem ValueType, v []T, one func(T) Value) Value {
	a := Value{Type: TypeArray, Elem: elem, Array: make([]Value, len(v))}
	for i, x := range v {
		a.Array[i] = one(x)
	}
	return a
}

// Tensor is one tensor of a GGUF file. Dims are ggml's, innermost
// (contiguous) first: a PyTorch weight of shape [out, in] has Dims
// [in, out]. Data holds the encoded bytes.
type Tensor struct {
	Name string
	Type TensorType
	Dims []uint64
	Data []byte
}

// File is a whole GGUF file in memory: metadata in Keys order (Meta holds
// the values) and tensors in file order.
type File struct {
	Keys      []string
	Meta      map[string]Value
	Tensors   []Tensor
	Alignment int
}

// Set adds or replaces a metadata key, keeping first-set order.
func (f *File) Set(key string, v Value) {
	if f.Meta == nil {
		f.Meta = map[string]Value{}
	}
	if _, ok := f.Meta[key]; !ok {
		f.Keys = append(f.Keys, key)
	}
	f.Meta[key] = v
}

// Add appends a tensor after checking that its data length matches its
// type and dims.
func (f *File) Add(t Tensor) error {
	if len(t.Dims) == 0 || len(t.Dims) > 4 {
		return fmt.Errorf("gguf: tensor %q: %d dims, want 1 to 4", t.Name, len(t.Dims))
	}
	rows := uint64(1)
	for _, d := range t.Dims[1:] {
		rows *= d
	}
	rb, err := t.Type.RowBytes(int(t.Dims[0]))
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	if want := uint64(rb) * rows; uint64(len(t.Data)) != want {
		return fmt.Errorf("gguf: tensor %q: %d bytes, want %d for %s %v", t.Name, len(t.Data), want, t.Type, t.Dims)
	}
	f.Tensors = append(f.Tensors, t)
	return nil
}

func (f *File) alignment() int {
	if f.Alignment > 0 {
		return f.Alignment
	}
	return DefaultAlignment
}

func pad(n int64, align int) int64 { return (n + int64(align) - 1) / int64(align) * int64(align) }

// WriteTo writes the file to w (buffered) and returns the bytes written.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	align := f.alignment()
	if align != DefaultAlignment {
		f.Set("general.alignment", Uint32(uint32(align)))
	}
	bw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	bw.write([]byte(Magic))
	bw.u32(Version)
	bw.u64(uint64(len(f.Tensors)))
	bw.u64(uint64(len(f.Keys)))
	for _, k := range f.Keys {
		bw.str(k)
		v := f.Meta[k]
		bw.u32(uint32(v.Type))
		if err := bw.value(v); err != nil {
			return bw.n, fmt.Errorf("gguf: key %q: %w", k, err)
		}
	}
	var off int64
	for _, t := range f.Tensors {
		bw.str(t.Name)
		bw.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			bw.u64(d)
		}
		bw.u32(uint32(t.Type))
		bw.u64(uint64(off))
		off = pad(off+int64(len(t.Data)), align)
	}
	bw.zeros(pad(bw.n, align) - bw.n)
	start := bw.n
	for _, t := range f.Tensors {
		bw.write(t.Data)
		bw.zeros(pad(bw.n-start, align) - (bw.n - start))
	}
	if bw.err != nil {
		return bw.n, bw.err
	}
	return bw.n, bw.w.(*bufio.Writer).Flush()
}

// SortedKeys returns the metadata keys in lexical order.
func (f *File) SortedKeys() []string {
	k := append([]string(nil), f.Keys...)
	sort.Strings(k)
	return k
}

// countWriter writes little-endian fields, remembering the first error.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (c *countWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *countWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(c.buf[:4], v)
	c.write(c.buf[:4])
}

func (c *countWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(c.buf[:], v)
	c.write(c.buf[:])
}

func (c *countWriter) str(s string) {
	c.u64(uint64(len(s)))
	c.write([]byte(s))
}

func (c *countWriter) zeros(n int64) {
	var z [64]byte
	for n > 0 {
		k := min(n, int64(len(z)))
		c.write(z[:k])
		n -= k
	}
}

func (c *countWriter) value(v Value) error {
	switch v.Type {
	case TypeUint8, TypeInt8, TypeBool:
		c.write([]byte{byte(v.Uint | uint64(v.Int))})
	case TypeUint16, TypeInt16:
		binary.LittleEndian.PutUint16(c.buf[:2], uint16(v.Uint|uint64(v.Int)))
		c.write(c.buf[:2])
	case TypeUint32, TypeInt32:
		c.u32(uint32(v.Uint | uint64(v.Int)))
	case TypeUint64, TypeInt64:
		c.u64(v.Uint | uint64(v.Int))
	case TypeFloat32:
		c.u32(math.Float32bits(float32(v.Float)))
	case TypeFloat64:
		c.u64(math.Float64bits(v.Float))
	case TypeString:
		c.str(v.Str)
	case TypeArray:
		if v.Elem == TypeArray {
			return fmt.Errorf("nested arrays are not written")
		}
		c.u32(uint32(v.Elem))
		c.u64(uint64(len(v.Array)))
		for _, e := range v.Array {
			if e.Type != v.Elem {
				return fmt.Errorf("array of %d holds a value of type %d", v.Elem, e.Type)
			}
			if err := c.value(e); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown value type %d", v.Type)
	}
	return nil
}
