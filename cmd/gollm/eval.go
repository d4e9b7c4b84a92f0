package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/eval/evalmodel"
)

func init() {
	register(command{name: "eval", summary: "score a model on perplexity, multiple-choice and trust tasks from local data", run: runEval})
	badInputs = append(badInputs, eval.ErrBadInput)
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("eval", stderr)
	model := fs.String("model", "", "Hugging Face model folder")
	tasks := fs.String("tasks", "", "comma-separated task names (gollm eval --list-tasks)")
	data := fs.String("data", "data", "folder holding one sub-folder per task with its files")
	limit := fs.Int("limit", 0, "score only the first N documents (windows) of each task")
	seqlen := fs.Int("seqlen", 0, "perplexity window / longest sequence (0: 2048 or the model's context)")
	shots := fs.Int("shots", 0, "few-shot examples for tasks that take them (mmlu)")
	addBOS := fs.Bool("add-bos", false, "prepend BOS to multiple-choice requests (lm-eval ≥ late 2025 does)")
	variant := fs.String("prompt", eval.VariantHarness, "prompt variant: harness or llmcbench")
	seed := fs.Int64("seed", 0, "seed for random choices (C4 windows)")
	noReuse := fs.Bool("no-prefix-reuse", false, "run every request from an empty cache")
	batch := fs.Int("batch-size", eval.DefaultBatchSize, "requests per forward pass (the choices of a question run together; 1: one at a time)")
	out := fs.String("out", "", "also write the JSON report to this file")
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
	if *limit < 0 || *seqlen < 0 || *shots < 0 {
		return usagef("--limit, --seqlen and --shots must be ≥ 0")
	}
	if *batch < 1 {
		return usagef("--batch-size %d: must be ≥ 1", *batch)
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
	for _, n := range names {
		if !known[n] {
			return usagef("--tasks: unknown task %q (see gollm eval --list-tasks)", n)
		}
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
	cfg := eval.Config{
		Tasks: names, DataDir: *data, Limit: *limit, Seqlen: *seqlen, Shots: *shots, AddBOS: *addBOS,
		PromptVariant: *variant, Seed: *seed, NoPrefixReuse: *noReuse, BatchSize: *batch,
		Model: *model, Tokenizer: tok.Kind() + " " + tok.Path(), Dtype: "f32", Device: m.Backend.Name(),
	}
	rep, err := eval.Run(ctx, cfg, evalmodel.New(m), tok, stderr)
	if err != nil {
		return err
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return usagef("--out %s: %v", *out, err)
		}
		if err := writeJSON(f, rep); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if cf.json {
		return writeJSON(stdout, rep)
	}
	for _, r := range rep.Results {
		fmt.Fprintf(stdout, "%-20s n=%-6d", r.Task, r.N)
		for _, k := range sortedKeys(r.Metrics) {
			if !strings.HasSuffix(k, "_stderr") {
				fmt.Fprintf(stdout, "  %s=%.4f", k, r.Metrics[k])
			}
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
