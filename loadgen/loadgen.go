// Package loadgen is gollm's serving benchmark (LLMCBench Track 5): it
// sends streaming /v1/completions requests to any OpenAI-compatible server
// (gollm serve, vLLM, TensorRT-LLM's trtllm-serve, MLC-LLM, llama.cpp's
// llama-server) at a fixed concurrency or a Poisson request rate and
// measures what vllm bench serve measures: time to first token, time per
// output token, inter-token latency, end-to-end latency, request and token
// throughput, failed requests. A Result converts to a bench speed cell
// (Cell), so a study's report shows it in Track 5.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/procfs"
	"github.com/llmcbench/gollm/internal/progress"
)

// Config is one load run.
type Config struct {
	// BaseURL is the server's root ("http://127.0.0.1:8000"); requests go
	// to BaseURL/v1/completions.
	BaseURL string `json:"base_url"`
	// Model is the model name the server serves.
	Model string `json:"model"`
	// NumPrompts is how many requests are sent.
	NumPrompts int `json:"num_prompts"`
	// InputLen and OutputLen are the random prompts' lengths (OutputLen is
	// also a dataset prompt's default max_tokens).
	InputLen  int `json:"input_len"`
	OutputLen int `json:"output_len"`
	// Concurrency caps the requests in flight (0: no cap).
	Concurrency int `json:"concurrency"`
	// RequestRate is the Poisson arrival rate in requests a second (0:
	// every request at once, vLLM's inf).
	RequestRate float64 `json:"request_rate"`
	// Seed draws the random prompts and the arrivals.
	Seed uint64 `json:"seed"`
	// Dataset is the file the prompts came from ("" for random prompts).
	Dataset string `json:"dataset,omitempty"`
	// PromptFormat is FormatIDs or FormatText for random prompts.
	PromptFormat string `json:"prompt_format,omitempty"`
	// VocabSize bounds random token ids.
	VocabSize int `json:"vocab_size,omitempty"`
	// IgnoreEOS asks the server to generate all max_tokens (vLLM's and
	// llama.cpp's ignore_eos), so output lengths are fixed.
	IgnoreEOS bool `json:"ignore_eos"`
}

// Result is one load run's JSON record (gollm loadgen --json / --out).
type Result struct {
	// Tool names the harness and its metric definitions.
	Tool   string `json:"tool"`
	Config Config `json:"config"`
	// Engine labels the server (--engine-label, the model's owned_by in
	// /v1/models, or the URL's host).
	Engine string `json:"engine"`
	// EngineCommand is the command line that started the engine when
	// loadgen started it (--engine).
	EngineCommand []string      `json:"engine_command,omitempty"`
	Machine       bench.Machine `json:"machine"`
	Started       time.Time     `json:"started"`
	// Interrupted is set when Ctrl-C stopped the run: the metrics are over
	// the requests that finished.
	Interrupted bool    `json:"interrupted"`
	Metrics     Metrics `json:"metrics"`
	// Errors counts the failed requests by their one-line error.
	Errors map[string]int `json:"errors,omitempty"`
}

// ToolName is Result.Tool.
const ToolName = "gollm loadgen (vllm bench serve metrics)"

// ErrServerDown marks a server that cannot be reached: a runtime failure
// (exit 1), not bad input.
var ErrServerDown = errors.New("server not reachable")

// NormalizeBaseURL checks a --base-url: http or https with a host. A
// trailing "/" or "/v1" is dropped, so both the server root and the API
// root are accepted.
func NormalizeBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", badinput.Errorf("--base-url %q: want http://HOST:PORT or https://HOST:PORT", s)
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/v1")
	return s, nil
}

// modelList is what loadgen reads of GET /v1/models.
type modelList struct {
	Data []struct {
		ID      string `json:"id"`
		OwnedBy string `json:"owned_by"`
	} `json:"data"`
}

