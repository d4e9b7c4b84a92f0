package compress

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

// linearShape is one linear of a block as the config implies it.
type linearShape struct {
	Short   string
	Out, In int
}

// blockShapes lists the linears of every block, block by block, from the
// config alone: the models description, with each layer's own sizes (a
// structurally pruned model's layers may be narrower, see
// models.Config.LayerHeads). It returns nil for an architecture models
// does not describe.
func blockShapes(c *models.Config) [][]linearShape {
	a, err := models.ArchitectureOf(c)
	if err != nil {
		return nil
	}
	shapes := make([][]linearShape, c.Layers)
	for i := range shapes {
		for _, l := range a.Block(c, i).Linears {
			shapes[i] = append(shapes[i], linearShape{l.Short, l.Out, l.In})
		}
	}
	return shapes
}

// distinctShapes lists each linear shape of blocks once, in order of
// first appearance (one block's worth for a model whose layers are
// alike).
func distinctShapes(blocks [][]linearShape) []linearShape {
	var out []linearShape
	seen := map[linearShape]bool{}
	for _, b := range blocks {
		for _, s := range b {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// outputFormat is the checkpoint layout a run writes: "dense" (pruned, or
// fake-quantized widths without a packed format), "2:4", "gptq", "awq" or
// "w8a8" (the method's format).
func (c *Config) outputFormat() string { return c.blockMethod().format(c) }

// checkModel checks the settings against the model's shapes, context and
// the memory, before any work.
func (c *Config) checkModel(mc *models.Config, calibTokens int) error {
	blocks := blockShapes(mc)
	if blocks == nil {
		return badInput("model %s: architecture %q is not supported by compress", c.Model, mc.Arch)
	}
	shapes := distinctShapes(blocks)
	if len(mc.Quantization) > 0 {
		return badInput("model %s is already quantized (quantization_config present): compress a float checkpoint", c.Model)
	}
	if needsCalib(c.Method) && mc.MaxPos > 0 && c.Seqlen > mc.MaxPos {
		return badInput("--seqlen %d exceeds the model's max_position_embeddings %d", c.Seqlen, mc.MaxPos)
	}
	format := c.outputFormat()
	for _, s := range shapes {
		if s.Out <= 0 || s.In <= 0 {
			return badInput("model %s: linear %s has shape %d×%d", c.Model, s.Short, s.Out, s.In)
		}
		switch {
		case hasParam(c.Method, "pattern"):
			if c.PatternM > 0 && s.In%c.PatternM != 0 {
				return badInput("--pattern %d:%d: M=%d does not divide the %d inputs of %s", c.PatternN, c.PatternM, c.PatternM, s.In, s.Short)
			}
		default:
			if c.GroupSize > 0 && s.In%c.GroupSize != 0 {
				return badInput("--group-size %d does not divide the %d inputs of %s", c.GroupSize, s.In, s.Short)
			}
			switch format {
			case "gptq":
				if s.In*c.Bits%32 != 0 || s.Out*c.Bits%32 != 0 {
					return badInput("--bits %d: %s (%d×%d) cannot be packed in the GPTQ layout (in·bits and out·bits must be multiples of 32)", c.Bits, s.Short, s.Out, s.In)
				}
			case "awq":
				if s.Out%8 != 0 {
					return badInput("awq: %s has %d outputs; the AWQ layout packs 8 per word", s.Short, s.Out)
				}
			}
		}
		if err := c.blockMethod().checkLinear(c, s); err != nil {
			return err
		}
	}
	need := estimateMemory(c, mc, calibTokens)
	limit := c.MemoryLimit
	if limit == 0 {
		limit = memAvailable() + currentRSS()
	}
	if limit > 0 && need > limit {
		hint := ""
		if needsCalib(c.Method) {
			hint = fmt.Sprintf(" (calibration --nsamples %d × --seqlen %d tokens: fewer need less)", c.NSamples, c.Seqlen)
		}
		return badInput("--model %s does not fit: compressing it with %s needs about %.1f GiB%s, %.1f GiB available", c.Model, c.Method, gib(need), hint, gib(limit))
	}
	return nil
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// estimateMemory returns the expected peak memory of a run in bytes: the
// non-block parameters (float32), the compressed blocks kept for saving
// (none for dense and 2:4 outputs, whose blocks are spilled), the largest
// block being compressed with its working copies, the calibration
// activations and the statistics.
func estimateMemory(c *Config, mc *models.Config, tokens int) int64 {
	var allParams, blockParams, maxIn, maxLinear int64
	for _, b := range blockShapes(mc) {
		var params int64
		for _, s := range b {
			p := int64(s.Out) * int64(s.In)
			params += p
			maxIn = max(maxIn, int64(s.In))
			maxLinear = max(maxLinear, p)
		}
		allParams += params
		blockParams = max(blockParams, params)
	}
	h := int64(mc.Hidden)
	embed := int64(mc.Vocab) * int64(max(mc.WordEmbedProjDim, mc.Hidden))
	nonBlock := 4 * embed
	if !mc.TieEmbed {
		nonBlock += 4 * embed
	}
	var kept8 int64 // eighths of a byte per parameter of a finished block
	switch c.outputFormat() {
	case "dense", "2:4":
		kept8 = 0 // finished blocks are spilled to disk and released
	case "w8a8":
		kept8 = 16 // codes + the int8 matrix
	default:
		kept8 = 8 + int64(c.Bits) + 1 // codes + packed codes + scales and zeros
	}
	total := nonBlock + kept8*allParams/8 + 4*blockParams*2 + 4*maxLinear*2
	if needsCalib(c.Method) {
		t := int64(tokens)
		act := int64(4)
		if mc.DType == tensor.F16 || mc.DType == tensor.BF16 {
			act = 2
		}
		total += 2 * act * t * h // block inputs and outputs (actStore)
		total += c.blockMethod().workBytes(c, maxIn, t, h)
		seq := int64(c.Seqlen)
		total += seq * int64(mc.KVHeads*mc.HeadDim) * 2 * 4 // one layer's KV cache
		total += seq * (4*int64(mc.Intermediate) + 8*h) * 4 // forward scratch
	}
	return total + 64<<20
}

// Run compresses cfg.Model with cfg.Method — any of AllMethods — and
// writes the compressed checkpoint and the record (RecordFile) into
// cfg.Out. It validates everything first (errors wrap ErrBadInput), checks
// and locks cfg.Out (outdir.Create: errors wrap outdir.ErrForeign, ErrBusy
// or ErrBadPath) before the model or any data is read, then runs the
// method: a block method reads and samples the calibration text, loads the
// model lazily and compresses it block by block; a whole-model method
// (LLM-Pruner, OmniQuant) runs in its own package. The output is built in
// a hidden staging folder beside cfg.Out and moved into place only when
// complete: an error or a cancelled ctx leaves cfg.Out as it was. Progress
// lines go to progress (may be nil).
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Record, error) {
	rec, c, err := run(ctx, &cfg, progress, nil)
	if c != nil {
		c.m.Close()
	}
	return rec, err
}

// run is Run returning the compressed model of a block method (open; the
// caller closes it) and taking an engine hook, for tests.
func run(ctx context.Context, cfg *Config, progress io.Writer, adjust func(*engine)) (*Record, *compressed, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	spec, err := cfg.Spec() // before the model fills in the "auto" settings
	if err != nil {
		return nil, nil, err
	}
	d, err := outdir.Create(cfg.Out, outdir.Options{Command: "compress", Flag: "--out", Overwrite: cfg.Overwrite})
	if err != nil {
		return nil, nil, err
	}
	defer d.Abort() // after Commit: only releases the lock
	rec := StartRecord(spec, cfg.Model, cfg.Out)
	rec.Started = start // the wall time covers the validation too
	var c *compressed
	if mm, ok := cfg.modelMethod(); ok {
		rec.Config = cfg.methodConfig()
		err = mm.compress(ctx, cfg, d.Tmp, &rec, progress)
	} else {
		c, err = compressBlocks(ctx, cfg, d.Tmp, &rec, progress, adjust)
	}
	if err == nil {
		err = ctx.Err() // interrupted while saving: commit nothing
	}
	if err != nil {
		return nil, c, err
	}
	if err := rec.Finish(d.Tmp); err != nil {
		return nil, c, err
	}
	if err := d.Commit(); err != nil {
		return nil, c, err
	}
	if d.Kept != "" {
		logf(progress, "files that appeared in %s during the run were kept in %s", cfg.Out, d.Kept)
	}
	logf(progress, "done in %.1f s, peak RSS %.2f GiB", rec.WallSeconds, gib(rec.PeakRSSBytes))
	return &rec, c, nil
}

// compressBlocks runs a block method: it compresses the model block by
// block, saves the checkpoint into dir (the staging folder) and fills in
// rec.
func compressBlocks(ctx context.Context, cfg *Config, dir string, rec *Record, progress io.Writer, adjust func(*engine)) (*compressed, error) {
	c, err := compressIn(ctx, cfg, dir, progress, adjust)
	if err != nil {
		return nil, err
	}
	rec.CompressSeconds = c.seconds
	format := cfg.outputFormat()
	logf(progress, "saving %s checkpoint to %s", format, cfg.Out)
	rec.Format = format
	rec.Config = cfg.methodConfig()
	rec.Calibration = c.calib
	rec.Layers, rec.Scales = c.res.layers, c.res.scales
	rec.Sparsity = overallSparsity(c.res.layers)
	if format == "dense" && !hasParam(cfg.Method, "sparsity") {
		rec.Notes = append(rec.Notes, fmt.Sprintf("%d-bit codes have no packed layout: the checkpoint holds the fake-quantized float weights", cfg.Bits))
	}
	err = saveModel(c.m, cfg, dir, c.res, format, rec, c.spillDir)
	if c.spillDir != "" {
		os.RemoveAll(c.spillDir) // before Commit: the spill is no part of the output
	}
	return c, err
}

// tokenizer returns c.Tokenizer, or the model folder's tokenizer.
func (c *Config) tokenizer() (Tokenizer, error) {
	if c.Tokenizer != nil {
		return c.Tokenizer, nil
	}
	t, err := tokenizer.Load(c.Model)
	if err != nil {
		return nil, badInput("--model %s: no tokenizer for the calibration text: %v", c.Model, err)
	}
	return t, nil
}

// checkVocab checks that every calibration token id is in the model's
// vocabulary of vocab ids.
func checkVocab(samples [][]int, vocab int) error {
	for i, s := range samples {
		for _, id := range s {
			if id < 0 || id >= vocab {
				return badInput("calibration sample %d: token id %d outside the model's vocabulary of %d (wrong tokenizer?)", i, id, vocab)
			}
		}
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// compressed is the outcome of compressModel.
type compressed struct {
	m       *models.Model
	res     *results
	calib   *corpus.Calibration
	seconds float64
	// spillDir holds the finished blocks' spills ("" when none).
	spillDir string
}

// compressWith validates cfg (filling its defaults), samples the
// calibration set and compresses the model block by block, without
// spilling finished blocks; the caller closes the returned model. adjust,
// if non-nil, may change the engine before it starts (tests).
func compressWith(ctx context.Context, cfg *Config, progress io.Writer, adjust func(*engine)) (*compressed, error) {
	return compressIn(ctx, cfg, "", progress, adjust)
}

// compressIn is compressWith spilling finished blocks (for the outputs
// that spill) into the folder .gollm-spill under stage, the staging
// folder of the output ("" : no spilling).
func compressIn(ctx context.Context, cfg *Config, stage string, progress io.Writer, adjust func(*engine)) (*compressed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mc, err := models.LoadConfig(cfg.Model)
	if err != nil {
		return nil, err
	}
	rules, err := rulesFor(mc)
	if err != nil {
		return nil, err
	}
	// The "auto" settings: Wanda's seqlen, SmoothQuant's alpha.
	if cfg.Seqlen == 0 && autoParam(cfg.Method, "seqlen") {
		cfg.Seqlen = mc.MaxPos
	}
	if cfg.Alpha == 0 && autoParam(cfg.Method, "alpha") {
		cfg.Alpha = DefaultAlpha(mc)
	}
	if err := cfg.checkModel(mc, cfg.NSamples*cfg.Seqlen); err != nil {
		return nil, err
	}
	var calib *corpus.Calibration
	samples := cfg.Samples
	if samples == nil && needsCalib(cfg.Method) {
		docs, files, err := corpus.Read(cfg.Calib, corpus.Whole)
		if err != nil {
			return nil, err
		}
		tok, err := cfg.tokenizer()
		if err != nil {
			return nil, err
		}
		calib, err = corpus.Sample(docs, tok, cfg.Sampling, cfg.NSamples, cfg.Seqlen, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("--calib %s: %w", strings.Join(cfg.Calib, ","), err)
		}
		calib.Files = files
		samples = calib.Samples
		logf(progress, "calibration: %d samples, %d tokens (%s, seed %d) from %d documents", len(calib.Samples), calib.Tokens, calib.Sampling, calib.Seed, len(docs))
	}
	if err := checkVocab(samples, mc.Vocab); err != nil {
		return nil, err
	}
	m, err := models.Load(cfg.Model, models.Options{Lazy: true})
	if err != nil {
		return nil, err
	}
	spillDir := ""
	if spills(cfg) && stage != "" {
		spillDir = filepath.Join(stage, ".gollm-spill")
	}
	res, secs, err := compressLoaded(ctx, cfg, m, rules, samples, progress, func(e *engine) {
		e.spillDir = spillDir
		if adjust != nil {
			adjust(e)
		}
		spillDir = e.spillDir // a test may turn spilling off
	})
	if err != nil {
		m.Close()
		if spillDir != "" {
			os.RemoveAll(spillDir)
		}
		return nil, err
	}
	return &compressed{m: m, res: res, calib: calib, seconds: secs, spillDir: spillDir}, nil
}

// compressLoaded runs the engine on a loaded model with the calibration
// samples (token ids); cfg must be validated.
func compressLoaded(ctx context.Context, cfg *Config, m *models.Model, rules *archRules, samples [][]int, progress io.Writer, adjust func(*engine)) (*results, float64, error) {
	logf(progress, "compressing %s with %s", m.Describe(), cfg.Method)
	res := &results{quant: map[string]*Quantized{}, tensors: map[string][]float32{}, dense: map[string][]float32{}}
	e := &engine{cfg: cfg, m: m, rules: rules, res: res, log: progress}
	if adjust != nil {
		adjust(e)
	}
	t0 := time.Now()
	if len(samples) > 0 {
		if err := e.embed(samples); err != nil {
			return nil, 0, err
		}
	}
	if err := e.run(ctx); err != nil {
		return nil, 0, err
	}
	return res, time.Since(t0).Seconds(), nil
}

// methodConfig is the recorded configuration of c: the method's own
// fields (its record), the device and the thread count.
func (c *Config) methodConfig() MethodConfig {
	mc := MethodConfig{Method: c.Method, Device: "cpu", Threads: kernels.MaxThreads()}
	if m, ok := lookup(c.Method); ok {
		m.(recorder).record(c, &mc)
	}
	return mc
}

func overallSparsity(ls []LayerRecord) float64 {
	var z, n float64
	for _, l := range ls {
		p := float64(l.Out) * float64(l.In)
		z += l.Sparsity * p
		n += p
	}
	if n == 0 {
		return 0
	}
	return z / n
}
