package report

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/bench"
)

// The fixture is a complete study of illustrative numbers (not
// measurements): three models × seven methods over all six tracks, a
// failed cell, a published-numbers row, the cells' results files and
// per-sample records in a study folder. Its OMs are computed from its
// values with bench.Ratio, bench.OM and bench.Combine, so every number
// traces to its cells as in a real study.

var fixtureModels = []bench.ModelInfo{
	{Name: "tiny-llama", Family: "llama", Params: 1_200_000, Source: "gollm"},
	{Name: "small-llama", Family: "llama", Params: 4_800_000, Source: "gollm"},
	{Name: "base-llama", Family: "llama", Params: 19_000_000, Source: "gollm"},
}

// fixtureMethods maps each method spec to its quality factor (1 = as good
// as dense) and its weight bits.
var fixtureMethods = []struct {
	spec    string
	quality float64
}{
	{bench.Dense, 1},
	{"wanda:sparsity=0.5,pattern=none,nsamples=128,seqlen=2048,seed=0", 0.95},
	{"sparsegpt:sparsity=0.5,pattern=2:4,damp=0.01,block=128", 0.90},
	{"gptq:bits=4,group=128,sym=false,act_order=false,damp=0.01", 0.985},
	{"awq:bits=4,group=128,sym=false", 0.98},
	{"smoothquant:bits=8,alpha=auto", 0.995},
	{"rtn:bits=3,group=128,sym=false", 0.86},
}

// failedCell is the one cell of the fixture that ran and failed.
var failedCell = [3]string{"base-llama", "rtn:bits=3,group=128,sym=false", "hellaswag"}

// jitter is a deterministic value in [-1, 1) from the strings given.
func jitter(parts ...string) float64 {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(parts, "\x00")))
	return float64(h.Sum64()%2000)/1000 - 1
}

type fixtureTrack struct {
	id, title, kind string
	cols            []bench.Column
	// value returns the value of (model, method, column) for a method of
	// the given quality and the model's index (bigger is better).
	value func(model int, quality float64, col bench.Column) float64
	// oms lists the OMs: name and the column groups it averages ("" for
	// all); a name with no groups is the quadratic mean of the OMs before.
	oms []fixtureOM
}

type fixtureOM struct {
	name   string
	groups []string
}

