package compress

import (
	"context"
	"fmt"
	"io"
)

// Method is one compression method. Each lives in its own file
// (magnitude.go, wanda.go, sparsegpt.go, llm_pruner.go, rtn.go, gptq.go,
// awq.go, smoothquant.go, omniquant.go) and owns its name, description and
// spec parameters (with their defaults and checks, see Param). Run drives
// every method: a method the engine runs block by block is a blockMethod,
// one that needs the whole model at once (gradients through every block)
// a modelMethod. Adding a method is one new file and one line in registry.
type Method interface {
	// Info returns the method's name, one-line description and spec
	// parameters in canonical order.
	Info() MethodInfo
}

// recorder is a method that records its settings: every method.
type recorder interface {
	Method
	// record fills the method's fields of the recorded configuration.
	record(c *Config, mc *MethodConfig)
}

// blockMethod is a method the engine runs block by block (Run): what it
// needs, what it writes, what it records, and its block step.
type blockMethod interface {
	recorder
	// calibrated reports whether the method reads calibration data (and
	// so runs the blocks on calibration activations).
	calibrated() bool
	// format is the checkpoint layout of a run of c: "dense", "2:4",
	// "gptq", "awq" or "w8a8".
	format(c *Config) string
	// checkLinear checks the settings against one linear's shape, beyond
	// the checks every method shares (pattern and group divisibility,
	// packing).
	checkLinear(c *Config, s linearShape) error
	// workBytes estimates the method's working memory beyond the shared
	// activations and scratch: maxIn is the widest linear input, tokens
	// the calibration tokens, hidden the model width.
	workBytes(c *Config, maxIn, tokens, hidden int64) int64
	// block compresses the linears of block i, and leaves in e.outs the
	// block outputs the next block reads (calibrated methods).
	block(ctx context.Context, e *engine, i int) error
}

// modelMethod is a method that needs the whole model at once (LLM-Pruner,
// OmniQuant: gradients through every block), run by its own package. Run
// validates the Config, takes the output folder and starts the record as
// for a block method, then hands the method the staging folder.
type modelMethod interface {
	recorder
	// compress compresses c.Model, writes the checkpoint into dir (the
	// staging folder of c.Out) and fills in rec's format, compression
	// time, calibration and notes.
	compress(ctx context.Context, c *Config, dir string, rec *Record, progress io.Writer) error
}

// registry lists every method, in the order the CLI and the docs list
// them.
var registry = []Method{
	magnitude{}, wanda{}, sparseGPT{}, llmPruner{}, rtn{}, gptq{}, awq{}, smoothQuant{}, omniQuant{},
}

// Methods lists the block methods (the engine compresses them block by
// block).
var Methods = func() []string {
	var names []string
	for _, m := range registry {
		if _, ok := m.(blockMethod); ok {
			names = append(names, m.Info().Name)
		}
	}
	return names
}()

// AllMethods lists every method gollm implements (Run compresses with
// each), in registry order: Methods and the two whole-model gradient
// methods.
var AllMethods = func() []string {
	names := make([]string, len(registry))
	for i, m := range registry {
		names[i] = m.Info().Name
	}
	return names
}()

// lookup returns the method named name.
func lookup(name string) (Method, bool) {
	for _, m := range registry {
		if m.Info().Name == name {
			return m, true
		}
	}
	return nil, false
}

// blockMethod returns the block method of c; it panics on a method
// Validate would have refused or a modelMethod.
func (c *Config) blockMethod() blockMethod {
	m, ok := lookup(c.Method)
	if bm, isBlock := m.(blockMethod); ok && isBlock {
		return bm
	}
	panic(fmt.Sprintf("compress: %q is not a block method (Config not validated)", c.Method))
}

// modelMethod returns the whole-model method of c, if it is one.
func (c *Config) modelMethod() (modelMethod, bool) {
	m, _ := lookup(c.Method)
	mm, ok := m.(modelMethod)
	return mm, ok
}

// methodParam returns spec parameter key of method name, if the method
// exists and takes it.
func methodParam(name, key string) (Param, bool) {
	m, ok := lookup(name)
	if !ok {
		return Param{}, false
	}
	info := m.Info()
	return info.Param(key)
}

// hasParam reports whether method name takes spec parameter key.
func hasParam(name, key string) bool {
	_, has := methodParam(name, key)
	return has
}

// autoParam reports whether method name takes spec parameter key with
// the default "auto" (a value from the model).
func autoParam(name, key string) bool {
	p, has := methodParam(name, key)
	return has && p.Default == "auto"
}

// needsCalib reports whether the method uses calibration data.
func needsCalib(method string) bool {
	m, ok := lookup(method)
	if bm, isBlock := m.(blockMethod); ok && isBlock {
		return bm.calibrated()
	}
	return ok // the whole-model methods are calibrated
}

// quantFormat is the checkpoint layout of a quantizer's codes: the GPTQ
// layout packs 2, 3, 4 and 8 bits; other widths are saved as the
// fake-quantized float weights.
func quantFormat(bits int) string {
	switch bits {
	case 2, 3, 4, 8:
		return "gptq"
	}
	return "dense"
}

// recordQuantizer records a weight quantizer's bits, groups and symmetry
// (scales are saved as float16).
func recordQuantizer(c *Config, mc *MethodConfig) {
	mc.Bits, mc.GroupSize, mc.Sym, mc.ScaleDType = c.Bits, c.GroupSize, c.Sym, "float16"
}

// blockDefaults gives a block method the hooks most methods leave alone:
// no shape checks of its own, no working memory of its own.
type blockDefaults struct{}

func (blockDefaults) checkLinear(*Config, linearShape) error       { return nil }
func (blockDefaults) workBytes(*Config, int64, int64, int64) int64 { return 0 }

// settingsFixer is a block method that fixes settings the spec does not
// expose (SmoothQuant: symmetric, one group per output row); resolve calls
// it.
type settingsFixer interface{ fixSettings(c *Config) }

// metaWriter is a block method that records more settings in config.json's
// "gollm_compression" than its MethodConfig holds (GPTQ); saveModel calls
// it.
type metaWriter interface {
	saveMeta(c *Config, meta map[string]any)
}
