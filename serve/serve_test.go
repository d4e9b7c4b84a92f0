package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/eval/evalmodel"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tokenizer"
)

// fixture is a loaded test model with a running server.
type fixture struct {
	m   *models.Model
	tok *tokenizer.Tokenizer
	s   *Server
	url string
}

func newFixture(t testing.TB, name string, cfg Config) *fixture {
	t.Helper()
	dir := filepath.Join("..", "testdata", name)
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ModelName = name
	s, err := New(m, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		m.Close()
	})
	return &fixture{m: m, tok: tok, s: s, url: hs.URL}
}

// post sends body (a value marshalled to JSON, or raw bytes) and decodes the
// JSON answer.
func post(t testing.TB, url string, body any) (int, map[string]any) {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", url, err)
	}
	return resp.StatusCode, out
}

// choice returns field of choices[i].
func choice(t testing.TB, out map[string]any, i int) map[string]any {
	t.Helper()
	cs, _ := out["choices"].([]any)
	if len(cs) <= i {
		t.Fatalf("answer has %d choices, want > %d: %v", len(cs), i, out)
	}
	return cs[i].(map[string]any)
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestGreedyMatchesGenerate: a greedy completion gives the tokens
// models.Generate gives (what `gollm generate --greedy` prints).
func TestGreedyMatchesGenerate(t *testing.T) {
	for _, name := range []string{"llama3-tiny", "opt-tiny"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, name, Config{})
			ids := f.tok.Encode("The quick brown fox", true)
			res, err := f.m.Generate(context.Background(), ids, models.GenerateOptions{MaxNewTokens: 12, Greedy: true, StopIDs: f.m.Config.EOS})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, id := range res.IDs {
				want = append(want, f.tok.Decode([]int{id}, false))
			}
			for _, prompt := range []any{"The quick brown fox", ids} {
				code, out := post(t, f.url+"/v1/completions", map[string]any{"model": name, "prompt": prompt, "max_tokens": 12, "temperature": 0, "logprobs": 0})
				if code != 200 {
					t.Fatalf("status %d: %v", code, out)
				}
				c := choice(t, out, 0)
				got := strs(c["logprobs"].(map[string]any)["tokens"])
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("prompt %T: tokens %q, generate gives %q", prompt, got, want)
				}
				if c["text"] != f.tok.Decode(res.IDs, true) {
					t.Errorf("text %q, want %q", c["text"], f.tok.Decode(res.IDs, true))
				}
				u := out["usage"].(map[string]any)
				if u["prompt_tokens"] != float64(len(ids)) || u["completion_tokens"] != float64(len(res.IDs)) || u["total_tokens"] != float64(len(ids)+len(res.IDs)) {
					t.Errorf("usage %v, want %d prompt + %d completion", u, len(ids), len(res.IDs))
				}
			}
		})
	}
}

// TestEchoLogprobsMatchEval: the request lm-eval's local-completions sends
// (echo, max_tokens 0, logprobs 1) scores the prompt as eval does.
func TestEchoLogprobsMatchEval(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{})
	text := "Paris is the capital of France, and Berlin is the capital of Germany."
	ids := f.tok.Encode(text, true)
	want, _, err := eval.RollingLoglikelihood(context.Background(), evalmodel.New(f.m), ids[1:], ids[0], f.m.Config.MaxPos)
	if err != nil {
		t.Fatal(err)
	}
	code, out := post(t, f.url+"/v1/completions", map[string]any{"model": "llama3-tiny", "prompt": text, "echo": true, "max_tokens": 0, "logprobs": 1, "temperature": 0})
	if code != 200 {
		t.Fatalf("status %d: %v", code, out)
	}
	lp := choice(t, out, 0)["logprobs"].(map[string]any)
	tl := lp["token_logprobs"].([]any)
	if len(tl) != len(ids) || tl[0] != nil {
		t.Fatalf("token_logprobs %v: want %d entries, the first null", tl, len(ids))
	}
	var got float64
	for _, v := range tl[1:] {
		got += v.(float64)
	}
	if math.Abs(got-want) > 1e-4*math.Abs(want) {
		t.Errorf("echo log-likelihood %.6f, eval's %.6f", got, want)
	}
	if top := lp["top_logprobs"].([]any); len(top) != len(ids) || len(top[1].(map[string]any)) != 1 {
		t.Errorf("top_logprobs %v: want one alternative per scored token", top)
	}
	if u := out["usage"].(map[string]any); u["completion_tokens"] != 0.0 {
		t.Errorf("usage %v: want no completion tokens", u)
	}
}

