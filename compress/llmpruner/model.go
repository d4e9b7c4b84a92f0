package llmpruner

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// Config keys holding per-layer sizes in a pruned checkpoint's config.json
// (models.Config reads them: Config.LayerHeads, Config.LayerIntermediate).
// The standard keys (num_attention_heads, num_key_value_heads /
// multi_query_group_num, intermediate_size / ffn_hidden_size) cannot say
// that layers differ; these lists, one entry per layer, can.
const (
	KeyHeadsPerLayer        = models.KeyHeadsPerLayer
	KeyKVHeadsPerLayer      = models.KeyKVHeadsPerLayer
	KeyIntermediatePerLayer = models.KeyIntermediatePerLayer
)

// layerSizes returns every layer's query heads, key/value heads and MLP
// channels (config.json's per-layer lists, checked by models.ParseConfig,
// else the uniform sizes).
func layerSizes(cfg *models.Config) (heads, kvHeads, inter []int) {
	heads, kvHeads, inter = make([]int, cfg.Layers), make([]int, cfg.Layers), make([]int, cfg.Layers)
	for i := range heads {
		heads[i], kvHeads[i] = cfg.LayerHeads(i)
		inter[i] = cfg.LayerIntermediate(i)
	}
	return heads, kvHeads, inter
}

// Model is a causal LM whose layers may differ in head count and MLP width
// (an LLM-Pruner checkpoint). It runs on package grad's differentiable ops
// (whose parameters follow each layer's sizes), so it can be evaluated and
// fine-tuned (LoRA recovery) alike.
type Model struct {
	Config *models.Config
	// Heads, KVHeads and Intermediate give every layer's sizes.
	Heads, KVHeads, Intermediate []int
	gm                           *grad.Model
}

// newModel builds a Model with the given per-layer sizes over params
// (Hugging Face name → values, not copied).
func newModel(cfg *models.Config, heads, kvHeads, inter []int, params map[string][]float32) (*Model, error) {
	c := *cfg
	c.HeadsPerLayer, c.KVHeadsPerLayer, c.IntermediatePerLayer = heads, kvHeads, inter
	specs, err := grad.ParamSpecs(&c)
	if err != nil {
		return nil, err
	}
	for _, s := range specs {
		if _, ok := params[s.Name]; !ok {
			return nil, fmt.Errorf("llm-pruner: %w: parameter %q missing", badinput.ErrBadInput, s.Name)
		}
	}
	gm, err := grad.NewModel(&c, params)
	if err != nil {
		return nil, fmt.Errorf("llm-pruner: %w", err)
	}
	return &Model{Config: &c, Heads: heads, KVHeads: kvHeads, Intermediate: inter, gm: gm}, nil
}

// LoadModel reads a (possibly non-uniformly) pruned Hugging Face folder:
// config.json with optional per-layer size lists (see KeyHeadsPerLayer) and its
// safetensors weights, converted to float32.
func LoadModel(dir string) (*Model, error) {
	cfg, err := models.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	heads, kvHeads, inter := layerSizes(cfg)
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	params := make(map[string][]float32)
	for _, name := range ck.Names() {
		t, err := ck.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", dir, err)
		}
		if params[name], err = t.Float32(); err != nil {
			return nil, fmt.Errorf("model %s: %w", dir, err)
		}
	}
	m, err := newModel(cfg, heads, kvHeads, inter, params)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return m, nil
}

// NumParams returns the number of parameter values.
func (m *Model) NumParams() int { return m.gm.NumParams() }

// Forward runs batch sequences of seqLen ids (sequence after sequence) and
// returns the logits [batch·seqLen × vocab].
func (m *Model) Forward(t *grad.Tape, ids []int, batch, seqLen int) (*grad.Var, error) {
	return m.gm.Forward(t, ids, batch, seqLen)
}

// Loss returns the mean next-token cross-entropy (nats) of samples (equal
// lengths), as transformers computes with labels = input_ids.
func (m *Model) Loss(samples [][]int) (float64, error) {
	if len(samples) == 0 || len(samples[0]) < 2 {
		return 0, fmt.Errorf("llm-pruner: %w: loss of no samples or samples shorter than 2 tokens", badinput.ErrBadInput)
	}
	for _, s := range samples {
		if len(s) != len(samples[0]) {
			return 0, fmt.Errorf("llm-pruner: %w: samples of different lengths", badinput.ErrBadInput)
		}
	}
	ids, targets, b, s := flatten(samples)
	t := grad.NewTape()
	logits, err := m.Forward(t, ids, b, s)
	if err != nil {
		return 0, err
	}
	return float64(t.CrossEntropy(logits, targets).Item()), nil
}

// flatten joins equal-length samples into ids and next-token targets (the
// last position of every sample has no target: −1).
func flatten(samples [][]int) (ids, targets []int, batch, seqLen int) {
	batch, seqLen = len(samples), len(samples[0])
	for _, s := range samples {
		ids = append(ids, s...)
		for j := range s {
			if j+1 < len(s) {
				targets = append(targets, s[j+1])
			} else {
				targets = append(targets, -1)
			}
		}
	}
	return ids, targets, batch, seqLen
}

// finite reports whether x is a usable loss.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
