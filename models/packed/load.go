package packed

import (
	"fmt"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// Source is what the loaders read tensors from: a *tensor.Checkpoint, or a
// map in tests and fuzz targets.
type Source interface {
	Has(name string) bool
	Tensor(name string) (*tensor.Tensor, error)
}

// LoadLinear builds the packed matrix of linear `prefix` from src when it
// is stored in one of this package's formats, reading quantization_config
// (raw JSON, may be nil) for the format's parameters: GPTQ (qweight +
// quant_method gptq) and AWQ gemm (qweight + quant_method awq) as
// kernels.QuantGroupMatrix; compressed-tensors int-quantized (int8 weight +
// weight_scale) as kernels.QuantW8A8Matrix when input activations are
// quantized dynamically, else as an int8 kernels.QuantGroupMatrix;
// pack-quantized (weight_packed) as kernels.QuantGroupMatrix;
// sparse-24-bitmask (compressed + bitmask) as kernels.Sparse24Matrix. It
// reports ok = false when the layer is in none of them (for example a
// dense float weight).
func LoadLinear(src Source, prefix string, quantConfig []byte) (kernels.Matrix, bool, error) {
	q, isQuant, err := loadQuantized(src, prefix, quantConfig)
	if err != nil || isQuant {
		if err != nil {
			return nil, false, err
		}
		m, err := q.Matrix()
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", prefix, err)
		}
		if qc, _ := ParseQuantConfig(quantConfig); qc != nil && qc.ActBits != 0 && qc.QuantMethod == "gptq" {
			if m, err = kernels.NewActQuantMatrix(m, qc.ActBits); err != nil {
				return nil, false, fmt.Errorf("%w: quantization_config gollm_act_bits: %v", ErrBadQuant, err)
			}
		}
		return m, true, nil
	}
	if src.Has(prefix+".compressed") && src.Has(prefix+".bitmask") {
		m, err := loadSparse24(src, prefix)
		if err != nil {
			return nil, false, err
		}
		return m, true, nil
	}
	return nil, false, nil
}

// LoadQuantized reads linear `prefix` of a GPTQ, AWQ or compressed-tensors
// (int-quantized, pack-quantized) checkpoint as a Quantized — the
// codes and quantizer parameters as stored. It reports false when the
// layer is not quantized in one of these formats.
func LoadQuantized(src Source, prefix string, quantConfig []byte) (*Quantized, bool, error) {
	return loadQuantized(src, prefix, quantConfig)
}

func loadQuantized(src Source, prefix string, quantConfig []byte) (*Quantized, bool, error) {
	hasQW := src.Has(prefix + ".qweight")
	hasPacked := src.Has(prefix + ".weight_packed")
	hasInt := false
	if src.Has(prefix+".weight") && src.Has(prefix+".weight_scale") {
		if t, err := src.Tensor(prefix + ".weight"); err == nil && t.DType == tensor.I8 {
			hasInt = true
		}
	}
	if !hasQW && !hasPacked && !hasInt {
		return nil, false, nil
	}
	qc, err := ParseQuantConfig(quantConfig)
	if err != nil {
		return nil, false, err
	}
	if qc == nil {
		return nil, false, fmt.Errorf("%w: %s is packed but config.json has no quantization_config", ErrBadQuant, prefix)
	}
	var q *Quantized
	switch {
	case hasQW && qc.QuantMethod == "gptq":
		off := 1
		switch qc.CheckpointFormat {
		case "", "gptq":
		case "gptq_v2":
			off = 0
		default:
			return nil, false, fmt.Errorf("%w: gptq checkpoint_format %q (supported: gptq, gptq_v2)", ErrBadQuant, qc.CheckpointFormat)
		}
		q, err = loadGPTQ(src, prefix, qc.Bits, groupSizeOr(qc.GroupSize, -1), off)
	case hasQW && qc.QuantMethod == "awq":
		switch qc.Version {
		case "", "gemm", "GEMM":
		default:
			return nil, false, fmt.Errorf("%w: awq version %q (supported: gemm)", ErrBadQuant, qc.Version)
		}
		q, err = loadAWQ(src, prefix, qc.Bits, groupSizeOr(qc.GroupSize, -1))
	case hasQW:
		return nil, false, fmt.Errorf("%w: %s.qweight with quant_method %q (supported: gptq, awq)", ErrBadQuant, prefix, qc.QuantMethod)
	case qc.QuantMethod != "compressed-tensors":
		return nil, false, fmt.Errorf("%w: %s holds compressed-tensors weights but quant_method is %q", ErrBadQuant, prefix, qc.QuantMethod)
	case hasPacked:
		g := qc.weightGroup()
		if g == nil {
			return nil, false, fmt.Errorf("%w: %s.weight_packed without a config group describing the weights", ErrBadQuant, prefix)
		}
		if g.InputActivations != nil {
			return nil, false, fmt.Errorf("%w: %s: pack-quantized weights with quantized activations are not supported", ErrBadQuant, prefix)
		}
		q, err = loadCTPacked(src, prefix, g.Weights.NumBits, groupSizeOr(g.Weights.GroupSize, -1))
	default: // int-quantized
		g := qc.weightGroup()
		act := 0
		if g != nil {
			if g.Weights.NumBits != 8 || (g.Weights.Type != "" && g.Weights.Type != "int") {
				return nil, false, fmt.Errorf("%w: %s: int-quantized weights of %d bits, type %q (supported: int 8)", ErrBadQuant, prefix, g.Weights.NumBits, g.Weights.Type)
			}
			if a := g.InputActivations; a != nil {
				if a.NumBits != 8 || !dynamicTrue(a.Dynamic) || (a.Strategy != "" && a.Strategy != "token") || (a.Symmetric != nil && !*a.Symmetric) {
					return nil, false, fmt.Errorf("%w: %s: input activations %d-bit %s dynamic=%s (supported: symmetric 8-bit per-token dynamic)", ErrBadQuant, prefix, a.NumBits, a.Strategy, a.Dynamic)
				}
				act = 8
			}
		}
		q, err = loadCTInt(src, prefix, act)
	}
	if err != nil {
		return nil, false, err
	}
	if err := q.Validate(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", prefix, err)
	}
	return q, true, nil
}
