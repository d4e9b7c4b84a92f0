package omniquant

import (
	"fmt"
	"strings"

	"github.com/llmcbench/gollm/compress/format"
	"github.com/llmcbench/gollm/models"
)

// export writes the quantized model to cfg.Out in the GPTQ (AutoGPTQ v1)
// format through compress/format: every decoder-block linear packed from
// its codes and quantizer parameters, the norm gains with the folded LET
// scales, every other tensor copied, and a "gollm_compression" record of
// the settings and per-block errors in config.json. The folder reloads
// through models.Load with the packed quantized kernels. In
// weight-activation settings only the weights are stored quantized; the
// per-token activation quantization used during optimisation is recorded
// in the metadata (no packed format carries 4- or 6-bit activations).
func (r *run) export(res *Result) error {
	m, err := models.Load(r.cfg.Model, models.Options{})
	if err != nil {
		return fmt.Errorf("omniquant: %w", err)
	}
	tensors := map[string][]float32{}
	if r.cfg.LET {
		for name, p := range r.m.Params {
			if strings.HasSuffix(name, "layernorm.weight") && strings.Contains(name, ".layers.") {
				tensors[name] = p.Val
			}
		}
	}
	blocks := make([]map[string]any, len(res.Blocks))
	for i, b := range res.Blocks {
		blocks[i] = map[string]any{"block": b.Block, "rtn_mse": b.RTNMSE, "init_mse": b.InitMSE, "final_mse": b.FinalMSE, "seconds": b.Seconds}
	}
	abits := r.cfg.ABits
	if abits == 0 {
		abits = 16
	}
	meta := map[string]any{
		"method": "omniquant", "wbits": r.cfg.WBits, "abits": abits, "group_size": r.cfg.GroupSize,
		"epochs": r.cfg.Epochs, "lwc": r.cfg.LWC, "let": r.cfg.LET, "lwc_lr": r.cfg.LWCLR, "let_lr": r.cfg.LETLR,
		"nsamples": len(r.samples), "seqlen": r.cfg.Seqlen, "seed": r.cfg.Seed, "blocks": blocks,
	}
	if r.calib != nil {
		meta["calibration"] = r.calib
	}
	if !r.cfg.weightOnly() {
		meta["activation_quantization"] = "per-token dynamic asymmetric (used during optimisation; not applied by the packed kernels)"
	}
	res.Format = format.FormatGPTQ
	err = format.Save(m, r.cfg.Out, format.SaveOptions{Format: format.FormatGPTQ, Quant: res.Quant, Meta: meta, Tensors: tensors})
	if err != nil {
		return fmt.Errorf("omniquant: %w", err)
	}
	return nil
}
