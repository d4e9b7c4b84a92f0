package llmpruner

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// Config keys holding per-layer sizes in a pruned checkpoint's config.json.
// The standard keys (num_attention_heads, num_key_value_heads /
// multi_query_group_num, intermediate_size / ffn_hidden_size) cannot say
// that layers differ; these lists, one entry per layer, can.
const (
	KeyHeadsPerLayer        = "num_attention_heads_per_layer"
	KeyKVHeadsPerLayer      = "num_key_value_heads_per_layer"
	KeyIntermediatePerLayer = "intermediate_size_per_layer"
)

// LayerSizes returns the number of query heads, key/value heads and MLP
// channels of every layer of cfg: the per-layer lists of config.json when
// present (checked: one positive entry per layer, kv heads dividing heads),
// else the uniform sizes.
func LayerSizes(cfg *models.Config) (heads, kvHeads, inter []int, err error) {
	read := func(key string, def int) ([]int, error) {
		raw, ok := cfg.Raw[key]
		if !ok || string(raw) == "null" {
			out := make([]int, cfg.Layers)
			for i := range out {
				out[i] = def
			}
			return out, nil
		}
		var v []int
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("config %s: %w: %s: %v", cfg.Path, ErrBadInput, key, err)
		}
		if len(v) != cfg.Layers {
			return nil, fmt.Errorf("config %s: %w: %s has %d entries for %d layers", cfg.Path, ErrBadInput, key, len(v), cfg.Layers)
		}
		for i, x := range v {
			if x <= 0 {
				return nil, fmt.Errorf("config %s: %w: %s[%d] = %d", cfg.Path, ErrBadInput, key, i, x)
			}
		}
		return v, nil
	}
	if heads, err = read(KeyHeadsPerLayer, cfg.Heads); err != nil {
		return nil, nil, nil, err
	}
	if kvHeads, err = read(KeyKVHeadsPerLayer, cfg.KVHeads); err != nil {
		return nil, nil, nil, err
	}
	if inter, err = read(KeyIntermediatePerLayer, cfg.Intermediate); err != nil {
		return nil, nil, nil, err
	}
	for i := range heads {
		if heads[i]%kvHeads[i] != 0 {
			return nil, nil, nil, fmt.Errorf("config %s: %w: layer %d has %d heads for %d kv heads", cfg.Path, ErrBadInput, i, heads[i], kvHeads[i])
		}
	}
	return heads, kvHeads, inter, nil
}

// Model is a causal LM whose layers may differ in head count and MLP width
// (an LLM-Pruner checkpoint). It runs on package grad's differentiable ops,
// one single-layer grad.Model per decoder layer sharing the embeddings and
// the head, so it can be evaluated and fine-tuned (LoRA recovery) alike.
type Model struct {
	Config *models.Config
	// Heads, KVHeads and Intermediate give every layer's sizes.
	Heads, KVHeads, Intermediate []int
	layers                       []*grad.Model
}

// layerPrefix returns the name prefix of layer i's parameters.
func layerPrefix(arch string, i int) string {
	switch arch {
	case "opt":
		return "model.decoder.layers." + strconv.Itoa(i) + "."
	case "chatglm":
		return "transformer.encoder.layers." + strconv.Itoa(i) + "."
	}
	return "model.layers." + strconv.Itoa(i) + "."
}

// newModel builds a Model over params (Hugging Face name → values, not
// copied).
func newModel(cfg *models.Config, heads, kvHeads, inter []int, params map[string][]float32) (*Model, error) {
	m := &Model{Config: cfg, Heads: heads, KVHeads: kvHeads, Intermediate: inter}
	p0 := layerPrefix(cfg.Arch, 0)
	for i := 0; i < cfg.Layers; i++ {
		c := *cfg
		c.Layers, c.Heads, c.KVHeads, c.Intermediate = 1, heads[i], kvHeads[i], inter[i]
		pi := layerPrefix(cfg.Arch, i)
		specs, err := grad.ParamSpecs(&c)
		if err != nil {
			return nil, err
		}
		sub := make(map[string][]float32, len(specs))
		for _, s := range specs {
			name := s.Name
			if rest, ok := strings.CutPrefix(s.Name, p0); ok {
				name = pi + rest
			}
			v, ok := params[name]
			if !ok {
				return nil, fmt.Errorf("llm-pruner: %w: parameter %q missing", ErrBadInput, name)
			}
			sub[s.Name] = v
		}
		gm, err := grad.NewModel(&c, sub)
		if err != nil {
			return nil, fmt.Errorf("llm-pruner: layer %d: %w", i, err)
		}
		m.layers = append(m.layers, gm)
	}
	return m, nil
}

// LoadModel reads a (possibly non-uniformly) pruned Hugging Face folder:
// config.json with optional per-layer size lists (see LayerSizes) and its
// safetensors weights, converted to float32.
func LoadModel(dir string) (*Model, error) {
	cfg, err := models.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	heads, kvHeads, inter, err := LayerSizes(cfg)
	if err != nil {
		return nil, err
	}
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

// NumParams returns the number of parameter values (shared ones once).
func (m *Model) NumParams() int {
	seen := map[*float32]bool{}
	n := 0
	for _, l := range m.layers {
		for _, p := range l.Params {
			if len(p.Val) > 0 && !seen[&p.Val[0]] {
				seen[&p.Val[0]] = true
				n += len(p.Val)
			}
		}
	}
	return n
}

// Forward runs batch sequences of seqLen ids (sequence after sequence) and
// returns the logits [batch·seqLen × vocab].
func (m *Model) Forward(t *grad.Tape, ids []int, batch, seqLen int) (*grad.Var, error) {
	x, err := m.layers[0].Embed(t, ids, batch, seqLen)
	if err != nil {
		return nil, err
	}
	for _, l := range m.layers {
		x = l.Block(t, 0, x, batch, seqLen)
	}
	return m.layers[len(m.layers)-1].Head(t, x), nil
}

// Loss returns the mean next-token cross-entropy (nats) of samples (equal
// lengths), as transformers computes with labels = input_ids.
func (m *Model) Loss(samples [][]int) (float64, error) {
	if len(samples) == 0 || len(samples[0]) < 2 {
		return 0, fmt.Errorf("llm-pruner: %w: loss of no samples or samples shorter than 2 tokens", ErrBadInput)
	}
	for _, s := range samples {
		if len(s) != len(samples[0]) {
			return 0, fmt.Errorf("llm-pruner: %w: samples of different lengths", ErrBadInput)
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
