package grad

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// ParamKind tells how a parameter is initialised and whether weight decay
// applies to it (models.TensorKind).
type ParamKind = models.TensorKind

const (
	// Matrix is a linear weight or an embedding table.
	Matrix = models.MatrixTensor
	// NormWeight is a norm's gain (initialised to 1).
	NormWeight = models.NormTensor
	// Bias is a linear or norm bias (initialised to 0).
	Bias = models.BiasTensor
)

// ParamSpec is one parameter of an architecture: its Hugging Face name and
// shape ([rows, cols], or [n] for vectors).
type ParamSpec = models.TensorSpec

// dims returns a parameter's shape as rows × cols (1 × n for a vector).
func dims(p ParamSpec) (int, int) {
	if len(p.Shape) == 1 {
		return 1, p.Shape[0]
	}
	return p.Shape[0], p.Shape[1]
}

// ParamSpecs lists every parameter the engine's loader reads for cfg, by
// its Hugging Face checkpoint name, in checkpoint order, with each layer's
// own sizes (see models.Architecture.Tensors). Tied output heads are not
// listed (they reuse the embedding).
func ParamSpecs(cfg *models.Config) ([]ParamSpec, error) {
	a, err := models.ArchitectureOf(cfg)
	if err != nil {
		return nil, fmt.Errorf("grad: %w", err)
	}
	ps, err := a.Tensors(cfg)
	if err != nil {
		return nil, fmt.Errorf("grad: %w", err)
	}
	return ps, nil
}

// Model is a differentiable causal language model: the same forward as
// package models computes for cfg, over trainable parameters held by their
// Hugging Face names.
type Model struct {
	Config *models.Config
	// Specs lists the parameters in a fixed order; Params holds them.
	Specs  []ParamSpec
	Params map[string]*Var
	// LoRA holds low-rank adapters by linear layer (checkpoint prefix);
	// see AddLoRA.
	LoRA map[string]*LoRA
	// Hooks, if set, see and may replace intermediate values of every
	// block (OmniQuant's activation quantization).
	Hooks *BlockHooks
	arch  *models.Architecture
	inv   []float32
}

// BlockHooks see and may replace values inside Block; a nil function
// leaves its values unchanged.
type BlockHooks struct {
	// Input gets the input of each group of linears that read one input,
	// named by the group's first linear ("self_attn.q_proj"; see
	// models.Rules.Inputs), and returns what the group reads.
	Input func(t *Tape, leader string, x *Var) *Var
	// QKV gets the attention's queries, keys and values (after the rotary
	// embedding) and returns what the attention reads.
	QKV func(t *Tape, x *Var) *Var
}

// NewModel wraps params (Hugging Face name → values, not copied) as a
// Model; every parameter ParamSpecs lists must be present with its size.
func NewModel(cfg *models.Config, params map[string][]float32) (*Model, error) {
	specs, err := ParamSpecs(cfg)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Specs: specs, Params: make(map[string]*Var, len(specs))}
	m.arch, _ = models.ArchitectureOf(cfg) // known: ParamSpecs succeeded
	for _, s := range specs {
		v, ok := params[s.Name]
		if !ok {
			return nil, fmt.Errorf("grad: parameter %q missing", s.Name)
		}
		if len(v) != s.Numel() {
			return nil, fmt.Errorf("grad: parameter %q has %d values, want %v", s.Name, len(v), s.Shape)
		}
		r, c := dims(s)
		m.Params[s.Name] = Param(r, c, v)
	}
	if cfg.Arch != "opt" {
		m.inv = cfg.Rope.InvFreq()
	}
	return m, nil
}

// InitModel returns a Model with fresh parameters: matrices and embeddings
// drawn from N(0, std²) (std 0.02 as transformers' initializer_range),
// norm gains 1, biases 0, deterministically from seed.
func InitModel(cfg *models.Config, seed uint64, std float64) (*Model, error) {
	specs, err := ParamSpecs(cfg)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6772616421))
	params := make(map[string][]float32, len(specs))
	for _, s := range specs {
		v := make([]float32, s.Numel())
		switch s.Kind {
		case Matrix:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		case NormWeight:
			for i := range v {
				v[i] = 1
			}
		}
		params[s.Name] = v
	}
	return NewModel(cfg, params)
}

