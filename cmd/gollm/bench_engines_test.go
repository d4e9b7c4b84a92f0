package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/loadgen"
)

// TestBenchServeEngines: a study configured with the serving engines
// measures gollm serve on the dense and the compressed checkpoint, and
// llama.cpp on the dense one's GGUF export; the packed RTN checkpoint,
// which llama.cpp does not load, is a failed cell saying so (or every
// llama.cpp cell says it is not installed).
func TestBenchServeEngines(t *testing.T) {
	t.Setenv(asGollm, "1")
	dir := t.TempDir()
	model, err := filepath.Abs(evalModel)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "study.yaml")
	y := "models:\n  - " + model + "\nmethods:\n  - rtn:bits=4,group=8\ntasks: []\nengines: [gollm-serve, llama.cpp]\nthreads: 1\n"
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "st")
	code, stdout, stderr := runCLI("bench", "--config", cfg, "--out", out, "--json")
	if s := benchSummary(t, stdout); code != 0 || s.Cells != 7 {
		t.Fatalf("exit %d, %+v (want 7 cells: compress, and footprint + 2 speeds per row): %s", code, s, stderr)
	}
	_, _, notInstalled := loadgen.LlamaCpp("")
	seen := 0
	for _, c := range readCells(t, out) {
		if c.Kind != bench.KindSpeed {
			continue
		}
		seen++
		switch {
		case c.Engine == loadgen.LabelGollmServe:
			if c.Status != bench.StatusOK || c.Metrics["decode_tokens_per_second"] <= 0 || c.Metrics["completed"] != 8 {
				t.Errorf("gollm-serve %s: %s %q %v", c.Method, c.Status, c.Error, c.Metrics)
			}
		case errors.Is(notInstalled, loadgen.ErrNotInstalled):
			if c.Status != bench.StatusFailed || !strings.Contains(c.Error, "not installed") {
				t.Errorf("llama.cpp %s without node-llama-cpp: %s %q", c.Method, c.Status, c.Error)
			}
		case c.Method == bench.Dense:
			if c.Status != bench.StatusOK || c.Metrics["decode_tokens_per_second"] <= 0 {
				t.Errorf("llama.cpp dense: %s %q %v", c.Status, c.Error, c.Metrics)
			}
		default:
			if c.Status != bench.StatusFailed || !strings.Contains(c.Error, "not supported") {
				t.Errorf("llama.cpp %s: %s %q, want not supported", c.Method, c.Status, c.Error)
			}
		}
	}
	if seen != 4 {
		t.Errorf("%d speed cells, want 4", seen)
	}
	code, stdout, stderr = runCLI("report", "--results", out, "--format", "md")
	if code != 0 || !strings.Contains(stdout, "gollm-serve") || !strings.Contains(stdout, "| llama.cpp | sparse-dense | yes |") {
		t.Errorf("report: exit %d, want the engines' Track-5 rows and the compatibility table: %s\n%s", code, stderr, stdout)
	}
}
