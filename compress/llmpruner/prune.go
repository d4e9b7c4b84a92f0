package llmpruner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmcbench/gollm/compress/format"
	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

// Result describes a finished run (also written to the output's
// config.json under "llm_pruner").
type Result struct {
	Out        string `json:"out"`
	Arch       string `json:"arch"`
	Importance string `json:"importance"`
	// Sparsity and LayerRatio echo the request.
	Sparsity   float64 `json:"sparsity,omitempty"`
	LayerRatio float64 `json:"layer_ratio,omitempty"`
	BlockStart int     `json:"block_start"`
	BlockEnd   int     `json:"block_end"`
	// ParamsBefore and ParamsAfter count every parameter value (a tied
	// head once); Target is round(Sparsity·ParamsBefore) (0 with
	// LayerRatio); Removed = ParamsBefore − ParamsAfter.
	ParamsBefore int `json:"params_before"`
	ParamsAfter  int `json:"params_after"`
	Target       int `json:"target_removed,omitempty"`
	Removed      int `json:"removed"`
	// Fraction is Removed/ParamsBefore; RangeFraction is Removed over the
	// prunable parameters (attention and MLP weights and biases) of the
	// pruned layers.
	Fraction      float64 `json:"fraction"`
	RangeFraction float64 `json:"range_fraction"`
	// GroupsRemoved (kv groups: KVHeads/… query heads each) and
	// ChannelsRemoved are per pruned layer.
	GroupsRemoved   int `json:"kv_groups_removed_per_layer"`
	ChannelsRemoved int `json:"channels_removed_per_layer"`
	// Heads, KVHeads and Intermediate are the output's per-layer sizes.
	Heads        []int `json:"num_attention_heads_per_layer"`
	KVHeads      []int `json:"num_key_value_heads_per_layer"`
	Intermediate []int `json:"intermediate_size_per_layer"`
	// Uniform reports that every layer has the same sizes, so the standard
	// config keys describe the model and models.Load reads it.
	Uniform bool `json:"uniform"`
	// RemovedGroups and RemovedChannels list, per layer, the indices
	// removed (of the original model).
	RemovedGroups   [][]int `json:"removed_kv_groups"`
	RemovedChannels [][]int `json:"-"`
	// CalibSamples × CalibSeqlen tokens gave the gradients; LossBefore and
	// LossAfter are the calibration loss of the dense and pruned model.
	CalibSamples int     `json:"calib_samples"`
	CalibSeqlen  int     `json:"calib_seqlen"`
	Seed         int64   `json:"seed"`
	LossBefore   float64 `json:"calib_loss_before"`
	LossAfter    float64 `json:"calib_loss_after"`
	Seconds      float64 `json:"seconds"`
}

// Prune runs LLM-Pruner as cfg says and writes the smaller dense checkpoint
// into dir, an existing folder (compress.Run's staging folder for
// cfg.Out): model.safetensors in the source dtype, config.json with the
// new sizes, and the source's tokenizer and generation files. Progress
// lines go to progress (may be nil). Errors from bad settings or inputs
// wrap badinput.ErrBadInput. gollm compress runs it through compress.Run,
// which owns the output folder and writes compression.json.
//
// Cost: the whole model is held in float32 with its gradients (8 bytes per
// parameter) plus the activations of one forward over the calibration set;
// Element2 adds one backward pass per sample and 4 bytes per prunable
// weight.
func Prune(ctx context.Context, cfg Config, dir string, progress io.Writer) (*Result, error) {
	res, _, err := PruneRecover(ctx, cfg, LoRAConfig{}, dir, progress)
	return res, err
}

