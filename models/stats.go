package models

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

// Stats computes the model's parameter counts and weight storage. Blocks
// of a lazy model that are not resident are counted from the config.
func (m *Model) Stats() Stats {
	c := m.Config
	st := Stats{Formats: map[string]int{}}
	for i := -1; i < c.Layers; i++ {
		for _, l := range m.Linears(i) {
			o, in := l.Host.Dims()
			st.LinearParams += int64(o) * int64(in)
			st.Params += int64(o)*int64(in) + int64(len(l.Bias))
			st.LinearBytes += l.Host.Bytes()
			st.Formats[l.Host.Format()]++
		}
	}
	h := int64(c.Hidden)
	switch c.Arch {
	case "llama":
		st.Params += int64(c.Vocab)*h + h + int64(c.Layers)*2*h // embeddings (untied head counted above), norms
		if c.TieEmbed {
			st.Params -= int64(c.Vocab) * h
		}
	case "opt":
		st.Params += int64(c.Vocab)*int64(c.WordEmbedProjDim) + int64(c.MaxPos+optPositionOffset)*h + int64(c.Layers)*4*h
		if c.DoLayerNormBefore && !c.RemoveFinalLN {
			st.Params += 2 * h
		}
		if c.TieEmbed {
			st.Params -= int64(c.Vocab) * int64(c.WordEmbedProjDim)
		}
	case "chatglm":
		st.Params += int64(c.Vocab)*h + int64(c.Layers)*2*h
		if c.PostLayerNorm {
			st.Params += h
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
	for i := 0; i < c.Layers; i++ {
		heads, kvHeads := c.LayerHeads(i)
		qd, kvd := int64(heads*c.HeadDim), int64(kvHeads*c.HeadDim)
		inter := int64(c.LayerIntermediate(i))
		switch c.Arch {
		case "llama", "chatglm":
			perTok += h*qd + 2*h*kvd + qd*h + 3*h*inter
		case "opt":
			perTok += 4*h*h + 2*h*inter
		}
		attn += 2 * qd * s * (s + 1) / 2
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
