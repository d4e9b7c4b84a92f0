// Package models parses Hugging Face model folders and runs the forward pass
// of the LLaMA family (LLaMA 1/2/3, Vicuna, Mistral-style), OPT and
// ChatGLM2/3 on any backend.Backend, with a KV cache, greedy and sampled
// generation, and hooks that let package compress observe and replace every
// linear layer.
package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/tensor"
)

// ErrBadModel marks bad input (a malformed or inconsistent model folder):
// the CLI maps it to exit code 2.
var ErrBadModel = badinput.New("bad model")

// Limits on config.json sizes. They lie far above every published model
// (the widest has hidden 16384 and a vocabulary of 256k, the deepest 126
// layers, the longest context 10M positions) and keep every product of two
// sizes, and of a size and the layer count, far from int overflow; memory
// is checked separately (Load refuses a model the machine cannot hold).
const (
	// MaxLayers bounds num_hidden_layers / num_layers.
	MaxLayers = 1 << 16
	// MaxWidth bounds every other size: hidden, intermediate, heads,
	// head_dim, vocab_size, max_position_embeddings, per-layer sizes.
	MaxWidth = 1 << 24
)

// Keys of config.json holding per-layer sizes, one entry per layer, as
// structured pruning (LLM-Pruner) writes them; see Config.LayerHeads and
// Config.LayerIntermediate.
const (
	KeyHeadsPerLayer        = "num_attention_heads_per_layer"
	KeyKVHeadsPerLayer      = "num_key_value_heads_per_layer"
	KeyIntermediatePerLayer = "intermediate_size_per_layer"
)

// Config is the architecture-independent view of config.json.
type Config struct {
	// Arch is "llama", "opt" or "chatglm".
	Arch      string
	ModelType string
	Path      string // the config.json it came from

	Vocab        int
	Hidden       int
	Intermediate int
	Layers       int
	Heads        int
	KVHeads      int
	HeadDim      int
	MaxPos       int
	NormEps      float32
	TieEmbed     bool
	HiddenAct    string
	DType        tensor.DType // the checkpoint's stored dtype (torch_dtype / dtype)

	// LLaMA.
	AttentionBias bool
	MLPBias       bool
	Rope          RopeConfig

	// OPT.
	WordEmbedProjDim  int
	DoLayerNormBefore bool
	EnableBias        bool
	RemoveFinalLN     bool
	LNElementwise     bool

	// ChatGLM.
	QKVBias        bool
	AddBiasLinear  bool
	RMSNorm        bool
	PostLayerNorm  bool
	ResidualPostLN bool
	MultiQueryAttn bool

	// Per-layer sizes of structurally pruned models (LLM-Pruner writes
	// num_attention_heads_per_layer, num_key_value_heads_per_layer and
	// intermediate_size_per_layer); nil means every layer uses the scalars.
	HeadsPerLayer, KVHeadsPerLayer, IntermediatePerLayer []int

	BOS, EOS, PAD []int

	// Quantization is config.json's quantization_config, verbatim (nil if
	// absent); package compress interprets it.
	Quantization json.RawMessage
	// Raw is the whole config.json.
	Raw map[string]json.RawMessage
}

// RopeConfig is the rotary embedding as configured.
type RopeConfig struct {
	Theta          float64
	Type           string // "default", "linear", "llama3"
	Factor         float64
	LowFreqFactor  float64
	HighFreqFactor float64
	OriginalMaxPos int
	RotaryDim      int  // dims rotated per head
	Interleaved    bool // ChatGLM pairs (2i, 2i+1)
}

type rawConfig map[string]json.RawMessage

func (r rawConfig) has(k string) bool {
	v, ok := r[k]
	return ok && !bytes.Equal(v, []byte("null"))
}

func (r rawConfig) num(k string) (float64, bool, error) {
	if !r.has(k) {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(r[k], &f); err != nil {
		return 0, true, fmt.Errorf("field %q is not a number", k)
	}
	return f, true, nil
}

// ParseConfig reads config.json (path) into a Config, checking that every
// field the forward pass needs is present and consistent.
func ParseConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			return nil, fmt.Errorf("config %s: %w: is a folder, not a file", path, ErrBadModel)
		}
		return nil, badinput.Missing(fmt.Errorf("config %s: %w", path, err))
	}
	c, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w: %v", path, ErrBadModel, err)
	}
	c.Path = path
	return c, nil
}

// fields reads config.json's fields, remembering the first error.
type fields struct {
	r   rawConfig
	err error
}

