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

// om finds an overall metric of a method.
func om(t *testing.T, sum *Summary, track, name, method string) OMValue {
	t.Helper()
	for _, tr := range sum.Tracks {
		if tr.ID != track {
			continue
		}
		for _, o := range tr.OMs {
			if o.Name == name && o.Method == method {
				return o
			}
		}
	}
	t.Fatalf("no %s for %s in track %s", name, method, track)
	return OMValue{}
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
