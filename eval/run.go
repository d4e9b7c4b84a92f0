package eval

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/llmcbench/gollm/internal/badinput"
)

// Prompt variants.
const (
	// VariantHarness uses lm-evaluation-harness's templates and scoring.
	VariantHarness = "harness"
	// VariantLLMCBench uses LLMCBench's own scripts' prompts and scoring
	// where they differ (mmlu, qnli, mnli, mnli_mismatch, truthfulqa_*);
	// other tasks fall back to the harness and say so in their result.
	VariantLLMCBench = "llmcbench"
)

// Config is one evaluation run. The zero value of every field but Tasks is
// a usable default.
type Config struct {
	Tasks   []string `json:"tasks"`
	DataDir string   `json:"data_dir"`
	// Limit scores only the first N documents of each task (the first N
	// windows for GPTQ-style perplexity); 0 means all.
	Limit int `json:"limit"`
	// Seqlen is the window of GPTQ-style perplexity (default 2048, or the
	// model's context if shorter) and the maximum sequence length of every
	// other task (default: the model's context; LLMCBench prompts: 2048).
	Seqlen int `json:"seqlen"`
	// Shots is the number of few-shot examples for tasks that take them
	// (mmlu, advglue_*); the others are zero-shot.
	Shots int `json:"shots"`
	// AddBOS prepends BOS to harness and LLMCBench requests (the harness
	// does not through v0.4.9; newer versions do). GPTQ-style perplexity
	// always tokenizes with the tokenizer's special tokens, as
	// tokenizer(text) does in the reference scripts.
	AddBOS bool `json:"add_bos"`
	// PromptVariant is "harness" (default) or "llmcbench".
	PromptVariant string `json:"prompt_variant"`
	// Seed drives the random choices of C4 evaluation (GPTQ uses 0).
	Seed int64 `json:"seed"`
	// NoPrefixReuse runs every request from an empty KV cache (for
	// benchmarks and checks; results are the same up to rounding).
	NoPrefixReuse bool `json:"no_prefix_reuse"`
	// BatchSize is how many requests run in one forward pass when the LM
	// implements BatchLM: the choices of a question continue its context
	// (run once) together. 0 means DefaultBatchSize; 1 runs one request
	// at a time. Results are the same up to float rounding.
	BatchSize int `json:"batch_size"`
	// LogSamples keeps one Sample per scored document (per window for
	// GPTQ-style perplexity, per page for rolling perplexity) in each
	// TaskResult's Samples.
	LogSamples bool `json:"log_samples,omitempty"`

	// Descriptions recorded with the results.
	Model     string `json:"model,omitempty"`
	Tokenizer string `json:"tokenizer,omitempty"`
	Dtype     string `json:"dtype,omitempty"`
	Device    string `json:"device,omitempty"`
}

// Report is the result of Run: the full configuration and one result per
// task scored. It marshals to the JSON that `gollm eval --json` prints.
// A run that fails or is interrupted while scoring still returns its
// report: Results holds the tasks that finished, Failed the tasks that
// failed (with their errors), and Interrupted says the run was cancelled.
type Report struct {
	Config     Config        `json:"config"`
	MaxContext int           `json:"model_max_context"`
	Results    []*TaskResult `json:"results"`
	// Failed lists the tasks that failed while scoring, in run order.
	Failed []*TaskFailure `json:"failed,omitempty"`
	// Interrupted is set when the context was cancelled (Ctrl-C) before
	// every task was scored; InterruptedDuring names the task that was
	// running (or about to run) then. Tasks after it were not started.
	Interrupted       bool    `json:"interrupted,omitempty"`
	InterruptedDuring string  `json:"interrupted_during,omitempty"`
	Seconds           float64 `json:"seconds"`
}

// TaskFailure records a task that failed while scoring.
type TaskFailure struct {
	Task  string `json:"task"`
	Error string `json:"error"`
	// BadInput is set when the error came from the input (badinput.ErrBadInput).
	BadInput bool    `json:"bad_input"`
	Seconds  float64 `json:"seconds"`
}

// TaskError is the error of one task that failed while scoring (or was
// interrupted); it unwraps to the task's own error.
type TaskError struct {
	Task string
	Err  error
}