func (f *fields) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// str reads a string field ("" if absent).
func (f *fields) str(k string) string {
	var s string
	if f.r.has(k) {
		if err := json.Unmarshal(f.r[k], &s); err != nil {
			f.fail(fmt.Errorf("field %q is not a string", k))
		}
	}
	return s
}

// boolean reads a boolean field (def if absent).
func (f *fields) boolean(k string, def bool) bool {
	if !f.r.has(k) {
		return def
	}
	var v bool
	if err := json.Unmarshal(f.r[k], &v); err != nil {
		f.fail(fmt.Errorf("field %q is not a boolean", k))
	}
	return v
}

// integer reads the first present key of keys as a size (0 if none);
// required ones must be present and positive.
func (f *fields) integer(required bool, keys ...string) int {
	for _, k := range keys {
		v, ok, err := f.r.num(k)
		if err != nil {
			f.fail(err)
			return 0
		}
		if ok {
			limit := float64(MaxWidth)
			if k == "num_hidden_layers" || k == "num_layers" {
				limit = MaxLayers
			}
			if v != math.Trunc(v) || v < 0 || v > limit {
				if v > limit && v == math.Trunc(v) {
					f.fail(fmt.Errorf("field %q = %s is above gollm's limit of %d", k, strconv.FormatFloat(v, 'g', 15, 64), int(limit)))
				} else {
					f.fail(fmt.Errorf("field %q = %v is not a valid size", k, v))
				}
				return 0
			}
			// Optional sizes fall back to a default when absent or
			// null; a value given must still be positive.
			if v == 0 {
				f.fail(fmt.Errorf("field %q must be positive", k))
			}
			return int(v)
		}
	}
	if required {
		f.fail(fmt.Errorf("missing field %q", keys[0]))
	}
	return 0
}

// float reads the first present key of keys as a number (def if none).
func (f *fields) float(def float64, keys ...string) float64 {
	for _, k := range keys {
		v, ok, err := f.r.num(k)
		if err != nil {
			f.fail(err)
			return def
		}
		if ok {
			return v
		}
	}
	return def
}

// epsilon reads a normalization epsilon (def if absent): zero or positive,
// and finite in float32 (the forward pass adds it in float32).
func (f *fields) epsilon(def float64, k string) float32 {
	v := f.float(def, k)
	if e := float32(v); v < 0 || math.IsInf(float64(e), 0) {
		f.fail(fmt.Errorf("field %q = %v must be zero or positive and finite", k, v))
	}
	return float32(v)
}

// ids reads a token id or a list of them (nil if absent).
func (f *fields) ids(k string) []int {
	if !f.r.has(k) {
		return nil
	}
	var one int
	if json.Unmarshal(f.r[k], &one) == nil {
		return []int{one}
	}
	var many []int
	if err := json.Unmarshal(f.r[k], &many); err != nil {
		f.fail(fmt.Errorf("field %q is not a token id or list of ids", k))
	}
	return many
}

