package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
)

const trainTinyConfig = `{"model_type": "llama", "vocab_size": 4000, "hidden_size": 32, "intermediate_size": 64,
 "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 64,
 "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "bos_token_id": 0, "eos_token_id": 1}`

// trainInputs writes a config and a text file into dir and returns the
// arguments of a valid, tiny gollm train run into dir/out.
func trainInputs(t *testing.T, dir string) []string {
	t.Helper()
	cfg := filepath.Join(dir, "cfg.json")
	data := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(cfg, []byte(trainTinyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("The old dog finds the red house, and then the dog goes home.\n", 40)
	if err := os.WriteFile(data, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"train", "--arch", "llama", "--config", cfg, "--data", data, "--tokenizer", "../../testdata/llama3-tiny",
		"--steps", "3", "--seqlen", "16", "--batch", "2", "--out", filepath.Join(dir, "out")}
}

// untouched fails the test unless dir still holds the entries before
// (names) and the foreign file still holds content.
func untouched(t *testing.T, dir, before, foreign, content string) {
	t.Helper()
	if got := names(t, dir); got != before {
		t.Errorf("folder changed: %s, was %s", got, before)
	}
	if b, err := os.ReadFile(foreign); err != nil || string(b) != content {
		t.Errorf("%s changed: %q (%v), want %q", foreign, b, err, content)
	}
}

// foreignFolder makes dir/other holding a file gollm did not write,
// notes.txt ("mine"), for the --out refusals, and returns its path.
func foreignFolder(t *testing.T, dir string) string {
	t.Helper()
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	return other
}

// names is the sorted entries of dir, joined by spaces.
func names(t *testing.T, dir string) string {
	t.Helper()
	return strings.Join(testfs.Entries(t, dir), " ")
}

// TestTrainBadFlags: every bad flag or input file is refused with exit 2
// and one line naming it, before anything is written.
func TestTrainBadFlags(t *testing.T) {
	dir := t.TempDir()
	base := trainInputs(t, dir)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	notJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(notJSON, []byte("not json"), 0o644)
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "model.safetensors"), []byte("weights"), 0o644)
	before := names(t, dir)

	for _, tc := range []struct {
		name string
		set  []string // flag, value pairs replacing or extending base
		want string   // in the message
		args []string // instead of base and set
	}{
		{"lr NaN", []string{"--lr", "NaN"}, "--lr", nil},
		{"lr Inf", []string{"--lr", "Inf"}, "--lr", nil},
		{"lr negative", []string{"--lr", "-1e-3"}, "--lr", nil},
		{"lr zero", []string{"--lr", "0"}, "--lr", nil},
		{"min-lr NaN", []string{"--min-lr", "NaN"}, "--min-lr", nil},
		{"min-lr negative", []string{"--min-lr", "-1"}, "--min-lr", nil},
		{"min-lr above lr", []string{"--min-lr", "0.1"}, "--min-lr", nil},
		{"weight-decay NaN", []string{"--weight-decay", "NaN"}, "--weight-decay", nil},
		{"weight-decay negative", []string{"--weight-decay", "-0.1"}, "--weight-decay", nil},
		{"clip NaN", []string{"--clip", "NaN"}, "--clip", nil},
		{"warmup negative", []string{"--warmup", "-1"}, "--warmup", nil},
		{"warmup = steps", []string{"--warmup", "3"}, "--warmup", nil},
		{"save-every negative", []string{"--save-every", "-2"}, "--save-every", nil},
		{"steps zero", []string{"--steps", "0"}, "--steps", nil},
		{"seqlen above max_position_embeddings", []string{"--seqlen", "65"}, "--seqlen", nil},
		{"seqlen zero", []string{"--seqlen", "0"}, "--seqlen", nil},
		{"batch zero", []string{"--batch", "0"}, "--batch", nil},
		{"batch absurd", []string{"--batch", "1000000000"}, "--batch", nil},
		{"arch", []string{"--arch", "gpt2"}, "--arch", nil},
		{"data missing", []string{"--data", filepath.Join(dir, "nope.txt")}, "--data", nil},
		{"data one of two missing", []string{"--data", filepath.Join(dir, "a.txt") + "," + filepath.Join(dir, "nope.txt")}, "nope.txt", nil},
		{"data folder", []string{"--data", empty}, "--data", nil},
		{"tokenizer folder without one", []string{"--tokenizer", empty}, "--tokenizer", nil},
		{"config missing", []string{"--config", filepath.Join(dir, "nope.json")}, "--config", nil},
		{"config not JSON", []string{"--config", notJSON}, "--config", nil},
		{"out holds another model", []string{"--out", other}, "--out", nil},
		{"out another model, overwrite", []string{"--out", other, "--overwrite"}, "--out", nil},
		{"out parent missing", []string{"--out", filepath.Join(dir, "no", "out")}, "--out", nil},
		{"resume not a train output", []string{"--resume", "--out", other, "--overwrite"}, "--out", nil},
		{"resume with a setting", nil, "--lr", []string{"train", "--resume", "--out", filepath.Join(dir, "out"), "--lr", "1e-2"}},
		{"resume missing out", nil, "--out", []string{"train", "--resume", "--out", filepath.Join(dir, "out")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{}, base...)
			for i := 0; i < len(tc.set); i++ {
				flag := tc.set[i]
				if flag == "--overwrite" || flag == "--resume" {
					args = append(args, flag)
					continue
				}
				i++
				replaced := false
				for j := 1; j+1 < len(args); j++ {
					if args[j] == flag {
						args[j+1], replaced = tc.set[i], true
					}
				}
				if !replaced {
					args = append(args, flag, tc.set[i])
				}
			}
			if tc.args != nil {
				args = tc.args
			}
			code, _, stderr := runCLI(args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			line := strings.TrimSpace(stderr)
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "gollm train: ") || !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q: want one line naming %s", stderr, tc.want)
			}
			untouched(t, dir, before, filepath.Join(other, "model.safetensors"), "weights")
		})
	}
}

