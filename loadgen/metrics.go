package loadgen

import (
	"math"
	"sort"
	"time"
)

// Outcome is what one request recorded: when it was sent, when each
// streamed chunk carrying a choice arrived, what the server's usage chunk
// said, and why it failed. Metrics are computed from Outcomes alone, so they
// can be checked on hand-made timelines.
type Outcome struct {
	// Start is when the request was sent.
	Start time.Time
	// Chunks are the arrival times of the chunks that carried a choice
	// (a token or a few), in order. The usage-only chunk and [DONE] are not
	// among them.
	Chunks []time.Time
	// PromptTokens and CompletionTokens are the server's usage counts, 0
	// when it sent none.
	PromptTokens, CompletionTokens int
	// InputLen is the prompt's length as loadgen built it (tokens for a
	// random id prompt, words for a text prompt, 0 for a dataset prompt):
	// the input count when the server reports no usage.
	InputLen int
	// Err is why the request failed ("" for a success).
	Err string
	// Cancelled marks a request stopped by an interrupt: neither completed
	// nor failed.
	Cancelled bool
}

// Succeeded reports whether the request completed: no error, not
// cancelled, and at least one chunk with a choice (vLLM's rule: without one
// there is no time to first token).
func (o *Outcome) Succeeded() bool { return o.Err == "" && !o.Cancelled && len(o.Chunks) > 0 }

// OutputTokens is the request's output length: the server's
// completion_tokens, or without usage the number of chunks (servers stream
// one token a chunk).
func (o *Outcome) OutputTokens() int {
	if o.CompletionTokens > 0 {
		return o.CompletionTokens
	}
	return len(o.Chunks)
}

// InputTokens is the request's input length: the server's prompt_tokens,
// or without usage the length loadgen built.
func (o *Outcome) InputTokens() int {
	if o.PromptTokens > 0 {
		return o.PromptTokens
	}
	return o.InputLen
}

// Stats summarises one latency in milliseconds, as vllm bench serve prints
// it: mean, median, standard deviation and percentiles (numpy's linear
// interpolation). All are 0 when there are no values.
type Stats struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	Std    float64 `json:"std"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	// N is how many values the statistics are over.
	N int `json:"n"`
}

// Metrics are the results of one load run, defined as vllm bench serve
// (benchmarks/benchmark_serving.py, calculate_metrics) defines them.
type Metrics struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// Cancelled counts requests an interrupt stopped (not in vLLM, which
	// cannot be interrupted and still report).
	Cancelled int `json:"cancelled"`
	// TotalInputTokens and TotalOutputTokens are over completed requests.
	TotalInputTokens  int `json:"total_input_tokens"`
	TotalOutputTokens int `json:"total_output_tokens"`
	// DurationS is the wall time from the first request's dispatch to the
	// last request's end.
	DurationS float64 `json:"duration_s"`
	// RequestThroughput is completed requests a second;
	// OutputThroughput output tokens a second; TotalTokenThroughput input
	// and output tokens a second, all over DurationS.
	RequestThroughput    float64 `json:"request_throughput"`
	OutputThroughput     float64 `json:"output_throughput"`
	TotalTokenThroughput float64 `json:"total_token_throughput"`
	// TTFT is the time to first token: first chunk with a choice − send.
	TTFT Stats `json:"ttft_ms"`
	// TPOT is the time per output token after the first:
	// (E2EL − TTFT) / (output tokens − 1), over requests with more than one
	// output token.
	TPOT Stats `json:"tpot_ms"`
	// ITL is the inter-token latency: every gap between consecutive
	// chunks of every completed request, pooled.
	ITL Stats `json:"itl_ms"`
	// E2EL is the end-to-end latency: last chunk with a choice − send.
	E2EL Stats `json:"e2el_ms"`
}

// Summarize computes the metrics of a run that lasted duration from its
// requests' outcomes.
func Summarize(outcomes []Outcome, duration time.Duration) Metrics {
	var m Metrics
	var ttft, tpot, itl, e2el []float64
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for i := range outcomes {
		o := &outcomes[i]
		switch {
		case o.Cancelled:
			m.Cancelled++
			continue
		case !o.Succeeded():
			m.Failed++
			continue
		}
		m.Completed++
		out := o.OutputTokens()
		m.TotalInputTokens += o.InputTokens()
		m.TotalOutputTokens += out
		first, last := o.Chunks[0].Sub(o.Start), o.Chunks[len(o.Chunks)-1].Sub(o.Start)
		ttft = append(ttft, ms(first))
		e2el = append(e2el, ms(last))
		if out > 1 {
			tpot = append(tpot, ms(last-first)/float64(out-1))
		}
		for j := 1; j < len(o.Chunks); j++ {
			itl = append(itl, ms(o.Chunks[j].Sub(o.Chunks[j-1])))
		}
	}
	m.DurationS = duration.Seconds()
	if m.DurationS > 0 {
		m.RequestThroughput = float64(m.Completed) / m.DurationS
		m.OutputThroughput = float64(m.TotalOutputTokens) / m.DurationS
		m.TotalTokenThroughput = float64(m.TotalInputTokens+m.TotalOutputTokens) / m.DurationS
	}
	m.TTFT, m.TPOT, m.ITL, m.E2EL = statsOf(ttft), statsOf(tpot), statsOf(itl), statsOf(e2el)
	return m
}

// statsOf summarises v (which it sorts).
func statsOf(v []float64) Stats {
	s := Stats{N: len(v)}
	if len(v) == 0 {
		return s
	}
	sort.Float64s(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	s.Mean = sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - s.Mean) * (x - s.Mean)
	}
	s.Std = math.Sqrt(ss / float64(len(v))) // numpy's std: population
	s.Median, s.P90, s.P99 = percentile(v, 50), percentile(v, 90), percentile(v, 99)
	return s
}

// percentile is numpy.percentile's default (linear interpolation between
// the closest ranks) of sorted, non-empty v.
func percentile(v []float64, p float64) float64 {
	r := p / 100 * float64(len(v)-1)
	lo := int(math.Floor(r))
	hi := min(lo+1, len(v)-1)
	return v[lo] + (r-float64(lo))*(v[hi]-v[lo])
}
