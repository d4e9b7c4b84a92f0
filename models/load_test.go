package models

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
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
		{name: "fewer layers in config", fixture: "llama2-tiny", cfg: func(c map[string]any) { c["num_hidden_layers"] = 1 },
			want: []string{"config.json", "num_hidden_layers is 1", `tensor "model.layers.1.`}},
		{name: "fewer layers in opt config", fixture: "opt-tiny", cfg: func(c map[string]any) { c["num_hidden_layers"] = 1 },
			want: []string{"config.json", "num_hidden_layers is 1", `tensor "model.decoder.layers.1.`}},
		{name: "fewer layers in chatglm config", fixture: "chatglm3-tiny", cfg: func(c map[string]any) { c["num_layers"] = 1 },
			want: []string{"config.json", "num_layers is 1", `tensor "transformer.encoder.layers.1.`}},
		{name: "config.json is a folder", fixture: "opt-tiny", raw: func(dir string) {
			p := filepath.Join(dir, "config.json")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, want: []string{"config.json", "is a folder"}},
		{name: "model.safetensors is a folder", fixture: "opt-tiny", raw: func(dir string) {
			p := filepath.Join(dir, "model.safetensors")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, want: []string{"model.safetensors", "is a folder"}},
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
			testfs.OneLineError(t, err, c.want...)
		})
	}
}

func TestLoadModelIsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	os.WriteFile(p, []byte("x"), 0o644)
	_, err := Load(p, Options{})
	if !errors.Is(err, ErrBadModel) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "is a file") {
		t.Fatalf("Load(a file) = %v, want ErrBadModel naming %s", err, p)
	}
}

func TestLayerIndex(t *testing.T) {
	for _, c := range []struct {
		name string
		i    int
		ok   bool
	}{
		{"model.layers.12.mlp.up_proj.weight", 12, true},
		{"model.decoder.layers.0.fc1.bias", 0, true},
		{"transformer.encoder.layers.27.self_attention.dense.weight", 27, true},
		{"layers.3.w", 3, true},
		{"model.norm.weight", 0, false},
		{"model.extra_layers.3.w", 0, false},
		{"model.layers.x.w", 0, false},
		{"model.layers.7", 0, false},
	} {
		if i, ok := layerIndex(c.name); i != c.i || ok != c.ok {
			t.Errorf("layerIndex(%q) = %d, %v, want %d, %v", c.name, i, ok, c.i, c.ok)
		}
	}
}

// TestConfigRefusesBadValues checks that explicitly invalid values are
// refused with one line naming the field, while absent and null ones with a
// documented default are not.
func TestConfigRefusesBadValues(t *testing.T) {
	const llama = `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":64,"rope_theta":10000%s}`
	const chatglm = `{"model_type":"chatglm","padded_vocab_size":10,"hidden_size":8,"ffn_hidden_size":16,"num_layers":1,"num_attention_heads":2,"kv_channels":4,"seq_length":64%s}`
	llama3Rope := func(kv string) string {
		return `,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":32` + kv + `}`
	}
	bad := []struct {
		name, base, extra, want string
	}{
		{"max_position_embeddings 0", llama, `,"max_position_embeddings":0`, `"max_position_embeddings" must be positive`},
		{"max_position_embeddings null", llama, `,"max_position_embeddings":null`, `"max_position_embeddings" is null`},
		{"head_dim 0", llama, `,"head_dim":0`, `"head_dim" must be positive`},
		{"num_key_value_heads 0", llama, `,"num_key_value_heads":0`, `"num_key_value_heads" must be positive`},
		{"rope factor a string", llama, llama3Rope(`,"factor":"NaN"`), `rope_scaling.factor = "NaN" is not a number`},
		{"rope low_freq_factor a string", llama, llama3Rope(`,"low_freq_factor":"1"`), `rope_scaling.low_freq_factor = "1" is not a number`},
		{"rope_theta 0", llama, `,"rope_theta":0`, "rope_theta = 0 must be positive"},
		{"rope_theta negative", llama, `,"rope_theta":-500000`, "rope_theta = -500000 must be positive"},
		{"rope_parameters rope_theta negative", llama, `,"rope_parameters":{"rope_type":"default","rope_theta":-1}`, "rope_parameters.rope_theta = -1 must be positive"},
		{"rope_parameters rope_theta a string", llama, `,"rope_parameters":{"rope_type":"default","rope_theta":"1e4"}`, `rope_parameters.rope_theta = "1e4" is not a number`},
		{"rms_norm_eps negative", llama, `,"rms_norm_eps":-1`, `"rms_norm_eps" = -1 must be zero or positive`},
		{"rms_norm_eps beyond float32", llama, `,"rms_norm_eps":1e300`, `"rms_norm_eps" = 1e+300`},
		{"chatglm kv_channels 0", chatglm, `,"kv_channels":0`, `"kv_channels" must be positive`},
		{"chatglm seq_length 0", chatglm, `,"seq_length":0`, `"seq_length" must be positive`},
		{"chatglm layernorm_epsilon negative", chatglm, `,"layernorm_epsilon":-0.5`, `"layernorm_epsilon" = -0.5`},
		{"chatglm rope_ratio 0", chatglm, `,"rope_ratio":0`, `"rope_ratio" = 0 must be positive`},
		{"long model_type is cut", llama, `,"model_type":"` + strings.Repeat("x", 1<<20) + `"`, `xxx"… (1048576 bytes)`},
		{"long hidden_act is cut", llama, `,"hidden_act":"` + strings.Repeat("é", 1000) + `"`, `… (2000 bytes)`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			// A later duplicate key wins in encoding/json, as in Python's json.
			js := strings.Replace(c.base, "%s", c.extra, 1)
			_, err := parseConfig([]byte(js))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || len(msg) > 300 {
				t.Errorf("error %q: want one short line containing %q", msg, c.want)
			}
		})
	}
	good := []struct{ name, base, extra string }{
		{"max_position_embeddings absent", `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2%s}`, ""},
		{"head_dim null", llama, `,"head_dim":null`},
		{"num_key_value_heads null", llama, `,"num_key_value_heads":null`},
		{"rms_norm_eps 0", llama, `,"rms_norm_eps":0`},
		{"rope_scaling null", llama, `,"rope_scaling":null`},
		{"chatglm without seq_length and kv_channels", `{"model_type":"chatglm","padded_vocab_size":10,"hidden_size":8,"ffn_hidden_size":16,"num_layers":1,"num_attention_heads":2%s}`, ""},
	}
	for _, c := range good {
		if _, err := parseConfig([]byte(strings.Replace(c.base, "%s", c.extra, 1))); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
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
	for _, name := range testfs.Fixtures {
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
	if e := testref.RelErr(last, full[4*50:]); e > 1e-5 {
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
