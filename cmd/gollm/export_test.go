package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/export/gguf"
)

func TestExportBadInput(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.gguf")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.gguf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--model", "../../testdata/llama2-tiny", "--out", out}, "--format is required"},
		{[]string{"export", "--model", "../../testdata/llama2-tiny", "--format", "onnx", "--out", out}, "--format onnx"},
		{[]string{"export", "--model", "../../testdata/llama2-tiny", "--format", "gguf"}, "--out is required"},
		{[]string{"export", "--model", "../../testdata/llama2-tiny", "--format", "gguf", "--out", out, "--dtype", "q4_k"}, "--dtype q4_k"},
		{[]string{"export", "--model", "../../testdata/llama2-tiny", "--format", "gguf", "--out", existing}, "--overwrite"},
		{[]string{"export", "--model", "../../testdata/llama2-tiny", "--format", "gguf", "--out", filepath.Join(dir, "no", "m.gguf")}, "does not exist"},
		{[]string{"export", "--model", "../../testdata/opt-tiny", "--format", "gguf", "--out", out}, "architecture opt"},
		{[]string{"export", "--model", filepath.Join(dir, "missing"), "--format", "gguf", "--out", out}, "missing"},
	} {
		runBadInput(t, tc.args, true, tc.want)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("existing file overwritten: %q", b)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed export left %s", out)
	}
}

func TestExportJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.gguf")
	code, stdout, stderr := runCLI("export", "--model", "../../testdata/llama3-tiny", "--format", "gguf", "--dtype", "q8_0", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res exportOutput
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	f, err := gguf.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(out)
	if res.Tensors != len(f.Tensors) || res.Bytes != st.Size() || res.DType != "q8_0" {
		t.Errorf("reported %+v; file has %d tensors, %d bytes", res, len(f.Tensors), st.Size())
	}
}

// llamaCpp finds node and the npm package node-llama-cpp (in $LLAMACPP_DIR
// or the repository's .cache/llamacpp, where make llamacpp installs it), or
// skips saying why.
func llamaCpp(t *testing.T) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the llama.cpp check of the GGUF export needs Node and the npm package node-llama-cpp (make llamacpp)")
	}
	dir := os.Getenv("LLAMACPP_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "llamacpp")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp", "package.json")); err != nil {
		t.Skipf("the npm package node-llama-cpp is not installed in %s (make llamacpp installs it): the llama.cpp check of the GGUF export is skipped", dir)
	}
	script, err = filepath.Abs(filepath.Join("..", "..", "scripts", "llamacpp", "greedy.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return node, script
}

// TestExportGGUFLlamaCpp exports the LLaMA-2 (SentencePiece) and LLaMA-3
// (byte-level BPE, llama3 rope scaling, tied embeddings) fixtures and runs
// them in llama.cpp (node-llama-cpp's prebuilt CPU build): its greedy tokens
// must equal gollm generate --greedy's for f32 and f16 weights. Q8_0 and
// Q4_0 weights are a different model, so their agreement is only logged.
func TestExportGGUFLlamaCpp(t *testing.T) {
	node, script := llamaCpp(t)
	dir := t.TempDir()
	const newTokens = 24
	prompts := [][]int{{1, 450, 1000, 33, 7}, {0, 12, 999, 3, 250, 71, 2}}
	type job struct {
		Model string `json:"model"`
		IDs   []int  `json:"ids"`
		N     int    `json:"n"`
	}
	type want struct {
		name string
		ids  []int
	}
	var jobs []job
	var wants []want
	for _, model := range []string{"llama2-tiny", "llama3-tiny"} {
		src := filepath.Join("..", "..", "testdata", model)
		var gollm [][]int
		for _, p := range prompts {
			ids := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(p)), ","), "[]")
			code, stdout, stderr := runCLI("generate", "--model", src, "--ids", ids, "--max-new-tokens", fmt.Sprint(newTokens), "--greedy", "--ignore-eos", "--json")
			if code != 0 {
				t.Fatalf("generate %s: exit %d: %s", model, code, stderr)
			}
			var res generateOutput
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatal(err)
			}
			gollm = append(gollm, res.IDs)
		}
		for _, dtype := range []string{"f32", "f16", "q8_0", "q4_0"} {
			out := filepath.Join(dir, model+"-"+dtype+".gguf")
			if code, _, stderr := runCLI("export", "--model", src, "--format", "gguf", "--dtype", dtype, "--out", out); code != 0 {
				t.Fatalf("export %s %s: exit %d: %s", model, dtype, code, stderr)
			}
			for i, p := range prompts {
				jobs = append(jobs, job{out, p, newTokens})
				wants = append(wants, want{fmt.Sprintf("%s %s prompt %d", model, dtype, i), gollm[i]})
			}
		}
	}
	var in bytes.Buffer
	for _, j := range jobs {
		b, _ := json.Marshal(j)
		in.Write(append(b, '\n'))
	}
	// A generous hang guard, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	i := 0
	for sc.Scan() {
		if i >= len(wants) {
			t.Fatalf("more result lines than jobs: %q", sc.Text())
		}
		var res struct{ IDs []int }
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		w := wants[i]
		agree := 0
		for agree < len(res.IDs) && agree < len(w.ids) && res.IDs[agree] == w.ids[agree] {
			agree++
		}
		t.Logf("%s: llama.cpp and gollm agree on the first %d of %d greedy tokens", w.name, agree, newTokens)
		if !strings.Contains(w.name, "q8_0") && !strings.Contains(w.name, "q4_0") && (agree != newTokens || len(res.IDs) != newTokens) {
			t.Errorf("%s: llama.cpp greedy %v, gollm %v", w.name, res.IDs, w.ids)
		}
		i++
	}
	if i != len(wants) {
		t.Fatalf("%d result lines for %d jobs; stderr %s", i, len(wants), stderr.String())
	}
}
