package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

// studyDir is a hand-built study folder for tests.
type studyDir struct {
	t   *testing.T
	dir string
	n   int
}

func newStudy(t *testing.T) *studyDir {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, StudyFileName), []byte(`{"gollm_version":"test","machine":{"cpu":"test"},"config":{}}`), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, CellsDir), 0o755))
	return &studyDir{t: t, dir: dir}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cell writes one results cell; samples, when given, go to its samples
// file. It returns the cell's key.
func (s *studyDir) cell(c Cell, samples []Sample) string {
	s.t.Helper()
	s.n++
	c.Schema = CellSchema
	if c.Status == "" {
		c.Status = StatusOK
	}
	c.Inputs = map[string]string{"n": fmt.Sprint(s.n), "model": c.Model, "method": c.Method, "task": c.Task}
	c.Key = KeyOf(c.Kind, c.Inputs)
	if samples != nil {
		c.Samples = filepath.Join("samples", c.Key+".jsonl")
		var b strings.Builder
		for _, sm := range samples {
			line, err := json.Marshal(sm)
			must(s.t, err)
			b.Write(line)
			b.WriteByte('\n')
		}
		must(s.t, os.MkdirAll(filepath.Join(s.dir, "samples"), 0o755))
		must(s.t, os.WriteFile(filepath.Join(s.dir, c.Samples), []byte(b.String()), 0o644))
	}
	b, err := json.Marshal(c)
	must(s.t, err)
	must(s.t, os.WriteFile(filepath.Join(s.dir, CellsDir, c.Key+".json"), b, 0o644))
	return c.Key
}

// eval writes an eval cell with one metric.
func (s *studyDir) eval(model, method, task, metric string, v float64) string {
	return s.cell(Cell{Kind: KindEval, Model: model, Method: method, Task: task, Metrics: map[string]float64{metric: v}}, nil)
}

func (s *studyDir) load() *Summary {
	s.t.Helper()
	sum, err := LoadStudy(s.dir)
	if err != nil {
		s.t.Fatal(err)
	}
	return sum
}

// findOMWhere finds the first overall metric of a track that match accepts.
func findOMWhere(sum *Summary, track string, match func(OMValue) bool) (OMValue, bool) {
	for _, tr := range sum.Tracks {
		if tr.ID != track {
			continue
		}
		for _, o := range tr.OMs {
			if match(o) {
				return o, true
			}
		}
	}
	return OMValue{}, false
}

// om finds an overall metric of a method.
func om(t *testing.T, sum *Summary, track, name, method string) OMValue {
	t.Helper()
	o, ok := findOMWhere(sum, track, func(o OMValue) bool { return o.Name == name && o.Method == method })
	if !ok {
		t.Fatalf("no %s for %s in track %s", name, method, track)
	}
	return o
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestLoadStudyBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	badStudy := filepath.Join(dir, "bad")
	must(t, os.MkdirAll(badStudy, 0o755))
	must(t, os.WriteFile(filepath.Join(badStudy, StudyFileName), []byte("{not json"), 0o644))
	badCSV := newStudy(t)
	must(t, os.MkdirAll(filepath.Join(badCSV.dir, PublishedDir), 0o755))
	must(t, os.WriteFile(filepath.Join(badCSV.dir, PublishedDir, "x.csv"), []byte(PublishedHeader+"\n1,knowledge,m,dense,fp16,mmlu,acc,abc,false\n"), 0o644))
	for _, c := range []struct {
		name, dir, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "nope"},
		{"file", file, "not a folder"},
		{"no study.json", dir, "not a study"},
		{"bad study.json", badStudy, StudyFileName},
		{"bad published row", badCSV.dir, "x.csv:2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadStudy(c.dir)
			if !badinput.Is(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LoadStudy(%s) = %v; want bad input naming %q", c.dir, err, c.want)
			}
		})
	}
}

