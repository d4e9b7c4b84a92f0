package models

import "github.com/llmcbench/gollm/tensor"

// Stats summarises a model's size and compute.
type Stats struct {
	// Params counts every parameter (linear weights and biases, embeddings,
	// norms, learned positions); a tied head is counted once.
	Params int64 `json:"params"`
	// LinearParams counts the weights of the linear layers (what pruning and
	// quantization act on), LM head included.
	LinearParams int64 `json:"linear_params"`
	// LinearBytes is the storage of the linear weights in their current
	// formats (what a decode step streams from memory).
	LinearBytes int64 `json:"linear_bytes"`
	// Formats counts linear layers by storage format.
	Formats map[string]int `json:"formats"`
}

// Stats computes the model's parameter counts (from the architecture's
// description) and weight storage. Blocks of a lazy model that are not
// resident are counted from the config.
func (m *Model) Stats() Stats {
	c := m.Config
	st := Stats{Formats: map[string]int{}}
	for i := -1; i < c.Layers; i++ {
		for _, l := range m.Linears(i) {
			o, in := l.Host.Dims()
			st.LinearParams += int64(o) * int64(in)
			st.LinearBytes += l.Host.Bytes()
			st.Formats[l.Host.Format()]++
		}
	}
	// Params: every tensor the architecture describes (embeddings,
	// positions, norms, linears with their per-layer sizes; a tied head is
	// the embedding, described once).
	if a, err := ArchitectureOf(c); err == nil {
		if ts, err := a.Tensors(c); err == nil {
			for _, t := range ts {
				st.Params += int64(tensor.Numel(t.Shape))
			}
		}
	}
	return st
}

// MACs returns the multiply-accumulates of a dense forward pass over seqLen
// tokens (one sequence, no cache): every linear layer once per token, plus
// the attention products QKᵀ and AV over the causal triangle
// (heads·headDim·seqLen·(seqLen+1)/2 each). Like LLMCBench's own counter it
// counts dense MACs whatever the weight format.
func (c *Config) MACs(seqLen int) int64 {
	h, s := int64(c.Hidden), int64(seqLen)
	var perTok, attn int64
	a, err := ArchitectureOf(c)
	for i := 0; i < c.Layers; i++ {
		if err == nil { // the block's described linears, at the layer's sizes
			for _, l := range a.Block(c, i).Linears {
				perTok += int64(l.Out) * int64(l.In)
			}
		}
		heads, _ := c.LayerHeads(i)
		attn += 2 * int64(heads*c.HeadDim) * s * (s + 1) / 2
	}
	switch c.Arch {
	case "opt":
		wd := int64(c.WordEmbedProjDim)
		if wd != h {
			perTok += 2 * wd * h
		}
		perTok += wd * int64(c.Vocab)
	default:
		perTok += h * int64(c.Vocab)
	}
	return perTok*s + attn
}
