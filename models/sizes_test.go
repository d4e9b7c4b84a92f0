package models

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// allocated returns the bytes f allocates on the Go heap (cumulative, so a
// freed allocation still counts).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileSizes: every absurd, overflowing, zero, negative or
// inconsistent size is refused with an error wrapping ErrBadModel before
// anything is allocated from it. A config that Load trusted would need
// terabytes here (Go's out-of-memory is fatal, not an error), so the
// allocation bound (64 MiB, the fixtures are 100 KB) is what shows the
// check runs first.
func TestHostileSizes(t *testing.T) {
	set := func(kv ...any) func(map[string]any) {
		return func(c map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				c[kv[i].(string)] = kv[i+1]
			}
		}
	}
	cases := []struct {
		name, fixture string
		cfg           func(map[string]any)
		want          []string
	}{
		{"layers absurd", "llama2-tiny", set("num_hidden_layers", 1e6), []string{`"num_hidden_layers"`, "limit"}},
		{"layers overflow", "llama2-tiny", set("num_hidden_layers", 1e20), []string{`"num_hidden_layers"`}},
		{"layers zero", "llama2-tiny", set("num_hidden_layers", 0), []string{`"num_hidden_layers" must be positive`}},
		{"layers negative", "llama2-tiny", set("num_hidden_layers", -2), []string{`"num_hidden_layers"`, "not a valid size"}},
		{"layers more than tensors", "llama2-tiny", set("num_hidden_layers", 60000), []string{`"model.layers.2.input_layernorm.weight"`, "missing"}},
		{"hidden absurd", "llama2-tiny", set("hidden_size", 1e8), []string{`"hidden_size"`, "limit"}},
		{"hidden inconsistent", "llama2-tiny", set("hidden_size", 100000, "head_dim", 25000), []string{"model.embed_tokens.weight", "config implies [", "100000"}},
		{"hidden fractional", "llama2-tiny", set("hidden_size", 32.5), []string{`"hidden_size" = 32.5`}},
		{"intermediate huge", "llama2-tiny", set("intermediate_size", 1<<24), []string{"mlp.gate_proj.weight", "shape [88 32]"}},
		{"intermediate negative", "llama2-tiny", set("intermediate_size", -88), []string{`"intermediate_size"`}},
		{"heads zero", "llama2-tiny", set("num_attention_heads", 0), []string{`"num_attention_heads" must be positive`}},
		{"heads huge", "llama2-tiny", set("num_attention_heads", 1<<24, "num_key_value_heads", 1<<24), []string{"q_proj.weight", "config implies"}},
		{"head_dim huge", "llama2-tiny", set("head_dim", 1<<24), []string{"q_proj.weight", "config implies"}},
		{"kv heads not dividing", "llama2-tiny", set("num_key_value_heads", 3), []string{"not a multiple"}},
		{"vocab huge", "llama2-tiny", set("vocab_size", 1<<24), []string{"model.embed_tokens.weight", "config implies"}},
		{"vocab overflow", "llama2-tiny", set("vocab_size", 1e300), []string{`"vocab_size"`}},
		{"per-layer intermediate huge", "llama2-tiny", set("intermediate_size_per_layer", []int{88, 1 << 30}), []string{"intermediate_size_per_layer"}},
		{"opt positions huge", "opt-tiny", set("max_position_embeddings", 1<<24), []string{"embed_positions.weight", "config implies"}},
		{"opt ffn huge", "opt-tiny", set("ffn_dim", 1<<24), []string{"fc1.weight", "config implies"}},
		{"opt word_embed_proj_dim huge", "opt-tiny", set("word_embed_proj_dim", 1<<24), []string{"embed_tokens.weight", "config implies"}},
		{"opt hidden not dividing", "opt-tiny", set("num_attention_heads", 7), []string{"not a multiple"}},
		{"chatglm ffn huge", "chatglm3-tiny", set("ffn_hidden_size", 1<<24), []string{"dense_h_to_4h.weight", "config implies"}},
		{"chatglm groups zero", "chatglm3-tiny", set("multi_query_group_num", 0), []string{"multi_query_group_num"}},
		{"chatglm layers absurd", "chatglm3-tiny", set("num_layers", 1e7), []string{`"num_layers"`, "limit"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyFixture(t, c.fixture, c.cfg, nil)
			var err error
			n := allocated(func() {
				var m *Model
				if m, err = Load(dir, Options{}); err == nil {
					m.Close()
				}
			})
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, ErrBadModel) {
				t.Errorf("error does not wrap ErrBadModel: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n > 64<<20 {
				t.Errorf("refusing allocated %d MiB", n>>20)
			}
		})
	}
}

// fakeMemory makes availableMemory report avail bytes for the test.
func fakeMemory(t *testing.T, avail int64) {
	old := availableMemory
	availableMemory = func() (int64, string) { return avail, "test" }
	t.Cleanup(func() { availableMemory = old })
}

