package compress

import (
	"context"
	"io"

	"github.com/llmcbench/gollm/compress/omniquant"
)

// omniQuant is OmniQuant: learnable weight clipping and equivalent
// transforms trained block by block with gradients through the block's
// differentiable forward, so it is a modelMethod: the training and the
// export are package compress/omniquant's (omniquant.Quantize,
// Result.Save); this file owns its spec parameters and its part of the
// record.
type omniQuant struct{}

func (omniQuant) Info() MethodInfo {
	return MethodInfo{Name: OmniQuant, Doc: "learnable weight clipping and equivalent transforms trained block by block (OmniQuant)", Params: []Param{
		bitsParam(4, bits2to8),
		{Key: "abits", Type: "int", Default: "16", Flag: "abits", Doc: "activation bit width: 4 to 8, or 16 (or 0) for weight-only",
			aliases: map[string]string{"0": "16"},
			check: func(v float64) string {
				return unless(v >= 4 && v <= 8 || v == 16, "want 4 to 8, or 16 for weight-only")
			}},
		{Key: "group", Type: "int", Default: "-1", Flag: "group-size", Doc: "input columns per quantization group, or -1 for one group per output row",
			check: func(v float64) string { return unless(v == -1 || v >= 1, "want -1 or ≥ 1") }},
		{Key: "epochs", Type: "int", Default: "20", Flag: "epochs", Doc: "training epochs per block", check: atLeast(1)},
		nsamplesParam(128), seqlenParam("2048"), seedParam(2)}}
}

func (omniQuant) record(c *Config, mc *MethodConfig) { recordQuantizer(c, mc) }

// compress quantizes c.Model and writes the GPTQ-format checkpoint into
// dir.
func (omniQuant) compress(ctx context.Context, c *Config, dir string, rec *Record, progress io.Writer) error {
	tok, err := c.tokenizer()
	if err != nil {
		return err
	}
	res, err := omniquant.Quantize(ctx, omniquant.Config{Model: c.Model, WBits: c.Bits, ABits: c.ABits, GroupSize: c.GroupSize,
		Epochs: c.Epochs, Calib: c.Calib, NSamples: c.NSamples, Seqlen: c.Seqlen, Seed: c.Seed, Tokenizer: tok}, progress)
	if err != nil {
		return err
	}
	if err := res.Save(dir); err != nil {
		return err
	}
	rec.Format, rec.Calibration, rec.CompressSeconds = res.Format, res.Calibration, res.Seconds
	return nil
}
