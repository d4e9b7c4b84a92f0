// Package omniquant implements OmniQuant (Shao et al., ICLR 2024) as the
// reference implementation (OpenGVLab/OmniQuant) runs it: decoder blocks
// are optimised one after another; for block i the targets are the
// full-precision block's outputs on full-precision inputs, the inputs are
// the outputs of the already-quantized blocks before it, and AdamW (weight
// decay 0, batch one sample) minimises the mean squared error between the
// two over the learnable parameters:
//
//   - LWC (learnable weight clipping): per output row or per (row, group)
//     logits up/low, initialised to 4.0; the asymmetric grid spans
//     [sigmoid(low)·min, sigmoid(up)·max] of the group; rounding is
//     straight-through (grad.FakeQuantLWC);
//   - LET (learnable equivalent transformation, weight-activation settings
//     only, LLaMA only): per-channel scales on input_layernorm→q/k/v,
//     post_attention_layernorm→gate/up, v→o and between q and k,
//     initialised from SmoothQuant's formula, with activations fake-quantized
//     per token (dynamic, asymmetric) at every linear's input and on q, k, v.
//
// At the end of each block the transforms are folded into the weights (the
// norm gains and v/o weights change, the float function does not), every
// linear is quantized with its learned clipping into integer codes and
// quantizer parameters, and the block's weights are replaced by their
// dequantized values before the next block's inputs are computed.
//
// Quantize is the entry point and Result.Save writes the quantized model
// (gollm compress runs both through compress.Run, which owns the output
// folder and writes compression.json); it costs, per block, epochs × samples
// forward and backward passes of one decoder block over seqlen tokens.
package omniquant

import (
	"context"
	"fmt"
	"io"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/models/packed"
)

// badInput is an unusable configuration or input (unsupported bits, a
// group size that does not divide a layer's input width, missing
// calibration data, an architecture the requested mode does not support):
// an error wrapping badinput.ErrBadInput.
func badInput(format string, args ...any) error {
	return fmt.Errorf("omniquant: %w: %s", badinput.ErrBadInput, fmt.Sprintf(format, args...))
}

// Reference settings (OmniQuant's main.py and shipped LLaMA-2 scripts).
const (
	DefaultEpochs    = 20
	DefaultLWCLR     = 1e-2
	DefaultLETLR     = 5e-3
	DefaultLETLRW4A4 = 1e-3
	DefaultNSamples  = 128
	DefaultSeqlen    = 2048
	DefaultSeed      = 2
	// LWCInit is the initial value of every clipping logit: sigmoid(4) ≈
	// 0.982, so the initial grid clips about 1.8% off each end of the
	// min/max range (it is not exactly round-to-nearest min/max).
	LWCInit = 4.0
)

// Config is one OmniQuant run. Zero numeric fields take the reference
// defaults (see Validate).
type Config struct {
	// Model is the Hugging Face folder to quantize.
	Model string
	// WBits is the weight width (2..8). ABits is the activation width for
	// weight-activation settings (4..8); 0 or ≥16 means weight-only.
	WBits, ABits int
	// GroupSize is the number of input columns per quantization group;
	// 0 or -1 means one group per output row (per channel).
	GroupSize int
	// Epochs over the calibration samples per block (default 20; 0 means
	// the default, use NoTrain for a pure initial-state run).
	Epochs int
	// LWCLR and LETLR are the learning rates (defaults 1e-2 and 5e-3, LET
	// 1e-3 for W4A4).
	LWCLR, LETLR float64
	// LWC and LET select the learnable parts. When both are false the
	// reference's choice for the bits is used: LWC always, LET when
	// activations are quantized.
	LWC, LET bool
	// Calib are the calibration text files (see corpus.Read);
	// NSamples windows of Seqlen tokens are drawn with Seed as GPTQ's
	// loaders draw them (defaults 128 × 2048, seed 2).
	Calib            []string
	NSamples, Seqlen int
	Seed             int64
	// Tokenizer encodes the calibration text (tokenizer.Tokenizer
	// satisfies it).
	Tokenizer corpus.Encoder
}

