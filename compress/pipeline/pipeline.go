// Package pipeline runs any compression method from its spec string, the
// way gollm compress and the benchmark name a run: a Job (spec, model,
// output, calibration files) becomes a compress.Config for compress.Run,
// which writes the checkpoint and its compression.json record into the
// output folder.
package pipeline

import (
	"context"
	"fmt"
	"io"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/models"
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
// wrote there (compress.RecordFile), through compress.Run, which drives
// all nine methods. It first reads every weight once (models.CheckFinite):
// the methods load blocks lazily and would meet a NaN or Inf weight
// minutes into the run. Bad input (errors wrapping compress.ErrBadInput,
// or outdir's errors for Out) is reported before any work; an error or a
// cancelled ctx leaves Out as it was. Progress lines go to progress (may
// be nil).
func Run(ctx context.Context, j Job, progress io.Writer) (*compress.Record, error) {
	if err := models.CheckFinite(j.Model); err != nil {
		return nil, fmt.Errorf("--model %s: %w", j.Model, err)
	}
	c := compress.Config{Model: j.Model, Out: j.Out, Calib: j.Calib, Tokenizer: j.Tokenizer, Device: j.Device, Overwrite: j.Overwrite}
	c.ApplySpec(j.Spec)
	c.LoRA.Data = j.LoRAData
	return compress.Run(ctx, c, progress)
}