// PruneRecover is Prune followed, when lc.Steps > 0, by LoRA recovery
// (Recover, with cfg.Tokenizer or the model's own) on the pruned model in
// dir. The LoRA data is read and tokenized before pruning, so a file too
// short for lc.Seqlen fails before any work. The LoRA result is nil
// without recovery.
func PruneRecover(ctx context.Context, cfg Config, lc LoRAConfig, dir string, progress io.Writer) (*Result, *LoRAResult, error) {
	if progress == nil {
		progress = io.Discard
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	lc.defaults()
	if err := lc.Validate(); err != nil {
		return nil, nil, err
	}
	var loraToks []int
	if lc.Steps > 0 {
		tok := cfg.Tokenizer
		if tok == nil {
			t, err := tokenizer.Load(cfg.Model)
			if err != nil {
				return nil, nil, badInput("no tokenizer for the LoRA data: %v", err)
			}
			tok = t
		}
		var err error
		if loraToks, err = loraTokens(lc, tok); err != nil {
			return nil, nil, err
		}
	}
	res, err := prune(ctx, cfg, dir, progress)
	if err != nil {
		return nil, nil, err
	}
	var lr *LoRAResult
	if lc.Steps > 0 {
		if lr, err = recoverTokens(ctx, dir, lc, loraToks, progress); err != nil {
			return nil, nil, err
		}
	}
	return res, lr, nil
}

// prune is Prune writing the checkpoint into dir (the staging folder).
func prune(ctx context.Context, cfg Config, dir string, progress io.Writer) (*Result, error) {
	start := time.Now()
	gm, err := grad.LoadModel(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("llm-pruner: %w", err)
	}
	mc := gm.Config
	if mc.Arch != "llama" && mc.Arch != "chatglm" && mc.Arch != "opt" {
		return nil, badInput("model %s: architecture %s not supported (llama, opt and chatglm are)", cfg.Model, mc.Arch)
	}
	if mc.KVHeads <= 0 || mc.Heads%mc.KVHeads != 0 {
		return nil, badInput("model %s: %d heads for %d kv heads", cfg.Model, mc.Heads, mc.KVHeads)
	}
	end := cfg.BlockEnd
	if end == 0 {
		end = mc.Layers
	}
	if cfg.BlockStart >= end || end > mc.Layers {
		return nil, badInput("--block-start %d, --block-end %d: the layer range is outside the model's %d layers", cfg.BlockStart, end, mc.Layers)
	}
	samples, err := calibration(cfg, mc)
	if err != nil {
		if len(cfg.Calib) > 0 {
			return nil, fmt.Errorf("--calib %s: %w", strings.Join(cfg.Calib, ","), err)
		}
		return nil, err
	}
	imp := cfg.importance()
	res := &Result{Out: cfg.Out, Arch: mc.Arch, Importance: imp, Sparsity: cfg.Sparsity, LayerRatio: cfg.LayerRatio,
		BlockStart: cfg.BlockStart, BlockEnd: end, CalibSamples: len(samples), CalibSeqlen: len(samples[0]), Seed: cfg.seed()}
	fmt.Fprintf(progress, "llm-pruner: %s, layers [%d, %d), importance %s, %d × %d calibration tokens\n", mc.Arch, cfg.BlockStart, end, imp, len(samples), len(samples[0]))

	// Units and the matrices they touch.
	attnUnits := make([][]unit, mc.Layers)
	mlpUnits := make([][]unit, mc.Layers)
	mats := map[string]*matrix{}
	for i := cfg.BlockStart; i < end; i++ {
		attnUnits[i], mlpUnits[i] = layerUnits(mc, i)
		for _, us := range [][]unit{attnUnits[i][:1], mlpUnits[i][:1]} {
			for _, sp := range us[0] {
				if mats[sp.name] == nil {
					p := gm.Params[sp.name]
					mats[sp.name] = &matrix{rows: p.Rows, cols: p.Cols, w: p.Val, hasBias: gm.Params[biasName(sp.name)] != nil}
				}
			}
		}
	}

	// Gradients: per-sample squared gradients for the Fisher term, then
	// one backward over the whole calibration set (hf_prune.py's order).
	if imp == Element2 {
		for _, m := range mats {
			m.f = make([]float32, len(m.w))
		}
		for s, sample := range samples {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			gm.ZeroGrad()
			if _, err := backward(gm, [][]int{sample}); err != nil {
				return nil, err
			}
			for name, m := range mats {
				g := gm.Params[name].Grad
				for k := range g {
					m.f[k] += g[k] * g[k] / float32(len(samples))
				}
			}
			fmt.Fprintf(progress, "llm-pruner: Fisher sample %d/%d\n", s+1, len(samples))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gm.ZeroGrad()
	if res.LossBefore, err = backward(gm, samples); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "llm-pruner: calibration loss %.4f, gradients done\n", res.LossBefore)
	for name, m := range mats {
		m.g = gm.Params[name].Grad
		if m.g == nil { // no gradient reached it
			m.g = make([]float32, len(m.w))
		}
	}

	// How many kv groups and channels every pruned layer loses.
	first := cfg.BlockStart
	G, I := len(attnUnits[first]), len(mlpUnits[first])
	pg, pc := unitParams(attnUnits[first][0], mats), unitParams(mlpUnits[first][0], mats)
	L := end - cfg.BlockStart
	res.ParamsBefore = gm.NumParams()
	rangeParams := L * (G*pg + I*pc)
	k, c := 0, 0
	if cfg.Sparsity > 0 {
		res.Target = int(math.Round(cfg.Sparsity * float64(res.ParamsBefore)))
		t := float64(res.Target) / float64(L)
		r := t / float64(G*pg+I*pc)
		if r >= 1 || float64(res.Target) > float64(L*((G-1)*pg+(I-1)*pc)) {
			return nil, badInput("sparsity %v of %d parameters is %d, but layers [%d, %d) hold only %d prunable parameters (at least one kv group and one channel stay per layer): widen the range or lower the sparsity",
				cfg.Sparsity, res.ParamsBefore, res.Target, cfg.BlockStart, end, rangeParams)
		}
		k = min(max(int(math.Round(r*float64(G))), 0), G-1)
		c = min(max(int(math.Round((t-float64(k*pg))/float64(pc))), 0), I-1)
	} else {
		// hf_prune.py / metapruner.prune_local: n_pruned = C − int(C·(1−r))
		// channels of the root, in whole heads (here whole kv groups).
		qc := mc.Heads * mc.HeadDim
		k = (qc - int(float64(qc)*(1-cfg.LayerRatio))) / (qc / G)
		c = I - int(float64(I)*(1-cfg.LayerRatio))
		k, c = min(k, G-1), min(c, I-1)
	}
	res.GroupsRemoved, res.ChannelsRemoved = k, c

	// Rank and remove, layer by layer.
	vectorize := imp == Vector
	rm := newRemoval()
	res.RemovedGroups = make([][]int, mc.Layers)
	res.RemovedChannels = make([][]int, mc.Layers)
	for i := cfg.BlockStart; i < end; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		as := unitScores(attnUnits[i], mats, vectorize)
		ms := unitScores(mlpUnits[i], mats, vectorize)
		res.RemovedGroups[i] = lowest(as, k)
		res.RemovedChannels[i] = lowest(ms, c)
		for _, j := range res.RemovedGroups[i] {
			rm.add(attnUnits[i][j], mats)
		}
		for _, j := range res.RemovedChannels[i] {
			rm.add(mlpUnits[i][j], mats)
		}
		fmt.Fprintf(progress, "llm-pruner: layer %d: removed kv groups %v and %d of %d channels\n", i, res.RemovedGroups[i], c, I)
	}

	// The pruned parameters.
	params := make(map[string][]float32, len(gm.Specs))
	shapes := make(map[string][]int, len(gm.Specs))
	for _, s := range gm.Specs {
		v := gm.Params[s.Name].Val
		shape := s.Shape
		if dr, dc := rm.rows[s.Name], rm.cols[s.Name]; dr != nil || dc != nil {
			var r, cc int
			v, r, cc = shrink(v, s.Shape[0], s.Shape[1], dr, dc)
			shape = []int{r, cc}
		} else if w := strings.TrimSuffix(s.Name, ".bias") + ".weight"; strings.HasSuffix(s.Name, ".bias") && rm.rows[w] != nil {
			var n int
			v, n, _ = shrink(v, len(v), 1, rm.rows[w], nil)
			shape = []int{n}
		}
		params[s.Name], shapes[s.Name] = v, shape
	}
	res.Heads, res.KVHeads, res.Intermediate = make([]int, mc.Layers), make([]int, mc.Layers), make([]int, mc.Layers)
	res.Uniform = true
	for i := range res.Heads {
		res.Heads[i], res.KVHeads[i], res.Intermediate[i] = mc.Heads, mc.KVHeads, mc.Intermediate
		if i >= cfg.BlockStart && i < end {
			res.KVHeads[i] -= k
			res.Heads[i] = res.KVHeads[i] * (mc.Heads / mc.KVHeads)
			res.Intermediate[i] -= c
		}
		if res.Heads[i] != res.Heads[0] || res.Intermediate[i] != res.Intermediate[0] {
			res.Uniform = false
		}
	}
	pm, err := newModel(mc, res.Heads, res.KVHeads, res.Intermediate, params)
	if err != nil {
		return nil, err
	}
	res.ParamsAfter = pm.NumParams()
	res.Removed = res.ParamsBefore - res.ParamsAfter
	res.Fraction = float64(res.Removed) / float64(res.ParamsBefore)
	res.RangeFraction = float64(res.Removed) / float64(rangeParams)
	if res.LossAfter, err = pm.Loss(samples); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "llm-pruner: %d → %d parameters (%.4f%% removed), calibration loss %.4f → %.4f\n",
		res.ParamsBefore, res.ParamsAfter, 100*res.Fraction, res.LossBefore, res.LossAfter)
	res.Seconds = time.Since(start).Seconds()
	if err := write(cfg, dir, mc, gm.Specs, params, shapes, res); err != nil {
		return nil, err
	}
	return res, nil
}

