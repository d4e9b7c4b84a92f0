package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/loadgen"
)

func TestLoadgenEngineBadFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(file, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"engine and base url", []string{"loadgen", "--engine", "gollm", "--model", dir, "--base-url", "http://127.0.0.1:1"}, "give one"},
		{"unknown engine", []string{"loadgen", "--engine", "vllm", "--model", dir}, `--engine "vllm"`},
		{"gollm on a file", []string{"loadgen", "--engine", "gollm", "--model", file}, "not a checkpoint folder"},
		{"llamacpp on a folder", []string{"loadgen", "--engine", "llamacpp", "--model", dir}, "not a GGUF file"},
		{"parallel 0", []string{"loadgen", "--engine", "gollm", "--model", dir, "--engine-parallel", "0"}, "--engine-parallel 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runBadInput(t, c.args, true, c.want) })
	}
}

// runEngine runs gollm loadgen --engine with small lengths and checks every
// request completed with its tokens.
func runEngine(t *testing.T, engine, model, label string, vocab string) {
	t.Helper()
	const prompts, out = 4, 6
	code, stdout, stderr := runCLI("loadgen", "--engine", engine, "--model", model, "--num-prompts", "4", "--input-len", "8",
		"--output-len", "6", "--concurrency", "2", "--engine-parallel", "2", "--engine-threads", "1", "--vocab-size", vocab, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res loadgen.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not a result: %v", err)
	}
	m := res.Metrics
	if m.Completed != prompts || m.Failed != 0 || m.TotalInputTokens != prompts*8 || m.TotalOutputTokens != prompts*out || res.Engine != label {
		t.Errorf("metrics %+v engine %q: want %d requests of 8 + %d tokens on %s", m, res.Engine, prompts, out, label)
	}
	if len(res.EngineCommand) < 2 || !strings.HasPrefix(res.Config.BaseURL, "http://127.0.0.1:") {
		t.Errorf("engine command %q, base URL %q: want the command and a loopback URL recorded", res.EngineCommand, res.Config.BaseURL)
	}
}

// TestLoadgenEngineGollm: loadgen starts gollm serve (the test binary as
// gollm), measures it and stops it.
func TestLoadgenEngineGollm(t *testing.T) {
	t.Setenv(asGollm, "1")
	runEngine(t, "gollm", filepath.Join("..", "..", "testdata", "llama3-tiny"), loadgen.LabelGollmServe, "4000")
}

// TestLoadgenEngineLlamaCpp: loadgen starts llama.cpp (node-llama-cpp
// through scripts/llamacpp/serve.mjs) on a GGUF gollm exports, measures it
// and stops it.
func TestLoadgenEngineLlamaCpp(t *testing.T) {
	if _, _, err := loadgen.LlamaCpp(""); errors.Is(err, loadgen.ErrNotInstalled) {
		t.Skipf("%v: the llama.cpp engine test of gollm loadgen is skipped", err)
	}
	gguf := filepath.Join(t.TempDir(), "llama2-tiny.gguf")
	if code, _, stderr := runCLI("export", "--model", filepath.Join("..", "..", "testdata", "llama2-tiny"), "--format", "gguf", "--dtype", "f16", "--out", gguf); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	runEngine(t, "llamacpp", gguf, loadgen.LabelLlamaCpp, "32000")
}
