package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
)

// goodARC is the arc_easy split of the test data, for runs whose first
// task must be fine.
func goodARC(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testData, "arc_easy", "test.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLateBadDataFailsBeforeScoring: bad data in the second task fails
// the run before the first task is scored (no model state is made, no
// token is run), with an error naming the task and the file or column.
func TestLateBadDataFailsBeforeScoring(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := []struct {
		name  string
		files map[string]string
		cfg   Config
		want  []string
	}{
		{"missing folder", nil, Config{Tasks: []string{"arc_easy", "boolq"}}, []string{"boolq", "no validation split found"}},
		{"bad label", map[string]string{"boolq/validation.jsonl": `{"question": "q", "passage": "p", "label": 2}` + "\n"},
			Config{Tasks: []string{"arc_easy", "boolq"}}, []string{"boolq/validation.jsonl: row 1", "label 2 out of range"}},
		{"missing column", map[string]string{"boolq/validation.jsonl": `{"question": "q", "label": 1}` + "\n"},
			Config{Tasks: []string{"arc_easy", "boolq"}}, []string{"boolq/validation.jsonl: row 1", `column "passage"`}},
		{"text shorter than a window", map[string]string{"wikitext2/wiki.test.raw": " tiny \n"},
			Config{Tasks: []string{"arc_easy", "wikitext2"}, Seqlen: 64}, []string{"task wikitext2", "wiki.test.raw", "fewer than one window of seqlen 64"}},
		{"c4 documents shorter than seqlen", map[string]string{"c4/c4-validation.00000-of-00008.json": `{"text": "short"}` + "\n"},
			Config{Tasks: []string{"arc_easy", "c4"}, Seqlen: 64}, []string{"c4-validation.00000-of-00008.json", "no document has 64 tokens"}},
		{"empty pages", map[string]string{"wikitext/test.jsonl": `{"page": ""}` + "\n"},
			Config{Tasks: []string{"arc_easy", "wikitext"}}, []string{"wikitext/test.jsonl", "every page is empty"}},
		{"more shots than dev questions", map[string]string{"mmlu/test/x_test.csv": "q,a,b,c,d,A\n", "mmlu/dev/x_dev.csv": "q,a,b,c,d,A\n"},
			Config{Tasks: []string{"arc_easy", "mmlu"}, Shots: 2}, []string{"task mmlu", "fewer than 2 shots"}},
		{"no document fits", map[string]string{"arc_challenge/test.jsonl": `{"question": "Q?", "choices": {"text": ["` + long + `", "` + long + `"], "label": ["A", "B"]}, "answerKey": "A"}` + "\n"},
			Config{Tasks: []string{"arc_easy", "arc_challenge"}, Seqlen: 50}, []string{"arc_challenge/test.jsonl", "no document could be scored", "continuation longer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"arc_easy/test.jsonl": goodARC(t)}
			for k, v := range tt.files {
				files[k] = v
			}
			cfg := tt.cfg
			cfg.DataDir = writeFiles(t, files)
			m := newHistLM(4096)
			rep, err := Run(context.Background(), cfg, m, charTok{}, nil)
			if !badinput.Is(err) {
				t.Fatalf("err = %v, want bad input", err)
			}
			if rep != nil {
				t.Errorf("a bad-input run returned a report with %d results", len(rep.Results))
			}
			if m.states != 0 || m.appended != 0 {
				t.Errorf("the model ran (%d states, %d tokens) before the bad data was found", m.states, m.appended)
			}
			for _, w := range append(tt.want, "task "+cfg.Tasks[1]) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestCheck: the model-free checks find a missing data folder, a task's
// missing files and bad options, and accept the test data.
func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = ok
	}{
		{"test data", Config{Tasks: []string{"arc_easy", "mmlu", "advglue", "wikitext2"}, DataDir: testData}, ""},
		{"data folder missing", Config{Tasks: []string{"arc_easy"}, DataDir: filepath.Join(t.TempDir(), "nope")}, "--data folder not found"},
		{"task folder missing", Config{Tasks: []string{"arc_easy", "boolq"}, DataDir: t.TempDir()}, "task arc_easy"},
		{"mmlu folder missing", Config{Tasks: []string{"mmlu"}, DataDir: t.TempDir()}, "task mmlu: folder not found"},
		{"unknown variant", Config{Tasks: []string{"arc_easy"}, DataDir: testData, PromptVariant: "helm"}, `prompt variant "helm"`},
		{"negative seed", Config{Tasks: []string{"c4"}, DataDir: testData, Seed: -1}, "must not be negative"},
		{"seqlen 1", Config{Tasks: []string{"wikitext2"}, DataDir: testData, Seqlen: 1}, "seqlen 1"},
		{"unknown task", Config{Tasks: []string{"arc_medium"}, DataDir: testData}, `unknown task "arc_medium"`},
		{"shots on a zero-shot task", Config{Tasks: []string{"mmlu", "arc_easy"}, DataDir: testData, Shots: 5}, "--shots 5: task arc_easy is zero-shot"},
		{"shots on mmlu and advglue", Config{Tasks: []string{"mmlu", "advglue"}, DataDir: testData, Shots: 1}, ""},
		{"llmcbench prompt on a harness-only task", Config{Tasks: []string{"mmlu", "arc_easy"}, DataDir: testData, PromptVariant: VariantLLMCBench}, "--prompt llmcbench: task arc_easy has only the harness variant"},
		{"llmcbench prompt on llmcbench tasks", Config{Tasks: []string{"mmlu", "advglue", "truthfulqa"}, PromptVariant: VariantLLMCBench, DataDir: testData}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !badinput.Is(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want bad input with %q", err, tt.want)
			}
		})
	}
}

// TestRuntimeFailureKeepsFinishedTasks: a model error in the second task
// keeps the first task's metrics, records the failure, and the third task
// still runs.
func TestRuntimeFailureKeepsFinishedTasks(t *testing.T) {
	alone := runOne(t, newHistLM(4096), Config{Tasks: []string{"arc_easy"}})
	m := newHistLM(4096)
	m.failState = 2 // the second task's scorer
	rep, err := Run(context.Background(), Config{Tasks: []string{"arc_easy", "hellaswag", "piqa"}, DataDir: testData}, m, charTok{}, nil)
	var te *TaskError
	if !errors.As(err, &te) || te.Task != "hellaswag" || badinput.Is(err) || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err = %v, want a runtime *TaskError for hellaswag", err)
	}
	if rep == nil {
		t.Fatal("no report after a runtime failure")
	}
	if len(rep.Results) != 2 || rep.Results[0].Task != "arc_easy" || rep.Results[1].Task != "piqa" {
		t.Fatalf("results %v, want arc_easy and piqa", taskNames(rep.Results))
	}
	for k, v := range alone.Metrics {
		if rep.Results[0].Metrics[k] != v {
			t.Errorf("arc_easy %s = %v, alone %v", k, rep.Results[0].Metrics[k], v)
		}
	}
	if len(rep.Failed) != 1 || rep.Failed[0].Task != "hellaswag" || rep.Failed[0].BadInput || !strings.Contains(rep.Failed[0].Error, "injected failure") {
		t.Errorf("failed = %+v", rep.Failed)
	}
	if rep.Interrupted {
		t.Error("a failed task marked the run interrupted")
	}
	var back struct {
		Results []struct{ Task string } `json:"results"`
		Failed  []struct {
			Task, Error string
		} `json:"failed"`
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 2 || len(back.Failed) != 1 || back.Failed[0].Task != "hellaswag" {
		t.Errorf("JSON report %s", b)
	}
}

func taskNames(rs []*TaskResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Task)
	}
	return out
}

