package models

import (
	"fmt"
	"strings"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/tensor"
)

// An Architecture describes one model family as data, in one place (its
// file: llama.go, opt.go, chatglm.go, beside its forward pass): the
// checkpoint tensors with their names and shapes (per-layer sizes
// included), the linears of a decoder block in execution order, and the
// dataflow facts compression methods need — which linears read one input,
// GPTQ's true-sequential groups, the norm→linear and linear→linear pairs
// AWQ and SmoothQuant scale. The loader, package grad's differentiable
// model, compress, OmniQuant and LLM-Pruner all derive from it, so adding
// an architecture is one file here (its description and its forward, for
// inference on a backend.Backend and differentiable on TrainOps).
type Architecture struct {
	// Name is Config.Arch ("llama", "opt", "chatglm").
	Name string
	// ModelTypes are the config.json model_type values of the family.
	ModelTypes []string
	// Class is the config.json "architectures" entry of the family's
	// checkpoints (the transformers class; what gollm train writes).
	Class string
	// parse reads the family's config.json keys into c (errors go to f).
	parse func(f *fields, c *Config)
	// check, if set, rejects configurations the forward does not support
	// (after the sizes are known).
	check func(c *Config) error
	// build makes the forward pass over a model's parameters.
	build func(b *builder) arch
	// layerFormat is the checkpoint prefix of block i, with %d for i.
	layerFormat string
	// outside lists the tensors before the blocks (embeddings) and after
	// them (final norm, projections, LM head) in checkpoint order.
	outside func(c *Config) (before, after []TensorSpec, err error)
	// block fills block i's norms and linears (in execution order).
	block func(c *Config, i int, b *Block)
	// rules gives the dataflow facts of a block.
	rules func(c *Config) Rules
	// trainEmbed, trainBlock and trainHead are the differentiable forward
	// on TrainOps (package grad's tape): the same computation as build's,
	// op for op (see TrainEmbed, TrainBlock, TrainHead).
	trainEmbed func(o TrainOps, c *Config, ids []int, seqLen int) (TrainValue, error)
	trainBlock func(o TrainOps, c *Config, i int, prefix string, x TrainValue) TrainValue
	trainHead  func(o TrainOps, c *Config, x TrainValue) TrainValue
}

// architectureList are the supported architectures, in the order help
// texts and errors list them.
var architectureList = []*Architecture{&llamaArch, &optArch, &chatglmArch}

// architectures are the supported architectures by Config.Arch.
var architectures = func() map[string]*Architecture {
	m := make(map[string]*Architecture, len(architectureList))
	for _, a := range architectureList {
		m[a.Name] = a
	}
	return m
}()

// ArchitectureNames returns the names (Config.Arch) of the supported
// architectures.
func ArchitectureNames() []string {
	names := make([]string, len(architectureList))
	for i, a := range architectureList {
		names[i] = a.Name
	}
	return names
}

// architectureForModelType returns the architecture of a config.json
// model_type, or nil.
func architectureForModelType(modelType string) *Architecture {
	for _, a := range architectureList {
		for _, t := range a.ModelTypes {
			if t == modelType {
				return a
			}
		}
	}
	return nil
}

// ArchitectureOf returns the description of c's architecture; an unknown
// Config.Arch (only possible for a Config not made by ParseConfig) is an
// error wrapping ErrBadModel.
func ArchitectureOf(c *Config) (*Architecture, error) {
	a, ok := architectures[c.Arch]
	if !ok {
		return nil, fmt.Errorf("%w: unknown architecture %q (supported: %s)", ErrBadModel, c.Arch, strings.Join(ArchitectureNames(), ", "))
	}
	return a, nil
}

// LayerPrefix returns the checkpoint prefix of decoder block i, e.g.
// "model.layers.3.".
func (a *Architecture) LayerPrefix(i int) string {
	return fmt.Sprintf(a.layerFormat, i)
}

// TensorKind tells what a checkpoint tensor is, which decides how a fresh
// model initialises it and whether weight decay applies.
type TensorKind int

