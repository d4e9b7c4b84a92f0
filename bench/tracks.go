package bench

// The six LLMCBench tracks as gollm measures them: which cells feed each
// column, in which unit, and how the overall metrics group the columns.
// docs/BENCH.md states the same definitions for readers.

const (
	gib         = 1 << 30
	pctOf       = 100 // a fraction of documents, shown in %
	macsTera    = 1e12
	seedTokens  = 128 // Track 4's MACs are for one forward pass of 128 tokens
	seedConv    = "seed"
	gollmConv   = "gollm"
	maxRefTrack = "3" // Track 3 compares with the largest value among the methods
)

// colSpec is one column of a track and where its numbers come from.
type colSpec struct {
	Column
	// metrics are the cell metric names read, first present wins (eval
	// cells); scale converts the cell's value to the column's unit.
	metrics []string
	scale   float64
	// tasks are the eval tasks that feed the column, preferred first
	// (nil: the task named like the column).
	tasks []string
	// pub maps a published-numbers metric to the factor that converts it
	// to the column's unit; a published row feeds the column when its
	// task is the column's name (or, without a task, its metric is here).
	pub map[string]float64
}

// omSpec is one overall metric: the column groups it averages over.
type omSpec struct {
	name   string
	groups []string
}

// trackSpec defines one track.
type trackSpec struct {
	id, title, definition, source string
	// kind is the cell kind the track reads.
	kind string
	cols []colSpec
	oms  []omSpec
	// combine, when set, is an OM computed as the quadratic mean of
	// others (Combine), e.g. om_perf from om_ka and om_ia.
	combine *combineSpec
}

type combineSpec struct {
	name string
	of   []string
}

func accCol(task, metric, group string) colSpec {
	return colSpec{Column: Column{Name: task, Metric: metric, Group: group, Unit: "%"},
		metrics: []string{metric}, scale: pctOf, pub: map[string]float64{"acc": 1, "acc_norm": 1, metric: 1}}
}

func pplCol(task, group string) colSpec {
	return colSpec{Column: Column{Name: task, Metric: "ppl", Group: group, LowerIsBetter: true},
		metrics: []string{"ppl"}, scale: 1, pub: map[string]float64{"ppl": 1}}
}

func measureCol(name, metric, group, unit string, lower bool, conv string, pub map[string]float64) colSpec {
	return colSpec{Column: Column{Name: name, Metric: metric, Group: group, Unit: unit, LowerIsBetter: lower, Convention: conv},
		metrics: []string{metric}, scale: 1, pub: pub}
}

// Column names of the tracks that read measurements rather than tasks.
const (
	colCompressSeconds = "compress_seconds"
	colCompressMemory  = "peak_memory_bytes"
	colEvalMemory      = "eval_memory_bytes"
	colSizeSeed        = "model_size_bytes"
	colSizeGollm       = "checkpoint_bytes"
	colMACsSeed        = "macs_seed"
	colMACsGollm       = "macs_gollm"
	colPrefill         = "prefill_tokens_per_second"
	colDecode          = "decode_tokens_per_second"
)

