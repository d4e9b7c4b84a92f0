package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/testfs"
)

// writeFiles creates files (path → content) under a new temp dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBadInput(t *testing.T) {
	arcOK := `{"question": "Q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "A"}` + "\n"
	tests := []struct {
		name  string
		files map[string]string
		cfg   Config
		want  []string // substrings of the one-line error
	}{
		{"no data dir", nil, Config{Tasks: []string{"arc_easy"}}, []string{"needs --data DIR", "allenai/ai2_arc"}},
		{"missing folder", map[string]string{"x/y.txt": ""}, Config{Tasks: []string{"piqa"}}, []string{"piqa", "no validation split found", "baber/piqa"}},
		{"split file absent", map[string]string{"arc_easy/train.jsonl": arcOK}, Config{Tasks: []string{"arc_easy"}}, []string{"arc_easy", "test.jsonl"}},
		{"wrong column", map[string]string{"arc_easy/test.jsonl": `{"question": "Q?", "answerKey": "A"}` + "\n"},
			Config{Tasks: []string{"arc_easy"}}, []string{"test.jsonl: row 1", `column "choices.text": missing (columns present: answerKey, question)`}},
		{"empty split", map[string]string{"arc_easy/test.jsonl": "\n"}, Config{Tasks: []string{"arc_easy"}}, []string{"split is empty"}},
		{"answerKey not a label", map[string]string{"arc_easy/test.jsonl": strings.Replace(arcOK, `"answerKey": "A"`, `"answerKey": "E"`, 1)},
			Config{Tasks: []string{"arc_easy"}}, []string{`"E" is not one of the choice labels`}},
		{"label out of range", map[string]string{"boolq/validation.jsonl": `{"question": "q", "passage": "p", "label": 2}` + "\n"},
			Config{Tasks: []string{"boolq"}}, []string{"validation.jsonl: row 1", "label 2 out of range 0..1"}},
		{"test split label -1", map[string]string{"mnli/validation_matched.jsonl": `{"premise": "p", "hypothesis": "h", "label": -1}` + "\n"},
			Config{Tasks: []string{"mnli"}}, []string{"label -1 out of range 0..2", "use the validation split"}},
		{"hellaswag empty label", map[string]string{"hellaswag/validation.jsonl": `{"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "y"], "label": ""}` + "\n"},
			Config{Tasks: []string{"hellaswag"}}, []string{`column "label": is text "", want an integer`}},
		{"hellaswag label beyond endings", map[string]string{"hellaswag/validation.jsonl": `{"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "y"], "label": 2}` + "\n"},
			Config{Tasks: []string{"hellaswag"}}, []string{"2 out of range 0..1"}},
		{"winogrande without blank", map[string]string{"winogrande/validation.jsonl": `{"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}` + "\n"},
			Config{Tasks: []string{"winogrande"}}, []string{`has no "_" blank`}},
		{"winogrande test split", map[string]string{"winogrande/validation.jsonl": `{"sentence": "a _ b", "option1": "a", "option2": "b", "answer": ""}` + "\n"},
			Config{Tasks: []string{"winogrande"}}, []string{`want "1" or "2"`}},
		{"truthfulqa labels", map[string]string{"truthfulqa/validation.jsonl": `{"question": "q", "mc1_targets": {"choices": ["a", "b"], "labels": [1, 1]}, "mc2_targets": {"choices": ["a", "b"], "labels": [1, 1]}}` + "\n"},
			Config{Tasks: []string{"truthfulqa_mc2"}}, []string{"at least one false answer"}},
		{"truthfulqa best answer not among correct", map[string]string{"truthfulqa/TruthfulQA.csv": "Question,Best Answer,Correct Answers,Incorrect Answers\nq,x,y,z\n"},
			Config{Tasks: []string{"truthfulqa_mc1"}, PromptVariant: VariantLLMCBench}, []string{`"x." is not among the correct answers`}},
		{"tsv field count", map[string]string{"qnli/dev.tsv": "index\tquestion\tsentence\tlabel\n0\tq\ts\tentailment\n1\t\"open quote\ts\tentailment\n2\tq\ts\tentailment\n"},
			Config{Tasks: []string{"qnli"}}, []string{"dev.tsv: line 3", "fields, header has 4"}},
		{"ambiguous folders", map[string]string{"arc_easy/a/test.jsonl": arcOK, "arc_easy/b/test.jsonl": arcOK},
			Config{Tasks: []string{"arc_easy"}}, []string{"several folders", "keep one"}},
		{"piqa labels file missing", map[string]string{"piqa/valid.jsonl": `{"goal": "g", "sol1": "a", "sol2": "b"}` + "\n"},
			Config{Tasks: []string{"piqa"}}, []string{"valid-labels.lst is missing"}},
		{"corrupt parquet", map[string]string{"arc_easy/test-00000-of-00001.parquet": "PAR1 not really"},
			Config{Tasks: []string{"arc_easy"}}, []string{"test-00000-of-00001.parquet", "parquet"}},
		{"bad json", map[string]string{"arc_easy/test.jsonl": arcOK + "{oops\n"}, Config{Tasks: []string{"arc_easy"}}, []string{"test.jsonl: line 2: invalid JSON"}},
		{"text shorter than a window", map[string]string{"wikitext2/wiki.test.raw": " tiny \n"},
			Config{Tasks: []string{"wikitext2"}, Seqlen: 64}, []string{"wiki.test.raw", "fewer than one window of seqlen 64"}},
		{"binary raw text", map[string]string{"wikitext2/wiki.test.raw": " = A = \n\x89PNG\r\n"},
			Config{Tasks: []string{"wikitext2"}, Seqlen: 64}, []string{"wiki.test.raw", "invalid UTF-8 at byte offset 8"}},
		{"mmlu too many shots", map[string]string{"mmlu/test/x_test.csv": "q,a,b,c,d,A\n", "mmlu/dev/x_dev.csv": "q,a,b,c,d,A\n"},
			Config{Tasks: []string{"mmlu"}, Shots: 2}, []string{"fewer than 2 shots"}},
		{"mmlu empty test file", map[string]string{"mmlu/test/x_test.csv": "q,a,b,c,d,A\n", "mmlu/test/y_test.csv": ""},
			Config{Tasks: []string{"mmlu"}}, []string{"y_test.csv", "no questions"}},
		{"mmlu bad answer letter", map[string]string{"mmlu/test/x_test.csv": "q,a,b,c,d,E\n"},
			Config{Tasks: []string{"mmlu"}}, []string{"x_test.csv: row 1", `"E", want A, B, C or D`}},
		{"advglue wrong layout", map[string]string{"advglue/dev.json": `{"cola": []}`},
			Config{Tasks: []string{"advglue_rte"}}, []string{`no "rte" key`}},
		{"unknown task", nil, Config{Tasks: []string{"arc_medium"}}, []string{`unknown task "arc_medium"`, "arc_easy"}},
		{"no tasks", nil, Config{}, []string{"no tasks given"}},
		{"unknown variant", nil, Config{Tasks: []string{"mmlu"}, PromptVariant: "helm"}, []string{`prompt variant "helm"`}},
		{"seqlen beyond context", nil, Config{Tasks: []string{"mmlu"}, Seqlen: 8192}, []string{"seqlen 8192 exceeds the model's context of 4096"}},
		{"negative limit", nil, Config{Tasks: []string{"mmlu"}, Limit: -1}, []string{"must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if tt.files != nil {
				cfg.DataDir = writeFiles(t, tt.files)
			}
			_, err := Run(context.Background(), cfg, newHistLM(4096), charTok{}, nil)
			if !badinput.Is(err) {
				t.Fatalf("err = %v, want bad input", err)
			}
			testfs.OneLineError(t, err, tt.want...)
		})
	}
}

