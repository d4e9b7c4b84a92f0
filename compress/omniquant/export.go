package omniquant

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/compress/format"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
)

// export writes the quantized model to cfg.Out in the GPTQ (AutoGPTQ v1)
// format through compress/format: every decoder-block linear packed from
// its codes and quantizer parameters, the norm gains with the folded LET
// scales, every other tensor copied, and a "gollm_compression" record of
// the settings and per-block errors in config.json. The folder reloads
// through models.Load with the packed quantized kernels. Widths GPTQ does
// not pack (5–7 bits) are stored in 8-bit containers. In weight-activation
// settings quantization_config.gollm_act_bits makes gollm's loader quantize
// every linear's input per token at run time.
//
// The files are written into d's staging folder and moved into place
// (d.Commit) only when all are complete and ctx is not cancelled.
func (r *run) export(ctx context.Context, res *Result, d *outdir.Dir, rec *compress.Record) error {
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
		// Read back by packed.LoadLinear: the packed weights then run on
		// activations fake-quantized per token (kernels.ActQuantMatrix), as
		// the reference evaluates W4A4/W6A6 (it also quantizes q/k/v inside
		// attention, which gollm's engine does not at run time).
		meta["gollm_act_bits"] = r.cfg.ABits
		meta["activation_quantization"] = "per-token dynamic asymmetric at every linear input (quantization_config.gollm_act_bits)"
	}
	quant := res.Quant
	if b := r.cfg.WBits; b != 2 && b != 3 && b != 4 && b != 8 {
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
	err = format.Save(m, d.Tmp, format.SaveOptions{Format: format.FormatGPTQ, Quant: quant, Meta: meta, Tensors: tensors})
	m.Close()
	if err != nil {
		return fmt.Errorf("omniquant: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rec.Format, rec.Calibration, rec.CompressSeconds = res.Format, r.calib, res.Seconds
	rec.Config.Bits, rec.Config.GroupSize, rec.Config.ScaleDType = r.cfg.WBits, r.cfg.GroupSize, "float16"
	if err := rec.Finish(d.Tmp); err != nil {
		return err
	}
	return d.Commit()
}

// createOut checks and locks cfg.Out before any work (outdir.Create):
// errors wrap outdir.ErrForeign, ErrBusy or ErrBadPath, or ErrBadInput for
// the model's own folder.
func createOut(cfg Config) (*outdir.Dir, error) {
	if a, err := os.Stat(cfg.Model); err == nil {
		if b, err := os.Stat(cfg.Out); err == nil && os.SameFile(a, b) {
			return nil, badInput("--out %s is the input model folder", cfg.Out)
		}
	}
	return outdir.Create(cfg.Out, outdir.Options{Command: "compress", Flag: "--out", Overwrite: cfg.Overwrite})
}