// sse reads a server-sent-event stream: the JSON chunks and whether it
// ended with [DONE].
func sse(t testing.TB, r io.Reader) (chunks []map[string]any, done bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("stream line %q is not an SSE data line", line)
		}
		if done {
			t.Fatalf("data after [DONE]: %q", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	return chunks, done
}

func stream(t testing.TB, url string, body map[string]any) ([]map[string]any, bool) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return sse(t, resp.Body)
}

func TestStreaming(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{})
	const n = 10
	for _, chat := range []bool{false, true} {
		t.Run(fmt.Sprintf("chat=%v", chat), func(t *testing.T) {
			body := map[string]any{"model": "llama3-tiny", "max_tokens": n, "temperature": 0, "ignore_eos": true}
			path := "/v1/completions"
			if chat {
				path = "/v1/chat/completions"
				body["messages"] = []map[string]string{{"role": "user", "content": "Say hello"}}
			} else {
				body["prompt"] = "Once upon a time"
			}
			_, whole := post(t, f.url+path, body)
			body["stream"] = true
			body["stream_options"] = map[string]any{"include_usage": true}
			chunks, done := stream(t, f.url+path, body)
			if !done {
				t.Fatal("stream did not end with data: [DONE]")
			}
			var text strings.Builder
			finishes := 0
			for i, c := range chunks[:len(chunks)-1] {
				cs := c["choices"].([]any)
				if len(cs) != 1 {
					t.Fatalf("chunk %d has %d choices", i, len(cs))
				}
				ch := cs[0].(map[string]any)
				if ch["finish_reason"] != nil {
					finishes++
					if i != len(chunks)-2 {
						t.Errorf("finish_reason in chunk %d of %d", i, len(chunks)-1)
					}
				}
				if chat {
					d := ch["delta"].(map[string]any)
					if (i == 0) != (d["role"] == "assistant") {
						t.Errorf("chunk %d delta %v: the role belongs to the first delta only", i, d)
					}
					s, _ := d["content"].(string)
					text.WriteString(s)
				} else {
					text.WriteString(ch["text"].(string))
				}
			}
			if finishes != 1 {
				t.Errorf("%d chunks carry a finish_reason, want 1", finishes)
			}
			last := chunks[len(chunks)-1]
			u, _ := last["usage"].(map[string]any)
			if len(last["choices"].([]any)) != 0 || u == nil || u["completion_tokens"] != float64(n) {
				t.Errorf("last chunk %v: want empty choices and usage with %d completion tokens", last, n)
			}
			c := choice(t, whole, 0)
			want, _ := c["text"].(string)
			if chat {
				want = c["message"].(map[string]any)["content"].(string)
			}
			if text.String() != want {
				t.Errorf("streamed text %q, non-streamed %q", text.String(), want)
			}
		})
	}
}