// TestLongSequences: contexts beyond the model's context are cut from the
// left as the harness does (counted); a continuation that cannot fit skips
// its document (counted); when nothing fits the run fails.
func TestLongSequences(t *testing.T) {
	m := newHistLM(20)
	res := runOne(t, m, Config{Tasks: []string{"arc_easy"}})
	docs := []hDoc{
		{[]string{"Question: Which gas do plants absorb?\nAnswer:"}, []string{" oxygen", " carbon dioxide", " nitrogen", " helium"}, 1},
		{[]string{"Question: What is 2 + 2?\nAnswer:"}, []string{" 3", " 4", " 22"}, 1},
		{[]string{"Question: Which is a mammal?\nAnswer:"}, []string{" shark", " whale", " trout", " eel", " ray"}, 1},
	}
	acc, accNorm := expectHarness(m, docs, false) // refLL truncates to maxCtx+1 tokens
	near(t, "truncated acc", res.Metrics["acc"], acc)
	near(t, "truncated acc_norm", res.Metrics["acc_norm"], accNorm)
	if res.TruncatedRequests != 12 {
		t.Errorf("truncated %d requests, want 12", res.TruncatedRequests)
	}

	m = newHistLM(12) // " carbon dioxide" is 15 tokens: the first question cannot be scored
	res = runOne(t, m, Config{Tasks: []string{"arc_easy"}})
	acc, _ = expectHarness(m, docs[1:], false)
	near(t, "acc without the skipped question", res.Metrics["acc"], acc)
	if res.N != 2 || res.Skipped["continuation longer than the model's context"] != 1 {
		t.Errorf("n=%d skipped=%v", res.N, res.Skipped)
	}

	_, err := Run(context.Background(), Config{Tasks: []string{"arc_challenge"}, DataDir: testData}, newHistLM(3), charTok{}, nil)
	if !badinput.Is(err) || !strings.Contains(err.Error(), "no document could be scored") {
		t.Errorf("nothing fits: %v", err)
	}
}

func TestRuntimeFailureIsNotBadInput(t *testing.T) {
	m := newHistLM(4096)
	m.failAfter = 100
	_, err := Run(context.Background(), Config{Tasks: []string{"hellaswag"}, DataDir: testData}, m, charTok{}, nil)
	if err == nil || badinput.Is(err) || !strings.Contains(err.Error(), "injected failure") {
		t.Errorf("err = %v, want a runtime failure", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, Config{Tasks: []string{"arc_easy"}, DataDir: testData}, newHistLM(4096), charTok{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

func TestProgressOutput(t *testing.T) {
	var b strings.Builder
	_, err := Run(context.Background(), Config{Tasks: []string{"arc_easy"}, DataDir: testData}, newHistLM(4096), charTok{}, &b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "arc_easy") || !strings.Contains(b.String(), "3/3") {
		t.Errorf("progress output %q", b.String())
	}
}
