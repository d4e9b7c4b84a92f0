package compress

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/compress/llmpruner"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/corpus"
)

// ErrBadInput marks bad input: an unknown method, an unsupported bit width
// or group size, a missing or too short calibration file, a model that does
// not fit. The CLI maps it to exit code 2. Every such check runs before any
// compression work starts.
var ErrBadInput = badinput.ErrBadInput

func badInput(format string, args ...any) error { return badinput.Errorf(format, args...) }

// The method names, as --method spells them.
const (
	Magnitude   = "magnitude"
	Wanda       = "wanda"
	SparseGPT   = "sparsegpt"
	RTN         = "rtn"
	GPTQ        = "gptq"
	AWQ         = "awq"
	SmoothQuant = "smoothquant"
	// LLMPruner and OmniQuant need the whole model at once (gradients):
	// Run hands them to compress/llmpruner and compress/omniquant.
	LLMPruner = "llm-pruner"
	OmniQuant = "omniquant"
)

// Tokenizer turns calibration text into token ids: corpus.Encoder, which
// tokenizer.Tokenizer satisfies.
type Tokenizer = corpus.Encoder

// Config is one compression run: the model, the method and its settings,
// the calibration data and the output folder. Defaults returns the
// reference settings of a method; zero values of the numeric fields mean
// "the method's default" (see Defaults), so a Config filled only from the
// flags a user gave is complete.
type Config struct {
	// Model is the Hugging Face folder to compress; Out the folder to write.
	Model, Out string
	// Method is one of Methods.
	Method string

	// Calib lists the calibration files: C4-style JSON lines (optionally
	// gzipped, field "text"), a JSON array, WikiText .raw or any text file.
	Calib []string
	// NSamples and Seqlen size the calibration set (0: method default;
	// Wanda's default Seqlen is the model's max_position_embeddings).
	NSamples, Seqlen int
	// Seed seeds the sampling; negative means the method's reference seed
	// (0 for GPTQ/SparseGPT/Wanda, 42 for AWQ/SmoothQuant).
	Seed int64
	// Sampling is corpus.SampleWindow, SampleConcat or SampleTruncate (""
	// means the method's reference loader).
	Sampling string
	// Samples, when set, is the calibration set itself (token ids, every
	// sample the same length): Calib is then not read, and NSamples and
	// Seqlen are its size. It lets a caller reuse another calibration
	// loader (tests: random token ids).
	Samples [][]int
	// Tokenizer encodes the calibration text; nil means the model folder's
	// own tokenizer.
	Tokenizer Tokenizer

	// Sparsity is the fraction of weights pruned (0: 0.5, or N/M with a
	// pattern).
	Sparsity float64
	// PatternN and PatternM select N:M pruning: in every M consecutive
	// input columns of a row, the N least important weights are pruned (the
	// references' convention; 2:4 keeps 2 of 4).
	PatternN, PatternM int

	// Bits is the weight bit width (2–8; 0: 4, SmoothQuant 8).
	Bits int
	// GroupSize is the number of input columns sharing a quantizer (0: 128,
	// -1: one group per output row).
	GroupSize int
	// Sym selects symmetric quantization (default asymmetric min/max).
	Sym bool
	// ActOrder quantizes GPTQ columns in order of decreasing Hessian
	// diagonal (desc_act).
	ActOrder bool
	// StaticGroups computes GPTQ's group quantizers on the original weights
	// before any update (needed for fast act-order kernels).
	StaticGroups bool
	// TrueSequential quantizes a GPTQ block in the order [k,v,q] → [o] →
	// [up,gate] → [down], recollecting statistics after each step. Defaults
	// sets it; a zero Config quantizes all linears of a block from one pass.
	TrueSequential bool
	// Damp is the Hessian dampening as a fraction of its mean diagonal
	// (0: 0.01).
	Damp float64
	// BlockSize is the GPTQ/SparseGPT column block (0: 128).
	BlockSize int

	// ABits is OmniQuant's activation width (4–8, or 16: weight-only; 0:
	// the default, 16) and Epochs its training epochs per block (0: 20).
	ABits, Epochs int

	// LayerRatio is LLM-Pruner's per-layer fraction of heads and MLP
	// channels removed, instead of Sparsity (then the fraction of all the
	// model's parameters); exactly one of the two is set.
	LayerRatio float64
	// BlockStart and BlockEnd bound LLM-Pruner's pruned layers [BlockStart,
	// BlockEnd) (BlockEnd 0: the last layer).
	BlockStart, BlockEnd int
	// Importance is LLM-Pruner's importance criterion (llmpruner.Element1,
	// Vector, Element2, or a reference alias; "": element1).
	Importance string
	// LoRA is LLM-Pruner's optional recovery after pruning (LoRA.Steps 0:
	// none; zero settings take the spec defaults; LoRA.Data nil: Calib).
	LoRA llmpruner.LoRAConfig

	// Alpha is SmoothQuant's migration strength (0: the model's published
	// value; see DefaultAlpha).
	Alpha float64
	// NoClip turns off AWQ's clipping search.
	NoClip bool

	// Device must be "" or "cpu": compression runs on the host.
	Device string
	// MemoryLimit caps the estimated peak memory in bytes (0: the
	// machine's MemAvailable).
	MemoryLimit int64
	// Overwrite allows an Out holding files gollm did not write (see
	// outdir.Options.Overwrite): they are kept, those of the output's names
	// replaced.
	Overwrite bool
}

