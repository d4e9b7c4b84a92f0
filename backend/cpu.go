package backend

import (
	"fmt"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// Mat is the CPU backend's activation: a row-major float32 matrix.
type Mat struct {
	R, C int
	D    []float32
}

// Rows returns the number of rows.
func (m *Mat) Rows() int { return m.R }

// Cols returns the number of columns.
func (m *Mat) Cols() int { return m.C }

// Vec is the CPU backend's vector or table parameter.
type Vec struct {
	shape []int
	D     []float32
}

// Shape returns the parameter's shape.
func (v *Vec) Shape() []int { return v.shape }

// MatrixWeight is the CPU backend's linear-layer parameter.
type MatrixWeight struct{ M kernels.Matrix }

// Shape returns [out, in].
func (w *MatrixWeight) Shape() []int { o, i := w.M.Dims(); return []int{o, i} }

// cpuCache is the CPU KV cache: per layer, keys and values [maxLen, kvDim].
type cpuCache struct {
	maxLen, kvDim int
	k, v          [][]float32
	scratch       []float32
	gemmScratch   []float32 // prefill scores, grown on demand
}

func (c *cpuCache) MaxLen() int { return c.maxLen }

// CPU is the host backend: float32 activations, GEMM through package
// kernels (OpenBLAS or the pure-Go fallback), ops split over the cores.
type CPU struct{}

// NewCPU returns the CPU backend.
func NewCPU() *CPU { return &CPU{} }

// Name returns "cpu".
func (*CPU) Name() string { return "cpu" }

func mat(t Tensor) *Mat { return t.(*Mat) }

func vec(w Weight) []float32 {
	if w == nil {
		return nil
	}
	return w.(*Vec).D
}

// NewTensor allocates a zeroed rows×cols matrix.
func (*CPU) NewTensor(rows, cols int) Tensor {
	return &Mat{R: rows, C: cols, D: make([]float32, rows*cols)}
}

// View returns rows [r0, r1) of t sharing its storage.
func (*CPU) View(t Tensor, r0, r1 int) Tensor {
	m := mat(t)
	return &Mat{R: r1 - r0, C: m.C, D: m.D[r0*m.C : r1*m.C]}
}

// Upload converts a checkpoint tensor to a float32 vector or table.
func (*CPU) Upload(t *tensor.Tensor) (Weight, error) {
	d, err := t.Float32()
	if err != nil {
		return nil, err
	}
	return &Vec{shape: append([]int(nil), t.Shape...), D: d}, nil
}

// UploadMatrix wraps m; the CPU multiplies through it directly.
func (*CPU) UploadMatrix(m kernels.Matrix) (Weight, error) { return &MatrixWeight{M: m}, nil }

// Read copies t into dst.
func (*CPU) Read(dst []float32, t Tensor) { copy(dst, mat(t).D) }

// Write copies src into t.
func (*CPU) Write(t Tensor, src []float32) { copy(mat(t).D, src) }

// Embedding gathers table rows.
func (*CPU) Embedding(dst Tensor, table Weight, ids []int) {
	d, tb := mat(dst), table.(*Vec)
	for i, id := range ids {
		copy(d.D[i*d.C:(i+1)*d.C], tb.D[id*d.C:(id+1)*d.C])
	}
}

// AddRows adds table rows first… to dst.
func (*CPU) AddRows(dst Tensor, table Weight, first int) {
	d, tb := mat(dst), vec(table)
	for i := 0; i < d.R; i++ {
		kernels.Add(d.D[i*d.C:(i+1)*d.C], d.D[i*d.C:(i+1)*d.C], tb[(first+i)*d.C:(first+i+1)*d.C])
	}
}

// Linear multiplies through the weight's storage format.
func (*CPU) Linear(dst, x Tensor, w, bias Weight) {
	d, xm := mat(dst), mat(x)
	mw := w.(*MatrixWeight)
	out, in := mw.M.Dims()
	if xm.C != in || d.C != out || d.R != xm.R {
		panic(fmt.Sprintf("backend: linear %dx%d on [%d,%d] into [%d,%d]", out, in, xm.R, xm.C, d.R, d.C))
	}
	mw.M.MulT(d.D, xm.D, xm.R, vec(bias))
}

// RMSNorm normalises rows.
func (*CPU) RMSNorm(dst, x Tensor, gamma Weight, eps float32) {
	kernels.RMSNorm(mat(dst).D, mat(x).D, vec(gamma), eps)
}

// LayerNorm normalises rows.
func (*CPU) LayerNorm(dst, x Tensor, gamma, beta Weight, eps float32) {
	kernels.LayerNorm(mat(dst).D, mat(x).D, vec(gamma), vec(beta), eps)
}

// Add sets dst = a + b.
func (*CPU) Add(dst, a, b Tensor) { kernels.Add(mat(dst).D, mat(a).D, mat(b).D) }

// SwiGLU sets dst = silu(gate)·up.
func (*CPU) SwiGLU(dst, gate, up Tensor) { kernels.SwiGLU(mat(dst).D, mat(gate).D, mat(up).D) }

// ReLU applies in place.
func (*CPU) ReLU(x Tensor) { kernels.ReLU(mat(x).D) }

// GELU applies in place.
func (*CPU) GELU(x Tensor) { kernels.GELU(mat(x).D) }

// CopyCols copies a column block.
func (*CPU) CopyCols(dst, src Tensor, col0 int) {
	d, s := mat(dst), mat(src)
	for r := 0; r < d.R; r++ {
		copy(d.D[r*d.C:(r+1)*d.C], s.D[r*s.C+col0:r*s.C+col0+d.C])
	}
}

// RoPE rotates heads in place.
func (*CPU) RoPE(x Tensor, heads, headDim, pos0 int, r *Rope) {
	kernels.RoPE(mat(x).D, heads, headDim, pos0, r.InvFreq, r.Interleaved, r.Scale)
}

// NewKVCache returns a float32 cache; each layer's storage is allocated on
// its first StoreKV.
func (*CPU) NewKVCache(layers, maxLen, kvDim int) KVCache {
	// A layer's storage is allocated when the layer first stores keys, so a
	// state that runs one block (compression passes) holds one layer.
	c := &cpuCache{maxLen: maxLen, kvDim: kvDim, k: make([][]float32, layers), v: make([][]float32, layers)}
	c.scratch = make([]float32, kernels.AttentionScratch(maxLen))
	return c
}

// DropKV frees the storage of every layer of c but keep (block-by-block
// passes run one layer per state at a time).
func (*CPU) DropKV(c KVCache, keep int) {
	cc := c.(*cpuCache)
	for l := range cc.k {
		if l != keep {
			cc.k[l], cc.v[l] = nil, nil
		}
	}
}

// CopyKV copies positions 0…n−1 of layers 0…layers−1 from src to dst
// (caches of the same width).
func (*CPU) CopyKV(dst, src KVCache, layers, n int) {
	d, s := dst.(*cpuCache), src.(*cpuCache)
	for l := 0; l < layers; l++ {
		if s.k[l] == nil {
			continue
		}
		if d.k[l] == nil {
			d.k[l] = make([]float32, d.maxLen*d.kvDim)
			d.v[l] = make([]float32, d.maxLen*d.kvDim)
		}
		m := min(n*s.kvDim, len(s.k[l]), len(d.k[l]))
		copy(d.k[l][:m], s.k[l][:m])
		copy(d.v[l][:m], s.v[l][:m])
	}
}

// StoreKV writes keys and values at pos0….
func (*CPU) StoreKV(c KVCache, layer, pos0 int, k, v Tensor) {
	cc := c.(*cpuCache)
	w := mat(k).C // a layer's rows may be narrower than the cache's (pruned models)
	if cc.k[layer] == nil {
		cc.k[layer] = make([]float32, cc.maxLen*cc.kvDim)
		cc.v[layer] = make([]float32, cc.maxLen*cc.kvDim)
	}
	copy(cc.k[layer][pos0*w:], mat(k).D)
	copy(cc.v[layer][pos0*w:], mat(v).D)
}

// Attention runs causal attention over the cache.
func (*CPU) Attention(dst, q Tensor, c KVCache, layer, pos0, heads, kvHeads, headDim int, scale float32) {
	cc := c.(*cpuCache)
	qm := mat(q)
	if qm.R >= kernels.AttentionGEMMMinRows {
		need := kernels.AttentionGEMMScratch(qm.R, pos0+qm.R)
		if len(cc.gemmScratch) < need {
			cc.gemmScratch = make([]float32, need)
		}
		kernels.AttentionGEMM(mat(dst).D, qm.D, cc.k[layer], cc.v[layer], qm.R, pos0, heads, kvHeads, headDim, scale, cc.gemmScratch)
		return
	}
	if need := kernels.AttentionScratch(cc.maxLen); len(cc.scratch) < need {
		cc.scratch = make([]float32, need) // thread count was raised after the cache was made
	}
	kernels.Attention(mat(dst).D, qm.D, cc.k[layer], cc.v[layer], qm.R, pos0, heads, kvHeads, headDim, scale, cc.scratch)
}