// tracks lists the six tracks in the seed's order.
var tracks = []trackSpec{
	{
		id: "1", title: "Compression performance", kind: KindEval,
		definition: "Accuracy (%) on the knowledge tasks (MMLU, ARC-Challenge, ARC-Easy) and the inference tasks (HellaSwag, PIQA, WinoGrande, QNLI, MNLI) and WikiText-2 perplexity; ratios compressed/dense (dense/compressed for perplexity); OM_ka over the knowledge group, OM_ia over the inference group, OM_perf their quadratic mean. acc_norm where lm-eval reports it (ARC, HellaSwag, PIQA), acc otherwise.",
		source:     "LLMCBench (NeurIPS 2024 D&B), Track 1 and the poster's Track 1 table",
		cols: []colSpec{
			accCol("mmlu", "acc", "knowledge"),
			accCol("arc_challenge", "acc_norm", "knowledge"),
			accCol("arc_easy", "acc_norm", "knowledge"),
			accCol("hellaswag", "acc_norm", "inference"),
			accCol("piqa", "acc_norm", "inference"),
			accCol("winogrande", "acc", "inference"),
			accCol("qnli", "acc", "inference"),
			// The seed's script scores MNLI on dev_mismatched: gollm's
			// mnli_mismatch task, or mnli (matched) when a study has no
			// mismatched cell.
			withTasks(accCol("mnli", "acc", "inference"), "mnli_mismatch", "mnli"),
			pplCol("wikitext2", "inference"),
		},
		oms:     []omSpec{{"om_ka", []string{"knowledge"}}, {"om_ia", []string{"inference"}}},
		combine: &combineSpec{"om_perf", []string{"om_ka", "om_ia"}},
	},
	{
		id: "2", title: "Generalization", kind: KindEval,
		definition: "WikiText-2 perplexity of every model (all families); OM_gen over all models as one group, ratio dense/compressed.",
		source:     "LLMCBench (NeurIPS 2024 D&B), Track 2 and the poster's Track 2 table",
		cols:       []colSpec{pplCol("wikitext2", "generalization")},
		oms:        []omSpec{{"om_gen", []string{"generalization"}}},
	},
	{
		id: "3", title: "Training consumption", kind: KindCompress,
		definition: "Compression time (s) and peak memory while compressing (device memory on a GPU, RSS on the CPU), from each compression's record; ratios T^max/T and M^max/M with T^max, M^max the largest among the methods compared on the same model; OM_train their quadratic mean.",
		source:     "LLMCBench (NeurIPS 2024 D&B), Track 3",
		cols: []colSpec{
			measureCol(colCompressSeconds, "compress_seconds", "time", "s", true, "", map[string]float64{"compress_seconds": 1, "compress_hours": 3600}),
			measureCol(colCompressMemory, "peak_device_bytes or peak_rss_bytes", "memory", "bytes", true, "", map[string]float64{"peak_memory_bytes": 1, "peak_memory_G": gib}),
		},
		oms: []omSpec{{"om_train", []string{"time", "memory"}}},
	},
	{
		id: "4", title: "Inference consumption", kind: KindFootprint,
		definition: "Peak memory while evaluating, model size and MACs of one forward pass of 128 tokens; ratios dense/compressed; OM_inf over the three groups. Size and MACs in the seed's convention (om_inf) and as gollm stores and computes them (om_inf_gollm).",
		source:     "LLMCBench (NeurIPS 2024 D&B), Track 4 and the poster's Track 4 table",
		cols: []colSpec{
			measureCol(colEvalMemory, "eval_peak_device_bytes or eval_peak_rss_bytes", "memory", "bytes", true, "", map[string]float64{"gpu_memory_G": gib, "eval_memory_bytes": 1}),
			measureCol(colSizeSeed, "params × bits / 8", "size", "bytes", true, seedConv, map[string]float64{"model_size_G": gib, "model_size_bytes": 1}),
			measureCol(colSizeGollm, "checkpoint_bytes", "size", "bytes", true, gollmConv, map[string]float64{"checkpoint_bytes": 1}),
			measureCol(colMACsSeed, "macs", "macs", "MACs", true, seedConv, map[string]float64{"macs_T": macsTera, "macs": 1}),
			measureCol(colMACsGollm, "macs", "macs", "MACs", true, gollmConv, map[string]float64{"macs_gollm": 1}),
		},
		oms: []omSpec{{"om_inf", []string{"memory", "size:" + seedConv, "macs:" + seedConv}}, {"om_inf_gollm", []string{"memory", "size:" + gollmConv, "macs:" + gollmConv}}},
	},
	{
		id: "5", title: "Hardware acceleration", kind: KindSpeed,
		definition: "Prefill and decode speed (tokens/s) per engine; ratios compressed/dense on the same engine; OM_hard over the two groups, one per engine.",
		source:     "LLMCBench (NeurIPS 2024 D&B), Track 5",
		cols: []colSpec{
			measureCol(colPrefill, colPrefill, "prefill", "tokens/s", false, "", map[string]float64{colPrefill: 1}),
			measureCol(colDecode, colDecode, "decode", "tokens/s", false, "", map[string]float64{colDecode: 1}),
		},
		oms: []omSpec{{"om_hard", []string{"prefill", "decode"}}},
	},
	{
		id: "6", title: "Trustworthiness", kind: KindEval,
		definition: "Robustness: accuracy (%) on the six AdvGLUE dev subtasks; truthfulness: TruthfulQA MC1 and MC2; ratios compressed/dense; OM_robust and OM_truth over each group, OM_trust their quadratic mean.",
		source:     "LLMCBench (NeurIPS 2024 D&B), Track 6",
		cols: []colSpec{
			accCol("advglue_sst2", "acc", "robustness"),
			accCol("advglue_qqp", "acc", "robustness"),
			accCol("advglue_mnli", "acc", "robustness"),
			accCol("advglue_mnli_mm", "acc", "robustness"),
			accCol("advglue_qnli", "acc", "robustness"),
			accCol("advglue_rte", "acc", "robustness"),
			withMetrics(accCol("truthfulqa_mc1", "acc", "truthfulness"), "acc", "mc1"),
			withMetrics(accCol("truthfulqa_mc2", "acc", "truthfulness"), "acc", "mc2"),
		},
		// The poster prints no Track 6 OM: two equal groups is gollm's
		// reading (docs/BENCH.md). om_trust = Combine(om_robust,
		// om_truth) is OM(robustness, truthfulness); the parts stand
		// alone when a study measures only one of them.
		oms:     []omSpec{{"om_robust", []string{"robustness"}}, {"om_truth", []string{"truthfulness"}}},
		combine: &combineSpec{"om_trust", []string{"om_robust", "om_truth"}},
	},
}

// withMetrics sets the cell metric names a column accepts, first present
// wins (TruthfulQA's score is "acc" in gollm's eval, "mc1"/"mc2" in other
// harnesses).
func withMetrics(c colSpec, metrics ...string) colSpec {
	c.metrics = metrics
	for _, m := range metrics {
		c.pub[m] = 1
	}
	return c
}

// withTasks sets the eval tasks that feed a column, preferred first.
func withTasks(c colSpec, tasks ...string) colSpec {
	c.tasks = tasks
	return c
}

// taskRank is the preference of an eval task for the column (0 best), or
// -1 when the task does not feed it.
func (c colSpec) taskRank(task string) int {
	if c.tasks == nil {
		if task == c.Name {
			return 0
		}
		return -1
	}
	for i, t := range c.tasks {
		if t == task {
			return i
		}
	}
	return -1
}

// groupKey is the name an OM uses for a column: its group, with ":" and its
// convention where it has one.
func (c colSpec) groupKey() string {
	if c.Convention != "" {
		return c.Group + ":" + c.Convention
	}
	return c.Group
}

// inGroup reports whether the column feeds group g of an OM: a group names
// the column group, and a group with a convention only that convention's
// column.
func (c colSpec) inGroup(g string) bool {
	return g == c.groupKey() || (g == c.Group && c.Convention == "")
}