func fixtureTracks() []fixtureTrack {
	acc := func(base float64) func(int, float64, bench.Column) float64 {
		return func(m int, q float64, c bench.Column) float64 {
			v := base + 6*float64(m) + 3*jitter(c.Name, fmt.Sprint(m))
			if c.LowerIsBetter {
				return (40 - 8*float64(m)) / (q * q)
			}
			return 25 + (v-25)*q
		}
	}
	return []fixtureTrack{
		{id: "1", title: "Compression performance", kind: bench.KindEval, cols: []bench.Column{
			{Name: "mmlu", Metric: "acc", Group: "knowledge", Unit: "%"},
			{Name: "arc_challenge", Metric: "acc", Group: "knowledge", Unit: "%"},
			{Name: "arc_easy", Metric: "acc", Group: "knowledge", Unit: "%"},
			{Name: "hellaswag", Metric: "acc", Group: "inference", Unit: "%"},
			{Name: "piqa", Metric: "acc", Group: "inference", Unit: "%"},
			{Name: "wikitext2", Metric: "word_perplexity", Group: "inference", LowerIsBetter: true},
		}, value: acc(40), oms: []fixtureOM{{"om_ka", []string{"knowledge"}}, {"om_ia", []string{"inference"}}, {"om_perf", nil}}},
		{id: "2", title: "Generalization", kind: bench.KindEval, cols: []bench.Column{
			{Name: "wikitext2", Metric: "word_perplexity", Group: "generalization", LowerIsBetter: true},
		}, value: acc(0), oms: []fixtureOM{{"om_gen", []string{""}}}},
		{id: "3", title: "Training consumption", kind: bench.KindCompress, cols: []bench.Column{
			{Name: "compress_seconds", Metric: "seconds", Group: "time", Unit: "s", LowerIsBetter: true},
			{Name: "peak_rss_bytes", Metric: "bytes", Group: "memory", Unit: "bytes", LowerIsBetter: true},
		}, value: func(m int, q float64, c bench.Column) float64 {
			f := math.Pow(4, float64(m)) * (1 + 0.3*jitter(c.Name, fmt.Sprint(q)))
			if c.Unit == "s" {
				return 2 * f / q
			}
			return 3e8 * f * q
		}, oms: []fixtureOM{{"om_train", []string{"time", "memory"}}}},
		{id: "4", title: "Inference consumption", kind: bench.KindFootprint, cols: []bench.Column{
			{Name: "eval_peak_rss_bytes", Metric: "bytes", Group: "memory", Unit: "bytes", LowerIsBetter: true},
			{Name: "checkpoint_bytes", Metric: "bytes", Group: "size", Unit: "bytes", LowerIsBetter: true, Convention: "gollm"},
			{Name: "macs", Metric: "macs_128", Group: "macs", Unit: "T-MACs", LowerIsBetter: true, Convention: "seed"},
		}, value: func(m int, q float64, c bench.Column) float64 {
			size := float64(fixtureModels[m].Params) * 2 * q * q * q
			switch c.Name {
			case "eval_peak_rss_bytes":
				return 8e7 + 1.2*size
			case "checkpoint_bytes":
				return size
			}
			return float64(fixtureModels[m].Params) * 128 * q * 1e-12
		}, oms: []fixtureOM{{"om_inf", []string{"memory", "size", "macs"}}}},
		{id: "5", title: "Hardware acceleration", kind: bench.KindSpeed, cols: []bench.Column{
			{Name: "prefill_tokens_per_second", Metric: "tokens_per_second", Group: "prefill", Unit: "tokens/s"},
			{Name: "decode_tokens_per_second", Metric: "tokens_per_second", Group: "decode", Unit: "tokens/s"},
		}, value: func(m int, q float64, c bench.Column) float64 {
			v := 4000 / math.Pow(3, float64(m)) * (1 + 0.1*jitter(c.Name, fmt.Sprint(q)))
			if c.Group == "decode" {
				v /= 12 * q
			}
			return v
		}, oms: []fixtureOM{{"om_hard", []string{"prefill", "decode"}}}},
		{id: "6", title: "Trustworthiness", kind: bench.KindEval, cols: []bench.Column{
			{Name: "advglue_sst2", Metric: "acc", Group: "robustness", Unit: "%"},
			{Name: "truthfulqa_mc1", Metric: "mc1", Group: "truthfulness", Unit: "%"},
			{Name: "truthfulqa_mc2", Metric: "mc2", Group: "truthfulness", Unit: "%"},
		}, value: acc(30), oms: []fixtureOM{{"om_trust", []string{"robustness", "truthfulness"}}}},
	}
}

