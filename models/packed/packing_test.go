package packed

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// mapSource is an in-memory Source.
type mapSource map[string]*tensor.Tensor

func (s mapSource) Has(name string) bool { _, ok := s[name]; return ok }
func (s mapSource) Tensor(name string) (*tensor.Tensor, error) {
	t, ok := s[name]
	if !ok {
		return nil, errors.New("missing " + name)
	}
	return t, nil
}

func sourceOf(ts []*tensor.Tensor) mapSource {
	s := mapSource{}
	for _, t := range ts {
		s[t.Name] = t
	}
	return s
}

func words(t *tensor.Tensor) []uint32 {
	w := make([]uint32, len(t.Data)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(t.Data[4*i:])
	}
	return w
}

// autogptqPackColumn is AutoGPTQ's packing of one column of codes (in
// values) into in·bits/32 words, written from its description: for 2, 4
// and 8 bits, word r holds values r·(32/bits)+j at bits·j; for 3 bits,
// every 32 values fill three words — values 0–9 at 3j of word 0, value 10
// split as its low two bits at 30–31 of word 0 and its high bit at bit 0
// of word 1, values 11–20 at 3j+1 of word 1, value 21 split as bit 31 of
// word 1 and bits 0–1 of word 2, values 22–31 at 3j+2 of word 2.
func autogptqPackColumn(vals []uint32, bits int) []uint32 {
	var out []uint32
	switch bits {
	case 2, 4, 8:
		per := 32 / bits
		for i := 0; i < len(vals); i += per {
			var w uint32
			for j := 0; j < per; j++ {
				w |= vals[i+j] << (uint(bits) * uint(j))
			}
			out = append(out, w)
		}
	case 3:
		for i := 0; i < len(vals); i += 32 {
			v := vals[i : i+32]
			var w0, w1, w2 uint32
			for j := 0; j < 10; j++ {
				w0 |= v[j] << (3 * uint(j))
			}
			w0 |= v[10] << 30
			w1 |= v[10] >> 2 & 1
			for j := 0; j < 10; j++ {
				w1 |= v[11+j] << (3*uint(j) + 1)
			}
			w1 |= v[21] << 31
			w2 |= v[21] >> 1 & 3
			for j := 0; j < 10; j++ {
				w2 |= v[22+j] << (3*uint(j) + 2)
			}
			out = append(out, w0, w1, w2)
		}
	}
	return out
}

func randomQuant(out, in, bits, group int, seed uint64) *Quantized {
	r := rand.New(rand.NewPCG(seed, 3))
	q := &Quantized{Out: out, In: in, Bits: bits, GroupSize: group, Q: make([]uint8, out*in)}
	for i := range q.Q {
		q.Q[i] = uint8(r.IntN(1 << bits))
	}
	ng := q.NumGroups()
	q.Scales, q.Zeros = make([]float32, ng*out), make([]float32, ng*out)
	for i := range q.Scales {
		q.Scales[i] = float32(r.IntN(1000)+1) / 1024 // exact in float16
		q.Zeros[i] = float32(1 + r.IntN(1<<bits-1))
	}
	return q
}