func TestLoadStudyTrack1(t *testing.T) {
	s := newStudy(t)
	wanda := "wanda:sparsity=0.5,pattern=none"
	for _, c := range []struct {
		method, task, metric string
		v                    float64
	}{
		{Dense, "mmlu", "acc", 0.40}, {wanda, "mmlu", "acc", 0.30},
		{Dense, "arc_easy", "acc_norm", 0.80}, {wanda, "arc_easy", "acc_norm", 0.72},
		{Dense, "hellaswag", "acc_norm", 0.50}, {wanda, "hellaswag", "acc_norm", 0.45},
		{Dense, "wikitext2", "ppl", 10}, {wanda, "wikitext2", "ppl", 12.5},
	} {
		s.eval("m1", c.method, c.task, c.metric, c.v)
	}
	sum := s.load()
	// Knowledge ratios 0.75, 0.9; inference 0.9, 0.8.
	ka := 100 * math.Sqrt((0.75*0.75+0.9*0.9)/2)
	ia := 100 * math.Sqrt((0.9*0.9+0.8*0.8)/2)
	perf := math.Sqrt((ka*ka + ia*ia) / 2)
	for _, c := range []struct {
		name string
		want float64
	}{{"om_ka", ka}, {"om_ia", ia}, {"om_perf", perf}} {
		o := om(t, sum, "1", c.name, wanda)
		if !near(o.V, c.want, 1e-9) || o.Flagged != 0 || o.CI != nil {
			t.Errorf("%s = %v (flagged %d, CI %v); want %v, none flagged, no CI", c.name, o.V, o.Flagged, o.CI, c.want)
		}
	}
	if o := om(t, sum, "2", "om_gen", wanda); !near(o.V, 80, 1e-9) {
		t.Errorf("om_gen = %v; want 80", o.V)
	}
	if got := om(t, sum, "1", "om_ka", wanda).Setting; got != "50%" {
		t.Errorf("setting %q; want 50%%", got)
	}
}

func TestLoadStudyFailedMissingCorrupt(t *testing.T) {
	s := newStudy(t)
	gptq := "gptq:bits=4,group=128"
	s.eval("m1", Dense, "mmlu", "acc", 0.5)
	s.eval("m1", gptq, "mmlu", "acc", 0.4)
	s.eval("m1", Dense, "arc_easy", "acc_norm", 0.8)
	failed := s.cell(Cell{Kind: KindEval, Model: "m1", Method: gptq, Task: "arc_easy", Status: StatusFailed, Error: "out of memory"}, nil)
	// A failed cell that a later run of the same measurement (another
	// gollm version) finished is superseded, not reported.
	s.cell(Cell{Kind: KindEval, Model: "m1", Method: gptq, Task: "mmlu", Status: StatusFailed, Error: "old failure"}, nil)
	s.eval("m1", Dense, "hellaswag", "acc_norm", 0.6) // gptq's hellaswag cell is missing
	s.eval("m1", gptq, "piqa", "acc_norm", 0.7)       // dense piqa is missing
	// Unusable files: they must be reported and never averaged (the
	// foreign ones claim dense mmlu = 0.99).
	must(t, os.WriteFile(filepath.Join(s.dir, CellsDir, "broken.json"), []byte("{not json"), 0o644))
	foreign := Cell{Schema: 2, Key: "other", Kind: KindEval, Model: "m1", Method: Dense, Task: "mmlu", Status: StatusOK, Metrics: map[string]float64{"acc": 0.99}}
	b, _ := json.Marshal(foreign)
	must(t, os.WriteFile(filepath.Join(s.dir, CellsDir, "other.json"), b, 0o644))
	foreign.Schema, foreign.Key = CellSchema, "not-the-name"
	b, _ = json.Marshal(foreign)
	must(t, os.WriteFile(filepath.Join(s.dir, CellsDir, "renamed.json"), b, 0o644))
	sum := s.load()

	ka := om(t, sum, "1", "om_ka", gptq)
	// mmlu 0.8, arc_easy failed → 0: sqrt((0.64+0)/2).
	if want := 100 * math.Sqrt(0.64/2); !near(ka.V, want, 1e-9) || ka.Flagged != 1 {
		t.Errorf("om_ka = %v flagged %d; want %v, 1 flagged", ka.V, ka.Flagged, want)
	}
	ia := om(t, sum, "1", "om_ia", gptq)
	if ia.V != 0 || ia.Flagged != 2 {
		t.Errorf("om_ia = %v flagged %d; want 0 with 2 flagged (missing hellaswag, missing dense piqa)", ia.V, ia.Flagged)
	}
	flags := map[string]string{}
	for _, r := range append(ka.Ratios, ia.Ratios...) {
		flags[r.Column] = r.Flag
	}
	if flags["arc_easy"] != FlagFailed || flags["hellaswag"] != FlagMissing || flags["piqa"] != FlagMissing || flags["mmlu"] != "" {
		t.Errorf("ratio flags %v", flags)
	}
	for _, r := range sum.Tracks[0].Rows {
		if r.Method == Dense && r.Values[0].V != 50 {
			t.Errorf("dense mmlu = %v; want 50 (a foreign cell was used)", r.Values[0].V)
		}
	}
	want := map[string]int{ProblemFailed: 1, ProblemMissing: 2, ProblemCorrupt: 1, ProblemForeign: 2}
	got := map[string]int{}
	for _, p := range sum.Problems {
		got[p.Kind]++
		switch {
		case p.Kind == ProblemFailed && (p.Key != failed || p.Detail != "out of memory"):
			t.Errorf("failed problem %+v", p)
		case p.Kind == ProblemCorrupt && p.File != filepath.Join(CellsDir, "broken.json"):
			t.Errorf("corrupt problem %+v", p)
		case p.Kind == ProblemMissing && !(p.Method == gptq && p.Task == "hellaswag" || p.Method == Dense && p.Task == "piqa"):
			t.Errorf("missing problem %+v", p)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d %s problems; want %d (%+v)", got[k], k, n, sum.Problems)
		}
	}
	if sum.Study.Cells[StatusOK] != 5 || sum.Study.Cells[StatusFailed] != 2 || sum.Study.Cells[ProblemForeign] != 2 || sum.Study.Cells[ProblemCorrupt] != 1 {
		t.Errorf("cell counts %v", sum.Study.Cells)
	}
}