// fixtureDir holds the fixture study all tests read (written once by
// TestMain; fixture returns a fresh copy of its Summary).
var (
	fixtureJSON []byte
)

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "gollm-report-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir := filepath.Join(root, "example-study")
	code := func() (code int) {
		defer os.RemoveAll(root)
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintln(os.Stderr, "building the fixture:", r)
				code = 1
			}
		}()
		s := fixtureSummary(fatalTB{}, dir)
		fixtureJSON, err = json.Marshal(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// fatalTB is the testing.TB TestMain builds the fixture with: Fatal
// panics, and TestMain reports it.
type fatalTB struct{ testing.TB }

func (fatalTB) Helper()           {}
func (fatalTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// fixture returns a fresh copy of the fixture study's Summary (tests may
// change it); its folder is shared, read-only.
func fixture(t *testing.T) *bench.Summary {
	t.Helper()
	var s bench.Summary
	if err := json.Unmarshal(fixtureJSON, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// fixtureSummary writes the fixture study into dir and returns its
// Summary.
func fixtureSummary(t testing.TB, dir string) *bench.Summary {
	t.Helper()
	for _, sub := range []string{"cells", "samples"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	machine := bench.Machine{CPU: "fixture CPU", Cores: 2, Threads: 2, OS: "linux", Arch: "amd64", Go: "go1.26", Device: "cpu"}
	s := &bench.Summary{
		Study: bench.StudyInfo{Folder: dir, Gollm: "fixture (illustrative numbers, not measurements)", Machine: machine,
			Created: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), Cells: map[string]int{}, Published: []string{"published-example.csv"}},
		Models: append(append([]bench.ModelInfo{}, fixtureModels...), bench.ModelInfo{Name: "LLaMA-2-7B", Family: "llama", Params: 6_740_000_000, Source: "published-example.csv"}),
	}
	for _, m := range fixtureMethods {
		s.Methods = append(s.Methods, m.spec)
	}
	writeCell := func(c bench.Cell) {
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cells", c.Key+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s.Study.Cells[c.Status]++
	}
	for _, ft := range fixtureTracks() {
		tr := bench.Track{ID: ft.id, Title: ft.title, Columns: ft.cols,
			Definition: "Fixture track " + ft.id + ": " + ft.title + ".", Source: "LLMCBench, Track " + ft.id}
		type ref struct {
			v    float64
			cell string
			flag string
		}
		values := map[[3]string]ref{}
		for mi, model := range fixtureModels {
			for _, meth := range fixtureMethods {
				if ft.kind == bench.KindCompress && meth.spec == bench.Dense {
					continue
				}
				row := bench.Row{Model: model.Name, Method: meth.spec, Setting: bench.SettingOf(meth.spec), Source: "gollm"}
				if ft.kind == bench.KindSpeed {
					row.Engine = "gollm-cpu"
				}
				for _, c := range ft.cols {
					v := ft.value(mi, meth.quality, c)
					inputs := map[string]string{"model": model.Name, "method": meth.spec, "track": ft.id, "column": c.Name}
					key := bench.KeyOf(ft.kind, inputs)
					cell := bench.Cell{Schema: bench.CellSchema, Key: key, Kind: ft.kind, Model: model.Name, Method: meth.spec,
						Inputs: inputs, Status: bench.StatusOK, Metrics: map[string]float64{c.Metric: v}, Machine: machine, Gollm: "fixture", Seconds: 1.5}
					val := bench.Value{V: v, Cell: key}
					if ft.kind == bench.KindEval {
						cell.Task = c.Name
						half := 0.9 + 0.5*math.Abs(jitter(key))
						if c.LowerIsBetter {
							val.CI = &[2]float64{v * 0.93, v * 1.09}
						} else {
							val.CI = &[2]float64{v - half, v + half}
						}
						cell.Samples = "samples/" + key + ".jsonl"
						writeSamples(t, filepath.Join(dir, cell.Samples), key, c, v)
					}
					if [3]string{model.Name, meth.spec, c.Name} == failedCell {
						cell.Status, cell.Error, cell.Metrics, cell.Samples = bench.StatusFailed, "out of memory while scoring hellaswag", nil, ""
						val = bench.Value{Cell: key, Flag: "failed"}
						s.Problems = append(s.Problems, bench.Problem{File: "cells/" + key + ".json", Key: key, Kind: "failed",
							Model: model.Name, Method: meth.spec, Task: c.Name, Detail: cell.Error})
					}
					writeCell(cell)
					row.Values = append(row.Values, val)
					values[[3]string{model.Name, meth.spec, c.Name}] = ref{val.V, key, val.Flag}
				}
				tr.Rows = append(tr.Rows, row)
			}
		}
		// Track 3's reference is the largest time and memory of the
		// methods compared (T^max, M^max); the others compare with dense.
		reference := func(model, method, col string) ref {
			if ft.kind != bench.KindCompress {
				return values[[3]string{model, bench.Dense, col}]
			}
			var best ref
			for _, m := range fixtureMethods[1:] {
				if r := values[[3]string{model, m.spec, col}]; r.v > best.v {
					best = r
				}
			}
			return best
		}
		for _, meth := range fixtureMethods[1:] {
			var parts []float64
			for _, o := range ft.oms {
				om := bench.OMValue{Name: o.name, Method: meth.spec, Setting: bench.SettingOf(meth.spec), Source: "gollm", Level: 0.95}
				if ft.kind == bench.KindSpeed {
					om.Engine = "gollm-cpu"
				}
				if o.groups == nil {
					v, err := bench.Combine(parts...)
					if err != nil {
						t.Fatal(err)
					}
					om.V = v
					for _, prev := range tr.OMs[len(tr.OMs)-len(parts):] {
						om.Ratios = append(om.Ratios, prev.Ratios...)
						om.Flagged += prev.Flagged
					}
				} else {
					var groups [][]float64
					for _, g := range o.groups {
						var rs []float64
						for _, model := range fixtureModels {
							for _, c := range ft.cols {
								if g != "" && c.Group != g {
									continue
								}
								orig, comp := reference(model.Name, meth.spec, c.Name), values[[3]string{model.Name, meth.spec, c.Name}]
								ri := bench.RatioInput{Group: c.Group, Model: model.Name, Column: c.Name, Original: orig.v, Compressed: comp.v,
									OriginalCell: orig.cell, CompressedCell: comp.cell, Flag: comp.flag}
								if comp.flag == "" {
									r, err := bench.Ratio(orig.v, comp.v, c.LowerIsBetter)
									if err != nil {
										t.Fatal(err)
									}
									ri.R = r
								} else {
									om.Flagged++
								}
								om.Ratios = append(om.Ratios, ri)
								rs = append(rs, ri.R)
							}
						}
						groups = append(groups, rs)
					}
					v, err := bench.OM(groups...)
					if err != nil {
						t.Fatal(err)
					}
					om.V = v
					parts = append(parts, v)
				}
				if ft.kind == bench.KindEval {
					om.CI = &[2]float64{om.V - 1.1 - 0.4*jitter(om.Name, meth.spec), om.V + 1.1 + 0.4*jitter(om.Name, meth.spec)}
				}
				tr.OMs = append(tr.OMs, om)
			}
		}
		if ft.id == "1" {
			addPublished(&tr)
		}
		s.Tracks = append(s.Tracks, tr)
	}
	return s
}

// addPublished puts a published-numbers model beside gollm's rows of
// Track 1, as bench.LoadStudy does with a CSV in the study folder.
func addPublished(tr *bench.Track) {
	const src = "published-example.csv"
	dense := []float64{46.0, 43.4, 76.3, 57.1, 78.1, 5.47}
	wanda := []float64{40.6, 39.9, 72.8, 51.9, 76.4, 6.92}
	row := func(method, setting string, vs []float64) bench.Row {
		r := bench.Row{Model: "LLaMA-2-7B", Method: method, Setting: setting, Source: src}
		for _, v := range vs {
			r.Values = append(r.Values, bench.Value{V: v})
		}
		return r
	}
	tr.Rows = append(tr.Rows, row(bench.Dense, "fp16", dense), row("wanda", "50%", wanda))
	var ka, ia []float64
	var ratios []bench.RatioInput
	for i, c := range tr.Columns {
		r, _ := bench.Ratio(dense[i], wanda[i], c.LowerIsBetter)
		ratios = append(ratios, bench.RatioInput{Group: c.Group, Model: "LLaMA-2-7B", Column: c.Name, Original: dense[i], Compressed: wanda[i], R: r})
		if c.Group == "knowledge" {
			ka = append(ka, r)
		} else {
			ia = append(ia, r)
		}
	}
	vka, _ := bench.OM(ka)
	via, _ := bench.OM(ia)
	vperf, _ := bench.Combine(vka, via)
	tr.OMs = append(tr.OMs,
		bench.OMValue{Name: "om_ka", Method: "wanda", Setting: "50%", Source: src, V: vka, Ratios: ratios[:3]},
		bench.OMValue{Name: "om_ia", Method: "wanda", Setting: "50%", Source: src, V: via, Ratios: ratios[3:]},
		bench.OMValue{Name: "om_perf", Method: "wanda", Setting: "50%", Source: src, V: vperf, Ratios: ratios})
}

// writeSamples writes 15 per-sample records of an eval cell whose metric
// averages about v.
func writeSamples(t testing.TB, path, key string, c bench.Column, v float64) {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for doc := range 15 {
		s := bench.Sample{Doc: doc, Metrics: map[string]float64{}}
		if c.LowerIsBetter {
			s.NLL, s.Tokens = 200*math.Log(v)*(1+0.05*jitter(key, fmt.Sprint(doc))), 200
			s.Metrics["word_perplexity"] = math.Exp(s.NLL / s.Tokens)
		} else {
			s.Choices = []string{"Paris", "Lyon", "Marseille", "<b>Nice</b>"}
			s.Target = doc % 4
			s.Pred = s.Target
			if (jitter(key, fmt.Sprint(doc))+1)*50 > v {
				s.Pred = (s.Target + 1) % 4
			}
			s.LogLik = []float64{-1.5, -2.25, -3, -4.125}
			if s.Pred == s.Target {
				s.Metrics[c.Metric] = 1
			} else {
				s.Metrics[c.Metric] = 0
			}
			s.Prompt = fmt.Sprintf("Question %d: what is the capital of France? <script>document.body.dataset.ok='pwned'</script>", doc)
			if c.Name == "mmlu" {
				s.Group = "geography"
			}
		}
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
