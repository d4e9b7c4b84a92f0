package llmpruner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

const llamaConfig = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": %d,
 "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
 "num_key_value_heads": %d, "head_dim": %d, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "float32", "hidden_act": "silu"}`

const chatglmConfig = `{"architectures": ["ChatGLMModel"], "model_type": "chatglm", "padded_vocab_size": 64,
 "hidden_size": 32, "ffn_hidden_size": 40, "kv_channels": 8, "num_attention_heads": 4, "num_layers": 3,
 "seq_length": 128, "layernorm_epsilon": 1e-5, "rmsnorm": true, "post_layer_norm": true,
 "add_bias_linear": false, "add_qkv_bias": true, "multi_query_attention": true, "multi_query_group_num": 2,
 "original_rope": true, "torch_dtype": "float32"}`

// writeModel writes a random model with config text cfgJSON into a new
// folder and returns it.
func writeModel(t testing.TB, cfgJSON string, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"bos_token_id": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := models.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := grad.InitModel(cfg, seed, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := m.Tensors(tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	if err := tensor.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tinyLlama(t testing.TB) string {
	return writeModel(t, fmt.Sprintf(llamaConfig, 64, 32, 48, 4, 4, 2, 8), 1)
}

// byteTokenizer maps every byte to an id below vocab, BOS 1.
type byteTokenizer struct{ vocab int }

func (b byteTokenizer) Encode(s string, addSpecial bool) []int {
	var ids []int
	if addSpecial {
		ids = append(ids, 1)
	}
	for i := 0; i < len(s); i++ {
		ids = append(ids, 2+int(s[i])%(b.vocab-2))
	}
	return ids
}

func randomSamples(n, seqLen, vocab int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([][]int, n)
	for i := range out {
		for range seqLen {
			out[i] = append(out[i], rng.IntN(vocab))
		}
	}
	return out
}

// loaded is one tensor of a checkpoint, read as float32.
type loaded struct {
	Shape []int
	Val   []float32
}

func (l loaded) Numel() int { return len(l.Val) }

func loadParams(t *testing.T, dir string) map[string]loaded {
	t.Helper()
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	out := map[string]loaded{}
	for _, n := range ck.Names() {
		info, _ := ck.Info(n)
		out[n] = loaded{Shape: slices.Clone(info.Shape), Val: testref.Float32(t, ck, n)}
	}
	return out
}

// TestPrune prunes random LLaMA (GQA) and ChatGLM (multi-query groups)
// models and checks the parameter count, the config, that whole kv groups
// went, and that the output runs.
func TestPrune(t *testing.T) {
	docs := filepath.Join(t.TempDir(), "book.txt")
	var text strings.Builder
	rng := rand.New(rand.NewPCG(5, 5))
	for range 40 {
		for range 30 + rng.IntN(60) {
			text.WriteByte(byte('a' + rng.IntN(26)))
			if rng.IntN(5) == 0 {
				text.WriteByte(' ')
			}
		}
		text.WriteByte('\n')
	}
	if err := os.WriteFile(docs, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	llama, glm := tinyLlama(t), writeModel(t, chatglmConfig, 2)
	cases := []struct {
		name       string
		model      string
		sparsity   float64
		ratio      float64
		start, end int
		importance string
		calibFile  bool
	}{
		{"llama all layers", llama, 0.25, 0, 0, 0, Element1, false},
		{"llama range", llama, 0.15, 0, 1, 3, Element1, true},
		{"llama vector", llama, 0.3, 0, 0, 0, Vector, false},
		{"llama mix", llama, 0.2, 0, 1, 4, Element2, false},
		{"llama layer ratio", llama, 0, 0.5, 1, 3, Element1, false},
		{"llama2-tiny fixture (f16, GQA)", filepath.Join("..", "..", "testdata", "llama2-tiny"), 0, 0.5, 0, 0, Element1, false},
		{"opt-tiny fixture (pre-LN, biases)", filepath.Join("..", "..", "testdata", "opt-tiny"), 0, 0.5, 0, 0, Element1, false},
		{"opt350-tiny fixture range (post-LN, project_in/out)", filepath.Join("..", "..", "testdata", "opt350-tiny"), 0, 0.5, 1, 2, Vector, false},
		{"chatglm", glm, 0.25, 0, 0, 0, Element1, false},
		{"chatglm range mix", glm, 0.17, 0, 1, 3, "param_mix", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := models.LoadConfig(tc.model)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Model: tc.model, Out: t.TempDir(), Sparsity: tc.sparsity, LayerRatio: tc.ratio,
				BlockStart: tc.start, BlockEnd: tc.end, Importance: tc.importance, Seed: -1}
			if tc.calibFile {
				cfg.Calib, cfg.NSamples, cfg.Seqlen, cfg.Tokenizer = []string{docs}, 4, 24, byteTokenizer{src.Vocab}
			} else {
				cfg.Samples = randomSamples(4, 16, src.Vocab, 9)
			}
			res, err := Prune(context.Background(), cfg, cfg.Out, nil)
			if err != nil {
				t.Fatal(err)
			}
			end := tc.end
			if end == 0 {
				end = src.Layers
			}
			L := end - tc.start
			// Parameter count, recounted from the files.
			before, after := 0, 0
			for _, tt := range loadParams(t, tc.model) {
				before += tt.Numel()
			}
			out := loadParams(t, cfg.Out)
			for _, tt := range out {
				after += tt.Numel()
			}
			if before != res.ParamsBefore || after != res.ParamsAfter || res.Removed != before-after {
				t.Fatalf("counts: files %d → %d, result %d → %d (removed %d)", before, after, res.ParamsBefore, res.ParamsAfter, res.Removed)
			}
			hd, qPer := src.HeadDim, src.Heads/src.KVHeads
			pg := 2*qPer*hd*src.Hidden + 2*hd*src.Hidden // q, o + k, v
			if src.Arch == "chatglm" || (src.Arch == "opt" && src.EnableBias) {
				pg += qPer*hd + 2*hd // qkv bias
			}
			pc := 3 * src.Hidden
			if src.Arch == "opt" { // fc1 row (+ bias), fc2 column
				pc = 2 * src.Hidden
				if src.EnableBias {
					pc++
				}
			}
			if tc.sparsity > 0 {
				target := int(math.Round(tc.sparsity * float64(before)))
				if res.Target != target {
					t.Fatalf("target %d, want %d", res.Target, target)
				}
				// Exact up to one MLP channel per layer (rounding).
				if d := math.Abs(float64(res.Removed - target)); d > float64(L*pc)/2 {
					t.Fatalf("removed %d, target %d: off by %v > %d", res.Removed, target, d, L*pc/2)
				}
			} else if src.Arch == "opt" {
				// Whole heads: n = C − int(C·(1−ratio)) of the C = heads·hd
				// q_proj channels, and as many MLP channels by the same rule.
				C := src.Heads * hd
				if g, c := (C-int(float64(C)*(1-tc.ratio)))/hd, src.Intermediate-int(float64(src.Intermediate)*(1-tc.ratio)); res.GroupsRemoved != g || res.ChannelsRemoved != c {
					t.Fatalf("ratio %v removed %d heads and %d channels per layer, want %d and %d", tc.ratio, res.GroupsRemoved, res.ChannelsRemoved, g, c)
				}
			} else {
				if res.GroupsRemoved != 1 || res.ChannelsRemoved != src.Intermediate/2 {
					t.Fatalf("ratio %v removed %d groups and %d channels per layer", tc.ratio, res.GroupsRemoved, res.ChannelsRemoved)
				}
			}
			if want := L * (res.GroupsRemoved*pg + res.ChannelsRemoved*pc); res.Removed != want {
				t.Fatalf("removed %d, groups×channels give %d", res.Removed, want)
			}
			if res.GroupsRemoved == 0 {
				t.Fatalf("no kv group removed: the test would not check grouping")
			}
			checkGroups(t, src, tc.model, cfg.Out, res, tc.start, end)
			// The output runs, and its config agrees with its tensors.
			pm, err := LoadModel(cfg.Out)
			if err != nil {
				t.Fatal(err)
			}
			if pm.NumParams() != after {
				t.Fatalf("pruned model has %d parameters, files %d", pm.NumParams(), after)
			}
			loss, err := pm.Loss(randomSamples(2, 16, src.Vocab, 11))
			if err != nil || !finite(loss) {
				t.Fatalf("pruned loss %v, %v", loss, err)
			}
			if cfg.Samples != nil {
				calib, err := pm.Loss(cfg.Samples)
				if err != nil || math.Abs(calib-res.LossAfter) > 1e-4 {
					t.Fatalf("reloaded calibration loss %v (%v), at prune time %v", calib, err, res.LossAfter)
				}
			}
			if res.Uniform != (tc.start == 0 && end == src.Layers) {
				t.Fatalf("uniform = %v for range [%d, %d)", res.Uniform, tc.start, end)
			}
			// The engine reads the per-layer sizes, so every output runs in
			// gollm itself with the same logits.
			checkEngine(t, cfg.Out, pm)
		})
	}
}

// checkGroups verifies layer by layer that the pruned attention holds
// exactly the original rows/columns of the kept kv groups (query heads of
// a group together with their kv head) and the pruned MLP the kept
// channels, and that the config's per-layer sizes match the tensors.
func checkGroups(t *testing.T, src *models.Config, inDir, outDir string, res *Result, start, end int) {
	t.Helper()
	in, out := loadParams(t, inDir), loadParams(t, outDir)
	cfg, err := models.LoadConfig(outDir)
	if err != nil {
		t.Fatal(err)
	}
	heads, kv, inter := layerSizes(cfg)
	for i := 0; i < src.Layers; i++ {
		attn, mlp := layerUnits(src, i)
		pruned := i >= start && i < end
		if pruned != (len(res.RemovedGroups[i]) > 0) {
			t.Fatalf("layer %d: removed groups %v, in range %v", i, res.RemovedGroups[i], pruned)
		}
		if kv[i] != src.KVHeads-len(res.RemovedGroups[i]) || heads[i] != kv[i]*(src.Heads/src.KVHeads) || inter[i] != src.Intermediate-len(res.RemovedChannels[i]) {
			t.Fatalf("layer %d: config sizes %d/%d/%d disagree with the removal", i, heads[i], kv[i], inter[i])
		}
		for _, set := range []struct {
			units   []unit
			removed []int
		}{{attn, res.RemovedGroups[i]}, {mlp, res.RemovedChannels[i]}} {
			// Expected tensors: the original vectors of the kept units, in order.
			want := map[string][]float32{}
			rowsKept := map[string]int{}
			for _, name := range unitNames(set.units[0]) {
				w := in[name].Val
				sh := in[name].Shape
				var dropR, dropC []bool
				for _, j := range set.removed {
					for _, sp := range set.units[j] {
						if sp.name != name {
							continue
						}
						if sp.cols {
							if dropC == nil {
								dropC = make([]bool, sh[1])
							}
							for v := sp.lo; v < sp.hi; v++ {
								dropC[v] = true
							}
						} else {
							if dropR == nil {
								dropR = make([]bool, sh[0])
							}
							for v := sp.lo; v < sp.hi; v++ {
								dropR[v] = true
							}
						}
					}
				}
				want[name], rowsKept[name], _ = shrink(w, sh[0], sh[1], dropR, dropC)
			}
			for name, w := range want {
				got := out[name].Val
				if !slices.Equal(got, w) {
					t.Fatalf("layer %d: %s does not hold the kept groups' original vectors", i, name)
				}
				if out[name].Shape[0] != rowsKept[name] {
					t.Fatalf("layer %d: %s has %d rows, want %d", i, name, out[name].Shape[0], rowsKept[name])
				}
			}
		}
	}
}

func unitNames(u unit) []string {
	var names []string
	for _, sp := range u {
		if !slices.Contains(names, sp.name) {
			names = append(names, sp.name)
		}
	}
	return names
}

// checkEngine loads a uniformly pruned output with the engine and compares
// its logits with the differentiable model's.
func checkEngine(t *testing.T, dir string, pm *Model) {
	t.Helper()
	em, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatalf("engine cannot load the uniform pruned model: %v", err)
	}
	defer em.Close()
	ids := randomSamples(1, 12, pm.Config.Vocab, 13)[0]
	want, err := em.NewState(len(ids)).Append(ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pm.Forward(grad.NewTape(), ids, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Val) != len(want) {
		t.Fatalf("engine gives %d logits, grad model %d", len(want), len(got.Val))
	}
	for k := range want {
		if math.Abs(float64(got.Val[k]-want[k])) > 1e-3*(1+math.Abs(float64(want[k]))) {
			t.Fatalf("logit %d: engine %v, pruned grad model %v", k, want[k], got.Val[k])
		}
	}
}

// TestImportanceHandMade checks the three criteria on a 2×3 weight whose
// scores are worked out by hand, and the fast per-unit scores against the
// plain definition on random matrices.
func TestImportanceHandMade(t *testing.T) {
	m := &matrix{rows: 2, cols: 3,
		w: []float32{1, -2, 3, 0.5, 4, -1},
		g: []float32{0.5, 1, -1, 2, -0.25, 1},
		f: []float32{1, 0.5, 2, 4, 1, 0}}
	// w·g = [0.5, -2, -3; 1, -1, -1]; ½w²F = [0.5, 1, 9; 0.5, 8, 0].
	// mix = w·g − ½w²F = [0, -3, -12; 0.5, -9, -1].
	units := []unit{{{name: "w", lo: 0, hi: 1}}, {{name: "w", lo: 1, hi: 2}}, {{name: "w", cols: true, lo: 0, hi: 2}}}
	cases := []struct {
		name      string
		fisher    bool
		vectorize bool
		want      []float64
	}{
		// rows: Σ|wg| = 5.5, 3; columns 0+1: (0.5+1) + (2+1) = 4.5.
		{"element1", false, false, []float64{5.5, 3, 4.5}},
		// rows: |Σwg| = 4.5, 1; columns 0+1: |1.5| + |-3| = 4.5.
		{"vector", false, true, []float64{4.5, 1, 4.5}},
		// rows: Σ|mix| = 15, 10.5; columns 0+1: 0.5 + 12 = 12.5.
		{"element2", true, false, []float64{15, 10.5, 12.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mm := *m
			if !tc.fisher {
				mm.f = nil
			}
			ms := map[string]*matrix{"w": &mm}
			got := unitScores(units, ms, tc.vectorize)
			ref := unitScoresRef(units, ms, tc.vectorize)
			for i := range tc.want {
				if math.Abs(got[i]-tc.want[i]) > 1e-6 || math.Abs(ref[i]-tc.want[i]) > 1e-6 {
					t.Fatalf("unit %d: fast %v, reference %v, want %v", i, got[i], ref[i], tc.want[i])
				}
			}
		})
	}
	// Fast vs plain on a model's real units.
	cfg, err := models.LoadConfig(tinyLlama(t))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	attn, mlp := layerUnits(cfg, 1)
	ms := map[string]*matrix{}
	for _, u := range []unit{attn[0], mlp[0]} {
		for _, sp := range u {
			r, c := 0, 0
			switch {
			case strings.Contains(sp.name, "q_proj"):
				r, c = cfg.Heads*cfg.HeadDim, cfg.Hidden
			case strings.Contains(sp.name, "k_proj"), strings.Contains(sp.name, "v_proj"):
				r, c = cfg.KVHeads*cfg.HeadDim, cfg.Hidden
			case strings.Contains(sp.name, "o_proj"):
				r, c = cfg.Hidden, cfg.Heads*cfg.HeadDim
			case strings.Contains(sp.name, "down"):
				r, c = cfg.Hidden, cfg.Intermediate
			default:
				r, c = cfg.Intermediate, cfg.Hidden
			}
			mm := &matrix{rows: r, cols: c, w: make([]float32, r*c), g: make([]float32, r*c), f: make([]float32, r*c)}
			for k := range mm.w {
				mm.w[k], mm.g[k], mm.f[k] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.Float64())
			}
			ms[sp.name] = mm
		}
	}
	for _, vec := range []bool{false, true} {
		for _, us := range [][]unit{attn, mlp} {
			got, ref := unitScores(us, ms, vec), unitScoresRef(us, ms, vec)
			for i := range got {
				if math.Abs(got[i]-ref[i]) > 1e-9*(1+math.Abs(ref[i])) {
					t.Fatalf("unit %d (vectorize %v): fast %v, reference %v", i, vec, got[i], ref[i])
				}
			}
		}
	}
	if got := lowest([]float64{3, 1, 2, 1, 0}, 3); !slices.Equal(got, []int{1, 3, 4}) {
		t.Fatalf("lowest = %v", got)
	}
}

// TestCalibrationGradient compares the gradient the importance uses with a
// central finite difference of the calibration loss on one weight.
func TestCalibrationGradient(t *testing.T) {
	gm, err := grad.LoadModel(tinyLlama(t))
	if err != nil {
		t.Fatal(err)
	}
	samples := randomSamples(3, 12, gm.Config.Vocab, 4)
	for _, name := range []string{"model.layers.1.self_attn.q_proj.weight", "model.layers.2.mlp.gate_proj.weight"} {
		gm.ZeroGrad()
		if _, err := backward(gm, samples); err != nil {
			t.Fatal(err)
		}
		p := gm.Params[name]
		k := 0
		for i, g := range p.Grad {
			if math.Abs(float64(g)) > math.Abs(float64(p.Grad[k])) {
				k = i
			}
		}
		g := float64(p.Grad[k])
		orig := p.Val[k]
		const h = 1e-2
		loss := func(x float32) float64 {
			p.Val[k] = x
			ids, targets, b, s := flatten(samples)
			tp := grad.NewTape()
			l, err := gm.Loss(tp, ids, targets, b, s)
			if err != nil {
				t.Fatal(err)
			}
			return float64(l.Item())
		}
		fd := (loss(orig+h) - loss(orig-h)) / (2 * h)
		p.Val[k] = orig
		if g == 0 || math.Abs(fd-g) > 0.03*math.Abs(g)+2e-4 {
			t.Fatalf("%s[%d]: backward %v, finite difference %v", name, k, g, fd)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Model: "m", Sparsity: 0.2, Calib: []string{"c"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Config){
		"no model":       func(c *Config) { c.Model = "" },
		"no sparsity":    func(c *Config) { c.Sparsity = 0 },
		"both":           func(c *Config) { c.LayerRatio = 0.1 },
		"sparsity 1":     func(c *Config) { c.Sparsity = 1 },
		"ratio negative": func(c *Config) { c.Sparsity, c.LayerRatio = 0, -0.1 },
		"range":          func(c *Config) { c.BlockStart, c.BlockEnd = 3, 2 },
		"importance":     func(c *Config) { c.Importance = "l2" },
		"no calib":       func(c *Config) { c.Calib = nil },
		"seqlen 1":       func(c *Config) { c.Seqlen = 1 },
		"ragged samples": func(c *Config) { c.Samples = [][]int{{1, 2, 3}, {1, 2}} },
	}
	for name, mut := range cases {
		c := ok
		mut(&c)
		if err := c.Validate(); !errors.Is(err, badinput.ErrBadInput) {
			t.Errorf("%s: error %v, want badinput.ErrBadInput", name, err)
		}
	}
	// Checks that need the model.
	dir := tinyLlama(t)
	for name, c := range map[string]Config{
		"range past the model": {Model: dir, Out: t.TempDir(), Sparsity: 0.01, BlockEnd: 9, Samples: [][]int{{1, 2, 3}}},
		"too much sparsity":    {Model: dir, Out: t.TempDir(), Sparsity: 0.9, Samples: [][]int{{1, 2, 3}}},
		"id outside vocab":     {Model: dir, Out: t.TempDir(), Sparsity: 0.01, Samples: [][]int{{1, 2, 64}}},
		"missing calib file":   {Model: dir, Out: t.TempDir(), Sparsity: 0.01, Calib: []string{filepath.Join(dir, "none.txt")}, Tokenizer: byteTokenizer{64}},
	} {
		if _, err := Prune(context.Background(), c, c.Out, nil); !errors.Is(err, badinput.ErrBadInput) {
			t.Errorf("%s: error %v, want badinput.ErrBadInput", name, err)
		}
	}
}

// BenchmarkLLMPruner prunes a random ~5M-parameter LLaMA (vocab 4096,
// hidden 256, 4 layers, 8 heads / 4 kv heads, intermediate 688) by 20% of
// its parameters over all layers from 10 × 64 calibration tokens, writing
// the checkpoint; it reports seconds per run and calibration tokens/s.
func BenchmarkLLMPruner(b *testing.B) {
	for _, imp := range []string{Element1, Element2} {
		b.Run(imp, func(b *testing.B) {
			dir := writeModel(b, fmt.Sprintf(llamaConfig, 4096, 256, 688, 4, 8, 4, 32), 3)
			samples := randomSamples(DefaultNSamples, DefaultSeqlen, 4096, 1)
			out := b.TempDir()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Prune(context.Background(), Config{Model: dir, Out: out, Sparsity: 0.2, Importance: imp, Samples: samples}, out, nil); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/prune")
			b.ReportMetric(float64(DefaultNSamples*DefaultSeqlen)/sec, "calib-tokens/s")
		})
	}
}
