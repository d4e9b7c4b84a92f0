package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/internal/badinput"
)

const (
	evalModel = "../../testdata/llama3-tiny"
	evalData  = "../../testdata/eval"
)

// TestEvalChecksBeforeWork: a bad --out, bad flags and missing data fail
// with exit 2 naming the flag or file before the model is loaded (the
// model path does not exist: reaching it would fail on its config.json),
// and leave no report behind.
func TestEvalChecksBeforeWork(t *testing.T) {
	dir := t.TempDir()
	noModel := filepath.Join(dir, "no-model")
	out := filepath.Join(dir, "r.json")
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	base := []string{"eval", "--model", noModel, "--tasks", "arc_easy", "--data", evalData}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"out in a missing folder", []string{"--out", filepath.Join(dir, "nope", "r.json")}, "--out"},
		{"out is a folder", []string{"--out", dir}, "--out"},
		{"unknown prompt variant", []string{"--prompt", "helm", "--out", out}, "--prompt"},
		{"missing data folder", []string{"--data", filepath.Join(dir, "nodata"), "--out", out}, "--data folder not found"},
		{"task data missing", []string{"--data", dir, "--tasks", "arc_easy,piqa", "--out", out}, "task arc_easy"},
		{"negative seed", []string{"--seed", "-1"}, "--seed"},
		{"negative limit", []string{"--limit", "-2"}, "--limit"},
		{"seqlen 1", []string{"--seqlen", "1"}, "--seqlen 1"},
		{"zero batch size", []string{"--batch-size", "0"}, "--batch-size"},
		{"unknown task", []string{"--tasks", "arc_medium"}, `unknown task "arc_medium"`},
	}
	if os.Geteuid() != 0 { // root writes into read-only folders
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"out in a read-only folder", []string{"--out", filepath.Join(ro, "r.json")}, "--out"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append(append([]string{}, base...), tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (%s)", code, stderr)
			}
			if !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "config.json") {
				t.Errorf("stderr %q: want %q, before the model loads", stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error spans lines: %q", stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s written by a failed run", out)
			}
		})
	}
	if code, _, stderr := runCLI("eval", "--model", evalModel, "--tasks", "advglue", "--data", evalData, "--limit", "1"); code != 0 {
		t.Errorf("task group advglue: exit %d (%s)", code, stderr)
	}
}