// TestTrainCommand: a tiny run succeeds, resumes with more steps, and an
// interrupted invocation exits 1 saying what it kept.
func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	args := trainInputs(t, dir)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(args...)
	if code != 0 || !strings.Contains(stdout, "checkpoint in "+out) {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	// Not a terminal: plain lines, the last one with the step's numbers.
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := regexp.MustCompile(`^train 3/3 .* step 3 loss [0-9.]+ lr [0-9.e+-]+ [0-9]+ tok/s$`)
	if strings.Contains(stderr, "\r") || !last.MatchString(lines[len(lines)-1]) {
		t.Errorf("progress on a non-terminal: %q", stderr)
	}
	code, stdout, stderr = runCLI("train", "--resume", "--out", out, "--steps", "5", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	// --json: the run's summary, without the curve.
	var sum map[string]any
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	keys := slices.Sorted(maps.Keys(sum))
	if want := []string{"data_tokens", "final_loss", "out", "params", "steps", "tokens_per_s", "unigram_entropy"}; !slices.Equal(keys, want) || sum["steps"] != 5.0 {
		t.Errorf("--json keys %v (steps %v), want %v (steps 5)", keys, sum["steps"], want)
	}
	if !strings.Contains(stderr, "train (resumed at step 3) 2/2 ") || !strings.Contains(stderr, " step 5 loss ") {
		t.Errorf("progress of a resumed run: %q", stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e bytes.Buffer
	code = run(ctx, []string{"train", "--resume", "--out", out, "--steps", "8"}, &o, &e)
	want := "gollm train: interrupted at step 5; the checkpoint of step 5 is in " + out + " (continue with --resume)"
	if code != 1 || !strings.Contains(e.String(), want) {
		t.Errorf("interrupted: exit %d, stderr %q, want 1 and %q", code, e.String(), want)
	}
}

// TestTrainDiverges: a learning rate of 1e6 drives the loss to NaN or
// infinity within a few steps; the run stops with exit 1 and one line
// saying which checkpoint it kept, and that checkpoint is whole.
func TestTrainDiverges(t *testing.T) {
	dir := t.TempDir()
	args := append(trainInputs(t, dir), "--lr", "1e6", "--steps", "50", "--save-every", "1")
	code, _, stderr := runCLI(args...)
	line := strings.TrimSpace(stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:])
	if code != 1 || !regexp.MustCompile(`^gollm train: (loss|gradient norm) is (NaN|[+-]Inf) at step \d+; (kept the checkpoint of step \d+ in |no checkpoint was saved)`).MatchString(line) {
		t.Fatalf("exit %d, last line %q: want exit 1 and the divergence message", code, line)
	}
	if strings.Contains(line, "kept the checkpoint") {
		if code, _, stderr := runCLI("info", "--model", filepath.Join(dir, "out")); code != 0 {
			t.Errorf("kept checkpoint does not load: %s", stderr)
		}
	}
}