// TestMemoryRefusal: a model consistent with its tensors, or a random-weights
// config, that needs more than the machine has is refused before its
// weights are allocated, with the estimate in the message.
func TestMemoryRefusal(t *testing.T) {
	t.Run("checkpoint", func(t *testing.T) {
		dir := copyFixture(t, "llama2-tiny", nil, nil)
		fakeMemory(t, 1<<10) // 1 KiB: the fixture's float32 weights take ~400 KB
		_, err := Load(dir, Options{})
		var me *MemoryError
		if !errors.As(err, &me) || !errors.Is(err, ErrBadModel) {
			t.Fatalf("got %v, want a MemoryError", err)
		}
		// The estimate counts every float32 weight: at least the embedding.
		if emb := float64(32000 * 32 * 4); me.Need.Weights < emb {
			t.Errorf("weights estimate %.0f below the embedding's %.0f bytes", me.Need.Weights, emb)
		}
		for _, w := range []string{"needs ~", "the machine has", "available"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		fakeMemory(t, 1<<40)
		m, err := Load(dir, Options{})
		if err != nil {
			t.Fatalf("with 1 TiB available: %v", err)
		}
		if err := m.CheckContext(256); err != nil {
			t.Errorf("context of 256: %v", err)
		}
		fakeMemory(t, 1<<20)
		if err := m.CheckContext(256); !errors.Is(err, ErrBadModel) {
			t.Errorf("context of 256 with 1 MiB: %v, want a refusal", err)
		}
		// A state's first forward refuses a KV cache that cannot fit (the
		// fixture's 256 positions need 2·2·16·4·256 = 64 KiB).
		fakeMemory(t, 1<<15)
		if _, err := m.NewState(256).Append([]int{1, 2}); !errors.Is(err, ErrBadModel) {
			t.Errorf("state of 256 positions with 32 KiB: %v, want a refusal", err)
		}
		if _, err := m.NewBatch().Append([]*State{m.NewState(256)}, [][]int{{1}}); !errors.Is(err, ErrBadModel) {
			t.Errorf("batch member of 256 positions with 32 KiB: %v, want a refusal", err)
		}
		fakeMemory(t, 1<<17)
		if _, err := m.NewState(256).Append([]int{1, 2}); err != nil {
			t.Errorf("state of 256 positions with 128 KiB: %v", err)
		}
		m.Close()
	})
	t.Run("random weights", func(t *testing.T) {
		// 60000 layers of hidden 100000: ~10^16 bytes, more than any machine.
		dir := copyFixture(t, "llama2-tiny", func(c map[string]any) {
			c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"], c["head_dim"] = 60000, 100000, 400000, 25000
		}, nil)
		var err error
		n := allocated(func() { _, err = Load(dir, Options{RandomWeights: true}) })
		var me *MemoryError
		if !errors.As(err, &me) {
			t.Fatalf("got %v, want a MemoryError", err)
		}
		if n > 64<<20 {
			t.Errorf("refusing allocated %d MiB", n>>20)
		}
		cfg, perr := ParseConfig(dir + "/config.json")
		if perr != nil {
			t.Fatal(perr)
		}
		if _, err := FromConfig(cfg, nil, 1); !errors.As(err, &me) {
			t.Errorf("FromConfig: %v, want a MemoryError", err)
		}
	})
}

// TestNonFiniteWeights: a NaN or Inf anywhere in a float tensor (a norm
// vector, a linear weight, a bias) fails the load naming the tensor and
// its file.
func TestNonFiniteWeights(t *testing.T) {
	poison := func(name string, bits uint16, at int) func([]*tensor.Tensor) []*tensor.Tensor {
		return func(ts []*tensor.Tensor) []*tensor.Tensor {
			for _, x := range ts {
				if x.Name == name {
					d := append([]byte(nil), x.Data...)
					binary.LittleEndian.PutUint16(d[2*at:], bits)
					x.Data = d
				}
			}
			return ts
		}
	}
	cases := []struct {
		fixture, tensor string
		bits            uint16
		want            string
	}{
		{"llama2-tiny", "model.layers.1.mlp.down_proj.weight", 0x7e00, "NaN"},
		{"llama2-tiny", "model.layers.0.input_layernorm.weight", 0x7c00, "+Inf"},
		{"llama2-tiny", "model.embed_tokens.weight", 0xfc00, "-Inf"},
		{"opt-tiny", "model.decoder.layers.1.fc1.bias", 0x7e01, "NaN"},
	}
	for _, f := range []string{"llama2-tiny", "opt-tiny", "chatglm3-tiny"} {
		if err := CheckFinite(filepath.Join("..", "testdata", f)); err != nil {
			t.Errorf("CheckFinite(%s): %v", f, err)
		}
	}
	for _, c := range cases {
		t.Run(c.tensor, func(t *testing.T) {
			dir := copyFixture(t, c.fixture, nil, poison(c.tensor, c.bits, 5))
			m, err := Load(dir, Options{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, ErrBadModel) {
				t.Errorf("not ErrBadModel: %v", err)
			}
			// CheckFinite (compress's check before any work) finds the same weight.
			cerr := CheckFinite(dir)
			for _, e := range []error{err, cerr} {
				if !errors.Is(e, ErrBadModel) {
					t.Errorf("not ErrBadModel: %v", e)
					continue
				}
				for _, w := range []string{`"` + c.tensor + `"`, "model.safetensors", c.want, "element 5"} {
					if !strings.Contains(e.Error(), w) {
						t.Errorf("error %q lacks %q", e, w)
					}
				}
			}
		})
	}
}