func parseConfig(b []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	c := &Config{Raw: r}
	f := &fields{r: r}
	c.ModelType = f.str("model_type")
	if c.ModelType == "" {
		var archs []string
		if r.has("architectures") {
			_ = json.Unmarshal(r["architectures"], &archs)
		}
		if len(archs) > 0 && (archs[0] == "ChatGLMModel" || archs[0] == "ChatGLMForConditionalGeneration") {
			c.ModelType = "chatglm"
		}
	}
	if dt := f.str("torch_dtype"); dt != "" {
		c.DType, _ = tensor.ParseDType(dt)
	}
	if dt := f.str("dtype"); dt != "" {
		c.DType, _ = tensor.ParseDType(dt)
	}
	c.BOS, c.EOS, c.PAD = f.ids("bos_token_id"), f.ids("eos_token_id"), f.ids("pad_token_id")
	if r.has("quantization_config") {
		c.Quantization = r["quantization_config"]
	}
	a := architectureForModelType(c.ModelType)
	switch {
	case a != nil:
		c.Arch = a.Name
		a.parse(f, c)
	case c.ModelType == "":
		return nil, fmt.Errorf("missing field \"model_type\" (and no known architectures entry)")
	default:
		return nil, fmt.Errorf("unknown architecture: model_type %s (supported: llama, mistral, opt, chatglm)", quote(c.ModelType))
	}
	firstErr := f.err
	if firstErr != nil {
		return nil, firstErr
	}
	{
		// Per-layer sizes of structurally pruned checkpoints (LLM-Pruner);
		// OPT's per-layer heads keep head_dim = hidden_size /
		// num_attention_heads of the unpruned model.
		for _, pl := range []struct {
			key string
			dst *[]int
		}{{KeyHeadsPerLayer, &c.HeadsPerLayer}, {KeyKVHeadsPerLayer, &c.KVHeadsPerLayer}, {KeyIntermediatePerLayer, &c.IntermediatePerLayer}} {
			if !r.has(pl.key) {
				continue
			}
			if err := json.Unmarshal(r[pl.key], pl.dst); err != nil {
				return nil, fmt.Errorf("field %q is not a list of sizes", pl.key)
			}
			if len(*pl.dst) != c.Layers {
				return nil, fmt.Errorf("field %q has %d entries for %d layers", pl.key, len(*pl.dst), c.Layers)
			}
			for _, v := range *pl.dst {
				if v <= 0 || v > MaxWidth {
					return nil, fmt.Errorf("field %q has size %d (want 1…%d)", pl.key, v, MaxWidth)
				}
			}
		}
		for i := 0; i < c.Layers; i++ {
			h, kv := c.LayerHeads(i)
			if h%kv != 0 {
				return nil, fmt.Errorf("layer %d: %d attention heads is not a multiple of its %d key/value heads", i, h, kv)
			}
		}
	}
	if c.Heads%c.KVHeads != 0 {
		return nil, fmt.Errorf("num_attention_heads %d is not a multiple of the %d key/value heads", c.Heads, c.KVHeads)
	}
	if a.check != nil {
		if err := a.check(c); err != nil {
			return nil, err
		}
	}
	if c.HeadDim <= 0 || c.Rope.RotaryDim%2 != 0 {
		return nil, fmt.Errorf("head dimension %d (rotary %d) must be positive and even", c.HeadDim, c.Rope.RotaryDim)
	}
	if c.MaxPos == 0 {
		c.MaxPos = 2048
	}
	return c, nil
}

func parseRope(r rawConfig, c *Config) error {
	c.Rope = RopeConfig{Theta: 10000, Type: "default", Factor: 1}
	if f, ok, err := r.num("rope_theta"); err != nil {
		return err
	} else if ok {
		c.Rope.Theta = f
	}
	if err := checkTheta("field rope_theta", c.Rope.Theta); err != nil {
		return err
	}
	// transformers 5 spells it rope_parameters (theta inside); older configs rope_scaling.
	var params map[string]any
	var pkey string
	for _, k := range []string{"rope_parameters", "rope_scaling"} {
		if r.has(k) {
			if err := json.Unmarshal(r[k], &params); err != nil {
				return fmt.Errorf("field %q is not an object", k)
			}
			pkey = k
			break
		}
	}
	if params == nil {
		return nil
	}
	var badField error
	getf := func(k string, def float64) float64 {
		v, ok := params[k]
		if !ok || v == nil {
			return def
		}
		f, ok := v.(float64)
		if !ok {
			if badField == nil {
				badField = fmt.Errorf("field %s.%s = %s is not a number", pkey, k, quote(fmt.Sprint(v)))
			}
			return def
		}
		return f
	}
	c.Rope.Theta = getf("rope_theta", c.Rope.Theta)
	if badField != nil {
		return badField
	}
	if err := checkTheta(pkey+".rope_theta", c.Rope.Theta); err != nil {
		return err
	}
	typ, _ := params["rope_type"].(string)
	if typ == "" {
		typ, _ = params["type"].(string)
	}
	if typ == "" {
		typ = "default"
	}
	c.Rope.Type = typ
	c.Rope.Factor = getf("factor", 1)
	if typ == "llama3" {
		c.Rope.LowFreqFactor = getf("low_freq_factor", 0)
		c.Rope.HighFreqFactor = getf("high_freq_factor", 0)
		c.Rope.OriginalMaxPos = int(getf("original_max_position_embeddings", 0))
	}
	if badField != nil {
		return badField
	}
	switch typ {
	case "default":
	case "linear":
		if c.Rope.Factor <= 0 {
			return fmt.Errorf("rope factor %v must be positive", c.Rope.Factor)
		}
	case "llama3":
		if c.Rope.Factor <= 0 || c.Rope.LowFreqFactor <= 0 || c.Rope.HighFreqFactor <= c.Rope.LowFreqFactor || c.Rope.OriginalMaxPos <= 0 {
			return fmt.Errorf("llama3 rope scaling needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings")
		}
	default:
		return fmt.Errorf("rope type %s is not supported (default, linear, llama3)", quote(typ))
	}
	return nil
}

// checkTheta refuses a rotary base that is not positive (the frequencies
// theta^(-2i/d) would be infinite or NaN).
func checkTheta(field string, theta float64) error {
	if !(theta > 0) || math.IsInf(theta, 0) {
		return fmt.Errorf("%s = %v must be positive", field, theta)
	}
	return nil
}