// LoadModel reads the Hugging Face folder dir (config.json and safetensors,
// any float dtype) into a Model with float32 parameters.
func LoadModel(dir string) (*Model, error) {
	cfg, err := models.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	specs, err := ParamSpecs(cfg)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	params := make(map[string][]float32, len(specs))
	for _, s := range specs {
		t, err := ck.Tensor(s.Name)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", dir, err)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(s.Shape) {
			return nil, fmt.Errorf("model %s: tensor %q: %w: shape %v, config implies %v", dir, s.Name, models.ErrBadModel, t.Shape, s.Shape)
		}
		if params[s.Name], err = t.Float32(); err != nil {
			return nil, fmt.Errorf("model %s: %w", dir, err)
		}
	}
	return NewModel(cfg, params)
}

// Tensors returns the parameters as safetensors tensors in dtype (F32, F16
// or BF16), named as the engine's loader and transformers expect.
func (m *Model) Tensors(dtype tensor.DType) ([]*tensor.Tensor, error) {
	ts := make([]*tensor.Tensor, 0, len(m.Specs))
	for _, s := range m.Specs {
		t, err := tensor.Encode(s.Name, dtype, s.Shape, m.Params[s.Name].Val)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// Architecture returns the description of the model's architecture.
func (m *Model) Architecture() *models.Architecture { return m.arch }

// NumParams returns the number of trainable values.
func (m *Model) NumParams() int {
	n := 0
	for _, s := range m.Specs {
		n += s.Numel()
	}
	return n
}

// ZeroGrad clears every parameter's gradient.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params {
		p.ZeroGrad()
	}
}

func (m *Model) p(name string) *Var { return m.Params[name] }

// pOpt returns a parameter that may be absent (nil).
func (m *Model) pOpt(name string) *Var { return m.Params[name] }

// ErrBadIDs reports token ids outside the vocabulary or a batch shape that
// does not match the ids.
var ErrBadIDs = badinput.New("bad token ids")

// Forward runs the model on batch sequences of seqLen ids each (ids is
// batch·seqLen long, sequence after sequence, every sequence starting at
// position 0) and returns the logits [batch·seqLen × vocab].
func (m *Model) Forward(t *Tape, ids []int, batch, seqLen int) (*Var, error) {
	x, err := m.Embed(t, ids, batch, seqLen)
	if err != nil {
		return nil, err
	}
	for i := 0; i < m.Config.Layers; i++ {
		x = m.Block(t, i, x, batch, seqLen)
	}
	return m.Head(t, x), nil
}

// Loss runs Forward and returns the mean cross-entropy of predicting
// targets (same length as ids; negative targets are ignored).
func (m *Model) Loss(t *Tape, ids, targets []int, batch, seqLen int) (*Var, error) {
	logits, err := m.Forward(t, ids, batch, seqLen)
	if err != nil {
		return nil, err
	}
	if len(targets) != len(ids) {
		return nil, fmt.Errorf("%w: %d targets for %d ids", ErrBadIDs, len(targets), len(ids))
	}
	for _, tg := range targets {
		if tg >= m.Config.Vocab {
			return nil, fmt.Errorf("%w: target %d outside the vocabulary [0, %d)", ErrBadIDs, tg, m.Config.Vocab)
		}
	}
	return t.CrossEntropy(logits, targets), nil
}

