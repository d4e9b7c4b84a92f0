package omniquant

import (
	"fmt"

	"github.com/llmcbench/gollm/compress/format"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
)

// Save writes the quantized model into dir (an existing folder:
// compress.Run's staging folder) in the GPTQ (AutoGPTQ v1) format through
// compress/format: every decoder-block linear packed from its codes and
// quantizer parameters, the norm gains with the folded LET scales, every
// other tensor copied, and a "gollm_compression" record of the settings
// and per-block errors in config.json. The folder reloads through
// models.Load with the packed quantized kernels. Widths GPTQ does not pack
// (5–7 bits) are stored in 8-bit containers. In weight-activation settings
// quantization_config.gollm_act_bits makes gollm's loader quantize every
// linear's input per token at run time.
func (res *Result) Save(dir string) error {
	cfg := res.Config
	m, err := models.Load(cfg.Model, models.Options{})
	if err != nil {
		return fmt.Errorf("omniquant: %w", err)
	}
	tensors := map[string][]float32{}
	for name, v := range res.norms {
		tensors[name] = v
	}
	blocks := make([]map[string]any, len(res.Blocks))
	for i, b := range res.Blocks {
		blocks[i] = map[string]any{"block": b.Block, "rtn_mse": b.RTNMSE, "init_mse": b.InitMSE, "final_mse": b.FinalMSE, "seconds": b.Seconds}
	}
	abits := cfg.ABits
	if abits == 0 {
		abits = 16
	}
	nsamples := 0
	if res.Calibration != nil {
		nsamples = len(res.Calibration.Samples)
	}
	meta := map[string]any{
		"method": "omniquant", "wbits": cfg.WBits, "abits": abits, "group_size": cfg.GroupSize,
		"epochs": cfg.Epochs, "lwc": cfg.LWC, "let": cfg.LET, "lwc_lr": cfg.LWCLR, "let_lr": cfg.LETLR,
		"nsamples": nsamples, "seqlen": cfg.Seqlen, "seed": cfg.Seed, "blocks": blocks,
	}
	if res.Calibration != nil {
		meta["calibration"] = res.Calibration
	}
	if !cfg.weightOnly() {
		// Read back by packed.LoadLinear: the packed weights then run on
		// activations fake-quantized per token (kernels.ActQuantMatrix), as
		// the reference evaluates W4A4/W6A6 (it also quantizes q/k/v inside
		// attention, which gollm's engine does not at run time).
		meta["gollm_act_bits"] = cfg.ABits
		meta["activation_quantization"] = "per-token dynamic asymmetric at every linear input (quantization_config.gollm_act_bits)"
	}
	quant := res.Quant
	if b := cfg.WBits; b != 2 && b != 3 && b != 4 && b != 8 {
		// GPTQ packs 2, 3, 4 and 8 bits: other widths go into 8-bit
		// containers, the same codes, scales and zero points, so the
		// weights are exactly the quantized ones and run on the int8
		// group kernels.
		quant = make(map[string]*packed.Quantized, len(res.Quant))
		for name, q := range res.Quant {
			c := *q
			c.Bits = 8
			quant[name] = &c
		}
		meta["stored_bits"] = 8
	}
	res.Format = format.FormatGPTQ
	err = format.Save(m, dir, format.SaveOptions{Format: format.FormatGPTQ, Quant: quant, Meta: meta, Tensors: tensors})
	m.Close()
	if err != nil {
		return fmt.Errorf("omniquant: %w", err)
	}
	return nil
}
