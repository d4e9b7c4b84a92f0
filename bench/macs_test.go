package bench

import (
	"encoding/json"
	"math"
	"testing"
)

// llama2_7b and llama3_8b are the two configs of the seed's Track 4.
const (
	llama2_7b = `{"model_type":"llama","hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":32,"vocab_size":32000,"tie_word_embeddings":false}`
	llama3_8b = `{"model_type":"llama","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,"tie_word_embeddings":false}`
)

func config(t *testing.T, s string) ModelConfig {
	t.Helper()
	c, err := ParseModelConfig(json.RawMessage(s))
	must(t, err)
	return c
}

func TestMACsSeedConvention(t *testing.T) {
	l2, l3 := config(t, llama2_7b), config(t, llama3_8b)
	if got := l2.TotalParams(); got != 6738415616 {
		t.Errorf("LLaMA-2-7B parameters from the config = %d; want 6738415616", got)
	}
	// The decoder linears and lm_head are 6.61 G MACs a token.
	if got := float64(l2.DecoderLinears() + l2.Vocab*l2.Hidden); math.Abs(got-6.607e9) > 1e6 {
		t.Errorf("LLaMA-2-7B MACs per token = %v; want 6.607e9", got)
	}
	for _, c := range []struct {
		cfg   ModelConfig
		name  string
		spec  string
		wantT float64 // the poster's number, two decimals
	}{
		{l2, "llama-2-7b dense", Dense, 0.85},
		{l2, "llama-2-7b 50%", "wanda:sparsity=0.5,pattern=none", 0.43},
		{l2, "llama-2-7b 2:4", "sparsegpt:sparsity=0.5,pattern=2:4", 0.43},
		{l2, "llama-2-7b int8", "gptq:bits=8,group=128", 0.23},
		{l2, "llama-2-7b w8a8", "smoothquant:bits=8", 0.23},
		{l3, "llama-3-8b int8", "awq:bits=8", 0.29},
		// Where the poster's LLaMA-3-8B numbers do not follow the rule
		// (0.97 dense, 0.57 at 50%), gollm's value is asserted: the
		// rule gives 0.96 and 0.52 (docs/BENCH.md).
		{l3, "llama-3-8b dense", Dense, 0.96},
		{l3, "llama-3-8b 50%", "wanda:sparsity=0.5,pattern=none", 0.52},
	} {
		got := MACs(c.cfg, c.spec, 128) / 1e12
		if math.Round(got*100)/100 != c.wantT {
			t.Errorf("%s: MACs = %.4f T; want %.2f T", c.name, got, c.wantT)
		}
	}
	// Structured pruning counts the parameters that are left.
	pruned := l2
	pruned.Params = l2.TotalParams() / 2
	if a, b := MACs(pruned, "llm-pruner:sparsity=0.5", 128), MACs(l2, Dense, 128); a >= b*0.55 || a <= b*0.4 {
		t.Errorf("llm-pruner at half the parameters: %v MACs of dense %v", a, b)
	}
}

func TestGollmConventionAndSize(t *testing.T) {
	l2 := config(t, llama2_7b)
	dense := GollmMACs(l2, Dense, 128)
	for _, c := range []struct {
		spec string
		want float64 // fraction of the decoder linears executed
	}{
		{"wanda:sparsity=0.5,pattern=none", 1},       // stored and multiplied dense
		{"wanda:sparsity=0.5,pattern=2:4", 0.5},      // the 2:4 kernel skips zeros
		{"gptq:bits=4,group=128", 1},                 // one MAC per weight, dequantized
		{"smoothquant:bits=8,alpha=auto", 1},         // int8 MACs are MACs
		{"llm-pruner:sparsity=0.5,layer_ratio=0", 1}, // Params carry the pruning
	} {
		want := dense - 128*float64(l2.DecoderLinears())*(1-c.want)
		if got := GollmMACs(l2, c.spec, 128); math.Abs(got-want) > 1 {
			t.Errorf("GollmMACs(%s) = %v; want %v", c.spec, got, want)
		}
	}
	// Seed size: 12.55 GiB dense (the poster's number); 8-bit decoder
	// linears with fp16 embeddings about half; sparse stored dense.
	for _, c := range []struct {
		spec string
		gib  float64
	}{
		{Dense, 12.55},
		{"wanda:sparsity=0.5,pattern=2:4", 12.55},
		{"gptq:bits=8,group=128", 6.52},
		{"gptq:bits=4,group=128", 3.50},
	} {
		if got := SeedSize(l2, c.spec) / gib; math.Round(got*100)/100 != c.gib {
			t.Errorf("SeedSize(%s) = %.4f GiB; want %.2f", c.spec, got, c.gib)
		}
	}
}

