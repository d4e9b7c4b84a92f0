package grad

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// TestForwardMatchesEngine runs each fixture through the differentiable
// model and through the engine (models.Load, State.Append) on the
// reference input ids and requires the same logits.
func TestForwardMatchesEngine(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", name)
			gm, err := LoadModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			em, err := models.Load(dir, models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer em.Close()
			ref := testref.Load(t, filepath.Join(dir, "reference.safetensors"))
			ids, B, S := ref.IDs, len(ref.Rows), len(ref.Rows[0])
			logits, err := gm.Forward(NewTape(), ids, B, S)
			if err != nil {
				t.Fatal(err)
			}
			V := gm.Config.Vocab
			var maxAbs, maxDiff float64
			for b := 0; b < B; b++ {
				want, err := em.NewState(S).Append(ids[b*S : (b+1)*S])
				if err != nil {
					t.Fatal(err)
				}
				got := logits.Val[b*S*V : (b+1)*S*V]
				for i := range want {
					maxAbs = math.Max(maxAbs, math.Abs(float64(want[i])))
					maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
				}
			}
			if maxAbs == 0 || maxDiff > 1e-4*maxAbs {
				t.Errorf("max |logit difference| %.3g, max |logit| %.3g: relative %.3g > 1e-4", maxDiff, maxAbs, maxDiff/maxAbs)
			}
		})
	}
}