func TestStopString(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{})
	body := map[string]any{"prompt": "Once upon a time", "max_tokens": 16, "temperature": 0, "ignore_eos": true}
	_, out := post(t, f.url+"/v1/completions", body)
	full := choice(t, out, 0)["text"].(string)
	if len(full) < 6 {
		t.Fatalf("greedy text %q too short to cut", full)
	}
	stop := full[3:6]
	cut := full[:strings.Index(full, stop)]
	body["stop"] = []string{stop}
	_, out = post(t, f.url+"/v1/completions", body)
	if c := choice(t, out, 0); c["text"] != cut || c["finish_reason"] != "stop" {
		t.Errorf("with stop %q: %v, want text %q and finish_reason stop", stop, c, cut)
	}
	body["stream"] = true
	chunks, _ := stream(t, f.url+"/v1/completions", body)
	var text strings.Builder
	for _, c := range chunks {
		text.WriteString(c["choices"].([]any)[0].(map[string]any)["text"].(string))
	}
	if text.String() != cut {
		t.Errorf("streamed with stop %q: %q, want %q", stop, text.String(), cut)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{MaxBodyBytes: 4096, MaxQueue: 2})
	long := strings.Repeat("word ", 300)
	cases := []struct {
		name   string
		path   string
		body   any
		status int
		param  string
	}{
		{"bad JSON", "/v1/completions", []byte(`{"prompt": "hi",`), 400, ""},
		{"unknown model", "/v1/completions", map[string]any{"model": "gpt-9", "prompt": "hi"}, 404, "model"},
		{"body too large", "/v1/completions", map[string]any{"prompt": strings.Repeat("x", 5000)}, 413, ""},
		{"huge max_tokens", "/v1/completions", map[string]any{"prompt": "hi", "max_tokens": 1 << 30}, 400, "max_tokens"},
		{"negative max_tokens", "/v1/completions", map[string]any{"prompt": "hi", "max_tokens": -1}, 400, "max_tokens"},
		{"context overflow", "/v1/completions", map[string]any{"prompt": long[:1000], "max_tokens": 200}, 400, "max_tokens"},
		{"no prompt", "/v1/completions", map[string]any{"max_tokens": 2}, 400, "prompt"},
		{"prompt of wrong type", "/v1/completions", map[string]any{"prompt": map[string]int{"a": 1}}, 400, "prompt"},
		{"token id outside vocabulary", "/v1/completions", map[string]any{"prompt": []int{1, 999999}}, 400, "prompt"},
		{"negative temperature", "/v1/completions", map[string]any{"prompt": "hi", "temperature": -1}, 400, "temperature"},
		{"top_p zero", "/v1/completions", map[string]any{"prompt": "hi", "top_p": 0}, 400, "top_p"},
		{"n zero", "/v1/completions", map[string]any{"prompt": "hi", "n": 0}, 400, "n"},
		{"logprobs too many", "/v1/completions", map[string]any{"prompt": "hi", "logprobs": 50}, 400, "logprobs"},
		{"stop of wrong type", "/v1/completions", map[string]any{"prompt": "hi", "stop": 3}, 400, "stop"},
		{"more sequences than the queue", "/v1/completions", map[string]any{"prompt": "hi", "n": 3}, 429, ""},
		{"chat without messages", "/v1/chat/completions", map[string]any{"max_tokens": 2}, 400, "messages"},
		{"chat with unknown role", "/v1/chat/completions", map[string]any{"messages": []map[string]string{{"role": "wizard", "content": "x"}}}, 400, "messages"},
		{"unknown route", "/v1/embeddings", map[string]any{}, 404, ""},
		{"detokenize outside vocabulary", "/detokenize", map[string]any{"tokens": []int{-1}}, 400, "tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := post(t, f.url+c.path, c.body)
			if code != c.status {
				t.Errorf("status %d, want %d (%v)", code, c.status, out)
			}
			e, ok := out["error"].(map[string]any)
			if !ok {
				t.Fatalf("answer %v has no error object", out)
			}
			if msg, _ := e["message"].(string); msg == "" || e["type"] == "" {
				t.Errorf("error %v: want a message and a type", e)
			}
			if p, _ := e["param"].(string); p != c.param {
				t.Errorf("error param %q, want %q", p, c.param)
			}
		})
	}
	f.s.Drain()
	for _, path := range []string{"/v1/completions", "/health"} {
		var resp *http.Response
		var err error
		if path == "/health" {
			resp, err = http.Get(f.url + path)
		} else {
			resp, err = http.Post(f.url+path, "application/json", strings.NewReader(`{"prompt":"hi"}`))
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("%s while draining: status %d, want 503", path, resp.StatusCode)
		}
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{})
	resp, err := http.Get(f.url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != "llama3-tiny" {
		t.Errorf("/v1/models: %+v, want one model llama3-tiny", models)
	}
	code, out := post(t, f.url+"/tokenize", map[string]any{"prompt": "hello there"})
	want := f.tok.Encode("hello there", true)
	if code != 200 || fmt.Sprint(out["tokens"]) != fmt.Sprint(want) {
		t.Errorf("/tokenize: %d %v, want tokens %v", code, out, want)
	}
	code, out = post(t, f.url+"/detokenize", map[string]any{"tokens": f.tok.Encode("hello there", false)})
	if code != 200 || out["prompt"] != "hello there" {
		t.Errorf("/detokenize: %d %v, want hello there", code, out)
	}
	post(t, f.url+"/v1/completions", map[string]any{"prompt": "hi", "max_tokens": 3, "ignore_eos": true})
	resp, err = http.Get(f.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{`gollm_requests_total{code="200"} 1`, "gollm_generation_tokens_total 3", "gollm_time_to_first_token_seconds_count 1", "gollm_queued_sequences 0"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("/metrics lacks %q:\n%s", w, b)
		}
	}
}