func biasName(weight string) string { return strings.TrimSuffix(weight, ".weight") + ".bias" }

// backward runs the next-token loss of samples through gm and back,
// accumulating parameter gradients; it returns the loss.
func backward(gm *grad.Model, samples [][]int) (float64, error) {
	ids, targets, b, s := flatten(samples)
	t := grad.NewTape()
	loss, err := gm.Loss(t, ids, targets, b, s)
	if err != nil {
		return 0, fmt.Errorf("llm-pruner: calibration: %w: %v", badinput.ErrBadInput, err)
	}
	v := float64(loss.Item())
	if !finite(v) {
		return 0, fmt.Errorf("llm-pruner: calibration loss is %v", v)
	}
	t.Backward(loss)
	return v, nil
}

// calibration returns the samples cfg gives or draws them from its files.
func calibration(cfg Config, mc *models.Config) ([][]int, error) {
	samples := cfg.Samples
	if samples == nil {
		docs, _, err := corpus.Read(cfg.Calib, corpus.Lines)
		if err != nil {
			return nil, err
		}
		tok := cfg.Tokenizer
		if tok == nil {
			t, err := tokenizer.Load(cfg.Model)
			if err != nil {
				return nil, fmt.Errorf("llm-pruner: %w: no tokenizer given and %v", badinput.ErrBadInput, err)
			}
			tok = t
		}
		calib, err := corpus.Sample(docs, tok, corpus.SampleDistinct, cfg.nsamples(), cfg.seqlen(), cfg.seed())
		if err != nil {
			return nil, err
		}
		samples = calib.Samples
	}
	for i, s := range samples {
		for _, id := range s {
			if id < 0 || id >= mc.Vocab {
				return nil, badInput("calibration sample %d: token id %d outside the vocabulary [0, %d)", i, id, mc.Vocab)
			}
		}
	}
	return samples, nil
}

