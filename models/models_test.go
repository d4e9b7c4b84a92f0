package models

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
)

// loadFixture loads the fixture testdata/name (one of testfs.Fixtures), closed
// when the test ends.
func loadFixture(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(filepath.Join("..", "testdata", name), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestFixturesMatchReference(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", name)
			m := loadFixture(t, name)
			ref := testref.Load(t, filepath.Join(dir, "reference.safetensors"))
			V := m.Config.Vocab
			S := len(ref.Rows[0])
			L := m.Config.Layers
			for b, ids := range ref.Rows {
				st := m.NewState(0)
				hidden := map[int][]float32{}
				st.HiddenHook = func(i int, h backend.Tensor) {
					v := make([]float32, h.Rows()*h.Cols())
					m.Backend.Read(v, h)
					hidden[i] = v
				}
				logits, err := st.Append(ids)
				if err != nil {
					t.Fatal(err)
				}
				want := ref.Logits[b*S*V : (b+1)*S*V]
				if e := testref.RelErr(logits, want); e > 1e-4 {
					t.Errorf("row %d: logits relative error %.3g > 1e-4", b, e)
				}
				// hidden_states.0 = embeddings, .i = block i's output, the last
				// = after the final norm (and OPT's project_out) — except in
				// ChatGLM's own modeling code, which records the last block's
				// output before its final_layernorm.
				for i, hv := range ref.Hidden {
					got := hidden[i]
					if i == L && m.Config.Arch != "chatglm" {
						got = hidden[L+1]
					}
					w := len(hv) / len(ref.Rows)
					if len(got) != w {
						t.Fatalf("hidden_states.%d: have %d values, want %d", i, len(got), w)
					}
					if e := testref.RelErr(got, hv[b*w:(b+1)*w]); e > 1e-4 {
						t.Errorf("row %d: hidden_states.%d relative error %.3g", b, i, e)
					}
				}
			}
			// Greedy decoding with the KV cache reproduces the reference's
			// full-recompute greedy ids.
			prompt := ref.Greedy[:8]
			st := m.NewState(0)
			logits, err := st.AppendLast(prompt)
			if err != nil {
				t.Fatal(err)
			}
			got := append([]int(nil), prompt...)
			for len(got) < len(ref.Greedy) {
				next := Argmax(logits)
				got = append(got, next)
				if logits, err = st.AppendLast([]int{next}); err != nil {
					t.Fatal(err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(ref.Greedy) {
				t.Errorf("greedy ids\n got %v\nwant %v", got, ref.Greedy)
			}
		})
	}
}

// TestBlockAPI checks that Embed + ForwardBlock + Logits (the block-by-block
// path compression uses) gives the same logits as the ordinary forward pass.
func TestBlockAPI(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			ids := []int{5, 9, 2, 7, 11, 3}
			want, err := m.NewState(0).Append(ids)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]float32(nil), want...)
			s := m.NewState(0)
			x, err := m.Embed(s, ids)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < m.NumLayers(); i++ {
				if err := m.ForwardBlock(s, i, x); err != nil {
					t.Fatal(err)
				}
			}
			got, err := m.Logits(s, x)
			if err != nil {
				t.Fatal(err)
			}
			if e := testref.RelErr(got, want); e > 1e-6 {
				t.Errorf("block path differs from forward: %.3g", e)
			}
		})
	}
}

// TestLazyBlocks loads a model lazily and runs it block by block, loading
// and releasing each block, as compression of a model larger than RAM does.
func TestLazyBlocks(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", name)
			full, err := Load(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer full.Close()
			ids := []int{3, 1, 4, 1, 5, 9, 2, 6}
			want, _ := full.NewState(0).Append(ids)
			want = append([]float32(nil), want...)

			m, err := Load(dir, Options{Lazy: true})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.BlockLoaded(0) || m.Linears(0) != nil {
				t.Fatal("lazy model has block 0 resident")
			}
			if _, err := m.NewState(0).Append(ids); err == nil {
				t.Fatal("forward through unloaded blocks succeeded")
			}
			s := m.NewState(0)
			x, err := m.Embed(s, ids)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < m.NumLayers(); i++ {
				if err := m.LoadBlock(i); err != nil {
					t.Fatal(err)
				}
				if err := m.ForwardBlock(s, i, x); err != nil {
					t.Fatal(err)
				}
				m.ReleaseBlock(i)
				if m.BlockLoaded(i) {
					t.Fatalf("block %d still loaded", i)
				}
			}
			got, err := m.Logits(s, x)
			if err != nil {
				t.Fatal(err)
			}
			if e := testref.RelErr(got, want); e > 1e-6 {
				t.Errorf("lazy block path differs: %.3g", e)
			}
		})
	}
}
