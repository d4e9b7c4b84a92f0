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
		return nil, badinput.Missing(fmt.Errorf("config %s: %w", path, err))
	}
	c, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w: %v", path, ErrBadModel, err)
	}
	c.Path = path
	return c, nil
}

func parseConfig(b []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	c := &Config{Raw: r}
	var firstErr error
	str := func(k string) string {
		var s string
		if r.has(k) {
			if err := json.Unmarshal(r[k], &s); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("field %q is not a string", k)
			}
		}
		return s
	}
	boolean := func(k string, def bool) bool {
		if !r.has(k) {
			return def
		}
		var v bool
		if err := json.Unmarshal(r[k], &v); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("field %q is not a boolean", k)
		}
		return v
	}
	// integer reads the first present key; required ones must be positive.
	integer := func(required bool, keys ...string) int {
		for _, k := range keys {
			f, ok, err := r.num(k)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return 0
			}
			if ok {
				limit := float64(MaxWidth)
				if k == "num_hidden_layers" || k == "num_layers" {
					limit = MaxLayers
				}
				if f != math.Trunc(f) || f < 0 || f > limit {
					if firstErr == nil {
						if f > limit && f == math.Trunc(f) {
							firstErr = fmt.Errorf("field %q = %s is above gollm's limit of %d", k, strconv.FormatFloat(f, 'g', 15, 64), int(limit))
						} else {
							firstErr = fmt.Errorf("field %q = %v is not a valid size", k, f)
						}
					}
					return 0
				}
				if required && f == 0 && firstErr == nil {
					firstErr = fmt.Errorf("field %q must be positive", k)
				}
				return int(f)
			}
		}
		if required && firstErr == nil {
			firstErr = fmt.Errorf("missing field %q", keys[0])
		}
		return 0
	}
	float := func(def float64, keys ...string) float64 {
		for _, k := range keys {
			f, ok, err := r.num(k)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return def
			}
			if ok {
				return f
			}
		}
		return def
	}
	ids := func(k string) []int {
		if !r.has(k) {
			return nil
		}
		var one int
		if json.Unmarshal(r[k], &one) == nil {
			return []int{one}
		}
		var many []int
		if err := json.Unmarshal(r[k], &many); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("field %q is not a token id or list of ids", k)
		}
		return many
	}

	c.ModelType = str("model_type")
	if c.ModelType == "" {
		var archs []string
		if r.has("architectures") {
			_ = json.Unmarshal(r["architectures"], &archs)
		}
		if len(archs) > 0 && (archs[0] == "ChatGLMModel" || archs[0] == "ChatGLMForConditionalGeneration") {
			c.ModelType = "chatglm"
		}
	}
	if dt := str("torch_dtype"); dt != "" {
		c.DType, _ = tensor.ParseDType(dt)
	}
	if dt := str("dtype"); dt != "" {
		c.DType, _ = tensor.ParseDType(dt)
	}
	c.BOS, c.EOS, c.PAD = ids("bos_token_id"), ids("eos_token_id"), ids("pad_token_id")
	if r.has("quantization_config") {
		c.Quantization = r["quantization_config"]
	}
	switch c.ModelType {
	case "llama", "mistral", "vicuna":
		c.Arch = "llama"
		c.Vocab = integer(true, "vocab_size")
		c.Hidden = integer(true, "hidden_size")
		c.Intermediate = integer(true, "intermediate_size")
		c.Layers = integer(true, "num_hidden_layers")
		c.Heads = integer(true, "num_attention_heads")
		c.KVHeads = integer(false, "num_key_value_heads")
		if c.KVHeads == 0 {
			c.KVHeads = c.Heads
		}
		c.HeadDim = integer(false, "head_dim")
		if c.HeadDim == 0 && c.Heads > 0 {
			c.HeadDim = c.Hidden / c.Heads
		}
		c.MaxPos = integer(false, "max_position_embeddings")
		c.NormEps = float32(float(1e-6, "rms_norm_eps"))
		c.TieEmbed = boolean("tie_word_embeddings", false)
		c.HiddenAct = str("hidden_act")
		if c.HiddenAct == "" {
			c.HiddenAct = "silu"
		}
		c.AttentionBias = boolean("attention_bias", false)
		c.MLPBias = boolean("mlp_bias", false)
		if err := parseRope(r, c); err != nil && firstErr == nil {
			firstErr = err
		}
		c.Rope.RotaryDim = c.HeadDim
	case "opt":
		c.Arch = "opt"
		c.Vocab = integer(true, "vocab_size")
		c.Hidden = integer(true, "hidden_size")
		c.Intermediate = integer(true, "ffn_dim")
		c.Layers = integer(true, "num_hidden_layers")
		c.Heads = integer(true, "num_attention_heads")
		c.KVHeads = c.Heads
		if c.Heads > 0 {
			c.HeadDim = c.Hidden / c.Heads
		}
		c.MaxPos = integer(true, "max_position_embeddings")
		c.NormEps = 1e-5
		c.TieEmbed = boolean("tie_word_embeddings", true)
		c.HiddenAct = str("activation_function")
		if c.HiddenAct == "" {
			c.HiddenAct = "relu"
		}
		c.WordEmbedProjDim = integer(false, "word_embed_proj_dim")
		if c.WordEmbedProjDim == 0 {
			c.WordEmbedProjDim = c.Hidden
		}
		c.DoLayerNormBefore = boolean("do_layer_norm_before", true)
		c.EnableBias = boolean("enable_bias", true)
		c.RemoveFinalLN = boolean("_remove_final_layer_norm", false)
		c.LNElementwise = boolean("layer_norm_elementwise_affine", true)
	case "chatglm":
		c.Arch = "chatglm"
		c.Vocab = integer(true, "padded_vocab_size", "vocab_size")
		c.Hidden = integer(true, "hidden_size")
		c.Intermediate = integer(true, "ffn_hidden_size")
		c.Layers = integer(true, "num_layers")
		c.Heads = integer(true, "num_attention_heads")
		c.HeadDim = integer(false, "kv_channels")
		if c.HeadDim == 0 && c.Heads > 0 {
			c.HeadDim = c.Hidden / c.Heads
		}
		c.MultiQueryAttn = boolean("multi_query_attention", false)
		c.KVHeads = c.Heads
		if c.MultiQueryAttn {
			c.KVHeads = integer(true, "multi_query_group_num")
		}
		c.MaxPos = integer(false, "seq_length")
		c.NormEps = float32(float(1e-5, "layernorm_epsilon"))
		c.TieEmbed = false
		c.HiddenAct = "swiglu"
		c.RMSNorm = boolean("rmsnorm", true)
		c.PostLayerNorm = boolean("post_layer_norm", true)
		c.ResidualPostLN = boolean("apply_residual_connection_post_layernorm", false)
		c.AddBiasLinear = boolean("add_bias_linear", false)
		c.QKVBias = boolean("add_qkv_bias", false)
		if r.has("original_rope") && !boolean("original_rope", true) && firstErr == nil {
			firstErr = fmt.Errorf("original_rope=false is not supported (ChatGLM's own code supports only the original rotary)")
		}
		c.Rope = RopeConfig{Theta: 10000 * float(1, "rope_ratio"), Type: "default", RotaryDim: c.HeadDim / 2, Interleaved: true}
	case "":
		return nil, fmt.Errorf("missing field \"model_type\" (and no known architectures entry)")
	default:
		return nil, fmt.Errorf("unknown architecture: model_type %q (supported: llama, mistral, opt, chatglm)", c.ModelType)
	}
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
		}{{"num_attention_heads_per_layer", &c.HeadsPerLayer}, {"num_key_value_heads_per_layer", &c.KVHeadsPerLayer}, {"intermediate_size_per_layer", &c.IntermediatePerLayer}} {
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
	switch {
	case c.Heads%c.KVHeads != 0:
		return nil, fmt.Errorf("num_attention_heads %d is not a multiple of the %d key/value heads", c.Heads, c.KVHeads)
	case c.Arch == "opt" && c.Hidden%c.Heads != 0:
		return nil, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.HeadDim <= 0 || c.Rope.RotaryDim%2 != 0:
		return nil, fmt.Errorf("head dimension %d (rotary %d) must be positive and even", c.HeadDim, c.Rope.RotaryDim)
	case c.Arch == "opt" && c.HiddenAct != "relu" && c.HiddenAct != "gelu":
		return nil, fmt.Errorf("activation_function %q is not supported (relu, gelu)", c.HiddenAct)
	case c.Arch == "llama" && c.HiddenAct != "silu":
		return nil, fmt.Errorf("hidden_act %q is not supported (silu)", c.HiddenAct)
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
	// transformers 5 spells it rope_parameters (theta inside); older configs rope_scaling.
	var params map[string]any
	for _, k := range []string{"rope_parameters", "rope_scaling"} {
		if r.has(k) {
			if err := json.Unmarshal(r[k], &params); err != nil {
				return fmt.Errorf("field %q is not an object", k)
			}
			break
		}
	}
	if params == nil {
		return nil
	}
	getf := func(k string, def float64) float64 {
		if v, ok := params[k].(float64); ok {
			return v
		}
		return def
	}
	c.Rope.Theta = getf("rope_theta", c.Rope.Theta)
	typ, _ := params["rope_type"].(string)
	if typ == "" {
		typ, _ = params["type"].(string)
	}
	if typ == "" {
		typ = "default"
	}
	c.Rope.Type = typ
	c.Rope.Factor = getf("factor", 1)
	switch typ {
	case "default":
	case "linear":
		if c.Rope.Factor <= 0 {
			return fmt.Errorf("rope factor %v must be positive", c.Rope.Factor)
		}
	case "llama3":
		c.Rope.LowFreqFactor = getf("low_freq_factor", 0)
		c.Rope.HighFreqFactor = getf("high_freq_factor", 0)
		c.Rope.OriginalMaxPos = int(getf("original_max_position_embeddings", 0))
		if c.Rope.Factor <= 0 || c.Rope.LowFreqFactor <= 0 || c.Rope.HighFreqFactor <= c.Rope.LowFreqFactor || c.Rope.OriginalMaxPos <= 0 {
			return fmt.Errorf("llama3 rope scaling needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings")
		}
	default:
		return fmt.Errorf("rope type %q is not supported (default, linear, llama3)", typ)
	}
	return nil
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
