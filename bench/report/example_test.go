package report_test

import (
	"log"
	"os"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/bench/report"
)

// One track of one model, dense and a compressed method with a failed
// cell: the Markdown table flags it and says why.
func ExampleMarkdown() {
	s := &bench.Summary{
		Methods: []string{bench.Dense, "rtn:bits=4,group=128"},
		Tracks: []bench.Track{{
			ID: "1", Title: "Compression performance",
			Columns: []bench.Column{{Name: "mmlu", Metric: "acc", Unit: "%"}, {Name: "wikitext2", Metric: "ppl", LowerIsBetter: true}},
			Rows: []bench.Row{
				{Model: "tiny", Method: bench.Dense, Source: "gollm", Values: []bench.Value{{V: 46.31, CI: &[2]float64{44.21, 48.41}}, {V: 5.473, CI: &[2]float64{5.201, 5.799}}}},
				{Model: "tiny", Method: "rtn:bits=4,group=128", Setting: "w4a16", Source: "gollm", Values: []bench.Value{{V: 45.02, CI: &[2]float64{42.9, 47.14}}, {Flag: bench.FlagFailed}}},
			},
		}},
	}
	if err := report.Markdown(os.Stdout, s); err != nil {
		log.Fatal(err)
	}
	// Output:
	// <!-- gollm report -->
	// # LLMCBench study
	//
	// ## Track 1: Compression performance
	//
	// | Model | Method | mmlu acc (%) | wikitext2 ppl ↓ |
	// | --- | --- | ---: | ---: |
	// | tiny | dense | 46.31 ±2.10 | 5.473 [5.201, 5.799] |
	// | tiny | rtn w4a16 | 45.02 ±2.12 | —¹ |
	//
	// ¹ failed: the cell ran and failed (see Problems); counted as ratio 0 in the overall metrics.
	//
	// ## Overall metrics
	//
	// No overall metrics (no track has both original and compressed measurements).
	//
	// ## Methods
	//
	// | Method | Spec |
	// | --- | --- |
	// | rtn w4a16 | `rtn:bits=4,group=128` |
	//
	// ## Problems
	//
	// None: every cell the tracks need was read and measured.
}
