package packed

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/llmcbench/gollm/tensor"
)

// GPTQ (AutoGPTQ "v1", the layout vLLM, AutoGPTQ, GPTQModel and
// transformers load), per quantized linear `prefix`:
//
//	prefix.qweight  I32 [in·bits/32, out]: the codes of output column o as a
//	                little-endian bit stream down column o: input i occupies
//	                bits i·bits … i·bits+bits−1 of the stream, word r of the
//	                column being qweight[r, o] (so for 4 bits word r holds
//	                inputs 8r…8r+7 at bits 4j; 3-bit codes straddle words
//	                exactly as AutoGPTQ's pack does: 32 codes per 3 words).
//	prefix.qzeros   I32 [groups, out·bits/32]: zero points packed the same
//	                way along the output dimension, stored as zero − 1
//	                (checkpoint_format "gptq") or as the true zero
//	                (checkpoint_format "gptq_v2").
//	prefix.scales   F16 [groups, out].
//	prefix.g_idx    I32 [in]: the group of each input column.
//	prefix.bias     (if the layer has one) in the model's float dtype.
//
// groups = ceil(in/group_size) (group_size −1: one group). Dequantization:
// W[o,i] = (q[i,o] − z[g,o])·s[g,o], g = g_idx[i].

// CheckGPTQ reports why q cannot be stored as GPTQ (bit width, packing
// dimensions, zero points).
func CheckGPTQ(q *Quantized) error {
	if q.Bits != 2 && q.Bits != 3 && q.Bits != 4 && q.Bits != 8 {
		return fmt.Errorf("%w: GPTQ stores 2, 3, 4 or 8 bits, not %d", ErrBadQuant, q.Bits)
	}
	if q.In*q.Bits%32 != 0 || q.Out*q.Bits%32 != 0 {
		return fmt.Errorf("%w: GPTQ packing needs in·bits and out·bits to be multiples of 32 (%d×%d at %d bits)", ErrBadQuant, q.Out, q.In, q.Bits)
	}
	maxq := float32(int(1)<<q.Bits - 1)
	for i, z := range q.Zeros {
		if z != float32(math.Round(float64(z))) || z < 0 || z > maxq {
			return fmt.Errorf("%w: GPTQ zero point %g (group %d, row %d) is not an integer in [0, %g]", ErrBadQuant, z, i/q.Out, i%q.Out, maxq)
		}
	}
	return nil
}

// GPTQNeedsV2 reports whether some zero point is 0, which the zero − 1
// convention of checkpoint_format "gptq" cannot store.
func GPTQNeedsV2(q *Quantized) bool {
	for _, z := range q.Zeros {
		if z == 0 {
			return true
		}
	}
	return false
}

// streamPut ORs the low `bits` bits of v into bit position pos of a
// little-endian stream of 32-bit words, word w held at words[w·stride+off].
func streamPut(words []uint32, stride, off, pos, bits int, v uint32) {
	w, sh := pos/32, uint(pos%32)
	words[w*stride+off] |= v << sh
	if int(sh)+bits > 32 {
		words[(w+1)*stride+off] |= v >> (32 - sh)
	}
}

// streamGet reads `bits` bits at bit position pos of the same stream.
func streamGet(words []uint32, stride, off, pos, bits int) uint32 {
	w, sh := pos/32, uint(pos%32)
	v := words[w*stride+off] >> sh
	if int(sh)+bits > 32 {
		v |= words[(w+1)*stride+off] << (32 - sh)
	}
	return v & (1<<bits - 1)
}

// i32Tensor builds an I32 tensor from words.
func i32Tensor(name string, shape []int, words []uint32) *tensor.Tensor {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return &tensor.Tensor{Name: name, DType: tensor.I32, Shape: shape, Data: b}
}

// u32s returns an I32 tensor's words (a copy), checking its shape.
func u32s(t *tensor.Tensor, shape ...int) ([]uint32, error) {
	if t.DType != tensor.I32 {
		return nil, fmt.Errorf("tensor %q: dtype %s, want I32", t.Name, t.DType)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("tensor %q: shape %v, want %v", t.Name, t.Shape, shape)
	}
	if len(t.Data) != 4*tensor.Numel(shape) {
		return nil, fmt.Errorf("tensor %q: %d bytes for shape %v", t.Name, len(t.Data), shape)
	}
	w := make([]uint32, len(t.Data)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(t.Data[4*i:])
	}
	return w, nil
}