const (
	// MatrixTensor is a linear weight or an embedding table.
	MatrixTensor TensorKind = iota
	// NormTensor is a norm's gain (initialised to 1).
	NormTensor
	// BiasTensor is a linear's or a norm's bias (initialised to 0).
	BiasTensor
)

// TensorSpec is one checkpoint tensor: its full Hugging Face name and its
// shape ([rows, cols], or [n] for vectors).
type TensorSpec struct {
	Name  string
	Shape []int
	Kind  TensorKind
}

// Numel returns the number of values.
func (s TensorSpec) Numel() int { return tensor.Numel(s.Shape) }

// LinearSpec is one linear layer of a decoder block.
type LinearSpec struct {
	// Short is the name inside the block, e.g. "self_attn.q_proj".
	Short   string
	Out, In int
	Bias    bool
}

// NormSpec is one normalisation layer of a decoder block.
type NormSpec struct {
	// Short is the name inside the block, e.g. "input_layernorm".
	Short string
	Width int
	// Bias: a LayerNorm with a bias (OPT).
	Bias bool
}

// Block describes decoder block i of a model: its prefix, norms and
// linears with this layer's sizes, and every tensor in checkpoint order.
type Block struct {
	// Prefix is the checkpoint prefix, e.g. "model.layers.3.".
	Prefix string
	// Norms and Linears are in execution order.
	Norms   []NormSpec
	Linears []LinearSpec
	// Tensors lists every tensor of the block by its full name, norms and
	// linears interleaved in execution order (weight before bias).
	Tensors []TensorSpec
	// shapesOnly: the loader's scratch description, without Tensors.
	shapesOnly bool
}

// norm appends a norm (gain, and bias when bias) to the block.
func (b *Block) norm(short string, width int, bias bool) {
	b.Norms = append(b.Norms, NormSpec{Short: short, Width: width, Bias: bias})
	if b.shapesOnly {
		return
	}
	b.Tensors = append(b.Tensors, TensorSpec{Name: b.Prefix + short + ".weight", Shape: []int{width}, Kind: NormTensor})
	if bias {
		b.Tensors = append(b.Tensors, TensorSpec{Name: b.Prefix + short + ".bias", Shape: []int{width}, Kind: BiasTensor})
	}
}

// linear appends a linear layer (out×in weight, and bias when bias).
func (b *Block) linear(short string, out, in int, bias bool) {
	b.Linears = append(b.Linears, LinearSpec{Short: short, Out: out, In: in, Bias: bias})
	if b.shapesOnly {
		return
	}
	b.Tensors = append(b.Tensors, TensorSpec{Name: b.Prefix + short + ".weight", Shape: []int{out, in}, Kind: MatrixTensor})
	if bias {
		b.Tensors = append(b.Tensors, TensorSpec{Name: b.Prefix + short + ".bias", Shape: []int{out}, Kind: BiasTensor})
	}
}

// Linear returns the block's linear named short (ok=false if none).
func (b *Block) Linear(short string) (LinearSpec, bool) {
	for _, l := range b.Linears {
		if l.Short == short {
			return l, true
		}
	}
	return LinearSpec{}, false
}

// Block describes c's decoder block i with that layer's sizes (see
// Config.LayerHeads and Config.LayerIntermediate).
func (a *Architecture) Block(c *Config, i int) Block {
	b := Block{Prefix: a.LayerPrefix(i)}
	a.block(c, i, &b)
	return b
}

// Tensors lists every tensor c implies, in checkpoint order: the
// embeddings, each block, then the final norm and the output projections.
// A tied LM head is not listed (it reuses the embedding).
func (a *Architecture) Tensors(c *Config) ([]TensorSpec, error) {
	before, after, err := a.outside(c)
	if err != nil {
		return nil, err
	}
	ts := append([]TensorSpec(nil), before...)
	for i := 0; i < c.Layers; i++ {
		ts = append(ts, a.Block(c, i).Tensors...)
	}
	return append(ts, after...), nil
}

// MLPKind says how a block's MLP combines its linears.
type MLPKind int

