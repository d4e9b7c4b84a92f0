package bench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// accSamples is n documents of which the first k are right.
func accSamples(n, k int, metric string) []Sample {
	out := make([]Sample, n)
	for i := range out {
		v := 0.0
		if i < k {
			v = 1
		}
		out[i] = Sample{Doc: i, Metrics: map[string]float64{metric: v}}
	}
	return out
}

// pplSamples is n windows of 100 tokens with alternating NLL.
func pplSamples(n int, lo, hi float64) []Sample {
	out := make([]Sample, n)
	for i := range out {
		nll := lo
		if i%2 == 1 {
			nll = hi
		}
		out[i] = Sample{Doc: i, NLL: 100 * nll, Tokens: 100}
	}
	return out
}

func evalCell(model, method, task, metric string, v float64) Cell {
	return Cell{Kind: KindEval, Model: model, Method: method, Task: task, Metrics: map[string]float64{metric: v}}
}

// value finds a row's value in a track.
func value(t *testing.T, sum *Summary, track, method, col string) Value {
	t.Helper()
	for _, tr := range sum.Tracks {
		if tr.ID != track {
			continue
		}
		for j, c := range tr.Columns {
			if c.Name != col {
				continue
			}
			for _, r := range tr.Rows {
				if r.Method == method {
					return r.Values[j]
				}
			}
		}
	}
	t.Fatalf("no %s value for %s in track %s", col, method, track)
	return Value{}
}

func TestBootstrapCI(t *testing.T) {
	wanda := "wanda:sparsity=0.5,pattern=none"
	build := func(n int) *Summary {
		s := newStudy(t)
		s.cell(evalCell("m1", Dense, "mmlu", "acc", 0.6), accSamples(n, n*6/10, "acc"))
		s.cell(evalCell("m1", wanda, "mmlu", "acc", 0.4), accSamples(n, n*4/10, "acc"))
		// Identical dense and compressed samples on arc_easy.
		s.cell(evalCell("m1", Dense, "arc_easy", "acc_norm", 0.5), accSamples(n, n/2, "acc_norm"))
		s.cell(evalCell("m1", wanda, "arc_easy", "acc_norm", 0.5), accSamples(n, n/2, "acc_norm"))
		s.cell(evalCell("m1", Dense, "wikitext2", "ppl", math.Exp(2.1)), pplSamples(n, 2, 2.2))
		s.cell(evalCell("m1", wanda, "wikitext2", "ppl", math.Exp(2.2)), pplSamples(n, 2.1, 2.3))
		return s.load()
	}
	small, large := build(40), build(400)
	width := func(ci *[2]float64) float64 { return ci[1] - ci[0] }
	for _, c := range []struct {
		track, method, col string
		point              float64
	}{{"1", Dense, "mmlu", 60}, {"1", wanda, "mmlu", 40}, {"1", Dense, "arc_easy", 50}} {
		vs, vl := value(t, small, c.track, c.method, c.col), value(t, large, c.track, c.method, c.col)
		if vs.CI == nil || vl.CI == nil {
			t.Fatalf("%s %s: no CI", c.method, c.col)
		}
		if !(vs.CI[0] < c.point && c.point < vs.CI[1]) || !(vl.CI[0] < c.point && c.point < vl.CI[1]) {
			t.Errorf("%s %s: CIs %v, %v do not contain %v", c.method, c.col, *vs.CI, *vl.CI, c.point)
		}
		if width(vl.CI) >= width(vs.CI)/2 {
			t.Errorf("%s %s: CI with 400 samples %v not narrower than with 40 %v", c.method, c.col, *vl.CI, *vs.CI)
		}
	}
	// OM CIs contain the point; om_ka's arc_easy half is paired: with
	// identical samples its ratio is exactly 1 in every resample.
	for _, name := range []string{"om_ka", "om_ia", "om_perf"} {
		o := om(t, small, "1", name, wanda)
		if o.CI == nil || o.Level != BootstrapLevel || !(o.CI[0] <= o.V && o.V <= o.CI[1]) || width(o.CI) <= 0 {
			t.Errorf("%s = %v CI %v", name, o.V, o.CI)
		}
	}
	// Perplexity from ΣNLL/ΣTokens of the windows: the Value is the
	// cell's metric, the CI from the samples.
	if v := value(t, small, "2", wanda, "wikitext2"); v.CI == nil || !(v.CI[0] < v.V && v.V < v.CI[1]) {
		t.Errorf("wikitext2 CI %v", v.CI)
	}
	// The Summary is what gollm report renders as JSON: it must marshal.
	if _, err := json.Marshal(small); err != nil {
		t.Errorf("json.Marshal(Summary): %v", err)
	}
	if again := build(40); !reflect.DeepEqual(small.Tracks, again.Tracks) {
		t.Error("bootstrap is not deterministic")
	}
}

