package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/bench/study"
	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/loadgen"
)

func init() {
	register(command{name: "loadgen", summary: "benchmark an OpenAI-compatible server with streaming requests (vllm bench serve's metrics; Track 5 cells)", run: runLoadgen})
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("loadgen", stderr)
	baseURL := fs.String("base-url", "", "the server's root URL, e.g. http://127.0.0.1:8000 (requests go to /v1/completions); or --engine")
	model := fs.String("model", "", "the model name the server serves (the request's \"model\"); with --engine, what the engine loads (a checkpoint folder; a GGUF file for llamacpp)")
	engineName := fs.String("engine", "", "start this engine on a free loopback port, run, stop it: gollm (gollm serve) or llamacpp (llama.cpp via node-llama-cpp, make llamacpp); instead of --base-url")
	parallel := fs.Int("engine-parallel", 16, "with --engine: sequences the engine runs at once (gollm serve --max-seqs, llama.cpp parallel sequences)")
	engineCtx := fs.Int("engine-ctx", 0, "with --engine llamacpp: each sequence's context in tokens (0: input + output length rounded up to 64)")
	engineThreads := fs.Int("engine-threads", 0, "with --engine: the engine's compute threads (0: its default)")
	numPrompts := fs.Int("num-prompts", 100, "number of requests")
	inputLen := fs.Int("input-len", 32, "random prompts' length in tokens (words with --prompt-format text)")
	outputLen := fs.Int("output-len", 128, "max_tokens of every request (a dataset line's output_len overrides it)")
	concurrency := fs.Int("concurrency", 0, "most requests in flight (0: no limit)")
	rate := fs.Float64("request-rate", 0, "Poisson arrival rate in requests/s, drawn from --seed (0: all at once)")
	dataset := fs.String("dataset", "", "JSON lines file of {\"prompt\": TEXT[, \"output_len\": N]} instead of random prompts")
	seed := fs.Int64("seed", 0, "seed of the random prompts and arrivals")
	format := fs.String("prompt-format", loadgen.FormatIDs, "random prompts as token ids (ids: exact lengths; vLLM, llama-server, gollm serve) or random words (text)")
	vocab := fs.Int("vocab-size", 1000, "random token ids are drawn from [3, N): keep N at most the model's vocabulary")
	ignoreEOS := fs.Bool("ignore-eos", true, "ask the server to generate all max_tokens (ignore_eos; set false for servers that refuse the field)")
	label := fs.String("engine-label", "", "engine name in the results (default: the model's owned_by in /v1/models, else the URL's host)")
	method := fs.String("method", bench.Dense, "the served checkpoint's compression, as gollm compress's spec (gptq:bits=4,group=128) or dense: the speed cell's method")
	cellModel := fs.String("cell-model", "", "the model's name in the study (default: --model)")
	studyDir := fs.String("study", "", "also write the run as a Track-5 speed cell into this gollm bench study folder (STUDY/cells/)")
	out := fs.String("out", "", "write the JSON results to this file (written atomically)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up on a request after this long (it counts as failed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var launch *loadgen.Launch
	if *engineName != "" {
		if *baseURL != "" {
			return usagef("--engine %s and --base-url %s: give one (--engine starts its own server)", *engineName, *baseURL)
		}
		switch {
		case *parallel < 1:
			return usagef("--engine-parallel %d: want ≥ 1", *parallel)
		case *engineCtx < 0:
			return usagef("--engine-ctx %d: want ≥ 0", *engineCtx)
		case *engineThreads < 0:
			return usagef("--engine-threads %d: want ≥ 0", *engineThreads)
		}
		ctxLen := *engineCtx
		if ctxLen == 0 {
			ctxLen = (*inputLen + *outputLen + 8 + 63) / 64 * 64
		}
		launch = &loadgen.Launch{Engine: *engineName, Model: *model, Parallel: *parallel, Context: ctxLen, Threads: *engineThreads, Log: stderr}
		if _, _, err := loadgen.EngineCommand(*launch); err != nil {
			return err
		}
		*baseURL = "http://127.0.0.1:1" // checked below; replaced by the engine's URL
	}
	base, err := checkLoadgenFlags(*baseURL, *model, *numPrompts, *inputLen, *outputLen, *concurrency, *rate, *seed, *timeout)
	if err != nil {
		return err
	}
	if *method != bench.Dense {
		sp, err := compress.ParseSpec(*method)
		if err != nil {
			return usagef("--method %q: %v", *method, err)
		}
		*method = sp.String()
	}
	if *studyDir != "" {
		if st, err := os.Stat(filepath.Join(*studyDir, bench.StudyFileName)); err != nil || st.IsDir() {
			return usagef("--study %s: not a gollm bench study folder (no %s)", *studyDir, bench.StudyFileName)
		}
	}
	if *out != "" {
		if err := outdir.CheckFile(*out); err != nil {
			return usagef("--out: %v", err)
		}
	}
	cfg := loadgen.Config{BaseURL: base, Model: *model, NumPrompts: *numPrompts, InputLen: *inputLen, OutputLen: *outputLen,
		Concurrency: *concurrency, RequestRate: *rate, Seed: uint64(*seed), Dataset: *dataset, IgnoreEOS: *ignoreEOS}
	var prompts []loadgen.Prompt
	if *dataset != "" {
		prompts, err = loadgen.LoadDataset(*dataset, *numPrompts, *outputLen)
	} else {
		cfg.PromptFormat = *format
		if *format == loadgen.FormatIDs {
			cfg.VocabSize = *vocab
		}
		prompts, err = loadgen.RandomPrompts(*numPrompts, *inputLen, *outputLen, *format, *vocab, uint64(*seed))
	}
	if err != nil {
		return err
	}

	var srv *loadgen.Server
	if launch != nil {
		fmt.Fprintf(stderr, "loadgen: starting %s on %s\n", *engineName, *model)
		srv, err = loadgen.Start(ctx, *launch)
		if err != nil {
			return err
		}
		defer srv.Stop()
		base, cfg.BaseURL, *model, cfg.Model = srv.BaseURL, srv.BaseURL, srv.Model, srv.Model
		if *label == "" {
			*label = srv.Label
		}
		if *cellModel == "" {
			*cellModel = strings.TrimSuffix(filepath.Base(filepath.Clean(launch.Model)), ".gguf")
		}
	}
	client := &http.Client{Timeout: *timeout}
	// A server that accepts the connection but never answers fails here in
	// seconds, not after --timeout.
	probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	ownedBy, listed, err := loadgen.Probe(probeCtx, client, base, *model)
	cancel()
	if err != nil {
		return err
	}
	if !listed {
		fmt.Fprintf(stderr, "warning: %s/v1/models does not list %q; sending it anyway\n", base, *model)
	}
	engine := *label
	if engine == "" {
		engine = loadgen.EngineLabel(base, ownedBy)
	}
	fmt.Fprintf(stderr, "loadgen: %d requests to %s (%s), input %d, output %d, concurrency %d, rate %g/s\n",
		*numPrompts, base, engine, *inputLen, *outputLen, *concurrency, *rate)
	res := loadgen.Run(ctx, cfg, prompts, loadgen.Options{Client: client, Progress: stderr})
	res.Engine = engine
	if srv != nil {
		res.EngineCommand = srv.Command
	}
	if cf.threads > 0 {
		res.Machine.Threads = cf.threads
	}
	if *out != "" {
		if err := outdir.WriteFile(*out, func(f *os.File) error { return writeJSON(f, res) }); err != nil {
			return err
		}
	}
	if *studyDir != "" {
		c, err := loadgen.Cell(res, loadgen.CellLabels{Model: *cellModel, Method: *method, Gollm: study.Version()})
		if err != nil {
			return err
		}
		path := filepath.Join(*studyDir, bench.CellsDir, c.Key+".json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := outdir.WriteFile(path, func(f *os.File) error { return writeJSON(f, c) }); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "loadgen: speed cell %s (%s)\n", path, c.Status)
	}
	if cf.json {
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	} else {
		printLoadgen(stdout, res)
	}
	if res.Interrupted {
		return fmt.Errorf("interrupted: the results above cover the %d requests that finished", res.Metrics.Completed+res.Metrics.Failed)
	}
	if res.Metrics.Completed == 0 {
		return fmt.Errorf("no request completed: %d failed (%s)", res.Metrics.Failed, firstError(res.Errors))
	}
	return nil
}

// firstError is the most frequent failure of a run (the first in sort
// order among equals).
func firstError(errs map[string]int) string {
	best := ""
	for _, e := range sortedKeys(errs) {
		if best == "" || errs[e] > errs[best] {
			best = e
		}
	}
	return best
}

// probeTimeout bounds the first request, GET /v1/models.
const probeTimeout = 30 * time.Second

// checkLoadgenFlags refuses bad values before any request, naming the flag,
// and returns the normalised base URL.
func checkLoadgenFlags(baseURL, model string, n, in, out, conc int, rate float64, seed int64, timeout time.Duration) (string, error) {
	switch {
	case baseURL == "":
		return "", usagef("--base-url: the server's URL is required")
	case model == "":
		return "", usagef("--model: the served model's name is required")
	case n < 1:
		return "", usagef("--num-prompts %d: want at least 1", n)
	case in < 1:
		return "", usagef("--input-len %d: want at least 1", in)
	case out < 1:
		return "", usagef("--output-len %d: want at least 1", out)
	case conc < 0:
		return "", usagef("--concurrency %d: want 0 (no limit) or more", conc)
	case rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
		return "", usagef("--request-rate %v: want a finite rate ≥ 0 (0: all at once)", rate)
	case seed < 0:
		return "", usagef("--seed %d: want 0 or more", seed)
	case timeout <= 0:
		return "", usagef("--timeout %v: want a positive duration", timeout)
	}
	base, err := loadgen.NormalizeBaseURL(baseURL)
	if err != nil {
		return "", err
	}
	return base, nil
}

// printLoadgen prints a run's metrics as vllm bench serve does.
func printLoadgen(w io.Writer, r *loadgen.Result) {
	m := r.Metrics
	fmt.Fprintf(w, "============ Serving Benchmark Result (%s) ============\n", r.Engine)
	row := func(name string, format string, v any) { fmt.Fprintf(w, "%-40s "+format+"\n", name+":", v) }
	row("Successful requests", "%d", m.Completed)
	row("Failed requests", "%d", m.Failed)
	if m.Cancelled > 0 {
		row("Cancelled requests", "%d", m.Cancelled)
	}
	row("Benchmark duration (s)", "%.2f", m.DurationS)
	row("Total input tokens", "%d", m.TotalInputTokens)
	row("Total generated tokens", "%d", m.TotalOutputTokens)
	row("Request throughput (req/s)", "%.2f", m.RequestThroughput)
	row("Output token throughput (tok/s)", "%.2f", m.OutputThroughput)
	row("Total token throughput (tok/s)", "%.2f", m.TotalTokenThroughput)
	for _, s := range []struct {
		name, long string
		st         loadgen.Stats
	}{{"TTFT", "Time to First Token", m.TTFT}, {"TPOT", "Time per Output Token (excl. 1st token)", m.TPOT},
		{"ITL", "Inter-token Latency", m.ITL}, {"E2EL", "End-to-end Latency", m.E2EL}} {
		fmt.Fprintf(w, "---------------%s---------------\n", s.long)
		row("Mean "+s.name+" (ms)", "%.2f", s.st.Mean)
		row("Median "+s.name+" (ms)", "%.2f", s.st.Median)
		row("P90 "+s.name+" (ms)", "%.2f", s.st.P90)
		row("P99 "+s.name+" (ms)", "%.2f", s.st.P99)
	}
	for msg, n := range r.Errors {
		fmt.Fprintf(w, "failed ×%d: %s\n", n, msg)
	}
}