// Embed returns the input of block 0 for ids (see Forward).
func (m *Model) Embed(t *Tape, ids []int, batch, seqLen int) (*Var, error) {
	c := m.Config
	if batch <= 0 || seqLen <= 0 || len(ids) != batch*seqLen {
		return nil, fmt.Errorf("%w: %d ids for %d sequences of %d", ErrBadIDs, len(ids), batch, seqLen)
	}
	if c.Arch == "opt" && seqLen > c.MaxPos {
		return nil, fmt.Errorf("%w: sequence of %d tokens, OPT's learned positions stop at %d", ErrBadIDs, seqLen, c.MaxPos)
	}
	for _, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("%w: id %d outside the vocabulary [0, %d)", ErrBadIDs, id, c.Vocab)
		}
	}
	switch c.Arch {
	case "llama":
		return t.Embedding(m.p("model.embed_tokens.weight"), ids), nil
	case "chatglm":
		return t.Embedding(m.p("transformer.embedding.word_embeddings.weight"), ids), nil
	}
	const p0 = "model.decoder."
	x := t.Embedding(m.p(p0+"embed_tokens.weight"), ids)
	if pi := m.pOpt(p0 + "project_in.weight"); pi != nil {
		x = t.Linear(x, pi, nil)
	}
	pos := make([]int, len(ids))
	for i := range pos {
		pos[i] = i%seqLen + 2 // OPT's learned positions start at row 2
	}
	return t.Add(x, t.Embedding(m.p(p0+"embed_positions.weight"), pos)), nil
}

func (m *Model) linear(t *Tape, x *Var, prefix string) *Var {
	y := t.Linear(x, m.p(prefix+".weight"), m.pOpt(prefix+".bias"))
	if l := m.LoRA[prefix]; l != nil {
		y = t.Add(y, t.Scale(t.Linear(t.Linear(x, l.A, nil), l.B, nil), l.Scale))
	}
	return y
}

// in applies Hooks.Input to the input x of the linears led by leader.
func (m *Model) in(t *Tape, leader string, x *Var) *Var {
	if m.Hooks == nil || m.Hooks.Input == nil {
		return x
	}
	return m.Hooks.Input(t, leader, x)
}

// qkv applies Hooks.QKV to the attention's inputs.
func (m *Model) qkv(t *Tape, q, k, v *Var) (*Var, *Var, *Var) {
	if m.Hooks == nil || m.Hooks.QKV == nil {
		return q, k, v
	}
	return m.Hooks.QKV(t, q), m.Hooks.QKV(t, k), m.Hooks.QKV(t, v)
}