func TestBootstrapPairedZeroWidth(t *testing.T) {
	s := newStudy(t)
	gptq := "gptq:bits=8,group=128"
	samples := accSamples(50, 31, "acc")
	s.cell(evalCell("m1", Dense, "mmlu", "acc", 0.62), samples)
	s.cell(evalCell("m1", gptq, "mmlu", "acc", 0.62), samples)
	o := om(t, s.load(), "1", "om_ka", gptq)
	if o.V != 100 || o.CI == nil || o.CI[0] != 100 || o.CI[1] != 100 {
		t.Errorf("om_ka of identical samples = %v CI %v; want 100 [100, 100]", o.V, o.CI)
	}
}

func TestPercentileCI(t *testing.T) {
	reps := make([]float64, 1001)
	for i := range reps {
		reps[len(reps)-1-i] = float64(i)
	}
	if ci := percentileCI(reps); ci == nil || ci[0] != 25 || ci[1] != 975 {
		t.Errorf("percentileCI(0…1000) = %v; want [25, 975]", ci)
	}
	if percentileCI(nil) != nil {
		t.Error("CI of no replicates")
	}
}

func TestSamplesProblems(t *testing.T) {
	s := newStudy(t)
	gptq := "gptq:bits=4,group=128"
	s.cell(evalCell("m1", Dense, "mmlu", "acc", 0.5), accSamples(10, 5, "acc"))
	key := s.cell(evalCell("m1", gptq, "mmlu", "acc", 0.4), accSamples(10, 4, "acc"))
	// A samples file that does not parse, and a samples path outside the
	// study: the values stay (they are the cells'), the CIs go.
	must(t, os.WriteFile(filepath.Join(s.dir, "samples", key+".jsonl"), []byte(`{"doc":0,"metrics":{"acc":1}}`+"\n{oops\n"), 0o644))
	c := evalCell("m1", gptq, "arc_easy", "acc_norm", 0.4)
	c.Samples = "../outside.jsonl"
	s.cell(c, nil)
	s.eval("m1", Dense, "arc_easy", "acc_norm", 0.5)
	sum := s.load()
	if v := value(t, sum, "1", gptq, "mmlu"); v.V != 40 || v.CI != nil {
		t.Errorf("mmlu with corrupt samples = %v CI %v; want 40 without CI", v.V, v.CI)
	}
	kinds := map[string]string{}
	for _, p := range sum.Problems {
		kinds[p.Task] = p.Kind
		if p.Task == "mmlu" && !strings.Contains(p.Detail, "line 2") {
			t.Errorf("corrupt samples problem %+v does not name line 2", p)
		}
	}
	if kinds["mmlu"] != ProblemCorrupt || kinds["arc_easy"] != ProblemForeign || len(sum.Problems) != 2 {
		t.Errorf("problems %+v; want corrupt mmlu samples and a foreign arc_easy samples path", sum.Problems)
	}
}

// BenchmarkBootstrapMMLU resamples one MMLU-sized cell (14,042 documents)
// BootstrapResamples times.
func BenchmarkBootstrapMMLU(b *testing.B) {
	vals := make([]float64, 14042)
	for i := range vals {
		vals[i] = float64(i % 2)
	}
	b.ReportAllocs()
	for b.Loop() {
		meanReplicates("m\x00mmlu", vals, 100)
	}
	b.ReportMetric(float64(len(vals)*BootstrapResamples)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mdraws/s")
}
