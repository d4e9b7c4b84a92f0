package models

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// copyFixture copies a fixture folder into a temp dir, letting edit change
// config.json (as a map) and the tensors before they are written.
func copyFixture(t *testing.T, name string, editCfg func(map[string]any), editTensors func([]*tensor.Tensor) []*tensor.Tensor) string {
	t.Helper()
	src := filepath.Join("..", "testdata", name)
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if editCfg != nil {
		editCfg(cfg)
	}
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := tensor.Open(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []*tensor.Tensor
	for _, n := range f.Names() {
		tt, _ := f.Tensor(n)
		ts = append(ts, tt)
	}
	if editTensors != nil {
		ts = editTensors(ts)
	}
	if err := tensor.WriteFile(filepath.Join(dir, "model.safetensors"), ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
	return dir
}

func without(name string) func([]*tensor.Tensor) []*tensor.Tensor {
	return func(ts []*tensor.Tensor) []*tensor.Tensor {
		var out []*tensor.Tensor
		for _, t := range ts {
			if t.Name != name {
				out = append(out, t)
			}
		}
		return out
	}
}

func TestLoadBadInput(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		cfg     func(map[string]any)
		tensors func([]*tensor.Tensor) []*tensor.Tensor
		raw     func(dir string) // further damage
		want    []string
	}{
		{name: "missing tensor", fixture: "llama2-tiny", tensors: without("model.layers.1.mlp.up_proj.weight"),
			want: []string{`"model.layers.1.mlp.up_proj.weight"`, "missing"}},
		{name: "shape mismatch", fixture: "llama2-tiny", cfg: func(c map[string]any) { c["intermediate_size"] = 96 },
			want: []string{"model.layers.0.mlp.gate_proj.weight", "shape [88 32]", "[96 32]"}},
		{name: "unknown architecture", fixture: "opt-tiny", cfg: func(c map[string]any) { c["model_type"] = "mamba" },
			want: []string{"config.json", `unknown architecture: model_type "mamba"`}},
		{name: "missing config field", fixture: "opt-tiny", cfg: func(c map[string]any) { delete(c, "num_attention_heads") },
			want: []string{"config.json", `missing field "num_attention_heads"`}},
		{name: "bad field type", fixture: "llama3-tiny", cfg: func(c map[string]any) { c["hidden_size"] = "64" },
			want: []string{"config.json", `"hidden_size" is not a number`}},
		{name: "heads not divisible", fixture: "llama3-tiny", cfg: func(c map[string]any) { c["num_key_value_heads"] = 3 },
			want: []string{"config.json", "not a multiple"}},
		{name: "unsupported rope", fixture: "llama3-tiny", cfg: func(c map[string]any) { c["rope_parameters"].(map[string]any)["rope_type"] = "yarn" },
			want: []string{"config.json", `rope type "yarn"`}},
		{name: "OPT without LayerNorm affine", fixture: "opt-tiny", cfg: func(c map[string]any) { c["layer_norm_elementwise_affine"] = false },
			want: []string{"config.json", "layer_norm_elementwise_affine=false is not supported"}},
		{name: "chatglm missing groups", fixture: "chatglm3-tiny", cfg: func(c map[string]any) { delete(c, "multi_query_group_num") },
			want: []string{"config.json", "multi_query_group_num"}},
		{name: "malformed config", fixture: "opt-tiny", raw: func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "opt",`), 0o644)
		}, want: []string{"config.json", "not a JSON object"}},
		{name: "truncated weights", fixture: "opt-tiny", raw: func(dir string) {
			p := filepath.Join(dir, "model.safetensors")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()/2)
		}, want: []string{"model.safetensors", "outside"}},
		{name: "integer weights", fixture: "opt-tiny", tensors: func(ts []*tensor.Tensor) []*tensor.Tensor {
			for _, t := range ts {
				if t.Name == "model.decoder.layers.0.fc1.bias" {
					t.DType = tensor.I16
				}
			}
			return ts
		}, want: []string{"model.decoder.layers.0.fc1.bias", "not a float type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyFixture(t, c.fixture, c.cfg, c.tensors)
			if c.raw != nil {
				c.raw(dir)
			}
			m, err := Load(dir, Options{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, ErrBadModel) && !errors.Is(err, tensor.ErrFormat) {
				t.Errorf("error is not a bad-input error: %v", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("multi-line error: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestConfigVariants(t *testing.T) {
	cases := []struct {
		name string
		json string
		want func(*Config) bool
	}{
		{"llama2 rope_theta", `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"rope_theta":500000,"rope_scaling":null}`,
			func(c *Config) bool {
				return c.Rope.Theta == 500000 && c.Rope.Type == "default" && c.KVHeads == 2 && c.HeadDim == 4
			}},
		{"llama3 rope_scaling", `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"rope_theta":500000,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192}}`,
			func(c *Config) bool {
				return c.Rope.Type == "llama3" && c.Rope.OriginalMaxPos == 8192 && c.KVHeads == 1
			}},
		{"linear rope, old 'type' key", `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"rope_scaling":{"type":"linear","factor":4}}`,
			func(c *Config) bool {
				return c.Rope.Type == "linear" && c.Rope.Factor == 4 && c.Rope.InvFreq()[0] == 0.25
			}},
		{"mistral", `{"model_type":"mistral","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1}`,
			func(c *Config) bool { return c.Arch == "llama" }},
		{"eos list", `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"eos_token_id":[1,7]}`,
			func(c *Config) bool { return len(c.EOS) == 2 && c.EOS[1] == 7 }},
		{"chatglm rope_ratio", `{"model_type":"chatglm","padded_vocab_size":10,"hidden_size":8,"ffn_hidden_size":16,"num_layers":1,"num_attention_heads":2,"kv_channels":4,"rope_ratio":50}`,
			func(c *Config) bool {
				return c.Rope.Theta == 500000 && c.Rope.RotaryDim == 2 && c.Rope.Interleaved && c.KVHeads == 2
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseConfig([]byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !c.want(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

// TestLlama3InvFreq checks the llama3 frequency scaling against values
// computed with transformers' _compute_llama3_parameters for head_dim 16,
// theta 5e5, factor 8, low 1, high 4, original context 64 (the fixture).
func TestLlama3InvFreq(t *testing.T) {
	rc := RopeConfig{Theta: 500000, Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPos: 64, RotaryDim: 16}
	got := rc.InvFreq()
	def := RopeConfig{Theta: 500000, Type: "default", RotaryDim: 16}
	base := def.InvFreq()
	// wavelengths 2π/f: high-frequency ones (< 16) unchanged, low ones (> 64) divided by 8, between: smoothed.
	for i, f := range base {
		wave := 2 * 3.141592653589793 / float64(f)
		switch {
		case wave < 16:
			if got[i] != f {
				t.Errorf("freq %d (wave %.1f) changed: %v -> %v", i, wave, f, got[i])
			}
		case wave > 64:
			if got[i] != f/8 {
				t.Errorf("freq %d (wave %.1f) = %v, want %v", i, wave, got[i], f/8)
			}
		default:
			if !(got[i] < f && got[i] > f/8) {
				t.Errorf("freq %d (wave %.1f) = %v not between %v and %v", i, wave, got[i], f/8, f)
			}
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range fixtures {
		b, err := os.ReadFile(filepath.Join("..", "testdata", name, "config.json"))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model_type":"llama","hidden_size":-1}`))
	f.Add([]byte(`{"model_type":"chatglm","multi_query_attention":true,"multi_query_group_num":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConfig(b)
		if err != nil {
			return
		}
		if c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 || c.Vocab <= 0 || c.Heads%c.KVHeads != 0 {
			t.Fatalf("accepted inconsistent config %+v", c)
		}
		if c.Layers > MaxLayers || c.Hidden > MaxWidth || c.Vocab > MaxWidth || c.Intermediate > MaxWidth || c.MaxPos > MaxWidth {
			t.Fatalf("accepted sizes above the limits: %+v", c)
		}
		// The memory estimate of any accepted config is computed without
		// panicking or allocating from its sizes (checkFits may refuse).
		_ = (&Model{Config: c}).preflight(newRandomSource(c, 1), Options{})
		_ = c.Rope.InvFreq()
	})
}

// TestPerLayerSizes loads a LLaMA whose layers have different head and MLP
// sizes (as LLM-Pruner writes them) and checks it runs, with the KV cache
// rows of narrower layers stored at their own width.
func TestPerLayerSizes(t *testing.T) {
	cfg, err := parseConfig([]byte(`{"model_type":"llama","vocab_size":50,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":3,
		"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4,
		"num_attention_heads_per_layer":[4,2,4],"num_key_value_heads_per_layer":[2,1,2],"intermediate_size_per_layer":[32,8,20]}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromConfig(cfg, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if q := m.Linears(1)[0]; q.Out() != 8 || m.Linears(1)[4].Out() != 8 || m.Linears(2)[4].Out() != 20 {
		t.Fatalf("layer shapes not per layer: q %d", q.Out())
	}
	ids := []int{1, 2, 3, 4, 5}
	full, err := m.NewState(0).Append(ids)
	if err != nil {
		t.Fatal(err)
	}
	full = append([]float32(nil), full...)
	// Decoding token by token through the cache gives the same last logits.
	s := m.NewState(0)
	var last []float32
	for _, id := range ids {
		if last, err = s.AppendLast([]int{id}); err != nil {
			t.Fatal(err)
		}
	}
	if e := relErr(last, full[4*50:]); e > 1e-5 {
		t.Errorf("cached decode differs from the full pass: %.3g", e)
	}
	for _, bad := range []string{
		`"num_attention_heads_per_layer":[4,2]`,
		`"num_key_value_heads_per_layer":[2,3,2]`,
		`"intermediate_size_per_layer":[32,0,20]`,
	} {
		js := `{"model_type":"llama","vocab_size":50,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,` + bad + `}`
		if _, err := parseConfig([]byte(js)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