const (
	// MLPGated is down(silu(gate(x)) ⊙ up(x)) with three linears in the
	// order gate, up, down (LLaMA).
	MLPGated MLPKind = iota
	// MLPFusedGated is the same with gate and up fused in one linear whose
	// output is [gate | up] (ChatGLM's dense_h_to_4h), then down.
	MLPFusedGated
	// MLPPlain is fc2(act(fc1(x))) with ReLU or GELU (OPT).
	MLPPlain
)

// ScaleGroup is one of AWQ's scaling groups: the scale is folded out of
// the previous op — a norm (Norm) or the last rows of a linear (Prev) —
// and into the input columns of Layers. Inspect names the output the loss
// is measured on: the attention ("attn"), the MLP ("mlp") or the single
// layer ("").
type ScaleGroup struct {
	Norm    *NormSpec
	Prev    string
	Layers  []string
	Inspect string
}

// SmoothPair is one of SmoothQuant's norm → linears pairs.
type SmoothPair struct {
	Norm   NormSpec
	Layers []string
}

// Rules are the dataflow facts of a block compression methods use (the
// references' rules for LLaMA and OPT; ChatGLM by analogy with the fused
// GPT-NeoX/BLOOM rules). Norm widths in AWQ and Smooth are the hidden
// size.
type Rules struct {
	// Inputs groups the linears that read one input, leader first, in
	// execution order.
	Inputs [][]string
	// TrueSequential is GPTQ's true-sequential order.
	TrueSequential [][]string
	// AttnOut is the linear whose input is the attention output.
	AttnOut string
	// MLP is how the MLP combines its linears, MLPLinears (in the order
	// MLPKind gives).
	MLP        MLPKind
	MLPLinears []string
	// AWQ lists AWQ's scaling groups in order.
	AWQ []ScaleGroup
	// Smooth lists SmoothQuant's norm → linears pairs.
	Smooth []SmoothPair
}

// Rules returns the block rules of c's architecture.
func (a *Architecture) Rules(c *Config) Rules { return a.rules(c) }

// tensorList collects TensorSpecs (the outside-block parts).
type tensorList []TensorSpec

func (l *tensorList) add(kind TensorKind, name string, shape ...int) {
	*l = append(*l, TensorSpec{Name: name, Shape: shape, Kind: kind})
}

// linear adds prefix.weight (out×in) and, when bias, prefix.bias.
func (l *tensorList) linear(prefix string, out, in int, bias bool) {
	l.add(MatrixTensor, prefix+".weight", out, in)
	if bias {
		l.add(BiasTensor, prefix+".bias", out)
	}
}

// normWeights are a loaded norm's gain and bias (nil without one).
type normWeights struct{ g, b backend.Weight }

// block loads (or, in a dry builder, checks) the norms and linears of
// block layer, in the order of the architecture's description. A dry
// builder reuses its buffers, so the preflight of a hostile config with
// many layers allocates next to nothing per layer.
func (b *builder) block(layer int) ([]normWeights, []*Linear) {
	d := &b.desc
	*d = Block{Prefix: b.arch.LayerPrefix(layer), Norms: d.Norms[:0], Linears: d.Linears[:0], shapesOnly: true}
	b.arch.block(b.m.Config, layer, d)
	norms, lins := b.norms[:0], b.lins[:0]
	if !b.dry {
		norms, lins = nil, nil
	}
	norms = append(norms, make([]normWeights, len(d.Norms))...)
	lins = append(lins, make([]*Linear, len(d.Linears))...)
	if b.dry {
		b.norms, b.lins = norms, lins
	}
	for j, n := range d.Norms {
		norms[j].g = b.vec(d.Prefix+n.Short+".weight", n.Width)
		if n.Bias {
			norms[j].b = b.vec(d.Prefix+n.Short+".bias", n.Width)
		}
	}
	for j, l := range d.Linears {
		lins[j] = b.linear(layer, d.Prefix+l.Short, l.Short, l.Out, l.In, l.Bias)
	}
	return norms, lins
}