// write saves the pruned checkpoint into dir through compress/format,
// the export path every method shares (format.WriteFolder: the new
// shapes are the method's, the writing is Save's).
func write(cfg Config, dir string, mc *models.Config, specs []grad.ParamSpec, params map[string][]float32, shapes map[string][]int, res *Result) error {
	dtype := mc.DType
	if dtype != tensor.F16 && dtype != tensor.BF16 {
		dtype = tensor.F32
	}
	ts := make([]*tensor.Tensor, 0, len(specs))
	for _, s := range specs {
		t, err := tensor.Encode(s.Name, dtype, shapes[s.Name], params[s.Name])
		if err != nil {
			return fmt.Errorf("llm-pruner: output %s: %w", cfg.Out, err)
		}
		ts = append(ts, t)
	}
	// config.json: the source's keys, the new sizes.
	b, err := os.ReadFile(filepath.Join(cfg.Model, "config.json"))
	if err != nil {
		return fmt.Errorf("llm-pruner: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("llm-pruner: config %s: %w: %v", filepath.Join(cfg.Model, "config.json"), badinput.ErrBadInput, err)
	}
	set := func(key string, v any) {
		j, _ := json.Marshal(v)
		raw[key] = j
	}
	switch mc.Arch {
	case "llama":
		set("head_dim", mc.HeadDim)
		if res.Uniform {
			set("num_attention_heads", res.Heads[0])
			set("num_key_value_heads", res.KVHeads[0])
			set("intermediate_size", res.Intermediate[0])
		}
	case "opt":
		// OPT's head size is hidden_size / num_attention_heads in
		// transformers: num_attention_heads keeps its unpruned value (the
		// per-layer lists carry the pruned counts; transformers then fails
		// on a shape mismatch instead of misreading heads).
		if res.Uniform {
			set("ffn_dim", res.Intermediate[0])
		}
	case "chatglm":
		set("kv_channels", mc.HeadDim)
		if res.Uniform {
			set("num_attention_heads", res.Heads[0])
			if mc.MultiQueryAttn {
				set("multi_query_group_num", res.KVHeads[0])
			}
			set("ffn_hidden_size", res.Intermediate[0])
		}
	}
	set(KeyHeadsPerLayer, res.Heads)
	set(KeyKVHeadsPerLayer, res.KVHeads)
	set(KeyIntermediatePerLayer, res.Intermediate)
	set("llm_pruner", res)
	if err := format.WriteFolder(dir, cfg.Model, ts, raw, 0); err != nil {
		return fmt.Errorf("llm-pruner: output %s: %w", cfg.Out, err)
	}
	return nil
}
