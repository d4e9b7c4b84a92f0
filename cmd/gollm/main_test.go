package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// runBadInput runs gollm with args and checks a bad-input failure: exit
// code 2, nothing on stdout, and the error as the last line of stderr (the
// only line with oneLine), starting "gollm COMMAND: " and holding every
// one of want.
func runBadInput(t *testing.T, args []string, oneLine bool, want ...string) {
	t.Helper()
	code, stdout, stderr := runCLI(args...)
	if code != 2 {
		t.Errorf("exit %d, want 2 (stderr %q)", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	line := lines[len(lines)-1]
	if !strings.HasPrefix(line, "gollm "+args[0]+": ") || oneLine && len(lines) != 1 {
		t.Errorf("stderr %q: want one line (oneLine %v) starting gollm %s:", stderr, oneLine, args[0])
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("stderr %q: want %q in its last line", stderr, w)
		}
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	trunc := filepath.Join(dir, "trunc")
	os.MkdirAll(trunc, 0o755)
	cfg, _ := os.ReadFile("../../testdata/opt-tiny/config.json")
	os.WriteFile(filepath.Join(trunc, "config.json"), cfg, 0o644)
	w, _ := os.ReadFile("../../testdata/opt-tiny/model.safetensors")
	os.WriteFile(filepath.Join(trunc, "model.safetensors"), w[:len(w)/3], 0o644)

	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"generate", "--bogus"}, 2, "bogus"},
		{"missing model", []string{"generate", "--ids", "1"}, 2, "--model is required"},
		{"model not found", []string{"generate", "--model", filepath.Join(dir, "nope"), "--ids", "1"}, 2, "config.json"},
		{"truncated weights", []string{"generate", "--model", trunc, "--ids", "1"}, 2, "model.safetensors"},
		{"bad ids", []string{"generate", "--model", "../../testdata/opt-tiny", "--ids", "1,-3"}, 2, "--ids"},
		{"id outside vocab", []string{"generate", "--model", "../../testdata/opt-tiny", "--ids", "99999", "--max-new-tokens", "1"}, 2, "outside the vocabulary"},
		{"too long", []string{"generate", "--model", "../../testdata/opt-tiny", "--ids", "5", "--max-new-tokens", "5000"}, 2, "max_position_embeddings"},
		{"no cuda", []string{"generate", "--model", "../../testdata/opt-tiny", "--ids", "5", "--device", "cuda"}, 2, "--device cuda"},
		{"ok", []string{"generate", "--model", "../../testdata/opt-tiny", "--ids", "5,6", "--max-new-tokens", "3", "--greedy"}, 0, "decode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := devices["cuda"]; ok && c.name == "no cuda" {
				t.Skip("this build has the cuda device")
			}
			code, _, stderr := runCLI(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q lacks %q", stderr, c.want)
			}
			if c.code == 2 && c.name != "no command" && strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(c.name, "flag") {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestGenerateJSON(t *testing.T) {
	code, stdout, stderr := runCLI("generate", "--model", "../../testdata/llama2-tiny", "--ids", "1,15043,3186", "--max-new-tokens", "4", "--greedy", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out generateOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if out.NewTokens != 4 || len(out.IDs) != 4 || out.PromptTokens != 3 || out.Device != "cpu" {
		t.Errorf("unexpected output %+v", out)
	}
}

func TestTokenizeAndEvalCommands(t *testing.T) {
	code, stdout, stderr := runCLI("tokenize", "--model", "../../testdata/llama2-tiny", "--text", "Hello world", "--json")
	if code != 0 {
		t.Fatalf("tokenize exit %d: %s", code, stderr)
	}
	var tok tokenizeOutput
	if err := json.Unmarshal([]byte(stdout), &tok); err != nil {
		t.Fatal(err)
	}
	// sentencepiece: ▁Hello = 15043, ▁world = 3186, after BOS 1.
	if len(tok.IDs) != 3 || tok.IDs[0] != 1 || tok.IDs[1] != 15043 || tok.IDs[2] != 3186 {
		t.Errorf("ids %v", tok.IDs)
	}
	if code, _, stderr := runCLI("tokenize", "--model", "../../testdata/chatglm3-tiny", "--text", "x"); code != 2 || !strings.Contains(stderr, "tokenizer") {
		t.Errorf("folder without tokenizer: exit %d, %q", code, stderr)
	}
	code, stdout, stderr = runCLI("eval", "--model", "../../testdata/llama3-tiny", "--tasks", "arc_easy,wikitext2", "--data", "../../testdata/eval", "--seqlen", "64", "--json")
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, stderr)
	}
	var rep struct {
		Results []struct {
			Task    string             `json:"task"`
			N       int                `json:"n"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].N == 0 || rep.Results[1].Metrics["ppl"] <= 1 {
		t.Errorf("report %+v", rep)
	}
	for _, bad := range [][]string{
		{"eval", "--model", "../../testdata/llama3-tiny", "--tasks", "nosuchtask"},
		{"eval", "--model", "../../testdata/llama3-tiny", "--tasks", "piqa", "--data", t.TempDir()},
		{"eval", "--model", "../../testdata/llama3-tiny"},
		{"eval", "--model", "../../testdata/llama3-tiny", "--tasks", "arc_easy", "--batch-size", "0"},
	} {
		if code, _, stderr := runCLI(bad...); code != 2 {
			t.Errorf("%v: exit %d (%s)", bad, code, stderr)
		}
	}
}