// maxQuoted bounds a value quoted in an error message: a config field can
// hold megabytes, and a message must stay one readable line.
const maxQuoted = 60

// quote returns s quoted for an error message, cut to maxQuoted bytes (at a
// character boundary) with its full length said when it was longer.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// InvFreq computes the rotary inverse frequencies (RotaryDim/2 of them) with
// the configured scaling, in float32 as transformers does.
func (rc *RopeConfig) InvFreq() []float32 {
	dim := rc.RotaryDim
	inv := make([]float32, dim/2)
	for i := range inv {
		e := float32(2*i) / float32(dim)
		inv[i] = float32(1 / math.Pow(rc.Theta, float64(e)))
	}
	switch rc.Type {
	case "linear":
		for i := range inv {
			inv[i] /= float32(rc.Factor)
		}
	case "llama3":
		old := float64(rc.OriginalMaxPos)
		lowWave, highWave := old/rc.LowFreqFactor, old/rc.HighFreqFactor
		for i, f := range inv {
			wave := 2 * math.Pi / float64(f)
			switch {
			case wave < highWave:
				// high frequency: unchanged
			case wave > lowWave:
				inv[i] = f / float32(rc.Factor)
			default:
				smooth := (old/wave - rc.LowFreqFactor) / (rc.HighFreqFactor - rc.LowFreqFactor)
				inv[i] = float32((1-smooth)*float64(f)/rc.Factor + smooth*float64(f))
			}
		}
	}
	return inv
}

// LoadConfig reads dir/config.json and, where present, dir/generation_config.json
// (whose BOS/EOS take precedence, as transformers' generate does).
func LoadConfig(dir string) (*Config, error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("model %s: %w: is a file, not a model folder (config.json, model.safetensors, tokenizer files)", dir, ErrBadModel)
	}
	c, err := ParseConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	gp := filepath.Join(dir, "generation_config.json")
	if b, err := os.ReadFile(gp); err == nil {
		g, err := parseGeneration(b)
		if err != nil {
			return nil, fmt.Errorf("generation config %s: %w: %v", gp, ErrBadModel, err)
		}
		if g.bos != nil {
			c.BOS = g.bos
		}
		if g.eos != nil {
			c.EOS = g.eos
		}
	}
	return c, nil
}

type genConfig struct{ bos, eos []int }

func parseGeneration(b []byte) (genConfig, error) {
	var r rawConfig
	if err := json.Unmarshal(b, &r); err != nil {
		return genConfig{}, fmt.Errorf("not a JSON object: %v", err)
	}
	var g genConfig
	for k, dst := range map[string]*[]int{"bos_token_id": &g.bos, "eos_token_id": &g.eos} {
		if !r.has(k) {
			continue
		}
		var one int
		if json.Unmarshal(r[k], &one) == nil {
			*dst = []int{one}
			continue
		}
		if err := json.Unmarshal(r[k], dst); err != nil {
			return g, fmt.Errorf("field %q is not a token id or list of ids", k)
		}
	}
	return g, nil
}

// LayerHeads returns layer i's attention and key/value head counts.
func (c *Config) LayerHeads(i int) (heads, kvHeads int) {
	heads, kvHeads = c.Heads, c.KVHeads
	if c.HeadsPerLayer != nil {
		heads = c.HeadsPerLayer[i]
	}
	if c.KVHeadsPerLayer != nil {
		kvHeads = c.KVHeadsPerLayer[i]
	}
	return heads, kvHeads
}

// sizes summarises the config's sizes for error messages.
func (c *Config) sizes() string {
	s := fmt.Sprintf("%d layers, hidden %d, intermediate %d, heads %d/%d, head_dim %d, vocab %d", c.Layers, c.Hidden, c.Intermediate, c.Heads, c.KVHeads, c.HeadDim, c.Vocab)
	if c.Path != "" {
		s = c.Path + ": " + s
	}
	return s
}

// LayerIntermediate returns layer i's MLP width.
func (c *Config) LayerIntermediate(i int) int {
	if c.IntermediatePerLayer != nil {
		return c.IntermediatePerLayer[i]
	}
	return c.Intermediate
}

// MaxKVDim is the widest key/value row over the layers (the KV cache's row).
func (c *Config) MaxKVDim() int {
	w := 0
	for i := 0; i < c.Layers; i++ {
		_, kv := c.LayerHeads(i)
		w = max(w, kv*c.HeadDim)
	}
	return w
}
