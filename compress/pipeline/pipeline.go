// Package pipeline runs any compression method from its spec: the seven
// block methods through compress.Run, LLM-Pruner through
// llmpruner.PruneRecover and OmniQuant through omniquant.Quantize, each
// writing the checkpoint and its compression.json record into the output
// folder. It sits above the three packages because llmpruner and omniquant
// import compress (they reuse its calibration reader, record and formats):
// compress cannot call them, and an init()-registered hook would hide the
// dependency. The CLI (gollm compress) and the benchmark call Run.
package pipeline

import (
	"context"
	"fmt"
	"io"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/compress/llmpruner"
	"github.com/llmcbench/gollm/compress/omniquant"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tokenizer"
)

// Job is one compression: the method spec and what it runs on.
type Job struct {
	// Spec is the method and its settings (compress.ParseSpec).
	Spec compress.Spec
	// Model is the Hugging Face folder to compress; Out the folder to
	// write (see compress.Config.Out).
	Model, Out string
	// Calib lists the calibration files (the methods that calibrate).
	Calib []string
	// LoRAData lists LLM-Pruner's LoRA recovery text (nil: Calib).
	LoRAData []string
	// Tokenizer encodes the calibration text; nil means the model folder's.
	Tokenizer compress.Tokenizer
	// Overwrite allows an Out holding files gollm did not write (see
	// outdir.Options.Overwrite).
	Overwrite bool
	// Device must be "" or "cpu".
	Device string
}

// Run compresses j.Model with j.Spec into j.Out and returns the record it
// wrote there (compress.RecordFile). Bad input (errors wrapping
// compress.ErrBadInput, llmpruner.ErrBadInput or omniquant.ErrBadInput,
// or outdir's errors for Out) is reported before any work; an error or a
// cancelled ctx leaves Out as it was. Progress lines go to progress (may
// be nil).
func Run(ctx context.Context, j Job, progress io.Writer) (*compress.Record, error) {
	// The methods load blocks lazily and would meet a NaN or Inf weight
	// minutes into the run: read every weight once before any work.
	if err := models.CheckFinite(j.Model); err != nil {
		return nil, fmt.Errorf("--model %s: %w", j.Model, err)
	}
	switch j.Spec.Method {
	case compress.LLMPruner:
		return runLLMPruner(ctx, j, progress)
	case compress.OmniQuant:
		return runOmniQuant(ctx, j, progress)
	}
	c := compress.Config{Model: j.Model, Out: j.Out, Calib: j.Calib, Tokenizer: j.Tokenizer, Device: j.Device, Overwrite: j.Overwrite}
	c.ApplySpec(j.Spec)
	return compress.Run(ctx, c, progress)
}

// runLLMPruner prunes (and recovers) through llmpruner.PruneRecover; both
// run in the staging folder, so Out receives the recovered checkpoint or
// nothing.
func runLLMPruner(ctx context.Context, j Job, progress io.Writer) (*compress.Record, error) {
	s := j.Spec
	c := llmpruner.Config{Model: j.Model, Out: j.Out, Sparsity: s.Float("sparsity"), LayerRatio: s.Float("layer_ratio"),
		BlockStart: s.Int("block_start"), BlockEnd: s.Int("block_end"), Importance: s.Get("importance"),
		Calib: j.Calib, NSamples: s.Int("nsamples"), Seqlen: s.Int("seqlen"), Seed: int64(s.Int("seed")), Overwrite: j.Overwrite}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	data := j.LoRAData
	if len(data) == 0 {
		data = j.Calib
	}
	lc := llmpruner.LoRAConfig{Steps: s.Int("lora_steps"), Rank: s.Int("lora_rank"), Alpha: s.Float("lora_alpha"), LR: s.Float("lora_lr"),
		Batch: s.Int("lora_batch"), Seqlen: s.Int("lora_seqlen"), Data: data}
	if err := lc.Validate(); err != nil {
		return nil, err
	}
	if err := checkOut(j); err != nil {
		return nil, err
	}
	tok, err := tokenizerOf(j)
	if err != nil {
		return nil, err
	}
	c.Tokenizer = tok
	if _, _, err := llmpruner.PruneRecover(ctx, c, lc, progress); err != nil {
		return nil, err
	}
	return compress.ReadRecord(j.Out)
}

// runOmniQuant quantizes through omniquant.Quantize.
func runOmniQuant(ctx context.Context, j Job, progress io.Writer) (*compress.Record, error) {
	if err := checkOut(j); err != nil {
		return nil, err
	}
	tok, err := tokenizerOf(j)
	if err != nil {
		return nil, err
	}
	s := j.Spec
	c := omniquant.Config{Model: j.Model, Out: j.Out, WBits: s.Int("bits"), ABits: s.Int("abits"), GroupSize: s.Int("group"),
		Epochs: s.Int("epochs"), Calib: j.Calib, NSamples: s.Int("nsamples"), Seqlen: s.Int("seqlen"), Seed: int64(s.Int("seed")),
		Tokenizer: tok, Overwrite: j.Overwrite}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if _, err := omniquant.Quantize(ctx, c, progress); err != nil {
		return nil, err
	}
	return compress.ReadRecord(j.Out)
}

// checkOut checks Out as the method's package will (outdir.Create: a
// folder holding files gollm did not write, one another run is writing, a
// bad parent) before the tokenizer is loaded, and releases it; the package
// then takes the folder for the run.
func checkOut(j Job) error {
	if j.Device != "" && j.Device != "cpu" {
		return fmt.Errorf("%w: --device %q: compression runs on the CPU (device \"cpu\")", compress.ErrBadInput, j.Device)
	}
	d, err := outdir.Create(j.Out, outdir.Options{Command: "compress", Flag: "--out", Overwrite: j.Overwrite})
	if err != nil {
		return err
	}
	d.Abort()
	return nil
}

// tokenizerOf returns j.Tokenizer, or the model folder's tokenizer.
func tokenizerOf(j Job) (compress.Tokenizer, error) {
	if j.Tokenizer != nil {
		return j.Tokenizer, nil
	}
	t, err := tokenizer.Load(j.Model)
	if err != nil {
		return nil, fmt.Errorf("%w: --model %s: %v", compress.ErrBadInput, j.Model, err)
	}
	return t, nil
}
