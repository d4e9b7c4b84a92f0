package loadgen

import (
	"math"
	"testing"
	"time"
)

// at returns t0 + ms milliseconds.
func at(ms float64) time.Time {
	return time.Unix(1000, 0).Add(time.Duration(ms * float64(time.Millisecond)))
}

// timeline is a request sent at 0 whose chunks arrive at the given
// milliseconds.
func timeline(chunks ...float64) Outcome {
	o := Outcome{Start: at(0)}
	for _, c := range chunks {
		o.Chunks = append(o.Chunks, at(c))
	}
	return o
}

func TestSummarize(t *testing.T) {
	withUsage := func(o Outcome, prompt, completion int) Outcome {
		o.PromptTokens, o.CompletionTokens = prompt, completion
		return o
	}
	failed := Outcome{Start: at(0), Err: "HTTP 400: bad"}
	cancelled := timeline(5)
	cancelled.Cancelled = true
	noUsage := timeline(100, 120, 150)
	noUsage.InputLen = 7
	// one is the metrics of one request sent at 0 with chunks at 100, 120
	// and 150 ms (3 output tokens) in a one-second run.
	one := func(input int) Metrics {
		return Metrics{Completed: 1, TotalInputTokens: input, TotalOutputTokens: 3, DurationS: 1,
			RequestThroughput: 1, OutputThroughput: 3, TotalTokenThroughput: float64(input + 3),
			TTFT: Stats{Mean: 100, Median: 100, P90: 100, P99: 100, N: 1},
			TPOT: Stats{Mean: 25, Median: 25, P90: 25, P99: 25, N: 1},
			ITL:  Stats{Mean: 25, Median: 25, Std: 5, P90: 29, P99: 29.9, N: 2},
			E2EL: Stats{Mean: 150, Median: 150, P90: 150, P99: 150, N: 1}}
	}
	tests := []struct {
		name     string
		outcomes []Outcome
		duration time.Duration
		want     Metrics
	}{
		{"one request", []Outcome{withUsage(timeline(100, 120, 150), 32, 3)}, time.Second, one(32)},
		// usage counts more tokens than chunks (a server that sends two
		// tokens a chunk): TPOT divides by the tokens, ITL is per chunk.
		{"usage beats chunk count", []Outcome{withUsage(timeline(10, 50), 4, 5)}, 2 * time.Second, Metrics{
			Completed: 1, TotalInputTokens: 4, TotalOutputTokens: 5, DurationS: 2,
			RequestThroughput: 0.5, OutputThroughput: 2.5, TotalTokenThroughput: 4.5,
			TTFT: Stats{Mean: 10, Median: 10, P90: 10, P99: 10, N: 1},
			TPOT: Stats{Mean: 10, Median: 10, P90: 10, P99: 10, N: 1},
			ITL:  Stats{Mean: 40, Median: 40, P90: 40, P99: 40, N: 1},
			E2EL: Stats{Mean: 50, Median: 50, P90: 50, P99: 50, N: 1}}},
		{"no usage: chunks and built length", []Outcome{noUsage}, time.Second, one(7)},
		// One output token has no TPOT (vLLM's rule), and failed and
		// cancelled requests add no tokens and no latencies.
		{"failed, cancelled, single token", []Outcome{withUsage(timeline(40), 2, 1), failed, cancelled}, time.Second, Metrics{
			Completed: 1, Failed: 1, Cancelled: 1, TotalInputTokens: 2, TotalOutputTokens: 1, DurationS: 1,
			RequestThroughput: 1, OutputThroughput: 1, TotalTokenThroughput: 3,
			TTFT: Stats{Mean: 40, Median: 40, P90: 40, P99: 40, N: 1},
			E2EL: Stats{Mean: 40, Median: 40, P90: 40, P99: 40, N: 1}}},
		{"a stream without a chunk failed", []Outcome{{Start: at(0)}}, time.Second, Metrics{Failed: 1, DurationS: 1}},
		{"percentiles interpolate", []Outcome{timeline(10), timeline(20), timeline(30), timeline(40), timeline(50)}, 0, Metrics{
			Completed: 5, TotalOutputTokens: 5,
			TTFT: Stats{Mean: 30, Median: 30, Std: math.Sqrt(200), P90: 46, P99: 49.6, N: 5},
			E2EL: Stats{Mean: 30, Median: 30, Std: math.Sqrt(200), P90: 46, P99: 49.6, N: 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.outcomes, tt.duration)
			if !metricsClose(got, tt.want) {
				t.Errorf("Summarize =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// metricsClose compares metrics up to float rounding.
func metricsClose(a, b Metrics) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
	stats := func(x, y Stats) bool {
		return x.N == y.N && near(x.Mean, y.Mean) && near(x.Median, y.Median) && near(x.Std, y.Std) && near(x.P90, y.P90) && near(x.P99, y.P99)
	}
	return a.Completed == b.Completed && a.Failed == b.Failed && a.Cancelled == b.Cancelled &&
		a.TotalInputTokens == b.TotalInputTokens && a.TotalOutputTokens == b.TotalOutputTokens &&
		near(a.DurationS, b.DurationS) && near(a.RequestThroughput, b.RequestThroughput) &&
		near(a.OutputThroughput, b.OutputThroughput) && near(a.TotalTokenThroughput, b.TotalTokenThroughput) &&
		stats(a.TTFT, b.TTFT) && stats(a.TPOT, b.TPOT) && stats(a.ITL, b.ITL) && stats(a.E2EL, b.E2EL)
}