func TestLoadStudyTracks3to6(t *testing.T) {
	s := newStudy(t)
	a, b, c := "wanda:sparsity=0.5,pattern=none", "gptq:bits=4,group=128", "awq:bits=4,group=128"
	// Track 3: T^max = 200 s (c), M^max = 4 GB (b).
	for _, x := range []struct {
		method   string
		sec, mem float64
	}{{a, 100, 2e9}, {b, 50, 4e9}, {c, 200, 1e9}} {
		s.cell(Cell{Kind: KindCompress, Model: "m1", Method: x.method, Metrics: map[string]float64{"compress_seconds": x.sec, "peak_rss_bytes": x.mem}}, nil)
	}
	// Track 4: dense and GPTQ on LLaMA-2-7B's config.
	for _, x := range []struct {
		method    string
		mem, ckpt float64
	}{{Dense, 20e9, 13.5e9}, {b, 10e9, 4.5e9}} {
		res, _ := json.Marshal(map[string]any{"config": json.RawMessage(llama2_7b), "spec": x.method, "files": map[string]int64{"model.safetensors": int64(x.ckpt)}})
		s.cell(Cell{Kind: KindFootprint, Model: "m1", Method: x.method, Metrics: map[string]float64{"eval_peak_rss_bytes": x.mem, "checkpoint_bytes": x.ckpt, "params": 6738415616}, Result: res}, nil)
	}
	// Track 5: two engines.
	for _, x := range []struct {
		method, engine  string
		prefill, decode float64
	}{{Dense, "gollm-cpu", 100, 10}, {b, "gollm-cpu", 50, 20}, {Dense, "other", 100, 10}, {b, "other", 100, 10}} {
		s.cell(Cell{Kind: KindSpeed, Model: "m1", Method: x.method, Engine: x.engine, Metrics: map[string]float64{colPrefill: x.prefill, colDecode: x.decode}}, nil)
	}
	// Track 6.
	s.eval("m1", Dense, "advglue_sst2", "acc", 0.8)
	s.eval("m1", b, "advglue_sst2", "acc", 0.4)
	s.eval("m1", Dense, "truthfulqa_mc2", "mc2", 0.3)
	s.eval("m1", b, "truthfulqa_mc2", "mc2", 0.3)
	sum := s.load()

	l2 := config(t, llama2_7b)
	l2.Params = 6738415616
	seedInf := 100 * math.Sqrt((4+math.Pow(SeedSize(l2, Dense)/SeedSize(l2, b), 2)+math.Pow(MACs(l2, Dense, 128)/MACs(l2, b, 128), 2))/3)
	gollmInf := 100 * math.Sqrt((4+9+math.Pow(GollmMACs(l2, Dense, 128)/GollmMACs(l2, b, 128), 2))/3)
	for _, x := range []struct {
		track, name, method, engine string
		want                        float64
	}{
		{"3", "om_train", a, "", 200},
		{"3", "om_train", b, "", 100 * math.Sqrt((16+1)/2.0)},
		{"3", "om_train", c, "", 100 * math.Sqrt((1+16)/2.0)},
		{"4", "om_inf", b, "", seedInf},
		{"4", "om_inf_gollm", b, "", gollmInf},
		{"5", "om_hard", b, "gollm-cpu", 100 * math.Sqrt((0.25+4)/2)},
		{"5", "om_hard", b, "other", 100},
		{"6", "om_trust", b, "", 100 * math.Sqrt((0.25+1)/2)},
	} {
		got, ok := findOMWhere(sum, x.track, func(o OMValue) bool {
			return o.Name == x.name && o.Method == x.method && o.Engine == x.engine
		})
		if !ok || !near(got.V, x.want, 1e-9) || got.Flagged != 0 {
			t.Errorf("track %s %s %s %s = %+v; want %v", x.track, x.name, x.method, x.engine, got, x.want)
		}
	}
	// Without Track 4 cells for a and c, the footprint grid expects them:
	// their om_inf is 0 and flagged.
	if o := om(t, sum, "4", "om_inf", a); o.V != 0 || o.Flagged != 3 {
		t.Errorf("om_inf of a method without footprint cells = %v flagged %d", o.V, o.Flagged)
	}
}