// Defaults returns the reference settings of method (see
// docs/METHODS.md): the defaults of its spec parameters (ParseSpec of the
// bare method name), with the seed -1 ("the method's reference seed") for
// the methods without one. Wanda's seqlen and SmoothQuant's alpha stay 0:
// they come from the model.
func Defaults(method string) Config {
	c := Config{Method: method, Damp: 0.01, BlockSize: 128, Seed: -1}
	if sp, err := ParseSpec(method); err == nil {
		c.ApplySpec(sp)
	} else if info, ok := LookupMethod(method); ok {
		// The parameters' defaults alone (LLM-Pruner's bare spec is
		// incomplete: it wants one of sparsity and layer_ratio).
		sp := Spec{Method: method, info: info, vals: make([]string, len(info.Params))}
		for i, p := range info.Params {
			sp.vals[i] = p.Default
		}
		c.ApplySpec(sp)
	}
	return c
}

// specField returns a pointer to the field of c that spec parameter key
// sets (*int, *int64, *float64, *bool or *string), or nil for the two
// parameters that are not one field (pattern: PatternN and PatternM;
// clip: !NoClip) and for an unknown key. ApplySpec and specValue read it:
// one binding of keys to fields for both directions.
func (c *Config) specField(key string) any {
	lc := &c.LoRA
	return map[string]any{
		"sparsity": &c.Sparsity, "bits": &c.Bits, "group": &c.GroupSize, "sym": &c.Sym,
		"act_order": &c.ActOrder, "static_groups": &c.StaticGroups, "true_sequential": &c.TrueSequential,
		"damp": &c.Damp, "block": &c.BlockSize, "alpha": &c.Alpha, "abits": &c.ABits, "epochs": &c.Epochs,
		"nsamples": &c.NSamples, "seqlen": &c.Seqlen, "seed": &c.Seed, "sampling": &c.Sampling,
		"layer_ratio": &c.LayerRatio, "block_start": &c.BlockStart, "block_end": &c.BlockEnd, "importance": &c.Importance,
		"lora_steps": &lc.Steps, "lora_rank": &lc.Rank, "lora_alpha": &lc.Alpha, "lora_lr": &lc.LR,
		"lora_batch": &lc.Batch, "lora_seqlen": &lc.Seqlen,
	}[key]
}