// Error returns "task TASK: ERR".
func (e *TaskError) Error() string { return "task " + e.Task + ": " + e.Err.Error() }

// Unwrap returns the task's error.
func (e *TaskError) Unwrap() error { return e.Err }

// taskErrors is the error of a run in which several tasks failed: one
// line, matching (errors.Is/As) every task's error.
type taskErrors []error

func (e taskErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e taskErrors) Unwrap() []error { return e }

// TaskResult is one task's metrics with everything that produced them.
type TaskResult struct {
	Task            string   `json:"task"`
	Kind            string   `json:"kind"`
	Variant         string   `json:"prompt_variant"`
	TemplateVersion string   `json:"template_version"`
	Template        string   `json:"template"`
	Files           []string `json:"files"`
	// Seqlen is the perplexity window, or the longest sequence scored.
	Seqlen int  `json:"seqlen"`
	Shots  int  `json:"shots"`
	AddBOS bool `json:"add_bos"`
	// N is the number of documents (windows for perplexity) scored.
	N int `json:"n"`
	// Metrics holds each metric and, for means over documents,
	// METRIC_stderr (the harness's standard error of the mean).
	// Metrics that are NaN or ±Inf are written as JSON null, with a note
	// naming them (see Metrics).
	Metrics Metrics `json:"metrics"`
	// Counts is the number of documents behind each mean.
	Counts map[string]int `json:"counts,omitempty"`
	// Groups holds per-group metrics (MMLU subjects and categories).
	Groups map[string]*GroupResult `json:"groups,omitempty"`
	// Skipped counts documents left out, by reason; they are in no metric.
	Skipped map[string]int `json:"skipped,omitempty"`
	// TruncatedRequests counts requests whose context lost tokens on the
	// left to fit the sequence limit, as the harness does.
	TruncatedRequests int `json:"truncated_requests"`
	// ForwardTokens is the number of tokens run through the model,
	// ScoredTokens those whose log-probability entered a metric.
	ForwardTokens int64    `json:"forward_tokens"`
	ScoredTokens  int64    `json:"scored_tokens"`
	Seconds       float64  `json:"seconds"`
	Notes         []string `json:"notes,omitempty"`
	// Samples holds the per-document records when Config.LogSamples is
	// set, in scoring order; they are not part of the JSON report (gollm
	// eval --log-samples writes them as JSON lines).
	Samples []Sample `json:"-"`
}

// GroupResult is the metrics of one group of documents.
type GroupResult struct {
	N       int     `json:"n"`
	Metrics Metrics `json:"metrics"`
}

func (r *TaskResult) skip(reason string) {
	if r.Skipped == nil {
		r.Skipped = map[string]int{}
	}
	r.Skipped[reason]++
}

func (r *TaskResult) skipSummary() string {
	var parts []string
	for k, v := range r.Skipped {
		parts = append(parts, fmt.Sprintf("%d × %s", v, k))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "no documents"
	}
	return strings.Join(parts, "; ")
}

// env is what a task needs while loading and running.
type env struct {
	ctx      context.Context
	cfg      Config
	lm       LM
	tok      Tokenizer
	progress io.Writer

	lastCtx    string // memo of the last context's tokens
	lastCtxIDs []int
}

// limitDocs applies --limit.
func limitDocs[T any](e *env, docs []T) []T {
	if e.cfg.Limit > 0 && len(docs) > e.cfg.Limit {
		return docs[:e.cfg.Limit]
	}
	return docs
}

// Check validates what can be checked of cfg without a model: the prompt
// variant, the numeric options, the task names, and that every task's data
// folder and files are where it looks for them (it does not read them; Run
// does). Commands call it before loading a model so that a typo fails in a
// second. Its errors match badinput.ErrBadInput.
//
// Check is stricter than Run about what a user asked for explicitly: Shots
// above 0 for a task that takes no shots, and the llmcbench prompt variant
// for a task that has only the harness one, are refused (Run runs them
// without shots, or in the harness variant, and says so in the result's
// notes).
func Check(cfg Config) error {
	names, err := checkConfig(&cfg)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := checkVariant(cfg, name); err != nil {
			return err
		}
	}
	if cfg.DataDir != "" {
		if st, err := os.Stat(cfg.DataDir); err != nil || !st.IsDir() {
			return badInput(cfg.DataDir, "--data folder not found (it holds one folder per task; gollm eval --list-tasks)")
		}
	}
	for _, name := range names {
		def := lookupTask(name, cfg.PromptVariant)
		if def.name == "mmlu" {
			if _, err := loadMMLURoot(cfg.DataDir, def.data); err != nil {
				return withTask(err, def.name)
			}
			continue
		}
		if _, err := def.data.find(def.name, cfg.DataDir); err != nil {
			return withTask(err, def.name)
		}
	}
	return nil
}

