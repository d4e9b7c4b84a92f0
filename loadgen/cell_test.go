package loadgen

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/compress"
)

// result is a finished run with the given throughput and mean TTFT.
func result(outputTokS, ttftMS float64) *Result {
	return &Result{Tool: ToolName, Engine: "fake-engine",
		Config: Config{BaseURL: "http://x", Model: "tiny", NumPrompts: 4, InputLen: 32, OutputLen: 128, Concurrency: 2, PromptFormat: FormatIDs},
		Metrics: Metrics{Completed: 4, TotalInputTokens: 128, TotalOutputTokens: 512, DurationS: 512 / outputTokS,
			OutputThroughput: outputTokS, TTFT: Stats{Mean: ttftMS, N: 4}}}
}

func TestCell(t *testing.T) {
	c, err := Cell(result(100, 250), CellLabels{Gollm: "devel"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != bench.KindSpeed || c.Engine != "fake-engine" || c.Model != "tiny" || c.Method != bench.Dense || c.Status != bench.StatusOK {
		t.Errorf("cell %s/%s/%s/%s/%s; want speed, fake-engine, tiny, dense, ok", c.Kind, c.Engine, c.Model, c.Method, c.Status)
	}
	if c.Key != bench.KeyOf(c.Kind, c.Inputs) {
		t.Error("the key is not the hash of the inputs")
	}
	// 128 input tokens over 4 × 0.25 s of TTFT.
	if got := c.Metrics["prefill_tokens_per_second"]; math.Abs(got-128) > 1e-9 {
		t.Errorf("prefill_tokens_per_second %v; want 128", got)
	}
	if got := c.Metrics["decode_tokens_per_second"]; got != 100 {
		t.Errorf("decode_tokens_per_second %v; want 100 (the output throughput)", got)
	}
	other, _ := Cell(result(100, 250), CellLabels{Gollm: "devel", Method: "rtn:bits=4"})
	if other.Key == c.Key {
		t.Error("two methods share a key")
	}
	r := result(100, 250)
	r.Interrupted = true
	if c, _ := Cell(r, CellLabels{}); c.Status != bench.StatusFailed || c.Metrics != nil {
		t.Errorf("an interrupted run's cell is %s with metrics %v; want failed without", c.Status, c.Metrics)
	}
	r = result(100, 250)
	r.Metrics = Metrics{Failed: 4}
	if c, _ := Cell(r, CellLabels{}); c.Status != bench.StatusFailed {
		t.Errorf("a run with no completed request gives a %s cell; want failed", c.Status)
	}
}

// TestCellInStudy writes a dense and a compressed run into a study folder
// and reads it as gollm report does: both appear as Track 5 rows of their
// engine, and om_hard compares them.
func TestCellInStudy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bench.StudyFileName), []byte(`{"gollm_version":"devel"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, bench.CellsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	sp, err := compress.ParseSpec("rtn:bits=4")
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []struct {
		method           string
		outputTokS, ttft float64
	}{{bench.Dense, 100, 250}, {sp.String(), 150, 200}} {
		c, err := Cell(result(run.outputTokS, run.ttft), CellLabels{Model: "tiny", Method: run.method, Gollm: "devel"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(c)
		if err := os.WriteFile(filepath.Join(dir, bench.CellsDir, c.Key+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := bench.LoadStudy(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sum.Problems {
		t.Errorf("problem: %+v", p)
	}
	var track *bench.Track
	for i := range sum.Tracks {
		if sum.Tracks[i].ID == "5" {
			track = &sum.Tracks[i]
		}
	}
	if track == nil {
		t.Fatal("no Track 5 in the summary")
	}
	rows := map[string]bench.Row{}
	for _, r := range track.Rows {
		if r.Engine != "fake-engine" {
			t.Errorf("row %s/%s engine %q; want fake-engine", r.Model, r.Method, r.Engine)
		}
		rows[r.Method] = r
	}
	if len(rows) != 2 {
		t.Fatalf("Track 5 rows %+v; want dense and %s", track.Rows, sp)
	}
	var om *bench.OMValue
	for i := range track.OMs {
		if track.OMs[i].Name == "om_hard" && track.OMs[i].Method == sp.String() {
			om = &track.OMs[i]
		}
	}
	// Ratios compressed/dense: prefill 160/128 = 1.25, decode 150/100 = 1.5.
	want := 100 * math.Sqrt((1.25*1.25+1.5*1.5)/2)
	if om == nil || math.Abs(om.V-want) > 1e-6 {
		t.Errorf("om_hard %+v; want %.4f", om, want)
	}
}
