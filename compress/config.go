package compress

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmcbench/gollm/internal/badinput"
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
	// LLMPruner and OmniQuant run through their own packages
	// (compress/llmpruner, compress/omniquant), not through Run.
	LLMPruner = "llm-pruner"
	OmniQuant = "omniquant"
)

// Methods lists the methods Run compresses with.
var Methods = []string{Magnitude, Wanda, SparseGPT, RTN, GPTQ, AWQ, SmoothQuant}

// AllMethods lists every method gollm implements, in the order the CLI and
// the docs list them: Methods and the two whole-model gradient methods.
var AllMethods = []string{Magnitude, Wanda, SparseGPT, LLMPruner, RTN, GPTQ, AWQ, SmoothQuant, OmniQuant}

// The calibration sampling schemes (Config.Sampling).
const (
	// SampleWindow is GPTQ's loader: pick random documents until one has
	// more than seqlen tokens, take a random window of seqlen tokens from
	// it; one document (WikiText joined) gives windows of that document.
	SampleWindow = "window"
	// SampleConcat is AWQ's loader: shuffle the documents, keep those of at
	// most seqlen tokens until nsamples are kept, concatenate them and cut
	// the result into blocks of seqlen tokens.
	SampleConcat = "concat"
	// SampleTruncate is SmoothQuant's loader: shuffle the documents and
	// take the first seqlen tokens of each of the first nsamples.
	SampleTruncate = "truncate"
)

// Tokenizer turns calibration text into token ids (tokenizer.Tokenizer
// satisfies it). addSpecial adds the model's BOS/prefix tokens, as Hugging
// Face tokenizers do by default.
type Tokenizer interface {
	Encode(text string, addSpecial bool) []int
}

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
	// Sampling is SampleWindow, SampleConcat or SampleTruncate ("" means
	// the method's reference loader).
	Sampling string
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
// docs/METHODS.md): calibration size, seed and loader, sparsity, bits,
// group size, dampening, block size and GPTQ's true-sequential order.
func Defaults(method string) Config {
	c := Config{Method: method, Damp: 0.01, BlockSize: 128, Seed: -1}
	switch method {
	case Magnitude:
		c.Sparsity = 0.5
	case Wanda, SparseGPT:
		c.Sparsity = 0.5
		c.NSamples, c.Seqlen, c.Seed, c.Sampling = 128, 2048, 0, SampleWindow
		if method == Wanda {
			c.Seqlen = 0 // max_position_embeddings
		}
	case RTN:
		c.Bits, c.GroupSize = 4, 128
	case GPTQ:
		c.Bits, c.GroupSize, c.TrueSequential = 4, 128, true
		c.NSamples, c.Seqlen, c.Seed, c.Sampling = 128, 2048, 0, SampleWindow
	case AWQ:
		c.Bits, c.GroupSize = 4, 128
		c.NSamples, c.Seqlen, c.Seed, c.Sampling = 128, 512, 42, SampleConcat
	case SmoothQuant:
		c.Bits, c.GroupSize, c.Sym = 8, -1, true
		c.NSamples, c.Seqlen, c.Seed, c.Sampling = 512, 512, 42, SampleTruncate
	}
	return c
}

// needsCalib reports whether the method uses calibration data.
func needsCalib(method string) bool { return method != Magnitude && method != RTN }

func isPruning(method string) bool {
	return method == Magnitude || method == Wanda || method == SparseGPT
}

// resolve fills the zero fields of c with the method's defaults (Seqlen of
// Wanda stays 0 until the model is known).
func (c *Config) resolve() {
	d := Defaults(c.Method)
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
	if isPruning(c.Method) && c.Sparsity == 0 {
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
	if c.Method == SmoothQuant {
		c.Sym, c.GroupSize = true, -1
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
	if c.Method == LLMPruner || c.Method == OmniQuant {
		return badInput("--method %s runs through package compress/%s, not compress.Run", c.Method, strings.ReplaceAll(c.Method, "-", ""))
	}
	if !slices.Contains(Methods, c.Method) {
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

func (c *Config) validateMethod() error {
	if (c.ActOrder || c.StaticGroups) && c.Method != GPTQ {
		return badInput("--act-order and static groups apply to gptq only, not %s", c.Method)
	}
	if c.Damp < 0 || c.Damp >= 1 {
		return badInput("dampening %g: want a fraction in (0, 1)", c.Damp)
	}
	if c.BlockSize < 1 {
		return badInput("block size %d: want ≥ 1", c.BlockSize)
	}
	if isPruning(c.Method) {
		if c.PatternN != 0 || c.PatternM != 0 {
			if c.PatternN < 1 || c.PatternM < 2 || c.PatternN >= c.PatternM {
				return badInput("--pattern %d:%d: want N:M with 1 ≤ N < M (N pruned of every M)", c.PatternN, c.PatternM)
			}
			if want := float64(c.PatternN) / float64(c.PatternM); c.Sparsity != want {
				return badInput("--sparsity %g contradicts --pattern %d:%d (sparsity %g)", c.Sparsity, c.PatternN, c.PatternM, want)
			}
		}
		if !(c.Sparsity > 0 && c.Sparsity < 1) {
			return badInput("--sparsity %g: want a fraction in (0, 1)", c.Sparsity)
		}
		return nil
	}
	if c.Method == SmoothQuant {
		if c.Bits != 8 {
			return badInput("--bits %d: smoothquant is W8A8 (bits 8)", c.Bits)
		}
		if c.Alpha < 0 || c.Alpha > 1 {
			return badInput("--alpha %g: want a value in (0, 1]", c.Alpha)
		}
		return nil
	}
	if c.Bits < 2 || c.Bits > 8 {
		return badInput("--bits %d: supported widths are 2 to 8", c.Bits)
	}
	if c.GroupSize != -1 && (c.GroupSize < 8 || c.GroupSize%8 != 0) {
		return badInput("--group-size %d: want -1 (per output channel) or a positive multiple of 8", c.GroupSize)
	}
	return nil
}

func (c *Config) validateCalib() error {
	if !needsCalib(c.Method) {
		return nil
	}
	switch c.Sampling {
	case SampleWindow, SampleConcat, SampleTruncate:
	default:
		return badInput("calibration sampling %q: want %s, %s or %s", c.Sampling, SampleWindow, SampleConcat, SampleTruncate)
	}
	if len(c.Calib) == 0 {
		return badInput("--calib: method %s needs calibration text (a C4 .json.gz shard, JSON lines, WikiText .raw or plain text)", c.Method)
	}
	if c.NSamples < 1 {
		return badInput("--nsamples %d: want ≥ 1", c.NSamples)
	}
	if c.Seqlen < 0 || c.Seqlen == 0 && c.Method != Wanda {
		return badInput("--seqlen %d: want ≥ 1", c.Seqlen)
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
