package bench

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

// posterStudy is a study folder holding only the poster's tables.
func posterStudy(t *testing.T) *Summary {
	t.Helper()
	s := newStudy(t)
	must(t, os.MkdirAll(filepath.Join(s.dir, PublishedDir), 0o755))
	must(t, os.WriteFile(filepath.Join(s.dir, PublishedDir, PosterName), PosterCSV(), 0o644))
	return s.load()
}

// TestPosterOM computes every overall metric the LLMCBench poster prints
// (published/llmcbench-poster-om.csv) from its tables
// (published/llmcbench-poster.csv) with LoadStudy's code.
func TestPosterOM(t *testing.T) {
	sum := posterStudy(t)
	for _, p := range sum.Problems {
		t.Errorf("problem: %+v", p)
	}
	f, err := os.Open(filepath.Join("published", "llmcbench-poster-om.csv"))
	must(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	must(t, err)
	if len(recs) != 44 {
		t.Fatalf("%d printed OMs; want 43 and a header", len(recs)-1)
	}
	for _, r := range recs[1:] {
		track, method, setting, name := r[0], r[1], r[2], r[3]
		printed, err := strconv.ParseFloat(r[4], 64)
		must(t, err)
		got, ok := findOM(sum, track, name, method, setting)
		if !ok {
			t.Errorf("track %s %s %s: no %s computed", track, method, setting, name)
			continue
		}
		if got.Flagged != 0 {
			t.Errorf("track %s %s %s %s: %d flagged ratios", track, method, setting, name, got.Flagged)
		}
		switch {
		case track == "2" && method == "omniquant":
			// The poster's own inconsistency: its Track-2 table gives
			// 43.97, the printed OM_gen is 48.51.
			if !near(got.V, 43.97, 0.01) || near(got.V, printed, 1) {
				t.Errorf("om_gen omniquant = %.2f; want 43.97 (the poster prints %.2f, inconsistent with its table)", got.V, printed)
			}
		case track == "1" || track == "2":
			if !near(got.V, printed, 0.01) {
				t.Errorf("track %s %s %s %s = %.4f; printed %.2f", track, method, setting, name, got.V, printed)
			}
		case track == "4":
			lo, hi := roundingBounds(t, got, map[string]float64{colEvalMemory: gib, colSizeSeed: gib, colMACsSeed: macsTera})
			if printed < lo-0.005 || printed > hi+0.005 {
				t.Errorf("track 4 %s %s om_inf: printed %.2f outside [%.2f, %.2f], the OM at the rounding extremes of its inputs (computed %.2f)", method, setting, printed, lo, hi, got.V)
			}
		default:
			t.Errorf("unexpected printed OM %v", r)
		}
	}
}

// roundingBounds is the range of an OM (all lower-is-better ratios) when
// every input moves within ±0.005 of the unit it was printed in (unit
// gives the column's factor from that unit).
func roundingBounds(t *testing.T, o OMValue, unit map[string]float64) (lo, hi float64) {
	t.Helper()
	var order []string
	los, his := map[string][]float64{}, map[string][]float64{}
	for _, r := range o.Ratios {
		d := 0.005 * unit[r.Column]
		if d == 0 {
			t.Fatalf("no unit for column %s", r.Column)
		}
		if _, ok := los[r.Group]; !ok {
			order = append(order, r.Group)
		}
		los[r.Group] = append(los[r.Group], (r.Original-d)/(r.Compressed+d))
		his[r.Group] = append(his[r.Group], (r.Original+d)/(r.Compressed-d))
	}
	var gl, gh [][]float64
	for _, g := range order {
		gl, gh = append(gl, los[g]), append(gh, his[g])
	}
	lo, err := OM(gl...)
	must(t, err)
	hi, err = OM(gh...)
	must(t, err)
	return lo, hi
}

func findOM(sum *Summary, track, name, method, setting string) (OMValue, bool) {
	return findOMWhere(sum, track, func(o OMValue) bool { return o.Name == name && o.Method == method && o.Setting == setting })
}

func TestReadPublished(t *testing.T) {
	rows, err := Poster()
	if err != nil || len(rows) != 384 {
		t.Fatalf("Poster() = %d rows, %v; want 384", len(rows), err)
	}
	if r := rows[0]; r.Model != "llama-2-7b" || r.Method != Dense || r.Task != "mmlu" || r.Value != 40.52 || r.LowerIsBetter || r.Line != 2 {
		t.Errorf("first row %+v", r)
	}
	for _, c := range []struct{ name, text, want string }{
		{"empty", "", "empty file"},
		{"header", "a,b\n", "t.csv:1: header"},
		{"fields", PublishedHeader + "\n1,knowledge,m,dense\n", "t.csv:2: 4 fields"},
		{"track", PublishedHeader + "\n7,knowledge,m,dense,,mmlu,acc,1,false\n", "t.csv:2: track"},
		{"value", PublishedHeader + "\n1,knowledge,m,dense,,mmlu,acc,NaN,false\n", "t.csv:2: value"},
		{"bool", PublishedHeader + "\n1,knowledge,m,dense,,mmlu,acc,1,false\n1,knowledge,m,dense,,mmlu,acc,1,yes\n", "t.csv:3: lower_is_better"},
		{"model", PublishedHeader + "\n1,knowledge,,dense,,mmlu,acc,1,false\n", "t.csv:2: model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadPublished("t.csv", strings.NewReader(c.text))
			if !badinput.Is(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadPublished = %v; want bad input with %q", err, c.want)
			}
		})
	}
}

