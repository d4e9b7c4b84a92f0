package compress

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/compress/format"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// packBlock replaces the finished block's quantized linears in the model
// with matrices that run on the packed codes, so that a finished block
// holds about Bits/8 bytes per weight instead of a float copy. The model's
// function is then the saved checkpoint's with the norms as loaded: AWQ and
// SmoothQuant fold scales into norms that only the saved checkpoint holds.
func (e *engine) packBlock(i int) error {
	if e.cfg.outputFormat() == "dense" || e.floatOnly {
		return nil
	}
	for _, l := range e.m.Linears(i) {
		q := e.res.quant[l.Name]
		if q == nil {
			continue
		}
		mat, err := q.Matrix()
		if err != nil {
			return fmt.Errorf("linear %s: %w", l.Name, err)
		}
		if err := e.m.SetWeight(l, mat, nil); err != nil {
			return err
		}
	}
	return nil
}

// spillFile is the spill of block i in dir.
func spillFile(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("block-%05d.safetensors", i))
}

// spillBlock writes finished block i's float weights to the spill folder
// and releases the block, for outputs that keep float weights (dense and
// 2:4): without it a pruned LLaMA-2-7B would hold 26 GiB of float32 blocks
// until saving. saveModel reads the spills back (format.SaveOptions.Overlay)
// and writes the same bytes. 2:4 spills are float32 so the 2:4 packing sees
// exactly the engine's values; dense spills use the dtype Save writes.
func (e *engine) spillBlock(i int) error {
	if e.spillDir == "" || e.floatOnly {
		return nil
	}
	if err := os.MkdirAll(e.spillDir, 0o755); err != nil {
		return err
	}
	dt := tensor.Invalid
	if e.cfg.outputFormat() == "2:4" {
		dt = tensor.F32
	}
	if err := format.WriteSpill(e.m, i, spillFile(e.spillDir, i), dt); err != nil {
		return err
	}
	e.m.ReleaseBlock(i)
	return nil
}

// spills reports whether runs of cfg spill finished blocks.
func spills(cfg *Config) bool {
	f := cfg.outputFormat()
	return f == "dense" || f == "2:4"
}

// saveModel writes the compressed model in the chosen format: the
// quantized layers packed, pruned layers from the model's weights, the
// scaled norms replaced, the method configuration and calibration summary
// recorded in config.json under "gollm_compression", into dir (the
// staging folder of cfg.Out).
func saveModel(m *models.Model, cfg *Config, dir string, res *results, outFormat string, rec *Record, spillDir string) error {
	opt := format.SaveOptions{Format: outFormat}
	if spillDir != "" {
		if _, err := os.Stat(spillFile(spillDir, 0)); err == nil {
			ov, err := tensor.OpenCheckpoint(spillDir)
			if err != nil {
				return fmt.Errorf("compress: reading the spilled blocks: %w", err)
			}
			defer ov.Close()
			opt.Overlay = ov
		}
	}
	switch outFormat {
	case "gptq", "awq", "w8a8":
		opt.Quant = res.quant
		opt.Tensors = res.tensors
	case "dense":
		// Fake-quantized widths without a packed layout: the model holds
		// the float weights in the unscaled basis, so the norms stay.
	}
	meta := map[string]any{}
	b, err := json.Marshal(rec.Config)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return err
	}
	meta["tool"] = rec.Tool
	if c := rec.Calibration; c != nil {
		var files []string
		for _, f := range c.Files {
			files = append(files, f.Path)
		}
		meta["calibration"] = map[string]any{"files": files, "sampling": c.Sampling, "nsamples": len(c.Samples), "seqlen": c.Seqlen, "seed": c.Seed, "tokens": c.Tokens}
	}
	if w, ok := cfg.blockMethod().(metaWriter); ok {
		w.saveMeta(cfg, meta)
	}
	opt.Meta = meta
	if err := format.Save(m, dir, opt); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	return nil
}
