package packed

import (
	"encoding/binary"
	"fmt"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// compressed-tensors (llm-compressor's format, quant_method
// "compressed-tensors"), per linear `prefix`:
//
// int-quantized (W8A8, SmoothQuant):
//
//	prefix.weight        I8  [out, in]: the symmetric int8 weights (code − 128).
//	prefix.weight_scale  F32 [out, 1]: the per-output-channel scales.
//
// with config_groups.group_0 = {weights: int 8-bit symmetric, strategy
// channel; input_activations: int 8-bit symmetric, strategy token, dynamic
// true; targets [Linear]}. gollm writes the scales in float32 so a reload
// is exact (llm-compressor writes the model dtype; loaders accept both).
//
// sparse-24-bitmask (2:4 sparsity, sparsity_config.format), dense values:
//
//	prefix.compressed  [out, in/2] in the model's float dtype: the two kept
//	                   values of every group of four, in column order.
//	prefix.bitmask     U8 [out, ceil(in/8)]: bit j%8 of byte j/8 of a row is
//	                   set when column j is kept (numpy packbits, little
//	                   bit order) — exactly two bits per group of four.
//	prefix.shape       I64 [2, 1]: (out, in).
//
// pack-quantized (read only: W4A16 checkpoints from llm-compressor):
// prefix.weight_packed I32 [out, ceil(in/(32/bits))] (32/bits codes per
// word along in, code = value + 2^(bits−1)), weight_scale [out, groups],
// weight_shape [2], optional weight_zero_point I32 [ceil(out/(32/bits)),
// groups] packed along out, optional weight_g_idx [in].

// W8A8Tensors writes q (W8A8 convention) as an int-quantized layer.
func W8A8Tensors(prefix string, q *Quantized) ([]*tensor.Tensor, error) {
	if err := q.CheckW8A8(); err != nil {
		return nil, err
	}
	w := make([]byte, len(q.Q))
	for i, c := range q.Q {
		w[i] = byte(int8(int(c) - 128))
	}
	return []*tensor.Tensor{
		{Name: prefix + ".weight", DType: tensor.I8, Shape: []int{q.Out, q.In}, Data: w},
		tensor.FromFloat32(prefix+".weight_scale", []int{q.Out, 1}, q.Scales),
	}, nil
}

// loadCTInt reads an int-quantized layer (8-bit weights with per-channel
// or per-tensor scales) as a Quantized in the W8A8 convention;
// actBits is 8 when the config quantizes input activations dynamically.
func loadCTInt(src Source, prefix string, actBits int) (*Quantized, error) {
	tw, err := src.Tensor(prefix + ".weight")
	if err != nil {
		return nil, err
	}
	if tw.DType != tensor.I8 || len(tw.Shape) != 2 || tw.Shape[0] <= 0 || tw.Shape[1] <= 0 || len(tw.Data) != tw.Numel() {
		return nil, fmt.Errorf("compressed-tensors %s: %w: weight %s%v, want I8 [out, in]", prefix, ErrBadQuant, tw.DType, tw.Shape)
	}
	out, in := tw.Shape[0], tw.Shape[1]
	ts, err := src.Tensor(prefix + ".weight_scale")
	if err != nil {
		return nil, err
	}
	if !ts.DType.IsFloat() || (ts.Numel() != out && ts.Numel() != 1) {
		return nil, fmt.Errorf("compressed-tensors %s: %w: weight_scale %s%v for %d outputs", prefix, ErrBadQuant, ts.DType, ts.Shape, out)
	}
	s, err := ts.Float32()
	if err != nil {
		return nil, err
	}
	if len(s) == 1 { // per-tensor
		v := s[0]
		s = make([]float32, out)
		for i := range s {
			s[i] = v
		}
	}
	if src.Has(prefix + ".weight_zero_point") {
		tz, err := src.Tensor(prefix + ".weight_zero_point")
		if err != nil {
			return nil, err
		}
		z, err := tz.Float32()
		if err != nil {
			return nil, err
		}
		for _, v := range z {
			if v != 0 {
				return nil, fmt.Errorf("compressed-tensors %s: %w: asymmetric int8 weights (zero point %g) are not supported", prefix, ErrBadQuant, v)
			}
		}
	}
	q := &Quantized{Out: out, In: in, Bits: 8, GroupSize: -1, Sym: true, ActBits: actBits,
		Q: make([]uint8, out*in), Scales: s, Zeros: make([]float32, out)}
	for i, b := range tw.Data {
		q.Q[i] = uint8(int(int8(b)) + 128)
	}
	for i := range q.Zeros {
		q.Zeros[i] = 128
	}
	return q, nil
}

// Sparse24Tensors writes a 2:4 matrix as a sparse-24-bitmask layer with
// values in dtype (compressed, bitmask, shape).
func Sparse24Tensors(prefix string, m *kernels.Sparse24Matrix, dtype tensor.DType) ([]*tensor.Tensor, error) {
	out, in := m.Dims()
	vals, meta := m.Packed()
	vt, err := tensor.Encode(prefix+".compressed", dtype, []int{out, in / 2}, vals)
	if err != nil {
		return nil, err
	}
	mb := (in + 7) / 8
	mask := make([]byte, out*mb)
	for o := 0; o < out; o++ {
		for g := 0; g < in/4; g++ {
			nib := meta[o*((in+7)/8)+g/2] >> (4 * uint(g%2)) & 15
			for _, p := range [2]int{int(nib & 3), int(nib >> 2)} {
				j := 4*g + p
				mask[o*mb+j/8] |= 1 << uint(j%8)
			}
		}
	}
	shape := make([]byte, 16)
	binary.LittleEndian.PutUint64(shape[0:], uint64(out))
	binary.LittleEndian.PutUint64(shape[8:], uint64(in))
	return []*tensor.Tensor{
		vt,
		{Name: prefix + ".bitmask", DType: tensor.U8, Shape: []int{out, mb}, Data: mask},
		{Name: prefix + ".shape", DType: tensor.I64, Shape: []int{2, 1}, Data: shape},
	}, nil
}

// loadSparse24 reads a sparse-24-bitmask layer.
func loadSparse24(src Source, prefix string) (*kernels.Sparse24Matrix, error) {
	tsh, err := src.Tensor(prefix + ".shape")
	if err != nil {
		return nil, err
	}
	dims, err := tsh.Int64()
	if err != nil || len(dims) != 2 || dims[0] <= 0 || dims[1] <= 0 || dims[1]%4 != 0 || dims[0] > 1<<31 || dims[1] > 1<<31 {
		return nil, fmt.Errorf("sparse-24-bitmask %s: %w: shape tensor %v (%v)", prefix, ErrBadQuant, dims, err)
	}
	out, in := int(dims[0]), int(dims[1])
	tv, err := src.Tensor(prefix + ".compressed")
	if err != nil {
		return nil, err
	}
	if !tv.DType.IsFloat() || tv.Numel() != out*in/2 {
		return nil, fmt.Errorf("sparse-24-bitmask %s: %w: compressed %s%v for a %d×%d matrix", prefix, ErrBadQuant, tv.DType, tv.Shape, out, in)
	}
	vals, err := tv.Float32()
	if err != nil {
		return nil, err
	}
	tm, err := src.Tensor(prefix + ".bitmask")
	if err != nil {
		return nil, err
	}
	mb := (in + 7) / 8
	if (tm.DType != tensor.U8 && tm.DType != tensor.I8 && tm.DType != tensor.Bool) || tm.Numel() != out*mb || len(tm.Data) != out*mb {
		return nil, fmt.Errorf("sparse-24-bitmask %s: %w: bitmask %s%v, want U8 [%d %d]", prefix, ErrBadQuant, tm.DType, tm.Shape, out, mb)
	}
	meta := make([]uint8, out*mb)
	for o := 0; o < out; o++ {
		row := tm.Data[o*mb : (o+1)*mb]
		for g := 0; g < in/4; g++ {
			var pos [2]int
			n := 0
			for p := 0; p < 4; p++ {
				j := 4*g + p
				if row[j/8]>>uint(j%8)&1 == 1 {
					if n == 2 {
						n = 3
						break
					}
					pos[n] = p
					n++
				}
			}
			if n != 2 {
				return nil, fmt.Errorf("sparse-24-bitmask %s: %w: row %d, columns %d–%d: the bitmask keeps %d values, want 2", prefix, kernels.ErrNot24, o, 4*g, 4*g+3, min(n, 3))
			}
			meta[o*mb+g/2] |= uint8(pos[0]|pos[1]<<2) << (4 * uint(g%2))
		}
	}
	return kernels.NewSparse24MatrixPacked(out, in, vals, meta)
}

// loadCTPacked reads a pack-quantized layer (bits from the config group).
func loadCTPacked(src Source, prefix string, bits, groupSize int) (*Quantized, error) {
	if bits < 2 || bits > 8 {
		return nil, fmt.Errorf("compressed-tensors %s: %w: %d-bit pack-quantized weights", prefix, ErrBadQuant, bits)
	}
	tsh, err := src.Tensor(prefix + ".weight_shape")
	if err != nil {
		return nil, err
	}
	dims, err := tsh.Int64()
	if err != nil || len(dims) != 2 || dims[0] <= 0 || dims[1] <= 0 || dims[0] > 1<<31 || dims[1] > 1<<31 {
		return nil, fmt.Errorf("compressed-tensors %s: %w: weight_shape %v (%v)", prefix, ErrBadQuant, dims, err)
	}
	out, in := int(dims[0]), int(dims[1])
	pf := 32 / bits
	cols := (in + pf - 1) / pf
	tp, err := src.Tensor(prefix + ".weight_packed")
	if err != nil {
		return nil, err
	}
	wp, err := u32s(tp, out, cols)
	if err != nil {
		return nil, fmt.Errorf("compressed-tensors %s: %w", prefix, err)
	}
	ts, err := src.Tensor(prefix + ".weight_scale")
	if err != nil {
		return nil, err
	}
	if !ts.DType.IsFloat() || len(ts.Shape) != 2 || ts.Shape[0] != out || ts.Shape[1] <= 0 {
		return nil, fmt.Errorf("compressed-tensors %s: %w: weight_scale %s%v for %d outputs", prefix, ErrBadQuant, ts.DType, ts.Shape, out)
	}
	ng := ts.Shape[1]
	sc, err := ts.Float32()
	if err != nil {
		return nil, err
	}
	gs := groupSize
	if gs <= 0 || gs > in || ng == 1 {
		gs = in
	}
	if (in+gs-1)/gs != ng {
		return nil, fmt.Errorf("compressed-tensors %s: %w: %d scale groups for %d columns at group size %d", prefix, ErrBadQuant, ng, in, groupSize)
	}
	mask := uint32(1)<<bits - 1
	offset := float32(int(1) << (bits - 1))
	q := &Quantized{Out: out, In: in, Bits: bits, GroupSize: gs, Sym: true, Q: make([]uint8, out*in),
		Scales: make([]float32, ng*out), Zeros: make([]float32, ng*out)}
	if gs == in {
		q.GroupSize = -1
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			q.Q[o*in+i] = uint8(wp[o*cols+i/pf] >> (uint(i%pf) * uint(bits)) & mask)
		}
		for g := 0; g < ng; g++ {
			q.Scales[g*out+o] = sc[o*ng+g]
			q.Zeros[g*out+o] = offset
		}
	}
	if src.Has(prefix + ".weight_zero_point") {
		tz, err := src.Tensor(prefix + ".weight_zero_point")
		if err != nil {
			return nil, err
		}
		zr := (out + pf - 1) / pf
		zp, err := u32s(tz, zr, ng)
		if err != nil {
			return nil, fmt.Errorf("compressed-tensors %s: %w", prefix, err)
		}
		q.Sym = false
		for o := 0; o < out; o++ {
			for g := 0; g < ng; g++ {
				q.Zeros[g*out+o] = float32(zp[(o/pf)*ng+g] >> (uint(o%pf) * uint(bits)) & mask)
			}
		}
	}
	if src.Has(prefix + ".weight_g_idx") {
		tg, err := src.Tensor(prefix + ".weight_g_idx")
		if err != nil {
			return nil, err
		}
		g, err := tg.Int64()
		if err != nil || len(g) != in {
			return nil, fmt.Errorf("compressed-tensors %s: %w: weight_g_idx %v", prefix, ErrBadQuant, tg.Shape)
		}
		q.GIdx = make([]int32, in)
		for i, v := range g {
			if v < 0 || v >= int64(ng) {
				return nil, fmt.Errorf("compressed-tensors %s: %w: weight_g_idx[%d] = %d outside [0, %d)", prefix, ErrBadQuant, i, v, ng)
			}
			q.GIdx[i] = int32(v)
		}
	}
	return q, nil
}
