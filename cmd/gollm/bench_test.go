package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/bench/study"
)

// asGollm makes the test binary act as gollm when the bench runner starts
// it as a child (os.Executable() is the test binary in tests).
const asGollm = "GOLLM_TEST_AS_GOLLM"

func TestMain(m *testing.M) {
	if os.Getenv(asGollm) == "1" {
		slowDown(os.Args[1:])
		os.Exit(runMain())
	}
	os.Exit(m.Run())
}

// benchConfig writes a small study: llama3-tiny dense, RTN with groups of
// 8 (runs) and of 32 (refused: 32 does not divide the MLP's 176 inputs, a
// failed compression and failed dependent cells), two tasks, speed.
// Cells: 4 per row (footprint, 2 evals, speed) × 3 rows + 2 compressions.
func benchConfig(t *testing.T, dir string) string {
	t.Helper()
	abs := func(p string) string { return absPath(t, p) }
	y := "models:\n  - " + abs(evalModel) + "\n" +
		"methods:\n  - rtn:bits=4,group=8\n  - rtn:bits=4,group=32\n" +
		"data: " + abs(evalData) + "\n" +
		"tasks:\n  - {name: arc_easy, limit: 4}\n  - {name: wikitext2, limit: 2, seqlen: 64}\n" +
		"engines: [gollm-cpu]\nthreads: 1\n"
	path := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// absPath returns p made absolute.
func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const benchCells = 14

// readCells reads every cell file of a study by key.
func readCells(t *testing.T, dir string) map[string]*bench.Cell {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, bench.CellsDir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*bench.Cell{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("stray file %s in cells/", e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, bench.CellsDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		c := &bench.Cell{}
		if err := json.Unmarshal(b, c); err != nil {
			continue // a corrupt file the test wrote
		}
		out[c.Key] = c
	}
	return out
}

func benchSummary(t *testing.T, stdout string) study.Summary {
	t.Helper()
	var s study.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	return s
}

// TestBenchStudy: a study runs every cell (a refused compression fails
// its cells and the study goes on); a second run redoes none; a corrupt
// cell file is reported and rerun; --retry-failed reruns the failed cells.
func TestBenchStudy(t *testing.T) {
	t.Setenv(asGollm, "1")
	dir := t.TempDir()
	cfg := benchConfig(t, dir)
	out := filepath.Join(dir, "st")
	// First without per-sample records: then --log-samples reruns the
	// eval cells that have none (and only those).
	code, stdout, stderr := runCLI("bench", "--config", cfg, "--out", out, "--json")
	if s := benchSummary(t, stdout); code != 0 || s.Ran != benchCells {
		t.Fatalf("exit %d, %+v: %s", code, s, stderr)
	}
	code, stdout, stderr = runCLI("bench", "--config", cfg, "--out", out, "--log-samples", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s := benchSummary(t, stdout)
	if s.Cells != benchCells || s.Ran != 4 || s.OK != 9 || s.Failed != 5 {
		t.Fatalf("run with --log-samples: %+v\n%s", s, stderr)
	}
	if n := strings.Count(stderr, "[cell "); n != 4 {
		t.Errorf("%d progress lines, want 4", n)
	}
	cells := readCells(t, out)
	if len(cells) != benchCells {
		t.Fatalf("%d cell files", len(cells))
	}
	kinds := map[string]int{}
	for _, c := range cells {
		kinds[c.Kind+"/"+c.Status]++
		if c.Key != bench.KeyOf(c.Kind, c.Inputs) || c.Gollm != "devel" || c.Model != "llama3-tiny" || c.Family != "llama" {
			t.Errorf("cell %s: key/inputs/version/model wrong: %+v", c.Key, c)
		}
		switch {
		case c.Kind == bench.KindCompress && c.Status == bench.StatusFailed:
			if !c.BadInput || !strings.Contains(c.Error, "group-size 32") {
				t.Errorf("refused compression: bad input %v, error %q", c.BadInput, c.Error)
			}
		case c.Kind == bench.KindCompress:
			if c.Metrics["wall_seconds"] <= 0 || c.Metrics["peak_rss_bytes"] <= 0 || c.Checkpoint == "" {
				t.Errorf("compress cell: %v, checkpoint %q", c.Metrics, c.Checkpoint)
			}
			if _, err := os.Stat(filepath.Join(out, c.Checkpoint, "model.safetensors")); err != nil {
				t.Error(err)
			}
		case c.Status == bench.StatusFailed:
			if !strings.Contains(c.Error, "compression failed") {
				t.Errorf("%s cell of a failed compression: %q", c.Kind, c.Error)
			}
		case c.Kind == bench.KindEval:
			checkEvalCell(t, out, c)
			if c.Params <= 0 {
				t.Errorf("eval cell %s %s: no parameter count", c.Method, c.Task)
			}
		case c.Kind == bench.KindFootprint:
			if c.Metrics["eval_peak_rss_bytes"] <= 0 || c.Metrics["checkpoint_bytes"] <= 0 || c.Metrics["params"] <= 0 {
				t.Errorf("footprint %s: %v", c.Method, c.Metrics)
			}
			var r struct {
				Config map[string]any   `json:"config"`
				Spec   string           `json:"spec"`
				Files  map[string]int64 `json:"files"`
			}
			if err := json.Unmarshal(c.Result, &r); err != nil || r.Config["model_type"] != "llama" || r.Spec != c.Method || r.Files["config.json"] == 0 {
				t.Errorf("footprint result %s: %v", c.Result, err)
			}
		case c.Kind == bench.KindSpeed:
			if c.Metrics["prefill_tokens_per_second"] <= 0 || c.Metrics["decode_tokens_per_second"] <= 0 || c.Engine != study.EngineCPU {
				t.Errorf("speed %s: %v", c.Method, c.Metrics)
			}
		}
	}
	want := map[string]int{"compress/ok": 1, "compress/failed": 1, "footprint/ok": 2, "footprint/failed": 1,
		"eval/ok": 4, "eval/failed": 2, "speed/ok": 2, "speed/failed": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s: %d cells, want %d (all: %v)", k, kinds[k], n, kinds)
		}
	}

	// Another run redoes nothing: every cell file is as it was.
	code, stdout, stderr = runCLI("bench", "--config", cfg, "--out", out, "--json")
	if s := benchSummary(t, stdout); code != 0 || s.Ran != 0 || s.Skipped != benchCells {
		t.Fatalf("second run: exit %d, %+v\n%s", code, s, stderr)
	}
	for k, c := range readCells(t, out) {
		if !c.Started.Equal(cells[k].Started) {
			t.Errorf("cell %s rerun", k)
		}
	}

	// A corrupt cell file is reported and its cell rerun.
	var victim string
	for k, c := range cells {
		if c.Kind == bench.KindEval && c.Status == bench.StatusOK {
			victim = k
			break
		}
	}
	path := filepath.Join(out, bench.CellsDir, victim+".json")
	if err := os.WriteFile(path, []byte(`{"schema": 1, "key": "`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI("bench", "--config", cfg, "--out", out, "--json")
	if s := benchSummary(t, stdout); code != 0 || s.Ran != 1 || !strings.Contains(stderr, path) {
		t.Fatalf("after corrupting %s: exit %d, %+v\n%s", path, code, s, stderr)
	}
	if c := readCells(t, out)[victim]; c == nil || c.Status != bench.StatusOK {
		t.Errorf("the corrupt cell was not rewritten: %+v", c)
	}

	// --retry-failed reruns the five failed cells (and they fail again).
	code, stdout, stderr = runCLI("bench", "--config", cfg, "--out", out, "--json", "--retry-failed")
	if s := benchSummary(t, stdout); code != 0 || s.Ran != 5 || s.Failed != 5 || s.Skipped != benchCells-5 {
		t.Fatalf("--retry-failed: exit %d, %+v\n%s", code, s, stderr)
	}
}

// checkEvalCell checks an eval cell against its samples file: one line
// per scored document whose mean (or exp(ΣNLL/ΣTokens)) is the metric.
func checkEvalCell(t *testing.T, out string, c *bench.Cell) {
	t.Helper()
	if c.Samples == "" {
		t.Errorf("eval %s %s: no samples", c.Method, c.Task)
		return
	}
	f, err := os.Open(filepath.Join(out, c.Samples))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int
	var acc float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s bench.Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		n++
		acc += s.Metrics["acc"]
	}
	var r struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal(c.Result, &r); err != nil || r.N != n || n == 0 {
		t.Errorf("eval %s: %d samples, result n=%d (%v)", c.Task, n, r.N, err)
	}
	if c.Task == "arc_easy" && acc/float64(n) != c.Metrics["acc"] {
		t.Errorf("arc_easy: mean sample acc %v, cell acc %v", acc/float64(n), c.Metrics["acc"])
	}
}

// cancelAfter cancels a context once n progress lines of cells were
// written.
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Count(w.buf.String(), "[cell ") >= w.n {
		w.cancel()
	}
	return len(p), nil
}

// TestBenchInterrupted: a study cancelled after some cells stops with no
// partial cell file, and the next run does exactly the remaining cells.
func TestBenchInterrupted(t *testing.T) {
	t.Setenv(asGollm, "1")
	dir := t.TempDir()
	cfg := benchConfig(t, dir)
	out := filepath.Join(dir, "st")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{n: 5, cancel: cancel}
	var stdout bytes.Buffer
	code := run(ctx, []string{"bench", "--config", cfg, "--out", out}, &stdout, w)
	if code != 1 || !strings.Contains(w.buf.String(), "interrupted") {
		t.Fatalf("interrupted run: exit %d\n%s", code, w.buf.String())
	}
	done := len(readCells(t, out))
	if done < 5 || done >= benchCells {
		t.Fatalf("%d cells written before the interrupt took effect", done)
	}
	code, so, stderr := runCLI("bench", "--config", cfg, "--out", out, "--json")
	if s := benchSummary(t, so); code != 0 || s.Ran != benchCells-done || s.Skipped != done {
		t.Fatalf("rerun: exit %d, %+v, %d done before\n%s", code, s, done, stderr)
	}
}

// TestBenchBadInput: a bad config fails before any work with the file and
// line (exit 2); a folder of other files is not a study; --print-config
// prints the default.
func TestBenchBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "s.yaml")
	model, _ := filepath.Abs(evalModel)
	if err := os.WriteFile(cfg, []byte("models:\n  - "+model+"\nmethods:\n  - gptx\ntasks: [piqa]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "st")
	code, _, stderr := runCLI("bench", "--config", cfg, "--out", out)
	if code != 2 || !strings.Contains(stderr, cfg+":4: methods[0]: unknown method \"gptx\"") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a bad config created the study folder")
	}
	other := filepath.Join(dir, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := benchConfig(t, dir)
	if code, _, stderr := runCLI("bench", "--config", good, "--out", other); code != 2 || !strings.Contains(stderr, "not a gollm study") {
		t.Errorf("--out onto a folder of other files: exit %d: %s", code, stderr)
	}
	code, stdout, _ := runCLI("bench", "--print-config")
	if code != 0 || stdout != string(study.DefaultYAML()) {
		t.Errorf("--print-config: exit %d", code)
	}
}

// TestBenchDefaultElsewhere: the default study outside the repository root
// fails before any work, saying where it runs from.
func TestBenchDefaultElsewhere(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, _, stderr := runCLI("bench")
	if code != 2 || !strings.Contains(stderr, "(default config):") || !strings.Contains(stderr, "repository root") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}
