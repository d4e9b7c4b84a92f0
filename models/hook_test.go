package models

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// captured is what a LinearHook saw: per call, the layer's name and a copy
// of its input rows.
type captured struct {
	names []string
	rows  [][]float32
}

func (c *captured) hook(l *Linear, x []float32, rows int) {
	if len(x) != rows*l.In() {
		panic(fmt.Sprintf("hook: %s: %d values for %d rows × %d", l.Name, len(x), rows, l.In()))
	}
	c.names = append(c.names, l.Name)
	c.rows = append(c.rows, slices.Clone(x))
}

// TestLinearHookPerState: two states over one model capture independently
// (a state without a hook triggers none), on the CPU and on a backend whose
// activations are not host matrices, and both see the same rows.
func TestLinearHookPerState(t *testing.T) {
	ids := []int{1, 5, 9, 2, 7}
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", name)
			var seen [2]captured
			for bi, be := range []backend.Backend{backend.NewCPU(), deviceLike{backend.NewCPU()}} {
				m, err := Load(dir, Options{Backend: be})
				if err != nil {
					t.Fatal(err)
				}
				a, b := m.NewState(0), m.NewState(0)
				a.LinearHook = seen[bi].hook
				var other captured
				b.LinearHook = other.hook
				if _, err := a.Append(ids); err != nil {
					t.Fatal(err)
				}
				if len(other.names) != 0 {
					t.Fatalf("%s: state b's hook saw %d linears of state a's forward", be.Name(), len(other.names))
				}
				n := len(seen[bi].names)
				b.LinearHook = nil
				if _, err := b.Append(ids); err != nil {
					t.Fatal(err)
				}
				if len(seen[bi].names) != n {
					t.Fatalf("%s: state a's hook saw state b's forward", be.Name())
				}
				// Every linear of every block and those outside (the LM
				// head), once each.
				want := len(m.Linears(-1))
				for i := 0; i < m.Config.Layers; i++ {
					want += len(m.Linears(i))
				}
				if n != want {
					t.Errorf("%s: hook saw %d linear inputs, want %d", be.Name(), n, want)
				}
				m.Close()
			}
			if !slices.Equal(seen[0].names, seen[1].names) {
				t.Fatalf("linears seen: CPU %v, device-like %v", seen[0].names, seen[1].names)
			}
			for i := range seen[0].rows {
				if !slices.Equal(seen[0].rows[i], seen[1].rows[i]) {
					t.Errorf("%s: device-like backend's hook rows differ from the CPU's", seen[0].names[i])
				}
			}
		})
	}
}

// deviceLike is the CPU backend behind activations of another type (as a
// GPU backend's device tensors): the model cannot read them directly.
type deviceLike struct{ c *backend.CPU }

type devTensor struct{ m backend.Tensor }

func (t devTensor) Rows() int { return t.m.Rows() }
func (t devTensor) Cols() int { return t.m.Cols() }

func un(t backend.Tensor) backend.Tensor { return t.(devTensor).m }

func (d deviceLike) Name() string                      { return "device-like" }
func (d deviceLike) NewTensor(r, c int) backend.Tensor { return devTensor{d.c.NewTensor(r, c)} }
func (d deviceLike) View(t backend.Tensor, r0, r1 int) backend.Tensor {
	return devTensor{d.c.View(un(t), r0, r1)}
}
func (d deviceLike) Upload(t *tensor.Tensor) (backend.Weight, error) { return d.c.Upload(t) }
func (d deviceLike) UploadMatrix(m kernels.Matrix) (backend.Weight, error) {
	return d.c.UploadMatrix(m)
}
func (d deviceLike) Read(dst []float32, t backend.Tensor)  { d.c.Read(dst, un(t)) }
func (d deviceLike) Write(t backend.Tensor, src []float32) { d.c.Write(un(t), src) }
func (d deviceLike) Embedding(dst backend.Tensor, table backend.Weight, ids []int) {
	d.c.Embedding(un(dst), table, ids)
}
func (d deviceLike) AddRows(dst backend.Tensor, table backend.Weight, first int) {
	d.c.AddRows(un(dst), table, first)
}
func (d deviceLike) Linear(dst, x backend.Tensor, w, bias backend.Weight) {
	d.c.Linear(un(dst), un(x), w, bias)
}
func (d deviceLike) RMSNorm(dst, x backend.Tensor, g backend.Weight, eps float32) {
	d.c.RMSNorm(un(dst), un(x), g, eps)
}
func (d deviceLike) LayerNorm(dst, x backend.Tensor, g, b backend.Weight, eps float32) {
	d.c.LayerNorm(un(dst), un(x), g, b, eps)
}
func (d deviceLike) Add(dst, a, b backend.Tensor)        { d.c.Add(un(dst), un(a), un(b)) }
func (d deviceLike) SwiGLU(dst, gate, up backend.Tensor) { d.c.SwiGLU(un(dst), un(gate), un(up)) }
func (d deviceLike) ReLU(x backend.Tensor)               { d.c.ReLU(un(x)) }
func (d deviceLike) GELU(x backend.Tensor)               { d.c.GELU(un(x)) }
func (d deviceLike) CopyCols(dst, src backend.Tensor, col0 int) {
	d.c.CopyCols(un(dst), un(src), col0)
}
func (d deviceLike) RoPE(x backend.Tensor, heads, headDim, pos0 int, r *backend.Rope) {
	d.c.RoPE(un(x), heads, headDim, pos0, r)
}
func (d deviceLike) NewKVCache(layers, maxLen, kvDim int) backend.KVCache {
	return d.c.NewKVCache(layers, maxLen, kvDim)
}
func (d deviceLike) StoreKV(c backend.KVCache, layer, pos0 int, k, v backend.Tensor) {
	d.c.StoreKV(c, layer, pos0, un(k), un(v))
}
func (d deviceLike) Attention(dst, q backend.Tensor, c backend.KVCache, layer, pos0, heads, kvHeads, headDim int, scale float32) {
	d.c.Attention(un(dst), un(q), c, layer, pos0, heads, kvHeads, headDim, scale)
}