// Probe asks the server for its models (GET /v1/models) and returns the
// owned_by of model ("" when the server does not list it) and whether it
// was listed. A server that does not answer is ErrServerDown.
func Probe(ctx context.Context, client *http.Client, baseURL, model string) (ownedBy string, listed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/models", nil)
	if err != nil {
		return "", false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", false, fmt.Errorf("%s: %w: %v", baseURL, ErrServerDown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("%s/v1/models: HTTP %d: not an OpenAI-compatible server", baseURL, resp.StatusCode)
	}
	var l modelList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&l); err != nil {
		return "", false, fmt.Errorf("%s/v1/models: not a model list: %v", baseURL, err)
	}
	for _, m := range l.Data {
		if m.ID == model {
			return m.OwnedBy, true, nil
		}
	}
	return "", false, nil
}

// Options are how Run sends: the HTTP client, the clock that timestamps
// every event (tests inject one), and where progress goes.
type Options struct {
	Client *http.Client
	// Clock is time.Now when nil.
	Clock func() time.Time
	// Progress receives progress lines (nil: none).
	Progress io.Writer
}

// Run sends the prompts to cfg's server as cfg says — request i at
// Arrivals(len(prompts), cfg.RequestRate, cfg.Seed)[i], at most
// cfg.Concurrency in flight — and summarises what came back. When ctx is
// cancelled (Ctrl-C) it stops sending, aborts the requests in flight
// (counted as cancelled) and returns the metrics of what finished, with
// Interrupted set. Failed requests are counted, never fatal.
func Run(ctx context.Context, cfg Config, prompts []Prompt, o Options) *Result {
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	url := cfg.BaseURL + "/v1/completions"
	arrivals := Arrivals(len(prompts), cfg.RequestRate, cfg.Seed)
	var sem chan struct{}
	if cfg.Concurrency > 0 {
		sem = make(chan struct{}, cfg.Concurrency)
	}
	outcomes := make([]Outcome, len(prompts))
	sent := make([]bool, len(prompts))
	bar := progress.New(o.Progress, "requests", len(prompts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	res := &Result{Tool: ToolName, Config: cfg, Machine: Machine(), Started: time.Now().UTC()}
	start := clock()
	t0 := time.Now() // the arrival schedule runs on the wall clock
dispatch:
	for i := range prompts {
		if d := time.Until(t0.Add(arrivals[i])); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				break dispatch
			case <-t.C:
			}
		}
		if sem != nil {
			select {
			case <-ctx.Done():
				break dispatch
			case sem <- struct{}{}:
			}
		}
		if ctx.Err() != nil {
			break
		}
		sent[i] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i] = send(ctx, client, clock, url, cfg.Model, prompts[i], cfg.IgnoreEOS)
			if sem != nil {
				<-sem
			}
			mu.Lock()
			bar.Add(1)
			mu.Unlock()
		}()
	}
	wg.Wait()
	end := clock()
	bar.Finish()
	res.Interrupted = ctx.Err() != nil
	var done []Outcome
	for i, o := range outcomes {
		if !sent[i] {
			continue
		}
		done = append(done, o)
		if o.Err != "" {
			if res.Errors == nil {
				res.Errors = map[string]int{}
			}
			if _, ok := res.Errors[o.Err]; ok || len(res.Errors) < maxErrorKinds {
				res.Errors[o.Err]++
			}
		}
	}
	res.Metrics = Summarize(done, end.Sub(start))
	return res
}

// maxErrorKinds bounds Result.Errors' distinct messages.
const maxErrorKinds = 20

// Machine describes the machine loadgen runs on (the client; the server
// may be elsewhere, its URL is in the config).
func Machine() bench.Machine {
	return bench.Machine{Cores: runtime.NumCPU(), Threads: runtime.GOMAXPROCS(0),
		MemoryB: procfs.KB("/proc/meminfo", "MemTotal:") * 1024, OS: runtime.GOOS, Arch: runtime.GOARCH,
		Go: runtime.Version(), Device: "client"}
}

// EngineLabel is the default engine name of a run: the server's owned_by
// for the model when it says one, else the URL's host.
func EngineLabel(baseURL, ownedBy string) string {
	if ownedBy != "" {
		return ownedBy
	}
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		return u.Host
	}
	return baseURL
}