// checkVariant refuses shots and a prompt variant that task name does not
// have (see Check).
func checkVariant(cfg Config, name string) error {
	if cfg.PromptVariant == VariantLLMCBench {
		has := false
		for _, d := range registry[name] {
			has = has || d.variant == VariantLLMCBench
		}
		if !has {
			return badInput("", "--prompt %s: task %s has only the %s variant (drop --prompt, or see gollm eval --list-tasks)", VariantLLMCBench, name, VariantHarness)
		}
	}
	if def := lookupTask(name, cfg.PromptVariant); cfg.Shots > 0 && !def.shots {
		var with []string
		seen := map[string]bool{}
		for _, d := range taskList {
			if d.shots && !seen[d.name] {
				seen[d.name] = true
				with = append(with, d.name)
			}
		}
		return badInput("", "--shots %d: task %s is zero-shot (tasks that take shots: %s)", cfg.Shots, name, strings.Join(with, ", "))
	}
	return nil
}

// checkConfig fills the defaults of cfg, checks its options and expands
// its task list.
func checkConfig(cfg *Config) ([]string, error) {
	if cfg.PromptVariant == "" {
		cfg.PromptVariant = VariantHarness
	}
	if cfg.PromptVariant != VariantHarness && cfg.PromptVariant != VariantLLMCBench {
		return nil, badInput("", "prompt variant %q: want %q or %q", cfg.PromptVariant, VariantHarness, VariantLLMCBench)
	}
	if cfg.Limit < 0 || cfg.Shots < 0 || cfg.Seqlen < 0 || cfg.Seed < 0 || cfg.BatchSize < 0 {
		return nil, badInput("", "limit, shots, seqlen, seed and batch size must not be negative")
	}
	if cfg.Seqlen == 1 {
		return nil, badInput("", "seqlen 1 leaves nothing to predict")
	}
	return expandTasks(cfg.Tasks)
}

// Run evaluates lm on every task of cfg and returns the report.
//
// The data of every task is read, tokenized and checked before the first
// task is scored, so bad input (a missing file, a wrong column, a text
// shorter than one window, …) fails before any compute is spent; such
// errors match badinput.ErrBadInput and Run returns no report.
//
// A task that fails while scoring (a model error, a context overflow) is
// recorded in Report.Failed and the remaining tasks still run; a cancelled
// ctx stops the run and sets Report.Interrupted. In both cases Run returns
// the report of what finished together with a non-nil error (a *TaskError
// per failed task; it matches context.Canceled when interrupted and
// badinput.ErrBadInput when the task's input was at fault). Progress goes to
// progress (nil: none).
func Run(ctx context.Context, cfg Config, lm LM, tok Tokenizer, progress io.Writer) (*Report, error) {
	start := time.Now()
	if lm == nil || tok == nil {
		return nil, fmt.Errorf("eval: Run needs a model and a tokenizer")
	}
	names, err := checkConfig(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if _, ok := lm.(BatchLM); !ok || cfg.NoPrefixReuse {
		cfg.BatchSize = 1 // what runs: batching needs a BatchLM and the shared context
	}
	if cfg.Seqlen > lm.MaxContext() {
		return nil, badInput("", "seqlen %d exceeds the model's context of %d tokens", cfg.Seqlen, lm.MaxContext())
	}
	if _, ok := tok.BOS(); cfg.AddBOS && !ok {
		return nil, badInput("", "add BOS was requested but the tokenizer has no BOS token")
	}
	cfg.Tasks = names
	e := &env{ctx: ctx, cfg: cfg, lm: lm, tok: tok, progress: progress}

	type job struct {
		res *TaskResult
		run func() error
	}
	var jobs []job
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		def := lookupTask(name, cfg.PromptVariant)
		res := def.newResult(e)
		run, err := def.load(e, def, res)
		if err != nil {
			return nil, withTask(err, name)
		}
		jobs = append(jobs, job{res, run})
	}
	rep := &Report{Config: cfg, MaxContext: lm.MaxContext(), Results: []*TaskResult{}}
	var errs taskErrors
	for _, j := range jobs {
		t0 := time.Now()
		err := ctx.Err()
		if err == nil {
			err = j.run()
		}
		if err != nil && ctx.Err() != nil {
			rep.Interrupted, rep.InterruptedDuring = true, j.res.Task
			errs = append(errs, &TaskError{Task: j.res.Task, Err: err})
			break
		}
		if err != nil {
			rep.Failed = append(rep.Failed, &TaskFailure{Task: j.res.Task, Error: err.Error(),
				BadInput: badinput.Is(err), Seconds: time.Since(t0).Seconds()})
			errs = append(errs, &TaskError{Task: j.res.Task, Err: err})
			continue
		}
		j.res.Seconds = time.Since(t0).Seconds()
		j.res.noteNonFinite()
		rep.Results = append(rep.Results, j.res)
	}
	rep.Seconds = time.Since(start).Seconds()
	switch len(errs) {
	case 0:
		return rep, nil
	case 1:
		return rep, errs[0]
	}
	return rep, errs
}

