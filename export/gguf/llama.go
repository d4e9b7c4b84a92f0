package gguf

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

// ErrUnsupported marks a checkpoint this exporter cannot write (bad input:
// exit code 2), e.g. an OPT or ChatGLM model or a packed quantized one.
var ErrUnsupported = badinput.New("cannot export to gguf")

// llama3Pretokenizer is the Split regex of LLaMA-3's tokenizer.json, as JSON
// spells it; a byte-level BPE tokenizer with it gets llama.cpp's
// tokenizer.ggml.pre "llama-bpe", any other "default".
const llama3Pretokenizer = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`

// fileType is llama.cpp's general.file_type for each weight type
// (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0).
var fileType = map[TensorType]uint32{F32: 0, F16: 1, Q4_0: 2, Q8_0: 7}

// Options configures Export.
type Options struct {
	// Type is the type of the weight matrices: F32, F16, Q8_0 or Q4_0.
	// Norm weights and rope factors stay F32 (as llama.cpp's converter
	// keeps them); with Q8_0 or Q4_0 a matrix whose rows are not a
	// multiple of 32 is written as F16 (as the converter does).
	Type TensorType
	// Progress, when set, is called after each tensor is encoded.
	Progress func(done, total int, name string)
}

// Export builds the GGUF of the dense LLaMA-family checkpoint in dir (config.json,
// safetensors weights, tokenizer.json or tokenizer.model), laid out as
// llama.cpp's convert_hf_to_gguf.py writes a LlamaForCausalLM: llama.*
// hyperparameters, the tokenizer as tokenizer.ggml.* arrays, tensors under
// llama.cpp's names with the Q and K projections' rows permuted from
// Hugging Face's rotate-half order to ggml's interleaved pairs, and for
// LLaMA-3 rope scaling a rope_freqs tensor. It holds the whole encoded
// model in memory (its size in opt.Type) plus one tensor in f32.
func Export(dir string, opt Options) (*File, error) {
	if _, ok := fileType[opt.Type]; !ok {
		return nil, fmt.Errorf("gguf: %w: weight type %s (want f32, f16, q8_0 or q4_0)", ErrUnsupported, opt.Type)
	}
	c, err := models.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	if err := exportable(c); err != nil {
		return nil, fmt.Errorf("gguf: model %s: %w: %v", dir, ErrUnsupported, err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()

	f := &File{}
	f.Set("general.architecture", String("llama"))
	f.Set("general.name", String(filepath.Base(filepath.Clean(dir))))
	f.Set("general.file_type", Uint32(fileType[opt.Type]))
	if opt.Type == Q8_0 || opt.Type == Q4_0 {
		f.Set("general.quantization_version", Uint32(2))
	}
	f.Set("llama.vocab_size", Uint32(uint32(c.Vocab)))
	f.Set("llama.context_length", Uint32(uint32(c.MaxPos)))
	f.Set("llama.embedding_length", Uint32(uint32(c.Hidden)))
	f.Set("llama.block_count", Uint32(uint32(c.Layers)))
	f.Set("llama.feed_forward_length", Uint32(uint32(c.Intermediate)))
	f.Set("llama.attention.head_count", Uint32(uint32(c.Heads)))
	f.Set("llama.attention.head_count_kv", Uint32(uint32(c.KVHeads)))
	f.Set("llama.attention.key_length", Uint32(uint32(c.HeadDim)))
	f.Set("llama.attention.value_length", Uint32(uint32(c.HeadDim)))
	f.Set("llama.attention.layer_norm_rms_epsilon", Float32(c.NormEps))
	f.Set("llama.rope.freq_base", Float32(float32(c.Rope.Theta)))
	f.Set("llama.rope.dimension_count", Uint32(uint32(c.Rope.RotaryDim)))
	if c.Rope.Type == "linear" {
		f.Set("llama.rope.scaling.type", String("linear"))
		f.Set("llama.rope.scaling.factor", Float32(float32(c.Rope.Factor)))
	}
	if err := setTokenizer(f, dir, tok, c); err != nil {
		return nil, err
	}

	tied := c.TieEmbed || !ck.Has("lm_head.weight")
	total := 2 + 9*c.Layers
	if !tied {
		total++
	}
	done := 0
	add := func(ggufName, hfName string, typ TensorType, permuteHeads int) error {
		t, err := ck.Tensor(hfName)
		if err != nil {
			return fmt.Errorf("gguf: model %s: %w", dir, err)
		}
		x, err := t.Float32()
		if err != nil {
			return fmt.Errorf("gguf: model %s: tensor %s: %w", dir, hfName, err)
		}
		dims := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			dims[len(dims)-1-i] = uint64(d)
		}
		if permuteHeads > 0 {
			x = permuteRotary(x, t.Shape[0], t.Shape[1], permuteHeads)
		}
		if err := f.Add(encode(ggufName, x, dims, typ)); err != nil {
			return err
		}
		done++
		if opt.Progress != nil {
			opt.Progress(done, total, ggufName)
		}
		return nil
	}
	mat := opt.Type
	if err := add("token_embd.weight", "model.embed_tokens.weight", mat, 0); err != nil {
		return nil, err
	}
	if err := add("output_norm.weight", "model.norm.weight", F32, 0); err != nil {
		return nil, err
	}
	if !tied {
		if err := add("output.weight", "lm_head.weight", mat, 0); err != nil {
			return nil, err
		}
	}
	if c.Rope.Type == "llama3" {
		if err := f.Add(encode("rope_freqs.weight", ropeFactors(c.Rope), []uint64{uint64(c.Rope.RotaryDim / 2)}, F32)); err != nil {
			return nil, err
		}
	}
	for l := range c.Layers {
		hf := fmt.Sprintf("model.layers.%d.", l)
		gg := fmt.Sprintf("blk.%d.", l)
		for _, w := range []struct {
			gguf, hf string
			typ      TensorType
			permute  int
		}{
			{"attn_norm", "input_layernorm", F32, 0},
			{"attn_q", "self_attn.q_proj", mat, c.Heads},
			{"attn_k", "self_attn.k_proj", mat, c.KVHeads},
			{"attn_v", "self_attn.v_proj", mat, 0},
			{"attn_output", "self_attn.o_proj", mat, 0},
			{"ffn_norm", "post_attention_layernorm", F32, 0},
			{"ffn_gate", "mlp.gate_proj", mat, 0},
			{"ffn_up", "mlp.up_proj", mat, 0},
			{"ffn_down", "mlp.down_proj", mat, 0},
		} {
			if err := add(gg+w.gguf+".weight", hf+w.hf+".weight", w.typ, w.permute); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// exportable says why c cannot be exported, or nil.
func exportable(c *models.Config) error {
	switch {
	case c.Arch != "llama":
		return fmt.Errorf("architecture %s (only the LLaMA family is exported)", c.Arch)
	case c.Quantization != nil:
		return fmt.Errorf("a packed quantized checkpoint (quantization_config); export the dense model")
	case c.HeadsPerLayer != nil || c.KVHeadsPerLayer != nil || c.IntermediatePerLayer != nil:
		return fmt.Errorf("per-layer sizes (structurally pruned) are not expressible in llama.cpp's llama architecture")
	case c.AttentionBias || c.MLPBias:
		return fmt.Errorf("attention or MLP biases are not exported")
	case c.Rope.Type != "default" && c.Rope.Type != "" && c.Rope.Type != "linear" && c.Rope.Type != "llama3":
		return fmt.Errorf("rope type %q is not exported", c.Rope.Type)
	case c.Rope.RotaryDim != c.HeadDim:
		return fmt.Errorf("partial rotary embedding (%d of %d dims) is not exported", c.Rope.RotaryDim, c.HeadDim)
	case c.HiddenAct != "silu":
		return fmt.Errorf("activation %q (llama.cpp's llama uses silu)", c.HiddenAct)
	}
	return nil
}

// encode writes x (dims ggml-ordered) as a tensor of type typ, falling back
// from Q8_0 or Q4_0 to F16 when rows do not fill whole blocks.
func encode(name string, x []float32, dims []uint64, typ TensorType) Tensor {
	if _, err := typ.RowBytes(int(dims[0])); err != nil {
		typ = F16
	}
	t := Tensor{Name: name, Type: typ, Dims: dims}
	switch typ {
	case F32:
		t.Data = tensor.FromFloat32(name, []int{len(x)}, x).Data
	case F16:
		t.Data = make([]byte, 0, 2*len(x))
		for _, v := range x {
			h := tensor.F32ToF16(v)
			t.Data = append(t.Data, byte(h), byte(h>>8))
		}
	case Q8_0:
		t.Data = QuantizeQ8_0(make([]byte, 0, len(x)/Q8Block*q8BlockBytes), x)
	case Q4_0:
		t.Data = QuantizeQ4_0(make([]byte, 0, len(x)/Q4Block*q4BlockBytes), x)
	}
	return t
}

// permuteRotary reorders the rows of a Q or K projection ([rows, cols],
// heads heads of rows/heads dims each) from Hugging Face's rotate-half
// layout (dim i pairs with i+d/2) to ggml's (dim 2i pairs with 2i+1):
// within a head, new row 2k+j is old row j*d/2+k — convert_hf_to_gguf.py's
// permute(w, n_head, n_head_kv).
func permuteRotary(x []float32, rows, cols, heads int) []float32 {
	d := rows / heads
	out := make([]float32, len(x))
	for h := range heads {
		for j := range 2 {
			for k := range d / 2 {
				src := (h*d + j*d/2 + k) * cols
				dst := (h*d + 2*k + j) * cols
				copy(out[dst:dst+cols], x[src:src+cols])
			}
		}
	}
	return out
}

// ropeFactors returns llama.cpp's rope_freqs for LLaMA-3 rope scaling: per
// frequency, the factor its base frequency is divided by, i.e. the base
// inverse frequency over the scaled one models.RopeConfig.InvFreq gives.
func ropeFactors(rc models.RopeConfig) []float32 {
	base := rc
	base.Type = "default"
	unscaled, scaled := base.InvFreq(), rc.InvFreq()
	out := make([]float32, len(scaled))
	for i := range out {
		out[i] = unscaled[i] / scaled[i]
	}
	return out
}

// setTokenizer writes the tokenizer.ggml.* keys.
func setTokenizer(f *File, dir string, tok *tokenizer.Tokenizer, c *models.Config) error {
	kind, vocab, merges, err := tok.Vocabulary()
	if err != nil {
		return fmt.Errorf("gguf: %w: %v", ErrUnsupported, err)
	}
	if len(vocab) > c.Vocab {
		return fmt.Errorf("gguf: model %s: %w: the tokenizer has %d tokens, more than vocab_size %d", dir, ErrUnsupported, len(vocab), c.Vocab)
	}
	// Pad to vocab_size as the converter does: unused placeholder tokens.
	for i := len(vocab); i < c.Vocab; i++ {
		vocab = append(vocab, tokenizer.VocabEntry{Text: fmt.Sprintf("[PAD%d]", i), Type: tokenizer.TokenUnused})
	}
	texts := make([]string, len(vocab))
	scores := make([]float32, len(vocab))
	types := make([]int32, len(vocab))
	for i, v := range vocab {
		texts[i], scores[i], types[i] = v.Text, v.Score, int32(v.Type)
	}
	switch kind {
	case "sentencepiece":
		f.Set("tokenizer.ggml.model", String("llama"))
		f.Set("tokenizer.ggml.pre", String("default"))
		f.Set("tokenizer.ggml.tokens", Strings(texts))
		f.Set("tokenizer.ggml.scores", Float32s(scores))
		f.Set("tokenizer.ggml.token_type", Int32s(types))
	default:
		pre := "default"
		if b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json")); err == nil && bytes.Contains(b, []byte(llama3Pretokenizer)) {
			pre = "llama-bpe"
		}
		f.Set("tokenizer.ggml.model", String("gpt2"))
		f.Set("tokenizer.ggml.pre", String(pre))
		f.Set("tokenizer.ggml.tokens", Strings(texts))
		f.Set("tokenizer.ggml.token_type", Int32s(types))
		f.Set("tokenizer.ggml.merges", Strings(merges))
	}
	id := func(key string, v int, ok bool) {
		if ok && v >= 0 && v <= math.MaxInt32 {
			f.Set(key, Uint32(uint32(v)))
		}
	}
	bos, okB := tok.BOS()
	if len(c.BOS) > 0 {
		bos, okB = c.BOS[0], true
	}
	eos, okE := tok.EOS()
	if len(c.EOS) > 0 {
		eos, okE = c.EOS[0], true
	}
	id("tokenizer.ggml.bos_token_id", bos, okB)
	id("tokenizer.ggml.eos_token_id", eos, okE)
	if pad, ok := tok.PAD(); ok {
		id("tokenizer.ggml.padding_token_id", pad, ok)
	}
	if kind == "sentencepiece" {
		for i, v := range vocab {
			if v.Type == tokenizer.TokenUnknown {
				id("tokenizer.ggml.unknown_token_id", i, true)
				break
			}
		}
	}
	f.Set("tokenizer.ggml.add_bos_token", Bool(tok.AddsBOS()))
	f.Set("tokenizer.ggml.add_eos_token", Bool(false))
	return nil
}
