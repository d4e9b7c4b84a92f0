package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/eval/evalmodel"
	"github.com/llmcbench/gollm/internal/outdir"
)

func init() {
	register(command{name: "eval", summary: "score a model on perplexity, multiple-choice and trust tasks from local data", run: runEval})
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("eval", stderr)
	model := fs.String("model", "", "Hugging Face model folder")
	tasks := fs.String("tasks", "", "comma-separated task names or groups (gollm eval --list-tasks)")
	data := fs.String("data", "data", "folder of task folders: DIR/<task>/ (or a shared one such as DIR/glue/) holds each task's split files; see --list-tasks")
	limit := fs.Int("limit", 0, "score only the first N documents of each task (perplexity: the first N windows; mmlu: per subject); 0: all")
	seqlen := fs.Int("seqlen", 0, "perplexity window in tokens for wikitext2, ptb, ptb_new, c4, c4_new (0: 2048, or the model's context if shorter); for the other tasks the longest sequence scored, longer contexts are cut on the left (0: the model's context; llmcbench prompts: 2048)")
	shots := fs.Int("shots", 0, "few-shot examples for tasks that take them (mmlu, advglue_*); the others are zero-shot")
	addBOS := fs.Bool("add-bos", false, "prepend BOS to multiple-choice requests (lm-eval ≥ late 2025 does)")
	variant := fs.String("prompt", eval.VariantHarness, "prompt variant: harness or llmcbench")
	seed := fs.Int64("seed", 0, "seed of Python's random for drawing the c4 windows (GPTQ uses 0); no other task is random")
	noReuse := fs.Bool("no-prefix-reuse", false, "run every request from an empty cache")
	batch := fs.Int("batch-size", eval.DefaultBatchSize, "requests per forward pass (the choices of a question run together; 1: one at a time)")
	out := fs.String("out", "", "also write the JSON report to this file (checked before any work, written atomically; a failed or interrupted run writes the tasks it finished)")
	samples := fs.String("log-samples", "", "also write one JSON line per scored document (per window for perplexity) to this file: the task, the document's metric values, target, prediction, per-choice log-likelihoods (see docs/EVAL.md)")
	list := fs.Bool("list-tasks", false, "list the tasks with the files and columns they expect, then exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *list {
		eval.ListTasks(stdout)
		return nil
	}
	if *tasks == "" {
		return usagef("--tasks is required (see gollm eval --list-tasks)")
	}
	if *limit < 0 || *seqlen < 0 || *shots < 0 || *seed < 0 {
		return usagef("--limit, --seqlen, --shots and --seed must be ≥ 0")
	}
	if *seqlen == 1 {
		return usagef("--seqlen 1 leaves nothing to predict")
	}
	if *batch < 1 {
		return usagef("--batch-size %d: must be ≥ 1", *batch)
	}
	if *variant != eval.VariantHarness && *variant != eval.VariantLLMCBench {
		return usagef("--prompt %q: want %s or %s", *variant, eval.VariantHarness, eval.VariantLLMCBench)
	}
	var names []string
	for _, t := range strings.Split(*tasks, ",") {
		if t = strings.TrimSpace(t); t != "" {
			names = append(names, t)
		}
	}
	known := map[string]bool{}
	for _, n := range eval.TaskNames() {
		known[n] = true
	}
	for _, g := range eval.GroupNames() {
		known[g] = true
	}
	for _, n := range names {
		if !known[n] {
			return usagef("--tasks: unknown task %q (see gollm eval --list-tasks)", n)
		}
	}
	if *out != "" {
		if err := outdir.CheckFile(*out); err != nil {
			return usagef("--out: %v", err)
		}
		if err := checkReplaceable(*out); err != nil {
			return err
		}
	}
	if *samples != "" {
		if err := outdir.CheckFile(*samples); err != nil {
			return usagef("--log-samples: %v", err)
		}
		if *samples == *out {
			return usagef("--log-samples %s: the same file as --out", *samples)
		}
		if err := checkSamplesReplaceable(*samples); err != nil {
			return err
		}
	}
	cfg := eval.Config{
		Tasks: names, DataDir: *data, Limit: *limit, Seqlen: *seqlen, Shots: *shots, AddBOS: *addBOS,
		PromptVariant: *variant, Seed: *seed, NoPrefixReuse: *noReuse, BatchSize: *batch,
		Model: *model, Dtype: "f32", LogSamples: *samples != "",
	}
	if err := eval.Check(cfg); err != nil {
		return err // the data folders and files, before the model loads
	}
	m, err := loadModel(*model, cf, false, 0)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := m.Tokenizer()
	if err != nil {
		return usagef("--model %s: %v", *model, err)
	}
	cfg.Tokenizer, cfg.Device = tok.Kind()+" "+tok.Path(), m.Backend.Name()
	rep, runErr := eval.Run(ctx, cfg, evalmodel.New(m), tok, stderr)
	if rep == nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before the first task was scored: nothing was scored")
		}
		return runErr
	}
	if *samples != "" {
		if err := outdir.WriteFile(*samples, func(f *os.File) error { return eval.WriteSamples(f, rep.Results) }); err != nil && runErr == nil {
			runErr = fmt.Errorf("--log-samples %s: %w", *samples, err)
		}
	}
	return finishEval(rep, runErr, *out, cf.json, stdout)
}

