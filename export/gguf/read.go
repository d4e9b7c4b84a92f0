package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/llmcbench/gollm/internal/badinput"
)

// ErrBadGGUF marks a malformed GGUF file (bad input: exit code 2).
var ErrBadGGUF = badinput.New("bad gguf file")

// ReadFile reads and parses the GGUF file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badinput.Missing(fmt.Errorf("gguf %s: %w", path, err))
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("gguf %s: %w", path, err)
	}
	return f, nil
}

// Parse parses a whole GGUF file (version 2 or 3) held in b. Tensor data
// aliases b. Every count and offset is checked against len(b), so a
// malformed file is an ErrBadGGUF error, never a panic or a huge
// allocation.
func Parse(b []byte) (*File, error) {
	r := &reader{b: b}
	f, err := r.file()
	if err != nil {
		return nil, fmt.Errorf("%w: %v (at byte %d)", ErrBadGGUF, err, r.i)
	}
	return f, nil
}

var errShort = errors.New("truncated")

type reader struct {
	b []byte
	i int
}

func (r *reader) take(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.i) {
		return nil, errShort
	}
	s := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return s, nil
}

func (r *reader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

func (r *reader) u64() (uint64, error) {
	s, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(s), nil
}

func (r *reader) str() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	s, err := r.take(n)
	return string(s), err
}

// count reads an element count, refusing one that cannot fit in the rest
// of the file (every element takes at least one byte).
func (r *reader) count(what string) (int, error) {
	n, err := r.u64()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)-r.i) {
		return 0, fmt.Errorf("%s count %d exceeds the file", what, n)
	}
	return int(n), nil
}

func (r *reader) file() (*File, error) {
	magic, err := r.take(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("magic %q is not %q", magic, Magic)
	}
	ver, err := r.u32()
	if err != nil {
		return nil, err
	}
	if ver != 2 && ver != 3 {
		return nil, fmt.Errorf("version %d (want 2 or 3)", ver)
	}
	nt, err := r.count("tensor")
	if err != nil {
		return nil, err
	}
	nkv, err := r.count("metadata")
	if err != nil {
		return nil, err
	}
	f := &File{Meta: make(map[string]Value, nkv), Alignment: DefaultAlignment}
	for range nkv {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		typ, err := r.u32()
		if err != nil {
			return nil, err
		}
		v, err := r.value(ValueType(typ), 0)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		if _, dup := f.Meta[k]; dup {
			return nil, fmt.Errorf("key %q appears twice", k)
		}
		f.Set(k, v)
	}
	if a, ok := f.Meta["general.alignment"]; ok {
		if a.Type != TypeUint32 || a.Uint == 0 || a.Uint%8 != 0 || a.Uint > 1<<20 {
			return nil, fmt.Errorf("general.alignment must be a u32 multiple of 8")
		}
		f.Alignment = int(a.Uint)
	}
	offsets := make([]uint64, nt)
	f.Tensors = make([]Tensor, nt)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Name, err = r.str(); err != nil {
			return nil, err
		}
		nd, err := r.u32()
		if err != nil {
			return nil, err
		}
		if nd == 0 || nd > 4 {
			return nil, fmt.Errorf("tensor %q: %d dims", t.Name, nd)
		}
		t.Dims = make([]uint64, nd)
		for j := range t.Dims {
			if t.Dims[j], err = r.u64(); err != nil {
				return nil, err
			}
			if t.Dims[j] == 0 || t.Dims[j] > uint64(len(r.b)) {
				return nil, fmt.Errorf("tensor %q: dim %d is %d", t.Name, j, t.Dims[j])
			}
		}
		typ, err := r.u32()
		if err != nil {
			return nil, err
		}
		t.Type = TensorType(typ)
		if offsets[i], err = r.u64(); err != nil {
			return nil, err
		}
	}
	start := uint64(pad(int64(r.i), f.Alignment))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		rb, err := t.Type.RowBytes(int(t.Dims[0]))
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		size := uint64(rb)
		for _, d := range t.Dims[1:] {
			if size > uint64(len(r.b)) {
				break
			}
			size *= d
		}
		off := offsets[i]
		if off%uint64(f.Alignment) != 0 {
			return nil, fmt.Errorf("tensor %q: offset %d is not aligned to %d", t.Name, off, f.Alignment)
		}
		if start > uint64(len(r.b)) || off > uint64(len(r.b))-start || size > uint64(len(r.b))-start-off {
			return nil, fmt.Errorf("tensor %q: %d bytes at offset %d lie past the end of the file", t.Name, size, off)
		}
		t.Data = r.b[start+off : start+off+size]
	}
	return f, nil
}

func (r *reader) value(typ ValueType, depth int) (Value, error) {
	v := Value{Type: typ}
	var s []byte
	var err error
	switch typ {
	case TypeUint8, TypeInt8, TypeBool:
		if s, err = r.take(1); err == nil {
			v.Uint = uint64(s[0])
			if typ == TypeInt8 {
				v.Uint, v.Int = 0, int64(int8(s[0]))
			}
			if typ == TypeBool && s[0] > 1 {
				err = fmt.Errorf("bool value %d", s[0])
			}
		}
	case TypeUint16, TypeInt16:
		if s, err = r.take(2); err == nil {
			x := binary.LittleEndian.Uint16(s)
			if typ == TypeInt16 {
				v.Int = int64(int16(x))
			} else {
				v.Uint = uint64(x)
			}
		}
	case TypeUint32, TypeInt32, TypeFloat32:
		var x uint32
		if x, err = r.u32(); err == nil {
			switch typ {
			case TypeInt32:
				v.Int = int64(int32(x))
			case TypeFloat32:
				v.Float = float64(math.Float32frombits(x))
			default:
				v.Uint = uint64(x)
			}
		}
	case TypeUint64, TypeInt64, TypeFloat64:
		var x uint64
		if x, err = r.u64(); err == nil {
			switch typ {
			case TypeInt64:
				v.Int = int64(x)
			case TypeFloat64:
				v.Float = math.Float64frombits(x)
			default:
				v.Uint = x
			}
		}
	case TypeString:
		v.Str, err = r.str()
	case TypeArray:
		if depth > 0 {
			return v, fmt.Errorf("nested array")
		}
		var et uint32
		if et, err = r.u32(); err != nil {
			return v, err
		}
		v.Elem = ValueType(et)
		var n int
		if n, err = r.count("array"); err != nil {
			return v, err
		}
		v.Array = make([]Value, 0, min(n, 1<<16))
		for range n {
			e, err := r.value(v.Elem, depth+1)
			if err != nil {
				return v, err
			}
			v.Array = append(v.Array, e)
		}
	default:
		err = fmt.Errorf("unknown value type %d", typ)
	}
	return v, err
}