// TestConcurrentEqualsSequential: greedy requests running together in one
// batch give the tokens they give one at a time; n choices with a seed
// are reproducible.
func TestConcurrentEqualsSequential(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{MaxSeqs: 8})
	prompts := []string{"a", "The cat sat on", "Numbers: 1 2 3", "Hello", "Why is the sky blue?", "x y z", "Go is", "Once"}
	seqText := make([]string, len(prompts))
	for i, p := range prompts {
		_, out := post(t, f.url+"/v1/completions", map[string]any{"prompt": p, "max_tokens": 12 + i, "temperature": 0})
		seqText[i] = choice(t, out, 0)["text"].(string)
	}
	got := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, out := post(t, f.url+"/v1/completions", map[string]any{"prompt": p, "max_tokens": 12 + i, "temperature": 0})
			got[i] = choice(t, out, 0)["text"].(string)
		}()
	}
	wg.Wait()
	for i := range prompts {
		if got[i] != seqText[i] {
			t.Errorf("prompt %q: concurrent %q, sequential %q", prompts[i], got[i], seqText[i])
		}
	}
	body := map[string]any{"prompt": []string{"Hello", "Bye"}, "n": 3, "max_tokens": 8, "seed": 7, "temperature": 1.5}
	_, a := post(t, f.url+"/v1/completions", body)
	_, b := post(t, f.url+"/v1/completions", body)
	if len(a["choices"].([]any)) != 6 || fmt.Sprint(a["choices"]) != fmt.Sprint(b["choices"]) {
		t.Errorf("seeded n=3 over 2 prompts: %v then %v, want the same 6 choices", a["choices"], b["choices"])
	}
}