// ApplySpec sets the method and the fields of c that the parameters of sp
// name ("auto" sets 0: the model's value).
func (c *Config) ApplySpec(sp Spec) {
	c.Method = sp.Method
	for _, key := range sp.Keys() {
		switch f := c.specField(key).(type) {
		case *int:
			*f = sp.Int(key)
		case *int64:
			*f = int64(sp.Int(key))
		case *float64:
			*f = sp.Float(key)
		case *bool:
			*f = sp.Bool(key)
		case *string:
			*f = sp.Get(key)
		case nil:
			switch key {
			case "pattern":
				c.PatternN, c.PatternM = sp.Pattern()
			case "clip":
				c.NoClip = !sp.Bool(key)
			}
		}
	}
}

// specValue returns the value of spec parameter p in c, as a flag would
// spell it ("auto" for the zero of a setting whose default is "auto": a
// value from the model).
func (c *Config) specValue(p Param) string {
	var v string
	zero := false
	switch f := c.specField(p.Key).(type) {
	case *int:
		v, zero = strconv.Itoa(*f), *f == 0
	case *int64:
		v, zero = strconv.FormatInt(*f, 10), *f == 0
	case *float64:
		v, zero = formatFloat(*f), *f == 0
	case *bool:
		v = strconv.FormatBool(*f)
	case *string:
		v = *f
	case nil:
		switch p.Key {
		case "pattern":
			if c.PatternN == 0 && c.PatternM == 0 {
				return "none"
			}
			return fmt.Sprintf("%d:%d", c.PatternN, c.PatternM)
		case "clip":
			return strconv.FormatBool(!c.NoClip)
		}
	}
	if zero && p.Default == "auto" {
		return "auto"
	}
	return v
}

// Spec returns the method spec of c's settings (call after the defaults
// are filled: Validate). Errors wrap ErrBadInput and name the spec key and
// its flag.
func (c *Config) Spec() (Spec, error) {
	info, ok := LookupMethod(c.Method)
	if !ok {
		return Spec{}, badInput("--method %q: want one of %s", c.Method, strings.Join(AllMethods, ", "))
	}
	sp := Spec{Method: c.Method, info: info, vals: make([]string, len(info.Params))}
	given := make([]bool, len(info.Params))
	for i, p := range info.Params {
		v := c.specValue(p)
		cv, err := canonical(p, v)
		if err != nil {
			if p.Flag != "" {
				return Spec{}, badInput("%s=%s (--%s %s): %v", p.Key, v, p.Flag, v, err)
			}
			return Spec{}, badInput("%s=%s: %v", p.Key, v, err)
		}
		sp.vals[i], given[i] = cv, true
	}
	if err := sp.resolve(given); err != nil {
		return Spec{}, badInput("%v", err)
	}
	return sp, nil
}