// expandTasks resolves group names and rejects unknown tasks.
func expandTasks(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, badInput("", "no tasks given (known: %s)", strings.Join(TaskNames(), ", "))
	}
	var out []string
	seen := map[string]bool{}
	for _, raw := range in {
		name := strings.TrimSpace(raw)
		members, ok := taskGroups[name]
		if !ok {
			if _, ok := registry[name]; !ok {
				return nil, badInput("", "unknown task %q (known: %s)", name, strings.Join(TaskNames(), ", "))
			}
			members = []string{name}
		}
		for _, m := range members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// TaskNames returns every task name in a stable order (groups excluded).
func TaskNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range taskList {
		if !seen[d.name] {
			seen[d.name] = true
			out = append(out, d.name)
		}
	}
	return out
}

// GroupNames returns the names of the task groups (advglue, truthfulqa),
// sorted; each stands for its member tasks in Config.Tasks.
func GroupNames() []string {
	return slices.Sorted(maps.Keys(taskGroups))
}

// ListTasks writes each task with the files and columns it expects and
// where the data comes from.
func ListTasks(w io.Writer) {
	fmt.Fprintf(w, "Tasks read their data from --data DIR/<folder>/ (Hugging Face split files such as\n")
	fmt.Fprintf(w, "test-00000-of-00001.parquet or test.jsonl, or the original release files named below;\n")
	fmt.Fprintf(w, "subfolders are searched). Groups: ")
	var groups []string
	for g, m := range taskGroups {
		groups = append(groups, g+" = "+strings.Join(m, ","))
	}
	sort.Strings(groups)
	fmt.Fprintf(w, "%s.\n\n", strings.Join(groups, "; "))
	for _, d := range taskList {
		fmt.Fprintf(w, "%s  [%s, %s, template %s]\n", d.name, d.variant, d.kind, d.version)
		fmt.Fprintf(w, "  %s\n", d.about)
		fmt.Fprintf(w, "  folders: %s\n", strings.Join(d.data.Dirs, " or "))
		if d.data.Split != "" {
			fmt.Fprintf(w, "  split:   %s\n", d.data.Split)
		}
		if len(d.data.Names) > 0 {
			fmt.Fprintf(w, "  files:   %s\n", strings.Join(d.data.Names, ", "))
		}
		fmt.Fprintf(w, "  columns: %s\n", d.columns)
		fmt.Fprintf(w, "  source:  %s\n", d.data.Source)
		fmt.Fprintf(w, "  metrics: %s\n", strings.Join(d.metrics, ", "))
		fmt.Fprintf(w, "  prompt:  %q\n\n", d.template)
	}
}

// ExpandTasks resolves group names (advglue, truthfulqa) into their member
// tasks, drops repeats and rejects unknown names (badinput.ErrBadInput).
func ExpandTasks(names []string) ([]string, error) { return expandTasks(names) }
