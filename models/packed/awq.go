package packed

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/tensor"
)

// AWQ (AutoAWQ "gemm", version gemm, zero_point true — the layout vLLM,
// AutoAWQ, transformers and MLC-LLM's q4f16_autoawq load), per quantized
// linear `prefix`, 4-bit codes only:
//
//	prefix.qweight  I32 [in, out/8]: word (i, c) holds the codes of input i
//	                for outputs 8c…8c+7, nibble k (bits 4k…4k+3) holding
//	                output 8c + awqOrder[k], awqOrder = 0,2,4,6,1,3,5,7.
//	prefix.qzeros   I32 [in/group, out/8]: the zero points, packed the same
//	                way (the true zero, not zero − 1).
//	prefix.scales   F16 [in/group, out].
//	prefix.bias     (if the layer has one) in the model's float dtype.
//
// Dequantization: W[o,i] = (q − z[g,o])·s[g,o], g = i/group. AWQ has no
// act-order: groups are contiguous and the group size divides in.

// awqOrder is AutoAWQ's nibble interleave: nibble k holds output
// 8c + awqOrder[k].
var awqOrder = [8]int{0, 2, 4, 6, 1, 3, 5, 7}

// CheckAWQ reports why q cannot be stored as AWQ gemm.
func CheckAWQ(q *Quantized) error {
	switch {
	case q.Bits != 4:
		return fmt.Errorf("%w: AWQ gemm stores 4-bit codes, not %d", ErrBadQuant, q.Bits)
	case q.ActOrder():
		return fmt.Errorf("%w: AWQ has no act-order (g_idx must be i/group_size)", ErrBadQuant)
	}
	if q.In%q.groupSize() != 0 {
		return fmt.Errorf("%w: AWQ needs the group size %d to divide in = %d", ErrBadQuant, q.groupSize(), q.In)
	}
	if q.Out%8 != 0 {
		return fmt.Errorf("%w: AWQ packs 8 outputs per word; out = %d", ErrBadQuant, q.Out)
	}
	for i, z := range q.Zeros {
		if z != float32(math.Round(float64(z))) || z < 0 || z > 15 {
			return fmt.Errorf("%w: AWQ zero point %g (group %d, row %d) is not an integer in [0, 15]", ErrBadQuant, z, i/q.Out, i%q.Out)
		}
	}
	return nil
}

// awqPack packs v(i, o) (4-bit values) for rows × out into [rows, out/8]
// words with the AWQ interleave.
func awqPack(rows, out int, v func(i, o int) uint32) []uint32 {
	cols := out / 8
	w := make([]uint32, rows*cols)
	for i := 0; i < rows; i++ {
		for c := 0; c < cols; c++ {
			var word uint32
			for k, j := range awqOrder {
				word |= (v(i, 8*c+j) & 15) << (4 * uint(k))
			}
			w[i*cols+c] = word
		}
	}
	return w
}

// awqGet returns the 4-bit value of output o in row i of packed words.
func awqGet(w []uint32, out, i, o int) uint32 {
	c, j := o/8, o%8
	k := awqInverse[j]
	return w[i*(out/8)+c] >> (4 * uint(k)) & 15
}

// awqInverse[j] is the nibble holding output 8c+j.
var awqInverse = func() (inv [8]int) {
	for k, j := range awqOrder {
		inv[j] = k
	}
	return inv
}()

// AWQTensors packs q as the AWQ tensors of prefix (without the bias).
func AWQTensors(prefix string, q *Quantized) ([]*tensor.Tensor, error) {
	if err := CheckAWQ(q); err != nil {
		return nil, err
	}
	in, out, ng := q.In, q.Out, q.NumGroups()
	qw := awqPack(in, out, func(i, o int) uint32 { return uint32(q.Q[o*in+i]) })
	qz := awqPack(ng, out, func(g, o int) uint32 { return uint32(q.Zeros[g*out+o]) })
	scales, err := tensor.Encode(prefix+".scales", tensor.F16, []int{ng, out}, q.Scales)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{
		i32Tensor(prefix+".qweight", []int{in, out / 8}, qw),
		i32Tensor(prefix+".qzeros", []int{ng, out / 8}, qz),
		scales,
	}, nil
}

// loadAWQ reads an AWQ gemm layer; groupSize −1 means one group per row.
func loadAWQ(src Source, prefix string, bits, groupSize int) (*Quantized, error) {
	if bits != 4 {
		return nil, fmt.Errorf("awq %s: %w: %d bits (AWQ gemm is 4-bit)", prefix, ErrBadQuant, bits)
	}
	tq, err := src.Tensor(prefix + ".qweight")
	if err != nil {
		return nil, err
	}
	if len(tq.Shape) != 2 || tq.Shape[0] <= 0 || tq.Shape[1] <= 0 {
		return nil, fmt.Errorf("awq %s: %w: qweight shape %v", prefix, ErrBadQuant, tq.Shape)
	}
	in, out := tq.Shape[0], tq.Shape[1]*8
	gs := groupSize
	if gs <= 0 || gs > in {
		gs = in
	}
	if in%gs != 0 {
		return nil, fmt.Errorf("awq %s: %w: group size %d does not divide in = %d", prefix, ErrBadQuant, gs, in)
	}
	ng := in / gs
	qw, err := u32s(tq, in, out/8)
	if err != nil {
		return nil, fmt.Errorf("awq %s: %w", prefix, err)
	}
	tz, err := src.Tensor(prefix + ".qzeros")
	if err != nil {
		return nil, err
	}
	qz, err := u32s(tz, ng, out/8)
	if err != nil {
		return nil, fmt.Errorf("awq %s: %w (group size %d)", prefix, err, groupSize)
	}
	ts, err := src.Tensor(prefix + ".scales")
	if err != nil {
		return nil, err
	}
	scales, err := groupScales(ts, "awq", prefix, ng, out)
	if err != nil {
		return nil, err
	}
	q := &Quantized{Out: out, In: in, Bits: 4, GroupSize: gs, Q: make([]uint8, out*in), Scales: scales, Zeros: make([]float32, ng*out)}
	if gs == in {
		q.GroupSize = -1
	}
	for i := 0; i < in; i++ {
		for o := 0; o < out; o++ {
			q.Q[o*in+i] = uint8(awqGet(qw, out, i, o))
		}
	}
	for g := 0; g < ng; g++ {
		for o := 0; o < out; o++ {
			q.Zeros[g*out+o] = float32(awqGet(qz, out, g, o))
		}
	}
	return q, nil
}
