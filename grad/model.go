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
	m.inv = cfg.Rope.InvFreq() // empty without a rotary embedding (OPT)
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
	for _, id := range ids {
		if id < 0 || id >= c.Vocab {
			return nil, fmt.Errorf("%w: id %d outside the vocabulary [0, %d)", ErrBadIDs, id, c.Vocab)
		}
	}
	x, err := m.arch.TrainEmbed(m.ops(t, batch, seqLen), c, ids, seqLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadIDs, err)
	}
	return x.(*Var), nil
}

// Block runs decoder block i on x [batch·seqLen × hidden], with layer i's
// own head count and MLP width: the architecture's differentiable block
// (models.Architecture.TrainBlock) on the tape.
func (m *Model) Block(t *Tape, i int, x *Var, batch, seqLen int) *Var {
	return m.arch.TrainBlock(m.ops(t, batch, seqLen), m.Config, i, x).(*Var)
}

// Head applies the final norm (and OPT's project_out) and the output
// projection to the last block's output, returning logits.
func (m *Model) Head(t *Tape, x *Var) *Var {
	return m.arch.TrainHead(m.ops(t, 0, 0), m.Config, x).(*Var)
}

// ops returns the tape's models.TrainOps for a forward pass of batch
// sequences of seqLen rows over m's parameters, LoRA adapters and hooks.
func (m *Model) ops(t *Tape, batch, seqLen int) *tapeOps {
	return &tapeOps{m: m, t: t, batch: batch, seqLen: seqLen}
}

// tapeOps implements models.TrainOps on a Tape: each call records one op
// (a linear with an adapter records three more).
type tapeOps struct {
	m             *Model
	t             *Tape
	batch, seqLen int
}

// asVar unwraps a models.TrainValue (nil stays nil).
func asVar(x models.TrainValue) *Var {
	if x == nil {
		return nil
	}
	return x.(*Var)
}

func (o *tapeOps) Param(name string) models.TrainValue {
	p, ok := o.m.Params[name]
	if !ok {
		panic(fmt.Sprintf("grad: the %s forward reads parameter %q, which ParamSpecs does not list", o.m.Config.Arch, name))
	}
	return p
}

func (o *tapeOps) Embedding(table models.TrainValue, ids []int) models.TrainValue {
	return o.t.Embedding(asVar(table), ids)
}

func (o *tapeOps) Linear(x models.TrainValue, prefix string) models.TrainValue {
	t, m, in := o.t, o.m, asVar(x)
	y := t.Linear(in, m.Params[prefix+".weight"], m.Params[prefix+".bias"])
	if l := m.LoRA[prefix]; l != nil {
		y = t.Add(y, t.Scale(t.Linear(t.Linear(in, l.A, nil), l.B, nil), l.Scale))
	}
	return y
}

func (o *tapeOps) MatMul(x, w models.TrainValue) models.TrainValue {
	return o.t.Linear(asVar(x), asVar(w), nil)
}

func (o *tapeOps) RMSNorm(x, gain models.TrainValue, eps float32) models.TrainValue {
	return o.t.RMSNorm(asVar(x), asVar(gain), eps)
}

func (o *tapeOps) LayerNorm(x, gain, bias models.TrainValue, eps float32) models.TrainValue {
	return o.t.LayerNorm(asVar(x), asVar(gain), asVar(bias), eps)
}

func (o *tapeOps) Add(a, b models.TrainValue) models.TrainValue { return o.t.Add(asVar(a), asVar(b)) }

func (o *tapeOps) Cols(x models.TrainValue, c0, c1 int) models.TrainValue {
	return o.t.Cols(asVar(x), c0, c1)
}

func (o *tapeOps) SwiGLU(gate, up models.TrainValue) models.TrainValue {
	return o.t.SwiGLU(asVar(gate), asVar(up))
}

func (o *tapeOps) ReLU(x models.TrainValue) models.TrainValue { return o.t.ReLU(asVar(x)) }

func (o *tapeOps) GELU(x models.TrainValue) models.TrainValue { return o.t.GELU(asVar(x)) }

func (o *tapeOps) RoPE(x models.TrainValue, heads int) models.TrainValue {
	c := o.m.Config
	return o.t.RoPE(asVar(x), heads, c.HeadDim, o.seqLen, o.m.inv, c.Rope.Interleaved)
}

func (o *tapeOps) Attention(q, k, v models.TrainValue, heads, kvHeads int) models.TrainValue {
	hd := o.m.Config.HeadDim
	return o.t.Attention(asVar(q), asVar(k), asVar(v), o.batch, o.seqLen, heads, kvHeads, hd, AttentionScale(hd))
}

// Input applies Hooks.Input to the input x of the linears led by leader.
func (o *tapeOps) Input(leader string, x models.TrainValue) models.TrainValue {
	h := o.m.Hooks
	if h == nil || h.Input == nil {
		return x
	}
	return h.Input(o.t, leader, asVar(x))
}

// QKV applies Hooks.QKV to the attention's inputs.
func (o *tapeOps) QKV(q, k, v models.TrainValue) (models.TrainValue, models.TrainValue, models.TrainValue) {
	h := o.m.Hooks
	if h == nil || h.QKV == nil {
		return q, k, v
	}
	return h.QKV(o.t, asVar(q)), h.QKV(o.t, asVar(k)), h.QKV(o.t, asVar(v))
}
