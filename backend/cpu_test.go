package backend

import (
	"fmt"
	"testing"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

func TestCPUDataMovement(t *testing.T) {
	b := NewCPU()
	src := b.NewTensor(2, 5)
	b.Write(src, []float32{0, 1, 2, 3, 4, 10, 11, 12, 13, 14})
	dst := b.NewTensor(2, 2)
	b.CopyCols(dst, src, 3)
	got := make([]float32, 4)
	b.Read(got, dst)
	if fmt.Sprint(got) != "[3 4 13 14]" {
		t.Errorf("CopyCols: %v", got)
	}
	v := b.View(src, 1, 2)
	row := make([]float32, 5)
	b.Read(row, v)
	if v.Rows() != 1 || fmt.Sprint(row) != "[10 11 12 13 14]" {
		t.Errorf("View: %v", row)
	}
	table, err := b.Upload(tensor.FromFloat32("pos", []int{4, 2}, []float32{0, 0, 1, 1, 2, 2, 3, 3}))
	if err != nil {
		t.Fatal(err)
	}
	x := b.NewTensor(2, 2)
	b.AddRows(x, table, 2)
	b.Read(got, x)
	if fmt.Sprint(got) != "[2 2 3 3]" {
		t.Errorf("AddRows: %v", got)
	}
	e := b.NewTensor(3, 2)
	b.Embedding(e, table, []int{3, 0, 1})
	emb := make([]float32, 6)
	b.Read(emb, e)
	if fmt.Sprint(emb) != "[3 3 0 0 1 1]" {
		t.Errorf("Embedding: %v", emb)
	}
}

func TestCPULinearShapeCheck(t *testing.T) {
	b := NewCPU()
	d, _ := kernels.NewDense(3, 2, []float32{1, 0, 0, 1, 1, 1})
	w, _ := b.UploadMatrix(d)
	x := b.NewTensor(1, 2)
	b.Write(x, []float32{2, 5})
	y := b.NewTensor(1, 3)
	b.Linear(y, x, w, nil)
	got := make([]float32, 3)
	b.Read(got, y)
	if fmt.Sprint(got) != "[2 5 7]" {
		t.Errorf("Linear: %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("mismatched linear did not panic")
		}
	}()
	b.Linear(b.NewTensor(1, 2), x, w, nil)
}

// TestKVCacheAllocatesOnStore checks that a layer's cache storage exists
// only after the layer first stores keys (compression runs one block per
// state and must not hold every layer's cache).
func TestKVCacheAllocatesOnStore(t *testing.T) {
	be := &CPU{}
	c := be.NewKVCache(4, 8, 6).(*cpuCache)
	for i := range c.k {
		if c.k[i] != nil || c.v[i] != nil {
			t.Fatalf("layer %d allocated before use", i)
		}
	}
	k, v := be.NewTensor(2, 6), be.NewTensor(2, 6)
	be.StoreKV(c, 2, 0, k, v)
	for i := range c.k {
		if got, want := c.k[i] != nil, i == 2; got != want {
			t.Errorf("layer %d allocated = %v, want %v", i, got, want)
		}
	}
	if len(c.k[2]) != 8*6 || len(c.v[2]) != 8*6 {
		t.Errorf("layer 2 holds %d/%d values, want %d", len(c.k[2]), len(c.v[2]), 8*6)
	}
}