func TestParseModelConfig(t *testing.T) {
	opt, err := ParseModelConfig(json.RawMessage(`{"model_type":"opt","hidden_size":768,"ffn_dim":3072,"num_hidden_layers":12,"num_attention_heads":12,"vocab_size":50272}`))
	must(t, err)
	if opt.Gated || !opt.TiedEmbeddings || opt.Intermediate != 3072 || opt.HeadDim != 64 || opt.KVHeads != 12 {
		t.Errorf("OPT config = %+v", opt)
	}
	for _, bad := range []string{`[]`, `{"hidden_size":64}`, `{not json`} {
		if _, err := ParseModelConfig(json.RawMessage(bad)); err == nil {
			t.Errorf("ParseModelConfig(%s) accepted", bad)
		}
	}
	for spec, want := range map[string]string{
		Dense: "", "wanda:sparsity=0.5,pattern=none": "50%", "sparsegpt:sparsity=0.5,pattern=2:4": "2:4",
		"gptq:bits=4,group=128": "w4a16", "smoothquant:bits=8,alpha=auto": "w8a8", "omniquant:bits=4,abits=16": "w4a16",
		"llm-pruner:sparsity=0.2,layer_ratio=0": "20%", "llm-pruner:sparsity=0,layer_ratio=0.25": "layers 25%",
	} {
		if got := SettingOf(spec); got != want {
			t.Errorf("SettingOf(%s) = %q; want %q", spec, got, want)
		}
	}
}

func TestFootprintCorruptResult(t *testing.T) {
	s := newStudy(t)
	res, _ := json.Marshal(map[string]any{"config": json.RawMessage(llama2_7b), "spec": Dense})
	s.cell(Cell{Kind: KindFootprint, Model: "m1", Method: Dense, Metrics: map[string]float64{"eval_peak_rss_bytes": 2e9, "checkpoint_bytes": 1e9}, Result: res}, nil)
	bad := s.cell(Cell{Kind: KindFootprint, Model: "m1", Method: "rtn:bits=4", Metrics: map[string]float64{"eval_peak_rss_bytes": 1e9, "checkpoint_bytes": 5e8}, Result: json.RawMessage(`{"config":{"hidden_size":1}}`)}, nil)
	sum := s.load()
	o := om(t, sum, "4", "om_inf", "rtn:bits=4")
	// Memory ratio 2 stands; size and MACs cannot be computed: 0, flagged.
	if want := 100 * math.Sqrt(4.0/3); !near(o.V, want, 1e-9) || o.Flagged != 2 {
		t.Errorf("om_inf = %v flagged %d; want %v with 2 flagged", o.V, o.Flagged, want)
	}
	if g := om(t, sum, "4", "om_inf_gollm", "rtn:bits=4"); g.Flagged != 1 {
		t.Errorf("om_inf_gollm flagged %d; want 1 (MACs)", g.Flagged)
	}
	found := false
	for _, p := range sum.Problems {
		found = found || (p.Kind == ProblemCorrupt && p.Key == bad)
	}
	if !found {
		t.Errorf("no corrupt problem for the footprint result: %+v", sum.Problems)
	}
}