func TestPublishedBesideGollm(t *testing.T) {
	// A published CSV in the study folder is placed beside gollm's rows,
	// and its OMs are computed from its own dense rows.
	s := newStudy(t)
	s.eval("m1", Dense, "wikitext2", "ppl", 10)
	s.eval("m1", "gptq:bits=4", "wikitext2", "ppl", 11)
	must(t, os.MkdirAll(filepath.Join(s.dir, PublishedDir), 0o755))
	must(t, os.WriteFile(filepath.Join(s.dir, PublishedDir, "paper.csv"),
		[]byte(PublishedHeader+"\n2,generalization,m1,dense,,wikitext2,ppl,5,true\n2,generalization,m1,gptq,w4,wikitext2,ppl,6.25,true\n"+
			"2,generalization,m1,gptq,w4,wikitext2,ppl,7,true\n"), 0o644))
	sum := s.load()
	if g := om(t, sum, "2", "om_gen", "gptq:bits=4"); g.Source != SourceGollm || !near(g.V, 100/1.1, 1e-9) {
		t.Errorf("gollm om_gen = %+v", g)
	}
	if p := om(t, sum, "2", "om_gen", "gptq"); p.Source != "paper.csv" || !near(p.V, 80, 1e-9) {
		t.Errorf("published om_gen = %+v", p)
	}
	if len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0].Detail, "line 4 repeats") {
		t.Errorf("problems %+v; want the duplicate row on line 4", sum.Problems)
	}
	if len(sum.Study.Published) != 1 || sum.Study.Published[0] != "paper.csv" {
		t.Errorf("Published = %v", sum.Study.Published)
	}
	if math.IsNaN(sum.Tracks[1].Rows[0].Values[0].V) {
		t.Error("NaN value")
	}
}

// FuzzReadPublished: any input gives rows that satisfy the format, or bad
// input; never a panic.
func FuzzReadPublished(f *testing.F) {
	f.Add(string(PosterCSV()[:400]))
	f.Add(PublishedHeader + "\n4,macs,m,dense,fp16,,macs_T,0.85,true\n")
	f.Add(PublishedHeader + "\n1,\"a\nb\",m,dense,,mmlu,acc,1,false\n")
	f.Fuzz(func(t *testing.T, text string) {
		rows, err := ReadPublished("f.csv", strings.NewReader(text))
		if err != nil {
			if !badinput.Is(err) {
				t.Fatalf("error %v is not bad input", err)
			}
			return
		}
		for _, r := range rows {
			if r.Model == "" || r.Method == "" || r.Value < 0 || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Line < 2 {
				t.Fatalf("row %+v accepted", r)
			}
		}
	})
}