// Block runs decoder block i on x [batch·seqLen × hidden], with layer i's
// own head count and MLP width.
func (m *Model) Block(t *Tape, i int, x *Var, batch, seqLen int) *Var {
	c := m.Config
	heads, kvHeads := c.LayerHeads(i)
	inter := c.LayerIntermediate(i)
	qd, kvd := heads*c.HeadDim, kvHeads*c.HeadDim
	scale := AttentionScale(c.HeadDim)
	p := m.arch.LayerPrefix(i)
	switch c.Arch {
	case "llama":
		h := m.in(t, "self_attn.q_proj", t.RMSNorm(x, m.p(p+"input_layernorm.weight"), c.NormEps))
		q := t.RoPE(m.linear(t, h, p+"self_attn.q_proj"), heads, c.HeadDim, seqLen, m.inv, c.Rope.Interleaved)
		k := t.RoPE(m.linear(t, h, p+"self_attn.k_proj"), kvHeads, c.HeadDim, seqLen, m.inv, c.Rope.Interleaved)
		v := m.linear(t, h, p+"self_attn.v_proj")
		q, k, v = m.qkv(t, q, k, v)
		a := t.Attention(q, k, v, batch, seqLen, heads, kvHeads, c.HeadDim, scale)
		x = t.Add(x, m.linear(t, m.in(t, "self_attn.o_proj", a), p+"self_attn.o_proj"))
		h = m.in(t, "mlp.gate_proj", t.RMSNorm(x, m.p(p+"post_attention_layernorm.weight"), c.NormEps))
		s := t.SwiGLU(m.linear(t, h, p+"mlp.gate_proj"), m.linear(t, h, p+"mlp.up_proj"))
		return t.Add(x, m.linear(t, m.in(t, "mlp.down_proj", s), p+"mlp.down_proj"))
	case "opt":
		ln := func(x *Var, name string) *Var {
			return t.LayerNorm(x, m.p(p+name+".weight"), m.p(p+name+".bias"), c.NormEps)
		}
		in := x
		if c.DoLayerNormBefore {
			in = ln(x, "self_attn_layer_norm")
		}
		in = m.in(t, "self_attn.q_proj", in)
		q := m.linear(t, in, p+"self_attn.q_proj")
		k := m.linear(t, in, p+"self_attn.k_proj")
		v := m.linear(t, in, p+"self_attn.v_proj")
		q, k, v = m.qkv(t, q, k, v)
		a := t.Attention(q, k, v, batch, seqLen, heads, kvHeads, c.HeadDim, scale)
		x = t.Add(x, m.linear(t, m.in(t, "self_attn.out_proj", a), p+"self_attn.out_proj"))
		if !c.DoLayerNormBefore {
			x = ln(x, "self_attn_layer_norm")
		}
		in = x
		if c.DoLayerNormBefore {
			in = ln(x, "final_layer_norm")
		}
		f := m.linear(t, m.in(t, "fc1", in), p+"fc1")
		if c.HiddenAct == "gelu" {
			f = t.GELU(f)
		} else {
			f = t.ReLU(f)
		}
		x = t.Add(x, m.linear(t, m.in(t, "fc2", f), p+"fc2"))
		if !c.DoLayerNormBefore {
			x = ln(x, "final_layer_norm")
		}
		return x
	default: // chatglm
		h := m.glmNorm(t, x, p+"input_layernorm.weight")
		qkv := m.linear(t, m.in(t, "self_attention.query_key_value", h), p+"self_attention.query_key_value")
		q := t.RoPE(t.Cols(qkv, 0, qd), heads, c.HeadDim, seqLen, m.inv, c.Rope.Interleaved)
		k := t.RoPE(t.Cols(qkv, qd, qd+kvd), kvHeads, c.HeadDim, seqLen, m.inv, c.Rope.Interleaved)
		v := t.Cols(qkv, qd+kvd, qd+2*kvd)
		q, k, v = m.qkv(t, q, k, v)
		a := t.Attention(q, k, v, batch, seqLen, heads, kvHeads, c.HeadDim, scale)
		o := m.linear(t, m.in(t, "self_attention.dense", a), p+"self_attention.dense")
		res := x
		if c.ResidualPostLN {
			res = h
		}
		x = t.Add(res, o)
		h = m.glmNorm(t, x, p+"post_attention_layernorm.weight")
		f := m.linear(t, m.in(t, "mlp.dense_h_to_4h", h), p+"mlp.dense_h_to_4h")
		s := t.SwiGLU(t.Cols(f, 0, inter), t.Cols(f, inter, 2*inter))
		o = m.linear(t, m.in(t, "mlp.dense_4h_to_h", s), p+"mlp.dense_4h_to_h")
		res = x
		if c.ResidualPostLN {
			res = h
		}
		return t.Add(res, o)
	}
}

func (m *Model) glmNorm(t *Tape, x *Var, name string) *Var {
	if m.Config.RMSNorm {
		return t.RMSNorm(x, m.p(name), m.Config.NormEps)
	}
	return t.LayerNorm(x, m.p(name), nil, m.Config.NormEps)
}

// Head applies the final norm (and OPT's project_out) and the output
// projection to the last block's output, returning logits.
func (m *Model) Head(t *Tape, x *Var) *Var {
	c := m.Config
	switch c.Arch {
	case "llama":
		h := t.RMSNorm(x, m.p("model.norm.weight"), c.NormEps)
		w := m.pOpt("lm_head.weight")
		if w == nil {
			w = m.p("model.embed_tokens.weight")
		}
		return t.Linear(h, w, nil)
	case "opt":
		const p0 = "model.decoder."
		h := x
		if g := m.pOpt(p0 + "final_layer_norm.weight"); g != nil {
			h = t.LayerNorm(h, g, m.p(p0+"final_layer_norm.bias"), c.NormEps)
		}
		if po := m.pOpt(p0 + "project_out.weight"); po != nil {
			h = t.Linear(h, po, nil)
		}
		w := m.pOpt("lm_head.weight")
		if w == nil {
			w = m.p(p0 + "embed_tokens.weight")
		}
		return t.Linear(h, w, nil)
	default:
		h := x
		if c.PostLayerNorm {
			h = m.glmNorm(t, x, "transformer.encoder.final_layernorm.weight")
		}
		return t.Linear(h, m.p("transformer.output_layer.weight"), nil)
	}
}