// TestPerLayerMatchesEngine writes models whose layers differ in head
// count and MLP width (as LLM-Pruner writes them) and requires the engine
// to load the differentiable model's parameters and give its logits.
func TestPerLayerMatchesEngine(t *testing.T) {
	for name, js := range map[string]string{
		"llama": `{"model_type":"llama","vocab_size":11,"hidden_size":8,"intermediate_size":12,"num_hidden_layers":3,
			"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4,
			"num_attention_heads_per_layer":[4,2,2],"num_key_value_heads_per_layer":[2,1,2],"intermediate_size_per_layer":[12,5,9]}`,
		"opt": `{"model_type":"opt","vocab_size":11,"hidden_size":8,"ffn_dim":12,"num_hidden_layers":2,"num_attention_heads":2,
			"max_position_embeddings":16,"num_attention_heads_per_layer":[1,2],"num_key_value_heads_per_layer":[1,2],"intermediate_size_per_layer":[5,12]}`,
		"chatglm": `{"model_type":"chatglm","padded_vocab_size":11,"hidden_size":8,"ffn_hidden_size":12,"num_layers":2,"num_attention_heads":4,
			"kv_channels":4,"multi_query_attention":true,"multi_query_group_num":2,"add_qkv_bias":true,"seq_length":16,
			"num_attention_heads_per_layer":[2,4],"num_key_value_heads_per_layer":[1,2],"intermediate_size_per_layer":[7,12]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(js), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := models.LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			gm, err := InitModel(cfg, 1, 0.02)
			if err != nil {
				t.Fatal(err)
			}
			randomize(gm, 2)
			ts, err := gm.Tensors(tensor.F32)
			if err != nil {
				t.Fatal(err)
			}
			if err := tensor.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
				t.Fatal(err)
			}
			em, err := models.Load(dir, models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer em.Close()
			if o0, o1 := em.Linears(0)[0].Out(), em.Linears(1)[0].Out(); o0 == o1 {
				t.Fatalf("layers 0 and 1 have the same first linear (%d rows)", o0)
			}
			ids := []int{1, 5, 2, 9, 3}
			want, err := em.NewState(0).Append(ids)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gm.Forward(NewTape(), ids, 1, len(ids))
			if err != nil {
				t.Fatal(err)
			}
			var maxAbs, maxDiff float64
			for i := range want {
				maxAbs = math.Max(maxAbs, math.Abs(float64(want[i])))
				maxDiff = math.Max(maxDiff, math.Abs(float64(got.Val[i]-want[i])))
			}
			if maxAbs == 0 || maxDiff > 1e-4*maxAbs {
				t.Errorf("max |logit difference| %.3g, max |logit| %.3g", maxDiff, maxAbs)
			}
		})
	}
}

// blockConfigs are small configs of every architecture variant.
func blockConfigs() map[string]*models.Config {
	rope := func(hd, rot int, inter bool) models.RopeConfig {
		return models.RopeConfig{Theta: 10000, Type: "default", Factor: 1, RotaryDim: rot, Interleaved: inter}
	}
	return map[string]*models.Config{
		"llama-gqa":  {Arch: "llama", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "silu", Rope: rope(4, 4, false)},
		"llama-bias": {Arch: "llama", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 1, Heads: 2, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "silu", AttentionBias: true, MLPBias: true, TieEmbed: true, Rope: rope(4, 4, false)},
		"opt-pre":    {Arch: "opt", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 2, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "relu", WordEmbedProjDim: 8, DoLayerNormBefore: true, EnableBias: true, LNElementwise: true, TieEmbed: true},
		"opt-post":   {Arch: "opt", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 2, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "gelu", WordEmbedProjDim: 6, DoLayerNormBefore: false, EnableBias: true, LNElementwise: true, TieEmbed: true},
		"chatglm":    {Arch: "chatglm", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "swiglu", RMSNorm: true, PostLayerNorm: true, QKVBias: true, MultiQueryAttn: true, Rope: rope(4, 2, true)},
		// Structurally pruned: every layer its own head count and MLP width.
		"llama-per-layer": {Arch: "llama", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "silu", Rope: rope(4, 4, false),
			HeadsPerLayer: []int{4, 2}, KVHeadsPerLayer: []int{2, 1}, IntermediatePerLayer: []int{12, 6}},
		"opt-per-layer": {Arch: "opt", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 2, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "relu", WordEmbedProjDim: 8, DoLayerNormBefore: true, EnableBias: true, LNElementwise: true, TieEmbed: true,
			HeadsPerLayer: []int{1, 2}, KVHeadsPerLayer: []int{1, 2}, IntermediatePerLayer: []int{5, 12}},
		"chatglm-per-layer": {Arch: "chatglm", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "swiglu", RMSNorm: true, PostLayerNorm: true, QKVBias: true, MultiQueryAttn: true, Rope: rope(4, 2, true),
			HeadsPerLayer: []int{2, 4}, KVHeadsPerLayer: []int{1, 2}, IntermediatePerLayer: []int{7, 12}},
		"chatglm-ln-respost": {Arch: "chatglm", Vocab: 11, Hidden: 8, Intermediate: 12, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 4, MaxPos: 16, NormEps: 1e-5, HiddenAct: "swiglu", RMSNorm: false, PostLayerNorm: true, ResidualPostLN: true, AddBiasLinear: true, MultiQueryAttn: true, Rope: rope(4, 2, true)},
	}
}

// randomModel returns a model of cfg whose parameters are random (see
// randomize), drawn from seed.
func randomModel(t *testing.T, cfg *models.Config, seed uint64) *Model {
	t.Helper()
	m, err := InitModel(cfg, 1, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, seed)
	return m
}

// randomize gives every parameter random values (norm gains around 1) so
// that no gradient is trivially zero.
func randomize(m *Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, s := range m.Specs {
		v := m.Params[s.Name].Val
		for i := range v {
			switch s.Kind {
			case NormWeight:
				v[i] = float32(1 + 0.3*rng.NormFloat64())
			default:
				v[i] = float32(0.4 * rng.NormFloat64())
			}
		}
	}
}

// TestBlockGradients checks a whole decoder block of each architecture
// (input and every block parameter) against finite differences.
func TestBlockGradients(t *testing.T) {
	for name, cfg := range blockConfigs() {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, cfg, 2)
			const B, T = 2, 5
			rng := rand.New(rand.NewPCG(3, 3))
			x := randParam(rng, B*T, cfg.Hidden, 1)
			wrt := []*Var{x}
			for _, s := range m.Architecture().Block(cfg, 0).Tensors {
				wrt = append(wrt, m.Params[s.Name])
			}
			if len(wrt) < 5 {
				t.Fatalf("only %d block parameters found", len(wrt)-1)
			}
			gradCheck(t, name, func(tp *Tape) *Var { return m.Block(tp, 0, x, B, T) }, wrt, 2e-2)
		})
	}
}

// TestModelLossGradients checks the whole model (embeddings, both blocks,
// head, cross-entropy) of each architecture against finite differences.
func TestModelLossGradients(t *testing.T) {
	for name, cfg := range blockConfigs() {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, cfg, 4)
			ids := []int{1, 5, 9, 2, 2, 7, 3, 0, 10, 4}
			targets := []int{5, 9, 2, 2, -1, 3, 0, 10, 4, 6}
			var wrt []*Var
			for _, s := range m.Specs {
				wrt = append(wrt, m.Params[s.Name])
			}
			gradCheck(t, name, func(tp *Tape) *Var {
				l, err := m.Loss(tp, ids, targets, 2, 5)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}, wrt, 2e-2)
		})
	}
}

func TestBadIDs(t *testing.T) {
	m, err := InitModel(blockConfigs()["llama-gqa"], 1, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		ids, targets []int
		b, s         int
	}{
		{"id past vocab", []int{1, 11}, []int{1, 1}, 1, 2},
		{"negative id", []int{-1, 1}, []int{1, 1}, 1, 2},
		{"shape", []int{1, 2, 3}, []int{1, 2, 3}, 2, 2},
		{"target past vocab", []int{1, 2}, []int{1, 99}, 1, 2},
		{"target count", []int{1, 2}, []int{1}, 1, 2},
	} {
		if _, err := m.Loss(NewTape(), tc.ids, tc.targets, tc.b, tc.s); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestOPTPositionLimit: OPT's differentiable embedding refuses a sequence
// past its learned positions (the architecture's own check) with an error
// wrapping ErrBadIDs, not a panic, and takes the longest one they allow.
func TestOPTPositionLimit(t *testing.T) {
	m, err := LoadModel(filepath.Join("..", "testdata", "opt-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.MaxPos
	if _, err := m.Embed(NewTape(), make([]int, n+1), 1, n+1); !errors.Is(err, ErrBadIDs) {
		t.Fatalf("sequence of %d tokens: error %v, want ErrBadIDs", n+1, err)
	}
	if _, err := m.Embed(NewTape(), make([]int, 2*n), 2, n); err != nil {
		t.Fatalf("sequences of max_position_embeddings tokens: %v", err)
	}
}