// TestEvalOut: --out holds the same report as --json on stdout, replaces
// an old report and leaves no temporary file; a file that is not a report
// (a model's config.json) is refused and left as it was.
func TestEvalOut(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "config.json")
	if err := os.WriteFile(other, []byte(`{"model_type": "llama"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("eval", "--model", evalModel, "--tasks", "arc_easy", "--data", evalData, "--out", other); code != 2 || !strings.Contains(stderr, "--out") {
		t.Errorf("--out onto a config.json: exit %d (%s), want 2 naming --out", code, stderr)
	}
	if b, _ := os.ReadFile(other); string(b) != `{"model_type": "llama"}` {
		t.Errorf("config.json changed: %s", b)
	}
	out := filepath.Join(dir, "r.json")
	if err := os.WriteFile(out, []byte(`{"config": {}, "results": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("eval", "--model", evalModel, "--tasks", "arc_easy,wikitext2", "--data", evalData, "--seqlen", "64", "--json", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != stdout {
		t.Errorf("--out differs from stdout:\n%s\nvs\n%s", b, stdout)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != 2 {
		t.Errorf("report: %v, %d results", err, len(rep.Results))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("files left in the output folder: %v", ents)
	}
}

// TestEvalLateBadData: bad data in the second task fails (exit 2, naming
// the task's file) before the first task is scored: no progress line of
// the first task, no report.
func TestEvalLateBadData(t *testing.T) {
	dir := t.TempDir()
	arc, err := os.ReadFile(filepath.Join(evalData, "arc_easy", "test.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"arc_easy/test.jsonl":    string(arc),
		"boolq/validation.jsonl": `{"question": "q", "passage": "p", "label": 2}` + "\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCLI("eval", "--model", evalModel, "--tasks", "arc_easy,boolq", "--data", dir, "--out", out)
	if code != 2 || !strings.Contains(stderr, filepath.Join("boolq", "validation.jsonl")) || !strings.Contains(stderr, "label 2") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "arc_easy 0/") || stdout != "" {
		t.Errorf("arc_easy was scored before the bad data was found: stderr %q stdout %q", stderr, stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a report was written")
	}
}

// TestEvalInterruptedBeforeScoring: a run cancelled before any task is
// scored says so and writes nothing.
func TestEvalInterruptedBeforeScoring(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "r.json")
	var o, e bytes.Buffer
	code := run(ctx, []string{"eval", "--model", evalModel, "--tasks", "arc_easy", "--data", evalData, "--out", out}, &o, &e)
	if code != 1 || !strings.Contains(e.String(), "nothing was scored") {
		t.Errorf("exit %d, stderr %q", code, e.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a report was written")
	}
}

// TestFinishEval: whatever happened while scoring, the report of the
// finished tasks is written to --out and stdout as valid JSON (NaN as
// null), and the error says what was kept, with the right exit code.
func TestFinishEval(t *testing.T) {
	done := func(metrics eval.Metrics) *eval.TaskResult {
		return &eval.TaskResult{Task: "arc_easy", N: 3, Metrics: metrics}
	}
	modelErr := &eval.TaskError{Task: "hellaswag", Err: errors.New("model forward: out of memory")}
	badErr := &eval.TaskError{Task: "boolq", Err: fmt.Errorf("boolq/validation.jsonl: %w", badinput.ErrBadInput)}
	cases := []struct {
		name     string
		rep      *eval.Report
		runErr   error
		wantErr  []string // in the error ("" entries: none expected)
		badInput bool
		wantJSON string // in the written report
		wantText string // in the text output
	}{
		{"ok with NaN", &eval.Report{Results: []*eval.TaskResult{done(eval.Metrics{"acc": math.NaN(), "ppl": math.Inf(1)})}},
			nil, nil, false, `"acc": null`, "acc=nan  ppl=inf"},
		{"runtime failure", &eval.Report{Results: []*eval.TaskResult{done(eval.Metrics{"acc": 0.5})}, Failed: []*eval.TaskFailure{{Task: "hellaswag", Error: modelErr.Error()}}},
			modelErr, []string{"task hellaswag: model forward: out of memory", "1 task written to"}, false, `"failed"`, "hellaswag            FAILED"},
		{"bad-input failure", &eval.Report{Results: []*eval.TaskResult{done(eval.Metrics{"acc": 0.5})}, Failed: []*eval.TaskFailure{{Task: "boolq", Error: badErr.Error(), BadInput: true}}},
			badErr, []string{"task boolq", "1 task written to"}, true, `"bad_input": true`, "boolq"},
		{"interrupted", &eval.Report{Results: []*eval.TaskResult{done(eval.Metrics{"acc": 0.5})}, Interrupted: true, InterruptedDuring: "wikitext2"},
			&eval.TaskError{Task: "wikitext2", Err: context.Canceled}, []string{"interrupted during wikitext2; 1 task written to"}, false, `"interrupted": true`, "INTERRUPTED"},
		{"interrupted in the first task", &eval.Report{Results: []*eval.TaskResult{}, Interrupted: true, InterruptedDuring: "arc_easy"},
			&eval.TaskError{Task: "arc_easy", Err: context.Canceled}, []string{"interrupted during arc_easy; nothing was scored"}, false, `"interrupted_during": "arc_easy"`, "INTERRUPTED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			var stdout bytes.Buffer
			err := finishEval(tc.rep, tc.runErr, out, true, &stdout)
			if (err != nil) != (len(tc.wantErr) > 0) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if err != nil && isBadInput(err) != tc.badInput {
				t.Errorf("bad input = %v, want %v (exit code)", isBadInput(err), tc.badInput)
			}
			b, rerr := os.ReadFile(out)
			if rerr != nil {
				t.Fatal(rerr)
			}
			for what, data := range map[string][]byte{"--out": b, "stdout": stdout.Bytes()} {
				var back eval.Report
				if err := json.Unmarshal(data, &back); err != nil {
					t.Errorf("%s is not valid JSON: %v\n%s", what, err, data)
				}
				if len(back.Results) != len(tc.rep.Results) {
					t.Errorf("%s has %d results, want %d", what, len(back.Results), len(tc.rep.Results))
				}
				if !strings.Contains(string(data), tc.wantJSON) {
					t.Errorf("%s lacks %s:\n%s", what, tc.wantJSON, data)
				}
			}
			var text bytes.Buffer
			finishEval(tc.rep, tc.runErr, "", false, &text)
			if !strings.Contains(text.String(), tc.wantText) {
				t.Errorf("text output %q lacks %q", text.String(), tc.wantText)
			}
		})
	}
}

// TestEvalLogSamples: --log-samples writes one line per scored document
// of every task (per window for perplexity), each naming its task, and
// refuses to replace a file that is not a samples file.
func TestEvalLogSamples(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(foreign, []byte("my notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"eval", "--model", evalModel, "--tasks", "arc_easy,wikitext2", "--data", evalData, "--seqlen", "64", "--json"}
	if code, _, stderr := runCLI(append(args, "--log-samples", foreign)...); code != 2 || !strings.Contains(stderr, "--log-samples") {
		t.Errorf("--log-samples onto a text file: exit %d (%s), want 2", code, stderr)
	}
	if b, _ := os.ReadFile(foreign); string(b) != "my notes\n" {
		t.Errorf("the text file changed: %q", b)
	}
	path := filepath.Join(dir, "samples.jsonl")
	code, stdout, stderr := runCLI(append(args, "--log-samples", path)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	perTask := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s eval.SampleLine
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		perTask[s.Task]++
	}
	for _, r := range rep.Results {
		if perTask[r.Task] != r.N || r.N == 0 {
			t.Errorf("%s: %d sample lines for n=%d", r.Task, perTask[r.Task], r.N)
		}
	}
	if !rep.Config.LogSamples {
		t.Error("the report's config does not say samples were logged")
	}
}