func TestMNLIMismatchedPreferred(t *testing.T) {
	s := newStudy(t)
	awq := "awq:bits=4,group=128"
	s.eval("m1", Dense, "mnli", "acc", 0.5)
	s.eval("m1", Dense, "mnli_mismatch", "acc", 0.6)
	s.eval("m1", awq, "mnli", "acc", 0.1)
	s.eval("m1", awq, "mnli_mismatch", "acc", 0.3)
	s.eval("m2", Dense, "mnli", "acc", 0.4) // m2 has matched only
	s.eval("m2", awq, "mnli", "acc", 0.4)
	sum := s.load()
	ia := om(t, sum, "1", "om_ia", awq)
	if want := 100 * math.Sqrt((0.25+1)/2); !near(ia.V, want, 1e-9) || len(ia.Ratios) != 2 {
		t.Errorf("om_ia = %v from %+v; want %v (m1 mismatched 0.3/0.6, m2 matched 1)", ia.V, ia.Ratios, want)
	}
}

func TestTrack6PartsStandAlone(t *testing.T) {
	// A study without AdvGLUE still has its truthfulness OM; om_trust
	// needs both groups.
	s := newStudy(t)
	rtn := "rtn:bits=4,group=128"
	s.eval("m1", Dense, "truthfulqa_mc1", "acc", 0.4)
	s.eval("m1", rtn, "truthfulqa_mc1", "acc", 0.2)
	sum := s.load()
	if o := om(t, sum, "6", "om_truth", rtn); !near(o.V, 50, 1e-9) {
		t.Errorf("om_truth = %v; want 50", o.V)
	}
	if _, ok := findOMWhere(sum, "6", func(o OMValue) bool { return o.Name == "om_trust" }); ok {
		t.Error("om_trust computed without robustness numbers")
	}
}
