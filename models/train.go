package models

// TrainValue is a matrix on a differentiable tape — an activation or a
// parameter; package grad's *grad.Var. The differentiable forward of a
// family passes it between TrainOps calls and never looks inside it.
type TrainValue any

// TrainOps are the operations a family's differentiable forward (the
// trainEmbed, trainBlock and trainHead of its Architecture) is written
// against, once per family beside its inference forward; package grad's
// tape implements them for one forward pass of batch sequences of seqLen
// tokens each (rows sequence after sequence, every sequence starting at
// position 0). Each call records one differentiable op. A nil TrainValue
// stands for an absent optional input (a LayerNorm without bias).
type TrainOps interface {
	// Param returns the parameter with the full checkpoint name name.
	Param(name string) TrainValue
	// Embedding gathers rows ids of table.
	Embedding(table TrainValue, ids []int) TrainValue
	// Linear applies the linear layer with checkpoint prefix prefix
	// (prefix.weight, and prefix.bias where the model has one), together
	// with any adapter the caller attached to it (LoRA).
	Linear(x TrainValue, prefix string) TrainValue
	// MatMul returns x·wᵀ, a projection without bias or adapter (the LM
	// head, which may be the tied embedding; OPT's project_in/out).
	MatMul(x, w TrainValue) TrainValue
	// RMSNorm and LayerNorm normalise each row (LayerNorm's bias b may
	// be nil).
	RMSNorm(x, gain TrainValue, eps float32) TrainValue
	LayerNorm(x, gain, bias TrainValue, eps float32) TrainValue
	// Add returns a + b.
	Add(a, b TrainValue) TrainValue
	// Cols returns columns [c0, c1) of x.
	Cols(x TrainValue, c0, c1 int) TrainValue
	// SwiGLU returns silu(gate) ⊙ up; ReLU and GELU apply the activation.
	SwiGLU(gate, up TrainValue) TrainValue
	ReLU(x TrainValue) TrainValue
	GELU(x TrainValue) TrainValue
	// RoPE rotates each of heads heads of x (Config.HeadDim wide) by its
	// row's position in its sequence, with the Config's rotary settings.
	RoPE(x TrainValue, heads int) TrainValue
	// Attention is causal attention of q (heads heads) over k and v
	// (kvHeads heads) within each sequence, scaled by 1/√Config.HeadDim.
	Attention(q, k, v TrainValue, heads, kvHeads int) TrainValue
	// Input is the hook on the input x of the group of linears led by
	// leader (a name of Rules.Inputs, e.g. "self_attn.q_proj"); it
	// returns what the group reads (x itself unless the caller hooks it).
	Input(leader string, x TrainValue) TrainValue
	// QKV is the hook on the attention's queries, keys and values (after
	// the rotary embedding); it returns what the attention reads.
	QKV(q, k, v TrainValue) (TrainValue, TrainValue, TrainValue)
}

// TrainEmbed records c's embedding of ids (seqLen tokens per sequence) on
// o and returns the input of block 0. Ids are in the vocabulary (the
// caller checks them); an error says the sequence does not fit the
// architecture (OPT's learned positions).
func (a *Architecture) TrainEmbed(o TrainOps, c *Config, ids []int, seqLen int) (TrainValue, error) {
	return a.trainEmbed(o, c, ids, seqLen)
}

// TrainBlock records decoder block i of c on x on o, with layer i's own
// head count and MLP width, and returns the block's output.
func (a *Architecture) TrainBlock(o TrainOps, c *Config, i int, x TrainValue) TrainValue {
	return a.trainBlock(o, c, i, a.LayerPrefix(i), x)
}

// TrainHead records the final norm, projections and LM head of c on the
// last block's output x on o and returns the logits.
func (a *Architecture) TrainHead(o TrainOps, c *Config, x TrainValue) TrainValue {
	return a.trainHead(o, c, x)
}