// TestInterruptKeepsFinishedTasks: cancelling the context while the
// second task runs keeps the first, marks the report interrupted and
// starts no later task.
func TestInterruptKeepsFinishedTasks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := newHistLM(4096)
	m.onNewState = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	rep, err := Run(ctx, Config{Tasks: []string{"arc_easy", "wikitext2", "piqa"}, DataDir: testData, Seqlen: 32}, m, charTok{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if rep == nil {
		t.Fatal("no report after an interrupt")
	}
	if !rep.Interrupted || rep.InterruptedDuring != "wikitext2" {
		t.Errorf("interrupted=%v during %q, want wikitext2", rep.Interrupted, rep.InterruptedDuring)
	}
	if len(rep.Results) != 1 || rep.Results[0].Task != "arc_easy" || rep.Results[0].N != 3 {
		t.Errorf("results %v, want the finished arc_easy", taskNames(rep.Results))
	}
	if m.states != 2 {
		t.Errorf("%d model states made, want 2 (nothing after the interrupt)", m.states)
	}
	b, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(b), `"interrupted":true`) {
		t.Errorf("JSON %s, %v", b, err)
	}
}

// TestNaNMetricsAreNull: a model returning NaN logits gives NaN metrics,
// which the JSON report holds as null with a note naming them and why.
func TestNaNMetricsAreNull(t *testing.T) {
	tests := []struct {
		task   string
		seqlen int
		null   []string // metrics that must be null
		why    string   // in the notes
	}{
		{"wikitext2", 32, []string{"ppl", "mean_nll"}, "NaN or infinite logits"},
		{"truthfulqa_mc2", 0, []string{"acc", "acc_stderr"}, "non-finite logits"},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			m := newHistLM(4096)
			m.nan = true
			rep, err := Run(context.Background(), Config{Tasks: []string{tt.task}, DataDir: testData, Seqlen: tt.seqlen}, m, charTok{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatalf("report with NaN metrics does not marshal: %v", err)
			}
			var back struct {
				Results []struct {
					Metrics map[string]*float64 `json:"metrics"`
					Notes   []string            `json:"notes"`
				} `json:"results"`
			}
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if len(back.Results) != 1 {
				t.Fatalf("%d results", len(back.Results))
			}
			r := back.Results[0]
			notes := strings.Join(r.Notes, " | ")
			for _, k := range tt.null {
				if v, ok := r.Metrics[k]; !ok || v != nil {
					t.Errorf("%s: present=%v value=%v, want null", k, ok, v)
				}
				if !strings.Contains(notes, k+" (NaN)") {
					t.Errorf("notes %q do not name %s", notes, k)
				}
			}
			if !strings.Contains(notes, tt.why) {
				t.Errorf("notes %q do not say %q", notes, tt.why)
			}
		})
	}
}

func TestMetricsJSON(t *testing.T) {
	tests := []struct {
		name string
		m    Metrics
		want string
	}{
		{"nil", nil, "null"},
		{"finite", Metrics{"b": 0.5, "a": 2}, `{"a":2,"b":0.5}`},
		{"not finite", Metrics{"nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1), "ok": 1e-7}, `{"inf":null,"nan":null,"ninf":null,"ok":1e-7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
			if tt.m != nil {
				plain, _ := json.Marshal(map[string]float64{"x": 1e-7, "y": 123456789.5})
				ours, _ := json.Marshal(Metrics{"x": 1e-7, "y": 123456789.5})
				if string(plain) != string(ours) {
					t.Errorf("finite values formatted %s, encoding/json %s", ours, plain)
				}
			}
		})
	}
}

func TestFormatMetric(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{{math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {0.25, "0.2500"}} {
		if got := FormatMetric(tt.v); got != tt.want {
			t.Errorf("FormatMetric(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