// finishEval writes the report (--out, then stdout) whatever happened while
// scoring, and returns the error to report: the run's (with what was kept),
// or a failed write.
func finishEval(rep *eval.Report, runErr error, out string, asJSON bool, stdout io.Writer) error {
	var writeErr error
	if out != "" {
		writeErr = outdir.WriteFile(out, func(f *os.File) error { return writeJSON(f, rep) })
	}
	if asJSON {
		if err := writeJSON(stdout, rep); err != nil && writeErr == nil {
			writeErr = err
		}
	} else {
		printEval(stdout, rep)
	}
	if runErr == nil {
		if writeErr != nil {
			return fmt.Errorf("--out %s: %w", out, writeErr)
		}
		return nil
	}
	kept := fmt.Sprintf("%d tasks", len(rep.Results))
	if len(rep.Results) == 1 {
		kept = "1 task"
	}
	switch {
	case len(rep.Results) == 0:
		kept = "nothing was scored"
	case writeErr != nil:
		kept += " scored, but writing --out failed: " + writeErr.Error()
	case out != "":
		kept += " written to " + out
	default:
		kept += " kept in the report on stdout"
	}
	if rep.Interrupted {
		return fmt.Errorf("interrupted during %s; %s", rep.InterruptedDuring, kept)
	}
	return fmt.Errorf("%w; %s", runErr, kept)
}

// printEval writes one line per task: its metrics (stderr values left
// out), or the error of a failed task.
func printEval(w io.Writer, rep *eval.Report) {
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-20s n=%-6d", r.Task, r.N)
		for _, k := range sortedKeys(r.Metrics) {
			if !strings.HasSuffix(k, "_stderr") {
				fmt.Fprintf(w, "  %s=%s", k, eval.FormatMetric(r.Metrics[k]))
			}
		}
		fmt.Fprintln(w)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "%-20s FAILED: %s\n", f.Task, f.Error)
	}
	if rep.Interrupted {
		fmt.Fprintf(w, "%-20s INTERRUPTED\n", rep.InterruptedDuring)
	}
}

// checkReplaceable refuses an existing --out file that is not an earlier
// eval report (a model's config.json, a dataset): eval replaces reports,
// never other files.
func checkReplaceable(path string) error {
	return checkOwnFile("--out", path, "a gollm eval report", "eval replaces only its own reports", func(b []byte) bool {
		var r struct {
			Config  *json.RawMessage `json:"config"`
			Results *json.RawMessage `json:"results"`
		}
		return json.Unmarshal(b, &r) == nil && r.Config != nil && r.Results != nil
	})
}

// checkSamplesReplaceable refuses an existing --log-samples file that is
// not an earlier samples file (its first line a JSON object with a task).
func checkSamplesReplaceable(path string) error {
	return checkOwnFile("--log-samples", path, "a gollm samples file", "eval replaces only its own", func(b []byte) bool {
		first, _, _ := strings.Cut(string(b), "\n")
		var line eval.SampleLine
		return json.Unmarshal([]byte(first), &line) == nil && line.Task != ""
	})
}