// TestDisconnectFreesSlot: with one slot, a client that goes away mid-stream
// lets the next request run.
func TestDisconnectFreesSlot(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{MaxSeqs: 1})
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := json.Marshal(map[string]any{"prompt": "hi", "max_tokens": 240, "stream": true, "ignore_eos": true})
	req, _ := http.NewRequestWithContext(ctx, "POST", f.url+"/v1/completions", bytes.NewReader(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	done := make(chan map[string]any, 1)
	go func() {
		_, out := post(t, f.url+"/v1/completions", map[string]any{"prompt": "next", "max_tokens": 4, "ignore_eos": true})
		done <- out
	}()
	select {
	case out := <-done:
		if u := out["usage"].(map[string]any); u["completion_tokens"] != 4.0 {
			t.Errorf("next request: %v", out)
		}
	case <-time.After(2 * time.Minute): // a hang guard, not a timing
		t.Fatal("the slot of the disconnected client was not freed")
	}
	if f.s.metrics.cancelled.Load() != 1 {
		t.Errorf("%d sequences cancelled, want 1", f.s.metrics.cancelled.Load())
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's finalizers and sync.Pools let go
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapSampler records the largest live heap seen every few milliseconds
// until stop is called.
func heapSampler() (stop func() uint64) {
	var peak uint64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(quit); <-done; return peak }
}

// TestLoad: many concurrent clients, malformed requests and disconnects
// mixed in; every well-formed stream completes with its token count, and
// the heap stays under a bound derived from the server's limits during the
// run and returns near its baseline after it (a request that leaked its KV
// cache or its buffers would keep them alive).
func TestLoad(t *testing.T) {
	cfg := Config{MaxSeqs: 16, MaxQueue: 512}
	f := newFixture(t, "llama3-tiny", cfg)
	cfg = f.s.Config()
	const clients = 200
	// Long prompts, so that what every sequence holds (its KV cache) is
	// large next to the heap's noise.
	prompt := func(i int) string {
		return fmt.Sprintf("client %d says", i) + strings.Repeat(" the quick brown fox", 12)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	post(t, f.url+"/v1/completions", map[string]any{"prompt": prompt(0), "max_tokens": 4}) // lazy allocations before the baseline
	c := f.m.Config
	kvPerPos := int64(c.Layers * 2 * c.MaxKVDim() * 4)
	var leakable int64 // KV bytes the well-formed sequences reserve together
	for i := 0; i < clients; i++ {
		switch i % 6 {
		case 0, 4, 5: // (this also fills the tokenizer's word cache before the baseline)
			leakable += int64(len(f.tok.Encode(prompt(i), true))+4+i%7) * kvPerPos
		}
	}
	hs := httptest.NewServer(nil) // http.Server's own lazy state
	hs.Close()
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // the run's bound assumes the default heap goal
	base := heapInUse()

	var wg sync.WaitGroup
	lat := make([]time.Duration, clients)
	errs := make(chan string, clients)
	sample := heapSampler()
	t0 := time.Now()
	for i := 0; i < clients; i++ {
		want := 4 + i%7
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			defer func() { lat[i] = time.Since(start) }()
			var body []byte
			switch i % 6 {
			case 1:
				body = []byte(`{"prompt": "bad json`)
			case 2:
				body = []byte(`{"prompt": "hi", "max_tokens": 100000000}`)
			case 3:
				body = []byte(`{"prompt": "hi", "model": "nope"}`)
			default:
				body, _ = json.Marshal(map[string]any{"prompt": prompt(i), "max_tokens": want, "stream": true, "ignore_eos": true, "stream_options": map[string]bool{"include_usage": true}})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", f.url+"/v1/completions", bytes.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				errs <- fmt.Sprintf("client %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			switch i % 6 {
			case 1, 2, 3:
				if resp.StatusCode/100 != 4 {
					errs <- fmt.Sprintf("client %d: malformed request got %d", i, resp.StatusCode)
				}
				return
			case 5: // disconnects after the first chunk
				bufio.NewReader(resp.Body).ReadString('\n')
				return
			}
			chunks, done := sse(t, resp.Body)
			if !done || len(chunks) == 0 {
				errs <- fmt.Sprintf("client %d: stream incomplete", i)
				return
			}
			u, _ := chunks[len(chunks)-1]["usage"].(map[string]any)
			if u == nil || u["completion_tokens"] != float64(want) {
				errs <- fmt.Sprintf("client %d: usage %v, want %d tokens", i, u, want)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	peak := sample()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	t.Logf("%d clients: %.0f requests/s, latency p50 %v p99 %v; heap %.1f MiB before, %.1f MiB at most during the run",
		clients, clients/wall.Seconds(), lat[clients/2].Round(time.Millisecond), lat[clients*99/100].Round(time.Millisecond),
		float64(base)/(1<<20), float64(peak)/(1<<20))

	// During the run, what the server's limits allow it to hold live: per
	// KV position admitted (at most MaxKVTokens), its keys and values, the
	// batch's scratch row for it and the logits row its state keeps
	// (prefill returns every prompt position's logits); and per client a
	// generous allowance for both ends of its connection (bufio buffers,
	// request and JSON values; stacks are not heap). The sampler sees
	// garbage too: with GOGC=100 the heap may reach twice the live heap
	// before a collection.
	const perClient = 256 << 10
	perPos := kvPerPos + int64(4*(2*c.Vocab+8*c.Hidden+3*c.Intermediate))
	live := int64(cfg.MaxKVTokens)*perPos + int64(clients)*perClient
	bound := base + uint64(2*live)
	if peak > bound {
		t.Errorf("heap reached %d bytes during the run, over the bound %d derived from the limits (MaxKVTokens %d)", peak, bound, cfg.MaxKVTokens)
	}
	// After it, with the connections closed: back near the baseline, within
	// a quarter of the KV the well-formed sequences reserved together.
	tr.CloseIdleConnections()
	slack := uint64(leakable / 4)
	var after uint64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) { // connection goroutines end asynchronously
		if after = heapInUse(); after <= base+slack || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("heap %.2f MiB after the run (baseline %.2f MiB, allowed +%.2f MiB; the well-formed sequences reserved %.2f MiB of KV)",
		float64(after)/(1<<20), float64(base)/(1<<20), float64(slack)/(1<<20), float64(leakable)/(1<<20))
	if after > base+slack {
		t.Errorf("heap %d bytes after the run, %d over the baseline %d: more than a quarter of the %d KV bytes the requests reserved stays alive",
			after, after-base, base, leakable)
	}
}

// TestCloseEndsWaiting: Close ends the running stream with an error event
// and answers 503 to a request still queued.
func TestCloseEndsWaiting(t *testing.T) {
	f := newFixture(t, "llama3-tiny", Config{MaxSeqs: 1})
	b, _ := json.Marshal(map[string]any{"prompt": "hi", "max_tokens": 240, "stream": true, "ignore_eos": true})
	resp, err := http.Post(f.url+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	queued := make(chan int, 1)
	go func() {
		code, _ := post(t, f.url+"/v1/completions", map[string]any{"prompt": "next", "max_tokens": 4})
		queued <- code
	}()
	for len(f.s.queue) == 0 && len(queued) == 0 {
		time.Sleep(time.Millisecond) // until the second request waits (or, on a fast machine, ran)
	}
	f.s.Close()
	rest, _ := io.ReadAll(r)
	if !bytes.Contains(rest, []byte(`"error"`)) && !bytes.Contains(rest, []byte(`"finish_reason":"length"`)) {
		t.Errorf("running stream after Close: %q, want an error event (or its normal end)", rest)
	}
	select {
	case code := <-queued:
		if code != 503 && code != 200 {
			t.Errorf("queued request after Close: status %d, want 503", code)
		}
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("the queued request hangs after Close")
	}
}
