// Package backend defines the small set of operations a transformer forward
// pass needs, so that model code (package models) runs unchanged on the CPU
// (this package's CPU type) and on NVIDIA GPUs (package cuda, behind the
// cuda build tag). Activations are 2-D float32 matrices [rows, cols], one
// row per token; where they live (host or device) is the backend's business.
package backend

import (
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// Tensor is an activation matrix owned by a backend.
type Tensor interface {
	Rows() int
	Cols() int
}

// Weight is a parameter uploaded to a backend: a vector (norm weights,
// biases), a table (embeddings, learned positions) or a linear layer's
// matrix in some storage format.
type Weight interface {
	// Shape is the parameter's logical shape.
	Shape() []int
}

// KVCache holds the keys and values of every layer for one sequence.
type KVCache interface {
	// MaxLen is the number of positions the cache can hold.
	MaxLen() int
}

// Rope describes a rotary position embedding.
type Rope struct {
	// InvFreq has RotDim/2 inverse frequencies (after any rope scaling).
	InvFreq []float32
	// Interleaved pairs dims (2i, 2i+1) (ChatGLM); otherwise (i, i+RotDim/2)
	// as LLaMA's rotate_half.
	Interleaved bool
	// Scale multiplies cos and sin ("attention_factor"; 1 for most types).
	Scale float32
}

// Backend executes the forward-pass operations. Methods panic only on
// programming errors (shape mismatches the model code guarantees against).
type Backend interface {
	Name() string
	// NewTensor allocates a zeroed rows×cols activation.
	NewTensor(rows, cols int) Tensor
	// View returns rows [r0, r1) of t without copying.
	View(t Tensor, r0, r1 int) Tensor
	// Upload makes a vector or table parameter from a checkpoint tensor
	// (any float dtype; converted to float32).
	Upload(t *tensor.Tensor) (Weight, error)
	// UploadMatrix makes a linear-layer parameter from a CPU matrix in any
	// storage format.
	UploadMatrix(m kernels.Matrix) (Weight, error)
	// Read copies t to host memory (len(dst) == rows·cols).
	Read(dst []float32, t Tensor)
	// Write copies host memory into t.
	Write(t Tensor, src []float32)

	// Embedding sets dst[i] = table[ids[i]].
	Embedding(dst Tensor, table Weight, ids []int)
	// AddRows adds table rows first, first+1, … to dst's rows (learned positions).
	AddRows(dst Tensor, table Weight, first int)
	// Linear computes dst = x·Wᵀ (+ bias, which may be nil).
	Linear(dst, x Tensor, w, bias Weight)
	// RMSNorm and LayerNorm normalise each row (beta may be nil); dst may be x.
	RMSNorm(dst, x Tensor, gamma Weight, eps float32)
	LayerNorm(dst, x Tensor, gamma, beta Weight, eps float32)
	// Add sets dst = a + b (dst may alias a or b).
	Add(dst, a, b Tensor)
	// SwiGLU sets dst = silu(gate) ⊙ up.
	SwiGLU(dst, gate, up Tensor)
	// ReLU and GELU apply in place.
	ReLU(x Tensor)
	GELU(x Tensor)
	// CopyCols copies columns [col0, col0+dst.Cols()) of src into dst.
	CopyCols(dst, src Tensor, col0 int)
	// RoPE rotates the heads of x in place; row i sits at position pos0+i.
	RoPE(x Tensor, heads, headDim, pos0 int, r *Rope)

	// NewKVCache allocates a cache for layers × maxLen positions of up to
	// kvDim (kvHeads·headDim) keys and values; a layer may use narrower rows
	// (structurally pruned models), stored densely at its own width.
	NewKVCache(layers, maxLen, kvDim int) KVCache
	// StoreKV writes k and v (rows at positions pos0…) into layer's cache.
	StoreKV(c KVCache, layer, pos0 int, k, v Tensor)
	// Attention computes causal attention of q (rows at positions pos0…)
	// against the cached positions 0…pos0+rows−1 of layer.
	Attention(dst, q Tensor, c KVCache, layer, pos0, heads, kvHeads, headDim int, scale float32)
}
