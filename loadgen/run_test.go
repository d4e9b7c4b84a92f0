package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangGuard bounds every fake-server test; no test asserts a duration.
const hangGuard = 20 * time.Second

// fakeServer is an in-process OpenAI completions server: it streams
// max_tokens one-token chunks, then a usage chunk and [DONE]. A prompt
// (text) starting with "fail" is answered 400, "garbage" gets a malformed
// chunk, "cut" a stream that ends before [DONE]. It records the most
// requests it had in flight.
type fakeServer struct {
	*httptest.Server
	mu          sync.Mutex
	inflight    int
	maxInflight int
	// hold, when set, is called inside every request while it is counted
	// in flight (tests block it).
	hold func(r *http.Request)
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"tiny","object":"model","owned_by":"fake-engine"}]}`)
	})
	mux.HandleFunc("POST /v1/completions", f.complete)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) complete(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !req.Stream || req.StreamOptions["include_usage"] != true {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"want a streaming request with include_usage","type":"invalid_request_error"}}`)
		return
	}
	f.mu.Lock()
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.hold != nil {
		f.hold(r)
	}
	text, _ := req.Prompt.(string)
	promptTokens := len(strings.Fields(text))
	if ids, ok := req.Prompt.([]any); ok {
		promptTokens = len(ids)
	}
	switch {
	case strings.HasPrefix(text, "fail"):
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"max_tokens too large","type":"invalid_request_error","param":"max_tokens","code":null}}`)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for i := 0; i < req.MaxTokens; i++ {
		if strings.HasPrefix(text, "garbage") && i == 1 {
			io.WriteString(w, "data: {\"choices\": [\n\n")
			return
		}
		if strings.HasPrefix(text, "cut") && i == 1 {
			return
		}
		fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\" t%d\",\"finish_reason\":null}]}\n\n", i)
		fl.Flush()
	}
	fmt.Fprintf(w, "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", promptTokens, req.MaxTokens, promptTokens+req.MaxTokens)
	io.WriteString(w, "data: [DONE]\n\n")
}

// tickClock returns a clock that advances one millisecond per call.
func tickClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return at(float64(n - 1))
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// TestRunTimeline runs three requests one at a time against the fake
// server with a clock that ticks once per event, so every metric is exact:
// each request is sent at tick k and its 4 chunks arrive at k+1 … k+4.
func TestRunTimeline(t *testing.T) {
	f := newFakeServer(t)
	prompts, err := RandomPrompts(3, 8, 4, FormatIDs, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BaseURL: f.URL, Model: "tiny", NumPrompts: 3, Concurrency: 1}
	r := Run(testCtx(t), cfg, prompts, Options{Clock: tickClock()})
	want := Metrics{Completed: 3, TotalInputTokens: 24, TotalOutputTokens: 12,
		// ticks: run start 0; request i sent at 1+5i, chunks 2+5i … 5+5i; end 16.
		DurationS: 0.016, RequestThroughput: 3 / 0.016, OutputThroughput: 12 / 0.016, TotalTokenThroughput: 36 / 0.016,
		TTFT: Stats{Mean: 1, Median: 1, P90: 1, P99: 1, N: 3},
		TPOT: Stats{Mean: 1, Median: 1, P90: 1, P99: 1, N: 3},
		ITL:  Stats{Mean: 1, Median: 1, P90: 1, P99: 1, N: 9},
		E2EL: Stats{Mean: 4, Median: 4, P90: 4, P99: 4, N: 3}}
	if !metricsClose(r.Metrics, want) || r.Interrupted || len(r.Errors) != 0 {
		t.Errorf("metrics =\n %+v (errors %v)\nwant\n %+v", r.Metrics, r.Errors, want)
	}
}

// TestRunFailures mixes well-formed prompts with ones the server fails in
// each way: every failure is counted with its reason, and the good
// requests still complete with the right token counts.
func TestRunFailures(t *testing.T) {
	f := newFakeServer(t)
	var prompts []Prompt
	for _, p := range []string{"ok one", "fail please", "garbage here", "cut short", "ok two"} {
		prompts = append(prompts, Prompt{Text: p, InputLen: 2, OutputLen: 3})
	}
	r := Run(testCtx(t), Config{BaseURL: f.URL, Model: "tiny", Concurrency: 2}, prompts, Options{})
	m := r.Metrics
	if m.Completed != 2 || m.Failed != 3 || m.TotalOutputTokens != 6 || m.TotalInputTokens != 4 {
		t.Errorf("completed %d failed %d output %d input %d; want 2, 3, 6, 4 (errors %v)", m.Completed, m.Failed, m.TotalOutputTokens, m.TotalInputTokens, r.Errors)
	}
	wantErr := []string{"HTTP 400: max_tokens too large", "malformed SSE chunk", "stream ended before data: [DONE]"}
	for _, w := range wantErr {
		found := false
		for e := range r.Errors {
			found = found || strings.Contains(e, w)
		}
		if !found {
			t.Errorf("errors %v: none says %q", r.Errors, w)
		}
	}
}

func TestRunConcurrencyLimit(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			f := newFakeServer(t)
			// Each request waits a little inside the server so that
			// requests overlap when the client lets them.
			f.hold = func(*http.Request) { time.Sleep(2 * time.Millisecond) }
			prompts, _ := RandomPrompts(12, 4, 2, FormatText, 0, 3)
			r := Run(testCtx(t), Config{BaseURL: f.URL, Model: "tiny", Concurrency: limit}, prompts, Options{})
			if r.Metrics.Completed != 12 {
				t.Fatalf("completed %d of 12 (errors %v)", r.Metrics.Completed, r.Errors)
			}
			if f.maxInflight > limit || f.maxInflight < 1 {
				t.Errorf("server saw %d requests in flight; the limit is %d", f.maxInflight, limit)
			}
		})
	}
}

// TestRunInterrupt cancels the run while two requests are held in the
// server: the finished request is reported, the held ones count as
// cancelled, the unsent ones not at all.
func TestRunInterrupt(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	n := 0
	held := make(chan struct{}, 8)
	f.hold = func(r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			return
		}
		held <- struct{}{}
		<-r.Context().Done()
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	prompts, _ := RandomPrompts(6, 4, 2, FormatIDs, 50, 0)
	done := make(chan *Result)
	go func() { done <- Run(ctx, Config{BaseURL: f.URL, Model: "tiny", Concurrency: 2}, prompts, Options{}) }()
	// With two in flight, a second held request means the first finished.
	for i := 0; i < 2; i++ {
		select {
		case <-held:
		case <-time.After(hangGuard):
			t.Fatal("the server never held two requests")
		}
	}
	cancel()
	r := <-done
	m := r.Metrics
	if !r.Interrupted || m.Completed != 1 || m.Cancelled != 2 || m.Failed != 0 {
		t.Errorf("interrupted %v completed %d cancelled %d failed %d; want true, 1, 2, 0", r.Interrupted, m.Completed, m.Cancelled, m.Failed)
	}
}

func TestProbe(t *testing.T) {
	f := newFakeServer(t)
	owned, listed, err := Probe(testCtx(t), http.DefaultClient, f.URL, "tiny")
	if err != nil || !listed || owned != "fake-engine" {
		t.Errorf("Probe = %q, %v, %v; want fake-engine, true, nil", owned, listed, err)
	}
	if _, listed, _ := Probe(testCtx(t), http.DefaultClient, f.URL, "other"); listed {
		t.Error("Probe lists a model the server does not serve")
	}
	url := f.URL
	f.Close()
	if _, _, err := Probe(testCtx(t), http.DefaultClient, url, "tiny"); err == nil || !strings.Contains(err.Error(), ErrServerDown.Error()) {
		t.Errorf("Probe of a closed server: %v; want %v", err, ErrServerDown)
	}
}