// resolve fills the zero fields of c with the method's defaults (Seqlen of
// Wanda stays 0 until the model is known).
func (c *Config) resolve() {
	d := Defaults(c.Method)
	if len(c.Samples) > 0 {
		c.NSamples, c.Seqlen = len(c.Samples), len(c.Samples[0])
	}
	if c.NSamples == 0 {
		c.NSamples = d.NSamples
	}
	if c.Seqlen == 0 {
		c.Seqlen = d.Seqlen
	}
	if c.Seed < 0 {
		c.Seed = max(d.Seed, 0)
	}
	if c.Sampling == "" {
		c.Sampling = d.Sampling
	}
	if hasParam(c.Method, "pattern") && c.Sparsity == 0 {
		if c.PatternM > 0 {
			c.Sparsity = float64(c.PatternN) / float64(c.PatternM)
		} else {
			c.Sparsity = d.Sparsity
		}
	}
	if c.Bits == 0 {
		c.Bits = d.Bits
	}
	if c.GroupSize == 0 {
		c.GroupSize = d.GroupSize
	}
	if m, ok := lookup(c.Method); ok {
		if f, ok := m.(settingsFixer); ok {
			f.fixSettings(c)
		}
	}
	if c.ABits == 0 {
		c.ABits = d.ABits
	}
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.Importance == "" {
		c.Importance = d.Importance
	}
	lc, dl := &c.LoRA, d.LoRA
	for _, f := range []struct{ v, def *int }{{&lc.Rank, &dl.Rank}, {&lc.Batch, &dl.Batch}, {&lc.Seqlen, &dl.Seqlen}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if lc.Alpha == 0 {
		lc.Alpha = dl.Alpha
	}
	if lc.LR == 0 {
		lc.LR = dl.LR
	}
	if len(lc.Data) == 0 && hasParam(c.Method, "lora_steps") {
		lc.Data = c.Calib
	}
	if c.Damp == 0 {
		c.Damp = 0.01
	}
	if c.BlockSize == 0 {
		c.BlockSize = 128
	}
}

// Validate checks every setting that can be checked without loading the
// model — the method, its flags, the calibration files — and fills zero
// fields with the method's defaults. Errors wrap ErrBadInput and name the
// flag or file. Run calls it, then checks the settings against the model's
// shapes and the memory before any work.
func (c *Config) Validate() error {
	if !slices.Contains(AllMethods, c.Method) {
		return badInput("--method %q: want one of %s", c.Method, strings.Join(AllMethods, ", "))
	}
	c.resolve()
	if c.Model == "" {
		return badInput("--model is required")
	}
	if st, err := os.Stat(filepath.Join(c.Model, "config.json")); err != nil || st.IsDir() {
		return badInput("--model %s: no config.json in the folder", c.Model)
	}
	if c.Out == "" {
		return badInput("--out is required")
	}
	if same, _ := samePath(c.Model, c.Out); same {
		return badInput("--out %s is the input model folder", c.Out)
	}
	switch c.Device {
	case "", "cpu":
	default:
		return badInput("--device %q: compression runs on the CPU (device \"cpu\")", c.Device)
	}
	if c.MemoryLimit < 0 {
		return badInput("memory limit %d is negative", c.MemoryLimit)
	}
	if err := c.validateMethod(); err != nil {
		return err
	}
	return c.validateCalib()
}

// validateMethod checks the method's settings: every spec parameter
// (Spec: ranges, pattern against sparsity, SmoothQuant's 8 bits) and the
// fields the method does not take.
func (c *Config) validateMethod() error {
	if (c.ActOrder || c.StaticGroups) && !hasParam(c.Method, "act_order") {
		return badInput("--act-order and static groups apply to gptq only, not %s", c.Method)
	}
	_, err := c.Spec()
	return err
}

func (c *Config) validateCalib() error {
	if !needsCalib(c.Method) {
		return nil
	}
	if c.Samples != nil {
		if len(c.Samples) == 0 {
			return badInput("calibration samples: none given")
		}
		for i, s := range c.Samples {
			if len(s) < 2 || len(s) != len(c.Samples[0]) {
				return badInput("calibration sample %d has %d tokens, sample 0 %d: want equal lengths of at least 2", i, len(s), len(c.Samples[0]))
			}
		}
		return nil
	}
	if len(c.Calib) == 0 {
		return badInput("--calib: method %s needs calibration text (a C4 .json.gz shard, JSON lines, WikiText .raw or plain text)", c.Method)
	}
	for _, p := range c.Calib {
		st, err := os.Stat(p)
		if err != nil {
			return badInput("--calib %s: %v", p, errors.Unwrap(err))
		}
		if st.IsDir() {
			return badInput("--calib %s: is a folder, want a file", p)
		}
		if st.Size() == 0 {
			return badInput("--calib %s: empty file", p)
		}
		if strings.HasSuffix(strings.ToLower(p), ".parquet") {
			return badInput("--calib %s: parquet is not read here; convert it to JSON lines (one {\"text\": ...} per line)", p)
		}
	}
	return nil
}

func samePath(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