// weightOnly reports whether activations stay in floating point.
func (c *Config) weightOnly() bool { return c.ABits <= 0 || c.ABits >= 16 }

// Validate fills the defaults and checks the settings that do not need the
// model; errors wrap badinput.ErrBadInput. Quantize calls it (and checks the group
// size against the model's layer widths).
func (c *Config) Validate() error {
	if c.Model == "" {
		return badInput("no model folder")
	}
	if c.WBits < 2 || c.WBits > 8 {
		return badInput("--wbits %d: supported weight widths are 2..8", c.WBits)
	}
	if c.ABits >= 16 {
		c.ABits = 0
	}
	if c.ABits != 0 && (c.ABits < 4 || c.ABits > 8) {
		return badInput("--abits %d: supported activation widths are 4..8, or 0/16 for weight-only", c.ABits)
	}
	if c.GroupSize == 0 {
		c.GroupSize = -1
	}
	if c.GroupSize < -1 {
		return badInput("group size %d", c.GroupSize)
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.Epochs < 0 {
		return badInput("%d epochs", c.Epochs)
	}
	if !c.LWC && !c.LET {
		c.LWC = true
		c.LET = !c.weightOnly()
	}
	if c.LET && c.weightOnly() {
		return badInput("LET needs quantized activations (--abits 4..8); weight-only settings use LWC only")
	}
	if c.LWCLR == 0 {
		c.LWCLR = DefaultLWCLR
	}
	if c.LETLR == 0 {
		c.LETLR = DefaultLETLR
		if c.WBits == 4 && c.ABits == 4 {
			c.LETLR = DefaultLETLRW4A4
		}
	}
	if c.LWCLR < 0 || c.LETLR < 0 {
		return badInput("negative learning rate")
	}
	if c.NSamples == 0 {
		c.NSamples = DefaultNSamples
	}
	if c.Seqlen == 0 {
		c.Seqlen = DefaultSeqlen
	}
	if c.NSamples < 0 || c.Seqlen < 0 {
		return badInput("%d samples of %d tokens", c.NSamples, c.Seqlen)
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if len(c.Calib) == 0 {
		return badInput("no calibration files")
	}
	if c.Tokenizer == nil {
		return badInput("no tokenizer for the calibration text")
	}
	return nil
}

// BlockStats is the outcome of one block: the mean squared error between
// the quantized and the full-precision block outputs over the calibration
// samples, with round-to-nearest min/max quantization at the same bits and
// groups (RTN, and no transform) and after optimisation, and the seconds
// the block took (optimisation, folding and quantization).
type BlockStats struct {
	Block    int     `json:"block"`
	RTNMSE   float64 `json:"rtn_mse"`
	InitMSE  float64 `json:"init_mse"`
	FinalMSE float64 `json:"final_mse"`
	Seconds  float64 `json:"seconds"`
}

// Result is what Quantize produced: per-block statistics, the quantized
// linears by their Hugging Face weight prefix (e.g.
// "model.layers.0.self_attn.q_proj"), and the settings used.
type Result struct {
	Config Config       `json:"-"`
	Blocks []BlockStats `json:"blocks"`
	// Quant holds the integer codes and quantizer parameters of every
	// quantized linear.
	Quant map[string]*packed.Quantized `json:"-"`
	// Format is the checkpoint layout Save writes ("gptq").
	Format string `json:"format"`
	// Seconds is the whole run's wall time.
	Seconds float64 `json:"seconds"`
	// Calibration is the calibration set the blocks were trained on.
	Calibration *corpus.Calibration `json:"-"`
	// norms holds the block norm gains with the LET scales folded in
	// (LET runs only), by tensor name.
	norms map[string][]float32
}

// Quantize runs OmniQuant on cfg.Model and returns the quantized linears
// (Result.Save writes the model). Progress lines go to progress (may be
// nil). It stops between optimisation steps when ctx is cancelled.
func Quantize(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	r, err := newRun(cfg, progress)
	if err != nil {
		return nil, err
	}
	return r.quantize(ctx)
}
