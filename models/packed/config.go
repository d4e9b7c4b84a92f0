package packed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// QuantConfig is the part of config.json's quantization_config that the
// loaders read (AutoGPTQ, AutoAWQ and compressed-tensors spellings).
type QuantConfig struct {
	QuantMethod string `json:"quant_method"`
	// GPTQ and AWQ.
	Bits      int  `json:"bits"`
	GroupSize *int `json:"group_size"`
	// GPTQ.
	DescAct          bool   `json:"desc_act"`
	Sym              *bool  `json:"sym"`
	CheckpointFormat string `json:"checkpoint_format"`
	// ActBits (gollm's "gollm_act_bits" key, GPTQ only) asks for per-token
	// activation quantization at run time (kernels.ActQuantMatrix), as
	// OmniQuant's W4A4/W6A6 models are evaluated; other loaders ignore it
	// and run the weights on float activations.
	ActBits int `json:"gollm_act_bits"`
	// AWQ ("w_bit"/"q_group_size" are AutoAWQ's own quant_config.json names).
	WBit       int    `json:"w_bit"`
	QGroupSize *int   `json:"q_group_size"`
	Version    string `json:"version"`
	ZeroPoint  *bool  `json:"zero_point"`
	// compressed-tensors.
	Format         string              `json:"format"`
	ConfigGroups   map[string]*CTGroup `json:"config_groups"`
	SparsityConfig *CTSparsity         `json:"sparsity_config"`
}

// CTGroup is one compressed-tensors config group.
type CTGroup struct {
	Targets          []string `json:"targets"`
	Weights          *CTArgs  `json:"weights"`
	InputActivations *CTArgs  `json:"input_activations"`
	Format           string   `json:"format"`
}

// CTArgs are compressed-tensors quantization arguments.
type CTArgs struct {
	NumBits   int             `json:"num_bits"`
	Type      string          `json:"type"`
	Symmetric *bool           `json:"symmetric"`
	Strategy  string          `json:"strategy"`
	GroupSize *int            `json:"group_size"`
	Dynamic   json.RawMessage `json:"dynamic"`
}

// CTSparsity is a compressed-tensors sparsity_config.
type CTSparsity struct {
	Format            string   `json:"format"`
	SparsityStructure string   `json:"sparsity_structure"`
	GlobalSparsity    float64  `json:"global_sparsity"`
	Targets           []string `json:"targets"`
	Ignore            []string `json:"ignore"`
}

// ParseQuantConfig parses a quantization_config object. An empty or null
// input gives (nil, nil).
func ParseQuantConfig(raw []byte) (*QuantConfig, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var qc QuantConfig
	if err := json.Unmarshal(raw, &qc); err != nil {
		return nil, fmt.Errorf("quantization_config: %w", err)
	}
	qc.QuantMethod = strings.ToLower(qc.QuantMethod)
	if qc.Bits == 0 {
		qc.Bits = qc.WBit
	}
	if qc.GroupSize == nil {
		qc.GroupSize = qc.QGroupSize
	}
	if qc.Bits < 0 || qc.Bits > 16 {
		return nil, fmt.Errorf("quantization_config: %d bits", qc.Bits)
	}
	// OmniQuant writes 4…8 (its --abits); the activation quantizer was
	// validated at those widths only.
	if qc.ActBits != 0 && (qc.ActBits < 4 || qc.ActBits > 8) {
		return nil, fmt.Errorf("quantization_config: gollm_act_bits %d is not supported (4…8, or leave it out for float activations)", qc.ActBits)
	}
	return &qc, nil
}

// groupSizeOr returns *p, or def if p is nil.
func groupSizeOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// weightGroup returns the compressed-tensors group describing Linear
// weights (the first group, in name order, that has weights), or nil.
func (qc *QuantConfig) weightGroup() *CTGroup {
	var best *CTGroup
	bestName := ""
	for name, g := range qc.ConfigGroups {
		if g == nil || g.Weights == nil {
			continue
		}
		if best == nil || name < bestName {
			best, bestName = g, name
		}
	}
	return best
}

// dynamicTrue reports whether a compressed-tensors "dynamic" field is true
// (or "local").
func dynamicTrue(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "true" || s == `"local"`
}

// GPTQConfig is the quantization_config AutoGPTQ writes. meta may override
// damp_percent, true_sequential and static_groups.
func GPTQConfig(bits, groupSize int, descAct, sym, v2 bool, meta map[string]any) map[string]any {
	cf := "gptq"
	if v2 {
		cf = "gptq_v2"
	}
	c := map[string]any{
		"quant_method":         "gptq",
		"bits":                 bits,
		"group_size":           groupSize,
		"desc_act":             descAct,
		"sym":                  sym,
		"damp_percent":         0.01,
		"true_sequential":      true,
		"static_groups":        false,
		"model_name_or_path":   nil,
		"model_file_base_name": "model",
		"checkpoint_format":    cf,
	}
	for _, k := range []string{"damp_percent", "true_sequential", "static_groups", "gollm_act_bits"} {
		if v, ok := meta[k]; ok {
			c[k] = v
		}
	}
	return c
}

// AWQConfig is the quantization_config AutoAWQ (through transformers)
// writes for the gemm kernels.
func AWQConfig(groupSize int) map[string]any {
	return map[string]any{
		"quant_method":           "awq",
		"bits":                   4,
		"group_size":             groupSize,
		"zero_point":             true,
		"version":                "gemm",
		"modules_to_not_convert": nil,
	}
}

// ctArgs is a compressed-tensors QuantizationArgs object.
func ctArgs(strategy string, dynamic bool, observer any) map[string]any {
	return map[string]any{
		"num_bits":        8,
		"type":            "int",
		"symmetric":       true,
		"strategy":        strategy,
		"group_size":      nil,
		"dynamic":         dynamic,
		"actorder":        nil,
		"block_structure": nil,
		"observer":        observer,
		"observer_kwargs": map[string]any{},
	}
}

// W8A8Config is the quantization_config llm-compressor writes for W8A8
// int8 (per-channel weights, dynamic per-token activations).
func W8A8Config(ignore []string) map[string]any {
	return map[string]any{
		"quant_method":             "compressed-tensors",
		"format":                   "int-quantized",
		"quantization_status":      "compressed",
		"global_compression_ratio": nil,
		"kv_cache_scheme":          nil,
		"ignore":                   ignore,
		"config_groups": map[string]any{
			"group_0": map[string]any{
				"targets":            []string{"Linear"},
				"weights":            ctArgs("channel", false, "minmax"),
				"input_activations":  ctArgs("token", true, nil),
				"output_activations": nil,
			},
		},
	}
}

// Sparse24Config is the quantization_config of a sparse-24-bitmask
// checkpoint without quantization.
func Sparse24Config(ignore []string, global float64) map[string]any {
	return map[string]any{
		"quant_method": "compressed-tensors",
		"sparsity_config": map[string]any{
			"format":                     "sparse-24-bitmask",
			"sparsity_structure":         "2:4",
			"global_sparsity":            global,
			"targets":                    []string{"Linear"},
			"ignore":                     ignore,
			"registry_requires_subclass": false,
		},
	}
}
