package packed

import (
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// FuzzParseQuantConfig: any bytes parse or fail cleanly.
func FuzzParseQuantConfig(f *testing.F) {
	f.Add([]byte(`{"quant_method":"gptq","bits":4,"group_size":128,"desc_act":true,"sym":true}`))
	f.Add([]byte(`{"quant_method":"awq","bits":4,"group_size":128,"version":"gemm","zero_point":true}`))
	f.Add([]byte(`{"quant_method":"compressed-tensors","config_groups":{"g":{"weights":{"num_bits":8},"input_activations":{"num_bits":8,"dynamic":true}}},"sparsity_config":{"format":"sparse-24-bitmask"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		qc, err := ParseQuantConfig(b)
		if err == nil && qc != nil {
			qc.weightGroup()
		}
	})
}

// FuzzLoadLinear builds packed tensors of fuzzed shapes and bytes and runs
// every loader on them: each must load or return an error, never panic or
// allocate without bound.
func FuzzLoadLinear(f *testing.F) {
	q := randomQuant(32, 64, 4, 32, 1)
	gptq, _ := GPTQTensors("l", q, 1)
	var seed []byte
	for _, t := range gptq {
		seed = append(seed, t.Data...)
	}
	f.Add(uint8(0), uint8(4), uint8(2), uint8(32), seed)
	f.Add(uint8(1), uint8(8), uint8(2), uint8(16), seed)
	f.Add(uint8(2), uint8(2), uint8(1), uint8(8), seed)
	f.Add(uint8(3), uint8(2), uint8(8), uint8(8), seed)
	f.Add(uint8(4), uint8(3), uint8(4), uint8(32), seed)
	f.Fuzz(func(t *testing.T, kind, bits, a, b uint8, data []byte) {
		// Small dimensions from the fuzzed bytes.
		d0, d1 := int(a%16)+1, int(b%96)+1
		take := func(n int) []byte {
			out := make([]byte, n)
			copy(out, data)
			if len(data) > n {
				data = data[n:]
			} else {
				data = nil
			}
			return out
		}
		mk := func(name string, dt tensor.DType, shape ...int) *tensor.Tensor {
			return &tensor.Tensor{Name: name, DType: dt, Shape: shape, Data: take(tensor.Numel(shape) * dt.Size())}
		}
		src := mapSource{}
		var cfg []byte
		gs := int(a%4) * 16
		switch kind % 5 {
		case 0, 1: // gptq / awq
			bb := int(bits%9) + 1
			src["l.qweight"] = mk("l.qweight", tensor.I32, d0, d1)
			src["l.qzeros"] = mk("l.qzeros", tensor.I32, int(b%4)+1, d1)
			src["l.scales"] = mk("l.scales", tensor.F16, int(b%4)+1, d1*8)
			if kind%5 == 0 {
				src["l.g_idx"] = mk("l.g_idx", tensor.I32, d0*32/max(1, bb))
				cfg = []byte(`{"quant_method":"gptq","bits":` + itoa(bb) + `,"group_size":` + itoa(gs) + `}`)
			} else {
				cfg = []byte(`{"quant_method":"awq","bits":` + itoa(bb) + `,"group_size":` + itoa(gs) + `}`)
			}
		case 2: // compressed-tensors int8
			src["l.weight"] = mk("l.weight", tensor.I8, d0, d1)
			src["l.weight_scale"] = mk("l.weight_scale", tensor.F32, d0, 1)
			cfg = []byte(`{"quant_method":"compressed-tensors","config_groups":{"g":{"weights":{"num_bits":8},"input_activations":{"num_bits":8,"dynamic":true}}}}`)
		case 3: // 2:4 bitmask
			out, in := d0, 4*(int(b%24)+1)
			src["l.compressed"] = mk("l.compressed", tensor.F16, out, in/2)
			src["l.bitmask"] = mk("l.bitmask", tensor.U8, out, (in+7)/8)
			sh := mk("l.shape", tensor.I64, 2, 1)
			sh.Data = []byte{byte(out), 0, 0, 0, 0, 0, 0, 0, byte(in), 0, 0, 0, 0, 0, 0, 0}
			if bits%2 == 1 {
				sh.Data[9] = bits // a shape the other tensors do not match
			}
			src["l.shape"] = sh
		case 4: // pack-quantized
			bb := int(bits%9) + 1
			src["l.weight_packed"] = mk("l.weight_packed", tensor.I32, d0, d1)
			src["l.weight_scale"] = mk("l.weight_scale", tensor.F32, d0, int(b%4)+1)
			sh := mk("l.weight_shape", tensor.I32, 2)
			sh.Data = []byte{byte(d0), 0, 0, 0, byte(d1 * 32 / max(1, bb)), 0, 0, 0}
			src["l.weight_shape"] = sh
			cfg = []byte(`{"quant_method":"compressed-tensors","config_groups":{"g":{"weights":{"num_bits":` + itoa(bb) + `,"group_size":` + itoa(gs) + `}}}}`)
		}
		m, ok, err := LoadLinear(src, "l", cfg)
		if err == nil && ok {
			out, in := m.Dims()
			x := make([]float32, in)
			y := make([]float32, out)
			m.MulT(y, x, 1, nil)
		}
	})
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}
