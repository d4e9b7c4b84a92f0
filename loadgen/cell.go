package loadgen

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/llmcbench/gollm/bench"
)

// CellLabels name a run in a study: the model as the study calls it
// (Cell.Model, the served name when empty), the method spec (bench.Dense
// when empty) and the gollm version in the key.
type CellLabels struct {
	Model, Method, Gollm string
}

// Cell converts a run into a Track-5 speed cell (bench.KindSpeed, Engine
// the run's engine label) that gollm bench and gollm report read beside
// gollm's own speed cells:
//
//   - decode_tokens_per_second is the output-token throughput (all output
//     tokens over the run's duration: the server's aggregate decode speed
//     at that load);
//   - prefill_tokens_per_second is the completed requests' input tokens
//     over the sum of their times to first token (mean input length / mean
//     TTFT: one request's prompt processing speed, queueing included).
//
// Every vllm bench serve metric goes into Metrics as well (ttft_ms_mean,
// tpot_ms_p99, request_throughput, failed, …) and the whole Result into
// Result. A run with no completed request, or one that was interrupted, is
// a failed cell: its speeds are not comparable.
func Cell(r *Result, l CellLabels) (*bench.Cell, error) {
	model, method := l.Model, l.Method
	if model == "" {
		model = r.Config.Model
	}
	if method == "" {
		method = bench.Dense
	}
	cfg, err := json.Marshal(r.Config)
	if err != nil {
		return nil, err
	}
	result, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	c := r.Config
	inputs := map[string]string{"model": model, "method": method, "engine": r.Engine, "gollm": l.Gollm,
		"loadgen": fmt.Sprintf("input=%d,output=%d,prompts=%d,concurrency=%d,rate=%s,seed=%d,dataset=%s,format=%s",
			c.InputLen, c.OutputLen, c.NumPrompts, c.Concurrency, strconv.FormatFloat(c.RequestRate, 'g', -1, 64), c.Seed, c.Dataset, c.PromptFormat)}
	cell := &bench.Cell{Schema: bench.CellSchema, Key: bench.KeyOf(bench.KindSpeed, inputs), Kind: bench.KindSpeed,
		Model: model, Method: method, Engine: r.Engine, Inputs: inputs, Status: bench.StatusOK,
		Result: result, Config: cfg, Machine: r.Machine, Gollm: l.Gollm, Started: r.Started, Seconds: r.Metrics.DurationS}
	m := r.Metrics
	switch {
	case r.Interrupted:
		cell.Status, cell.Error = bench.StatusFailed, "loadgen was interrupted"
		return cell, nil
	case m.Completed == 0:
		cell.Status, cell.Error = bench.StatusFailed, fmt.Sprintf("no request completed (%d failed)", m.Failed)
		return cell, nil
	}
	cell.Metrics = map[string]float64{
		"decode_tokens_per_second": m.OutputThroughput,
		"request_throughput":       m.RequestThroughput,
		"output_throughput":        m.OutputThroughput,
		"total_token_throughput":   m.TotalTokenThroughput,
		"completed":                float64(m.Completed),
		"failed":                   float64(m.Failed),
		"duration_s":               m.DurationS,
	}
	if m.TTFT.Mean > 0 {
		cell.Metrics["prefill_tokens_per_second"] = float64(m.TotalInputTokens) / (m.TTFT.Mean / 1000 * float64(m.TTFT.N))
	}
	for name, s := range map[string]Stats{"ttft_ms": m.TTFT, "tpot_ms": m.TPOT, "itl_ms": m.ITL, "e2el_ms": m.E2EL} {
		cell.Metrics[name+"_mean"] = s.Mean
		cell.Metrics[name+"_median"] = s.Median
		cell.Metrics[name+"_p90"] = s.P90
		cell.Metrics[name+"_p99"] = s.P99
	}
	return cell, nil
}