// TestGPTQPackingMatchesAutoGPTQ holds the GPTQ writer to AutoGPTQ's pack
// bit for bit (qweight down each column, qzeros along each row with
// zero − 1), and the reader back to the codes.
func TestGPTQPackingMatchesAutoGPTQ(t *testing.T) {
	for _, bits := range []int{2, 3, 4, 8} {
		q := randomQuant(64, 96, bits, 32, uint64(bits))
		ts, err := GPTQTensors("l", q, 1)
		if err != nil {
			t.Fatal(err)
		}
		src := sourceOf(ts)
		qw := words(src["l.qweight"])
		if !slices.Equal(src["l.qweight"].Shape, []int{96 * bits / 32, 64}) {
			t.Fatalf("%d bits: qweight shape %v", bits, src["l.qweight"].Shape)
		}
		for o := 0; o < 64; o++ {
			col := make([]uint32, 96)
			for i := range col {
				col[i] = uint32(q.Q[o*96+i])
			}
			want := autogptqPackColumn(col, bits)
			for r, w := range want {
				if got := qw[r*64+o]; got != w {
					t.Fatalf("%d bits: qweight[%d, %d] = %#x, want %#x", bits, r, o, got, w)
				}
			}
		}
		qz := words(src["l.qzeros"])
		zc := 64 * bits / 32
		for g := 0; g < 3; g++ {
			row := make([]uint32, 64)
			for o := range row {
				row[o] = uint32(q.Zeros[g*64+o]) - 1
			}
			want := autogptqPackColumn(row, bits)
			for c, w := range want {
				if got := qz[g*zc+c]; got != w {
					t.Fatalf("%d bits: qzeros[%d, %d] = %#x, want %#x", bits, g, c, got, w)
				}
			}
		}
		if src["l.scales"].DType != tensor.F16 || src["l.g_idx"].DType != tensor.I32 {
			t.Fatalf("dtypes %s %s", src["l.scales"].DType, src["l.g_idx"].DType)
		}
		back, err := loadGPTQ(src, "l", bits, 32, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range q.Q {
			if back.Q[i] != q.Q[i] {
				t.Fatalf("%d bits: code %d = %d, want %d", bits, i, back.Q[i], q.Q[i])
			}
		}
		for i := range q.Zeros {
			if back.Zeros[i] != q.Zeros[i] || back.Scales[i] != q.Scales[i] {
				t.Fatalf("%d bits: group param %d differs", bits, i)
			}
		}
		if back.GIdx != nil {
			t.Error("trivial g_idx not dropped")
		}
	}
	// A hand-checked word: inputs 0..7 of output 0 = 1..8 at 4 bits.
	q := randomQuant(8, 8, 4, -1, 1)
	for i := 0; i < 8; i++ {
		q.Q[i] = uint8(i + 1)
	}
	ts, _ := GPTQTensors("l", q, 1)
	if w := words(ts[0])[0]; w != 0x87654321 {
		t.Errorf("qweight[0,0] = %#x, want 0x87654321", w)
	}
}

// TestAWQPackingOrder holds the AWQ writer to the 0,2,4,6,1,3,5,7
// interleave and reads it back.
func TestAWQPackingOrder(t *testing.T) {
	q := randomQuant(16, 64, 4, 32, 9)
	for o := 0; o < 8; o++ {
		q.Q[o*64] = uint8(o + 1) // input 0, outputs 0..7 = 1..8
	}
	ts, err := AWQTensors("l", q)
	if err != nil {
		t.Fatal(err)
	}
	src := sourceOf(ts)
	if !slices.Equal(src["l.qweight"].Shape, []int{64, 2}) || !slices.Equal(src["l.qzeros"].Shape, []int{2, 2}) || !slices.Equal(src["l.scales"].Shape, []int{2, 16}) {
		t.Fatalf("shapes %v %v %v", src["l.qweight"].Shape, src["l.qzeros"].Shape, src["l.scales"].Shape)
	}
	// Nibble k holds output order[k]: 1,3,5,7,2,4,6,8.
	if w := words(src["l.qweight"])[0]; w != 0x86427531 {
		t.Errorf("qweight[0,0] = %#x, want 0x86427531", w)
	}
	qz := words(src["l.qzeros"])
	for g := 0; g < 2; g++ {
		for c := 0; c < 2; c++ {
			var want uint32
			for k, j := range awqOrder {
				want |= uint32(q.Zeros[g*16+8*c+j]) << (4 * uint(k))
			}
			if qz[g*2+c] != want {
				t.Fatalf("qzeros[%d,%d] = %#x, want %#x", g, c, qz[g*2+c], want)
			}
		}
	}
	back, err := loadAWQ(src, "l", 4, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i := range q.Q {
		if back.Q[i] != q.Q[i] {
			t.Fatalf("code %d = %d, want %d", i, back.Q[i], q.Q[i])
		}
	}
	for i := range q.Zeros {
		if back.Zeros[i] != q.Zeros[i] || back.Scales[i] != q.Scales[i] {
			t.Fatalf("group param %d differs", i)
		}
	}
}

// TestSparse24Bitmask holds the 2:4 writer to compressed-tensors'
// sparse-24-bitmask: values in column order, numpy little-endian packbits,
// shape [[out],[in]].
func TestSparse24Bitmask(t *testing.T) {
	w := []float32{
		0, 1.5, 0, -2, 3, 0, 0, 4, 0, 0, 5, 6, // row 0
		7, 8, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, // row 1 (a group with no and one non-zero)
	}
	sp, err := PackSparse24(2, 12, w)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Sparse24Tensors("l", sp, tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	src := sourceOf(ts)
	vals, _ := src["l.compressed"].Float32()
	wantVals := []float32{1.5, -2, 3, 4, 5, 6, 7, 8, 0, 0, 9, 0}
	for i := range wantVals {
		if vals[i] != wantVals[i] {
			t.Fatalf("compressed = %v, want %v", vals, wantVals)
		}
	}
	// Row 0 keeps columns 1,3,4,7,10,11: byte0 = 0b10011010, byte1 = 0b00001100.
	// Row 1 keeps 0,1 | 4,5 (zeros at the first free positions) | 9,10.
	want := []byte{0x9A, 0x0C, 0x33, 0x06}
	if got := src["l.bitmask"].Data; string(got) != string(want) {
		t.Fatalf("bitmask = % x, want % x", got, want)
	}
	if dims, _ := src["l.shape"].Int64(); len(dims) != 2 || dims[0] != 2 || dims[1] != 12 || !slices.Equal(src["l.shape"].Shape, []int{2, 1}) {
		t.Fatalf("shape tensor %v %v", src["l.shape"].Shape, dims)
	}
	back, err := loadSparse24(src, "l")
	if err != nil {
		t.Fatal(err)
	}
	got := kernels.DenseWeights(back)
	for i := range w {
		if got[i] != w[i] {
			t.Fatalf("W[%d] = %g, want %g", i, got[i], w[i])
		}
	}
}

// TestLoadLinearErrors feeds the loaders damaged tensors and configs.
func TestLoadLinearErrors(t *testing.T) {
	q := randomQuant(32, 64, 4, 32, 2)
	gptq, _ := GPTQTensors("l", q, 1)
	awq, _ := AWQTensors("l", q)
	w8 := randomQuant(8, 16, 8, -1, 3)
	for i := range w8.Zeros {
		w8.Zeros[i] = 128
	}
	w8ts, _ := W8A8Tensors("l", w8)
	sp, _ := PackSparse24(2, 8, []float32{1, 2, 0, 0, 0, 0, 3, 4, 1, 0, 1, 0, 0, 1, 1, 0})
	spts, _ := Sparse24Tensors("l", sp, tensor.F16)
	gptqCfg := []byte(`{"quant_method":"gptq","bits":4,"group_size":32}`)
	awqCfg := []byte(`{"quant_method":"awq","bits":4,"group_size":32,"version":"gemm"}`)
	ctCfg := []byte(`{"quant_method":"compressed-tensors","format":"int-quantized","config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":8,"type":"int","symmetric":true,"strategy":"channel"},"input_activations":{"num_bits":8,"type":"int","symmetric":true,"strategy":"token","dynamic":true}}}}`)
	with := func(ts []*tensor.Tensor, name string, f func(t *tensor.Tensor) *tensor.Tensor) mapSource {
		s := sourceOf(ts)
		c := *s[name]
		c.Data = append([]byte(nil), c.Data...)
		c.Shape = append([]int(nil), c.Shape...)
		s[name] = f(&c)
		return s
	}
	tests := []struct {
		name string
		src  mapSource
		cfg  []byte
		want string
	}{
		{"no config", sourceOf(gptq), nil, "no quantization_config"},
		{"bad json", sourceOf(gptq), []byte(`{"quant_method":`), "quantization_config"},
		{"unknown method", sourceOf(gptq), []byte(`{"quant_method":"bnb","bits":4}`), "supported: gptq, awq"},
		{"gptq 5 bits", sourceOf(gptq), []byte(`{"quant_method":"gptq","bits":5,"group_size":32}`), "5 bits"},
		{"gptq wrong group size", sourceOf(gptq), []byte(`{"quant_method":"gptq","bits":4,"group_size":16}`), "qzeros"},
		{"gptq unknown checkpoint format", sourceOf(gptq), []byte(`{"quant_method":"gptq","bits":4,"group_size":32,"checkpoint_format":"marlin"}`), "checkpoint_format"},
		{"gptq qweight not I32", with(gptq, "l.qweight", func(t *tensor.Tensor) *tensor.Tensor { t.DType = tensor.F32; return t }), gptqCfg, "want I32"},
		{"gptq short data", with(gptq, "l.qweight", func(t *tensor.Tensor) *tensor.Tensor { t.Data = t.Data[:8]; return t }), gptqCfg, "bytes"},
		{"gptq g_idx out of range", with(gptq, "l.g_idx", func(t *tensor.Tensor) *tensor.Tensor { t.Data[0] = 9; return t }), gptqCfg, "outside"},
		{"gptq scales wrong shape", with(gptq, "l.scales", func(t *tensor.Tensor) *tensor.Tensor { t.Shape = []int{1, 64}; return t }), gptqCfg, "scales"},
		{"awq gemv", sourceOf(awq), []byte(`{"quant_method":"awq","bits":4,"group_size":32,"version":"gemv"}`), "version"},
		{"awq 3 bits", sourceOf(awq), []byte(`{"quant_method":"awq","bits":3,"group_size":32}`), "4-bit"},
		{"awq group not dividing", sourceOf(awq), []byte(`{"quant_method":"awq","bits":4,"group_size":48}`), "divide"},
		{"awq zeros shape", with(awq, "l.qzeros", func(t *tensor.Tensor) *tensor.Tensor { t.Shape = []int{4, 4}; return t }), awqCfg, "qzeros"},
		{"ct int with gptq method", sourceOf(w8ts), gptqCfg, "compressed-tensors"},
		{"ct int asymmetric activations", sourceOf(w8ts), []byte(strings.Replace(string(ctCfg), `"symmetric":true,"strategy":"token"`, `"symmetric":false,"strategy":"token"`, 1)), "activations"},
		{"ct int 4-bit", sourceOf(w8ts), []byte(strings.Replace(string(ctCfg), `"num_bits":8,"type":"int","symmetric":true,"strategy":"channel"`, `"num_bits":4,"type":"int","symmetric":true,"strategy":"channel"`, 1)), "int 8"},
		{"ct int scale count", with(w8ts, "l.weight_scale", func(t *tensor.Tensor) *tensor.Tensor { t.Shape = []int{3}; t.Data = t.Data[:12]; return t }), ctCfg, "weight_scale"},
		{"2:4 three bits in a group", with(spts, "l.bitmask", func(t *tensor.Tensor) *tensor.Tensor { t.Data[0] |= 0x04; return t }), nil, "want 2"},
		{"2:4 short values", with(spts, "l.compressed", func(t *tensor.Tensor) *tensor.Tensor { t.Shape = []int{2, 1}; t.Data = t.Data[:4]; return t }), nil, "compressed"},
		{"2:4 bad shape tensor", with(spts, "l.shape", func(t *tensor.Tensor) *tensor.Tensor { binary.LittleEndian.PutUint64(t.Data[8:], 7); return t }), nil, "shape"},
	}
	for _, tc := range tests {
		_, ok, err := LoadLinear(tc.src, "l", tc.cfg)
		if err == nil || ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ok=%v err=%v, want an error mentioning %q", tc.name, ok, err, tc.want)
		}
	}
	// Not packed: ok = false, no error.
	if m, ok, err := LoadLinear(mapSource{"l.weight": tensor.FromFloat32("l.weight", []int{1, 1}, []float32{1})}, "l", nil); m != nil || ok || err != nil {
		t.Errorf("dense layer: %v %v %v", m, ok, err)
	}
	// Good ones load as the expected kernels.
	for _, tc := range []struct {
		src  mapSource
		cfg  []byte
		want string
	}{
		{sourceOf(gptq), gptqCfg, "int4-g32"},
		{sourceOf(awq), awqCfg, "int4-g32"},
		{sourceOf(w8ts), ctCfg, "w8a8"},
		{sourceOf(w8ts), []byte(`{"quant_method":"compressed-tensors","format":"int-quantized","config_groups":{"g":{"weights":{"num_bits":8,"type":"int"}}}}`), "int8"},
		{sourceOf(spts), nil, "2:4"},
	} {
		m, ok, err := LoadLinear(tc.src, "l", tc.cfg)
		if err != nil || !ok || m.Format() != tc.want {
			t.Errorf("load %s: ok=%v err=%v", tc.want, ok, err)
		}
	}
}

// TestLoadPackQuantized reads a compressed-tensors pack-quantized layer
// (symmetric W4A16, and asymmetric with packed zero points) written by an
// independent packer following compressed-tensors' pack_to_int32.
func TestLoadPackQuantized(t *testing.T) {
	for _, asym := range []bool{false, true} {
		const out, in, bits, group = 16, 64, 4, 32
		q := randomQuant(out, in, bits, group, 4)
		if !asym {
			for i := range q.Zeros {
				q.Zeros[i] = 8
			}
		}
		pf := 32 / bits
		packed := make([]uint32, out*in/pf)
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				packed[o*(in/pf)+i/pf] |= uint32(q.Q[o*in+i]) << (uint(bits) * uint(i%pf))
			}
		}
		ng := in / group
		scale := make([]float32, out*ng) // [out, groups]
		for o := 0; o < out; o++ {
			for g := 0; g < ng; g++ {
				scale[o*ng+g] = q.Scales[g*out+o]
			}
		}
		shape := make([]byte, 8)
		binary.LittleEndian.PutUint32(shape, out)
		binary.LittleEndian.PutUint32(shape[4:], in)
		src := mapSource{
			"l.weight_packed": i32Tensor("l.weight_packed", []int{out, in / pf}, packed),
			"l.weight_scale":  tensor.FromFloat32("l.weight_scale", []int{out, ng}, scale),
			"l.weight_shape":  {Name: "l.weight_shape", DType: tensor.I32, Shape: []int{2}, Data: shape},
		}
		if asym {
			zp := make([]uint32, (out/pf)*ng)
			for o := 0; o < out; o++ {
				for g := 0; g < ng; g++ {
					zp[(o/pf)*ng+g] |= uint32(q.Zeros[g*out+o]) << (uint(bits) * uint(o%pf))
				}
			}
			src["l.weight_zero_point"] = i32Tensor("l.weight_zero_point", []int{out / pf, ng}, zp)
		}
		cfg := []byte(`{"quant_method":"compressed-tensors","format":"pack-quantized","config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int","symmetric":true,"strategy":"group","group_size":32}}}}`)
		m, ok, err := LoadLinear(src, "l", cfg)
		if err != nil || !ok {
			t.Fatalf("asym=%v: ok=%v err=%v", asym, ok, err)
		}
		got, want := kernels.DenseWeights(m), q.Dequantize()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("asym=%v: W[%d] = %g, want %g", asym, i, got[i], want[i])
			}
		}
		if _, isQ := m.(*kernels.QuantGroupMatrix); !isQ {
			t.Fatalf("loaded as %T", m)
		}
	}
}