// GPTQTensors packs q as the GPTQ tensors of prefix (without the bias):
// qweight, qzeros, scales (rounded to float16) and g_idx. zeroOffset is 1
// for checkpoint_format "gptq" (zero − 1 stored), 0 for "gptq_v2".
func GPTQTensors(prefix string, q *Quantized, zeroOffset int) ([]*tensor.Tensor, error) {
	if err := CheckGPTQ(q); err != nil {
		return nil, err
	}
	bits, in, out, ng := q.Bits, q.In, q.Out, q.NumGroups()
	rows := in * bits / 32
	qw := make([]uint32, rows*out)
	for o := 0; o < out; o++ {
		codes := q.Q[o*in : (o+1)*in]
		for i, c := range codes {
			streamPut(qw, out, o, i*bits, bits, uint32(c))
		}
	}
	zcols := out * bits / 32
	qz := make([]uint32, ng*zcols)
	mask := uint32(1)<<bits - 1
	for g := 0; g < ng; g++ {
		row := qz[g*zcols : (g+1)*zcols]
		for o := 0; o < out; o++ {
			z := uint32(int32(q.Zeros[g*out+o]) - int32(zeroOffset))
			streamPut(row, 1, 0, o*bits, bits, z&mask)
		}
	}
	scales, err := tensor.Encode(prefix+".scales", tensor.F16, []int{ng, out}, q.Scales)
	if err != nil {
		return nil, err
	}
	gidx := make([]uint32, in)
	for i := range gidx {
		gidx[i] = uint32(q.group(i))
	}
	return []*tensor.Tensor{
		i32Tensor(prefix+".qweight", []int{rows, out}, qw),
		i32Tensor(prefix+".qzeros", []int{ng, zcols}, qz),
		scales,
		i32Tensor(prefix+".g_idx", []int{in}, gidx),
	}, nil
}

// loadGPTQ reads a GPTQ layer's tensors. zeroOffset is 1 for
// checkpoint_format "gptq", 0 for "gptq_v2"; groupSize −1 means one group.
// The dimensions come from qweight's shape.
func loadGPTQ(src Source, prefix string, bits, groupSize, zeroOffset int) (*Quantized, error) {
	if bits != 2 && bits != 3 && bits != 4 && bits != 8 {
		return nil, fmt.Errorf("gptq %s: %w: %d bits (GPTQ stores 2, 3, 4 or 8)", prefix, ErrBadQuant, bits)
	}
	get := func(name string) (*tensor.Tensor, error) { return src.Tensor(prefix + "." + name) }
	tq, err := get("qweight")
	if err != nil {
		return nil, err
	}
	if len(tq.Shape) != 2 || tq.Shape[0] <= 0 || tq.Shape[1] <= 0 || tq.Shape[1]*bits%32 != 0 {
		return nil, fmt.Errorf("gptq %s: %w: qweight shape %v at %d bits", prefix, ErrBadQuant, tq.Shape, bits)
	}
	in, out := tq.Shape[0]*32/bits, tq.Shape[1]
	if tq.Shape[0]*32%bits != 0 {
		return nil, fmt.Errorf("gptq %s: %w: qweight has %d rows, not a whole number of %d-bit columns", prefix, ErrBadQuant, tq.Shape[0], bits)
	}
	qw, err := u32s(tq, in*bits/32, out)
	if err != nil {
		return nil, fmt.Errorf("gptq %s: %w", prefix, err)
	}
	gs := groupSize
	if gs <= 0 || gs > in {
		gs = in
	}
	ng := (in + gs - 1) / gs
	tz, err := get("qzeros")
	if err != nil {
		return nil, err
	}
	qz, err := u32s(tz, ng, out*bits/32)
	if err != nil {
		return nil, fmt.Errorf("gptq %s: %w (group size %d)", prefix, err, groupSize)
	}
	ts, err := get("scales")
	if err != nil {
		return nil, err
	}
	scales, err := groupScales(ts, "gptq", prefix, ng, out)
	if err != nil {
		return nil, err
	}
	var gidx []int32
	if src.Has(prefix + ".g_idx") {
		tg, err := get("g_idx")
		if err != nil {
			return nil, err
		}
		g, err := u32s(tg, in)
		if err != nil {
			return nil, fmt.Errorf("gptq %s: %w", prefix, err)
		}
		gidx = make([]int32, in)
		trivial := true
		for i, v := range g {
			if int32(v) < 0 || int(v) >= ng {
				return nil, fmt.Errorf("gptq %s: %w: g_idx[%d] = %d outside [0, %d)", prefix, ErrBadQuant, i, int32(v), ng)
			}
			gidx[i] = int32(v)
			trivial = trivial && int(v) == i/gs
		}
		if trivial {
			gidx = nil
		}
	}
	q := &Quantized{Out: out, In: in, Bits: bits, GroupSize: gs, Q: make([]uint8, out*in), Scales: scales, Zeros: make([]float32, ng*out), GIdx: gidx}
	if gs == in {
		q.GroupSize = -1
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			q.Q[o*in+i] = uint8(streamGet(qw, out, o, i*bits, bits))
		}
	}
	zcols := out * bits / 32
	for g := 0; g < ng; g++ {
		row := qz[g*zcols : (g+1)*zcols]
		for o := 0; o < out; o++ {
			q.Zeros[g*out+o] = float32(int(streamGet(row, 1, 0, o*bits, bits)) + zeroOffset)
		}
	}
	q.Sym = true
	for _, z := range q.Zeros {
		q.Sym = q.Sym && z == float32(int(1)<<(bits-1))
	}
	return q, nil
}

// groupScales reads the float [groups × out] scales tensor ts of a GPTQ or
// AWQ linear (format "gptq" or "awq" names it in the error).
func groupScales(ts *tensor.Tensor, format, prefix string, ng, out int) ([]float32, error) {
	if !ts.DType.IsFloat() || !slices.Equal(ts.Shape, []int{ng, out}) {
		return nil, fmt.Errorf("%s %s: tensor %q: %s%v, want a float [%d %d]", format, prefix, ts.Name, ts.DType, ts.Shape, ng, out)
	}
	return ts.Float32()
}
