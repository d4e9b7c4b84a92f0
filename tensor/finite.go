package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/llmcbench/gollm/kernels"
)

// NonFinite reports the first element of t that is NaN or ±Inf: its index,
// or -1 when every element is finite (always -1 for integer types). It reads
// the stored bits without converting or allocating.
func (t *Tensor) NonFinite() int {
	n := t.Numel()
	if !t.DType.IsFloat() || len(t.Data) != n*t.DType.Size() {
		return -1
	}
	first := firstIndex{v: int64(n)}
	d := t.Data
	kernels.ParallelFor(n, 1<<16, func(lo, hi int) {
		first.scan(t.DType, d, lo, hi)
	})
	return first.get(n)
}

// allFinite reports whether elements lo…hi−1 of d are all finite, eight
// bytes at a time: a lane is non-finite when its exponent bits are all
// ones, i.e. when (lane & mask) ^ mask is zero (the classic has-zero-lane
// test; the masks leave each lane's top bit clear, so it cannot borrow
// across lanes).
func allFinite(dt DType, d []byte, lo, hi int) bool {
	var mask, ones, tops uint64
	size := dt.Size()
	switch dt {
	case F32:
		mask, ones, tops = 0x7f8000007f800000, 0x0000000100000001, 0x8000000080000000
	case F16:
		mask, ones, tops = 0x7c007c007c007c00, 0x0001000100010001, 0x8000800080008000
	case BF16:
		mask, ones, tops = 0x7f807f807f807f80, 0x0001000100010001, 0x8000800080008000
	default:
		for i := lo; i < hi; i++ {
			if !finiteAt(dt, d, i) {
				return false
			}
		}
		return true
	}
	b := d[lo*size : hi*size]
	var acc uint64
	for len(b) >= 8 {
		y := binary.LittleEndian.Uint64(b)&mask ^ mask
		acc |= (y - ones) &^ y & tops
		b = b[8:]
	}
	if acc != 0 {
		return false
	}
	for i := hi - len(b)/size; i < hi; i++ {
		if !finiteAt(dt, d, i) {
			return false
		}
	}
	return true
}

// finiteAt reports whether element i of data (dtype dt) is finite, from its
// bits: an all-ones exponent is NaN or Inf in every IEEE-style format.
func finiteAt(dt DType, d []byte, i int) bool {
	switch dt {
	case F32:
		return binary.LittleEndian.Uint32(d[4*i:])&0x7f800000 != 0x7f800000
	case F16:
		return binary.LittleEndian.Uint16(d[2*i:])&0x7c00 != 0x7c00
	case BF16:
		return binary.LittleEndian.Uint16(d[2*i:])&0x7f80 != 0x7f80
	case F64:
		return binary.LittleEndian.Uint64(d[8*i:])&0x7ff0000000000000 != 0x7ff0000000000000
	case F8E4M3: // no infinities; S.1111.111 is NaN
		return d[i]&0x7f != 0x7f
	case F8E5M2:
		return d[i]&0x7c != 0x7c
	}
	return true
}

// firstIndex is the smallest index any goroutine reported.
type firstIndex struct{ v int64 }

func (f *firstIndex) lower(i int) {
	for {
		cur := atomic.LoadInt64(&f.v)
		if int64(i) >= cur || atomic.CompareAndSwapInt64(&f.v, cur, int64(i)) {
			return
		}
	}
}

// scan lowers f to the first non-finite element of d[lo:hi] (dtype dt),
// if there is one.
func (f *firstIndex) scan(dt DType, d []byte, lo, hi int) {
	if allFinite(dt, d, lo, hi) {
		return
	}
	for i := lo; i < hi; i++ {
		if !finiteAt(dt, d, i) {
			f.lower(i)
			return
		}
	}
}

func (f *firstIndex) get(n int) int {
	if v := int(atomic.LoadInt64(&f.v)); v < n {
		return v
	}
	return -1
}

// Float32Finite is Float32 that also reports, in the same pass over the
// data, the first element that is NaN or ±Inf (-1 when none is).
func (t *Tensor) Float32Finite() ([]float32, int, error) {
	n := t.Numel()
	if len(t.Data) != n*t.DType.Size() {
		return nil, -1, fmt.Errorf("tensor %q: %d bytes for %d elements of %s", t.Name, len(t.Data), n, t.DType)
	}
	dst := make([]float32, n)
	first := firstIndex{v: int64(n)}
	d := t.Data
	switch t.DType {
	case F32, F16, BF16:
		// Convert a chunk, then check its bits while they are in cache.
		kernels.ParallelFor(n, 1<<16, func(lo, hi int) {
			convertRange(t.DType, d, dst, lo, hi)
			first.scan(t.DType, d, lo, hi)
		})
		return dst, first.get(n), nil
	}
	if err := t.ConvertTo(dst); err != nil {
		return nil, -1, err
	}
	return dst, t.NonFinite(), nil
}

// NonFiniteError describes element i of t (which NonFinite or
// Float32Finite reported) for an error message: "element 7 ([0 7]) is NaN".
func (t *Tensor) NonFiniteError(i int) string {
	kind := "NaN"
	if v := t.at(i); math.IsInf(v, 0) {
		kind = fmt.Sprintf("%v", v)
	}
	idx := make([]int, len(t.Shape))
	r := i
	for k := len(t.Shape) - 1; k >= 0; k-- {
		if t.Shape[k] > 0 {
			idx[k] = r % t.Shape[k]
			r /= t.Shape[k]
		}
	}
	return fmt.Sprintf("element %d (index %v of %s%v) is %s", i, idx, t.DType, t.Shape, kind)
}

// at converts element i alone (for messages).
func (t *Tensor) at(i int) float64 {
	one := &Tensor{DType: t.DType, Shape: []int{1}, Data: t.Data[i*t.DType.Size() : (i+1)*t.DType.Size()]}
	v, err := one.Float32()
	if err != nil {
		return math.NaN()
	}
	if t.DType == F64 {
		return math.Float64frombits(binary.LittleEndian.Uint64(one.Data))
	}
	return float64(v[0])
}

// convertRange converts elements lo…hi−1 of an F32, F16 or BF16 buffer.
func convertRange(dt DType, d []byte, dst []float32, lo, hi int) {
	switch dt {
	case F32:
		for i := lo; i < hi; i++ {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case F16:
		for i := lo; i < hi; i++ {
			dst[i] = f16Table[binary.LittleEndian.Uint16(d[2*i:])]
		}
	case BF16:
		for i := lo; i < hi; i++ {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16)
		}
	}
}
