package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/bench/report"
)

// writeStudy writes a small study folder: two mmlu cells (dense and RTN)
// of one model with their per-sample records, and the LLMCBench poster's
// published numbers.
func writeStudy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(bench.StudyFileName, []byte(`{"gollm_version":"test","created":"2026-12-07T12:00:00Z"}`))
	write(filepath.Join(bench.PublishedDir, bench.PosterName), bench.PosterCSV())
	for i, method := range []string{bench.Dense, "rtn:bits=4,group=128,sym=false"} {
		inputs := map[string]string{"model": "tiny", "method": method, "task": "mmlu"}
		key := bench.KeyOf(bench.KindEval, inputs)
		var samples strings.Builder
		correct := 0
		for doc := range 40 {
			acc := 0.0
			if (doc+i)%3 != 0 {
				acc, correct = 1, correct+1
			}
			fmt.Fprintf(&samples, `{"doc":%d,"metrics":{"acc":%g},"target":0,"pred":%d,"choices":["a","b"],"prompt":"q%d"}`+"\n", doc, acc, 1-int(acc), doc)
		}
		write(filepath.Join("samples", key+".jsonl"), []byte(samples.String()))
		c := bench.Cell{Schema: bench.CellSchema, Key: key, Kind: bench.KindEval, Model: "tiny", Method: method, Task: "mmlu",
			Inputs: inputs, Status: bench.StatusOK, Metrics: map[string]float64{"acc": float64(correct) / 40},
			Samples: "samples/" + key + ".jsonl", Gollm: "test"}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(bench.CellsDir, key+".json"), b)
	}
	return dir
}

func TestReportFormats(t *testing.T) {
	dir := writeStudy(t)

	// HTML, by default into the study's report folder; the path is the
	// last line on stdout.
	code, stdout, stderr := runCLI("report", "--results", dir)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	page := filepath.Join(dir, "report", "index.html")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if abs, _ := filepath.Abs(page); lines[len(lines)-1] != abs {
		t.Errorf("last line of stdout %q, want the report's path %s", lines[len(lines)-1], abs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), report.HTMLMarker) || !strings.Contains(string(b), `id="fig-radar"`) {
		t.Error("index.html is not the HTML report")
	}
	// Running again replaces the report gollm wrote.
	if code, _, stderr := runCLI("report", "--results", dir); code != 0 {
		t.Errorf("second report into the same folder: exit %d: %s", code, stderr)
	}

	// Markdown on stdout: the gollm row beside the poster's.
	code, stdout, stderr = runCLI("report", "--results", dir, "--format", "md")
	if code != 0 {
		t.Fatalf("report --format md: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, report.MarkdownMarker) || !strings.Contains(stdout, "| tiny | rtn w4a16 | gollm |") || !strings.Contains(stdout, "| llama-2-7b | wanda 50% | llmcbench-poster.csv |") {
		t.Errorf("Markdown report lacks the study's rows:\n%.2000s", stdout)
	}

	// JSON into a file, --json says where.
	out := filepath.Join(t.TempDir(), "summary.json")
	code, stdout, stderr = runCLI("report", "--results", dir, "--format", "json", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("report --format json: exit %d: %s", code, stderr)
	}
	var o reportOutput
	if err := json.Unmarshal([]byte(stdout), &o); err != nil || o.Format != "json" || filepath.Base(o.Path) != "summary.json" || o.Tracks != 6 || o.OMs == 0 {
		t.Errorf("--json output %q (%v)", stdout, err)
	}
	var s bench.Summary
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &s) != nil || len(s.Tracks) != 6 {
		t.Errorf("%s is not the Summary: %v", out, err)
	}
	// A report file may be replaced by a report of another format.
	if code, _, stderr := runCLI("report", "--results", dir, "--format", "md", "--out", out); code != 0 {
		t.Errorf("replacing a JSON report with Markdown: exit %d: %s", code, stderr)
	}
}

func TestReportBadInput(t *testing.T) {
	dir := writeStudy(t)
	notStudy := t.TempDir()
	foreign := filepath.Join(t.TempDir(), "notes.md")
	if err := os.WriteFile(foreign, []byte("my notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	foreignDir := writeStudy(t)
	if err := os.MkdirAll(filepath.Join(foreignDir, "report"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(foreignDir, "report", "mine.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"no --results", []string{}, "--results"},
		{"missing folder", []string{"--results", filepath.Join(dir, "nope")}, filepath.Join(dir, "nope")},
		{"a file", []string{"--results", filepath.Join(dir, bench.StudyFileName)}, "not a folder"},
		{"not a study", []string{"--results", notStudy}, notStudy},
		{"bad format", []string{"--results", dir, "--format", "pdf"}, "--format"},
		{"--json to stdout", []string{"--results", dir, "--format", "md", "--json"}, "--json"},
		{"foreign --out file", []string{"--results", dir, "--format", "md", "--out", foreign}, foreign},
		{"--out in a missing folder", []string{"--results", dir, "--out", filepath.Join(dir, "no", "r.html")}, "--out"},
		{"foreign report folder", []string{"--results", foreignDir}, filepath.Join(foreignDir, "report")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"report"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("exit %d, stderr %q: want exit 2 and a line naming %q", code, stderr, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(foreign); string(b) != "my notes\n" {
		t.Errorf("the foreign --out file was changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(foreignDir, "report", "index.html")); err == nil {
		t.Error("a report was written into a folder holding a file gollm did not write")
	}
}
