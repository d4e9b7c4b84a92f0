package serve

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the counters /metrics exposes.
type metrics struct {
	requests                sync.Map // status code → *atomic.Int64
	promptTokens, genTokens atomic.Int64
	cancelled               atomic.Int64
	running                 atomic.Int64
	mu                      sync.Mutex
	ttftSum, latSum         float64
	ttftCount, latencyCount int64
}

func (m *metrics) request(status int) {
	v, _ := m.requests.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (m *metrics) observe(ttft, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttft > 0 {
		m.ttftSum += ttft.Seconds()
		m.ttftCount++
	}
	m.latSum += latency.Seconds()
	m.latencyCount++
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	m := &s.metrics
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP gollm_requests_total HTTP requests to the API routes by status code.")
	fmt.Fprintln(w, "# TYPE gollm_requests_total counter")
	m.requests.Range(func(k, v any) bool {
		fmt.Fprintf(w, "gollm_requests_total{code=\"%d\"} %d\n", k.(int), v.(*atomic.Int64).Load())
		return true
	})
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter("gollm_prompt_tokens_total", "Prompt tokens of admitted requests.", m.promptTokens.Load())
	counter("gollm_generation_tokens_total", "Tokens generated.", m.genTokens.Load())
	counter("gollm_cancelled_sequences_total", "Sequences dropped because their request ended early (client gone, stop string).", m.cancelled.Load())
	gauge("gollm_running_sequences", "Sequences in the running batch.", m.running.Load())
	gauge("gollm_queued_sequences", "Sequences waiting to join the batch.", int64(len(s.queue)))
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(w, "# HELP gollm_time_to_first_token_seconds Time from request to first generated token.\n# TYPE gollm_time_to_first_token_seconds summary\n")
	fmt.Fprintf(w, "gollm_time_to_first_token_seconds_sum %g\ngollm_time_to_first_token_seconds_count %d\n", m.ttftSum, m.ttftCount)
	fmt.Fprintf(w, "# HELP gollm_request_latency_seconds Time from request to its last token.\n# TYPE gollm_request_latency_seconds summary\n")
	fmt.Fprintf(w, "gollm_request_latency_seconds_sum %g\ngollm_request_latency_seconds_count %d\n", m.latSum, m.latencyCount)
}
