package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// TestConvertRoundTrip: a bf16 fixture written as f32 and back as bf16 gives
// the fixture's model.safetensors byte for byte (bf16 → f32 is exact), the
// config names the dtype, the tokenizer and generation config are copied,
// and a second run writes the same bytes. A checkpoint without
// generation_config.json (the ChatGLM fixture) gets one with its token ids.
func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := "../../testdata/llama3-tiny"
	f32, bf16, again := filepath.Join(dir, "f32"), filepath.Join(dir, "bf16"), filepath.Join(dir, "again")
	for _, step := range [][]string{
		{"--model", src, "--dtype", "f32", "--out", f32},
		{"--model", f32, "--dtype", "bf16", "--out", bf16},
		{"--model", f32, "--dtype", "bf16", "--out", again, "--json"},
	} {
		if code, _, stderr := runCLI(append([]string{"convert"}, step...)...); code != 0 {
			t.Fatalf("convert %v: exit %d: %s", step, code, stderr)
		}
	}
	for _, tc := range []struct {
		dir, dtype, torch string
	}{{f32, "F32", "float32"}, {bf16, "BF16", "bfloat16"}} {
		f, err := tensor.Open(filepath.Join(tc.dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range f.Names() {
			if info, _ := f.Info(n); info.DType.String() != tc.dtype {
				t.Errorf("%s: tensor %s is %s, want %s", tc.dir, n, info.DType, tc.dtype)
			}
		}
		f.Close()
		var cfg map[string]any
		b, _ := os.ReadFile(filepath.Join(tc.dir, "config.json"))
		if err := json.Unmarshal(b, &cfg); err != nil || cfg["torch_dtype"] != tc.torch || cfg["dtype"] != nil {
			t.Errorf("%s/config.json: torch_dtype %v, dtype %v (err %v); want %s and no dtype", tc.dir, cfg["torch_dtype"], cfg["dtype"], err, tc.torch)
		}
		for _, name := range []string{"tokenizer.json", "generation_config.json"} {
			if !sameFile(t, filepath.Join(src, name), filepath.Join(tc.dir, name)) {
				t.Errorf("%s/%s differs from the source's", tc.dir, name)
			}
		}
	}
	if !sameFile(t, filepath.Join(src, "model.safetensors"), filepath.Join(bf16, "model.safetensors")) {
		t.Errorf("bf16 → f32 → bf16 did not give the fixture's bytes")
	}
	if !sameFile(t, filepath.Join(bf16, "model.safetensors"), filepath.Join(again, "model.safetensors")) {
		t.Errorf("two conversions of the same checkpoint differ")
	}

	glm := filepath.Join(dir, "glm")
	if code, _, stderr := runCLI("convert", "--model", "../../testdata/chatglm3-tiny", "--dtype", "bf16", "--out", glm); code != 0 {
		t.Fatalf("convert chatglm: exit %d: %s", code, stderr)
	}
	var gen map[string]any
	b, _ := os.ReadFile(filepath.Join(glm, "generation_config.json"))
	if err := json.Unmarshal(b, &gen); err != nil || gen["eos_token_id"] != 2.0 || gen["pad_token_id"] != 0.0 {
		t.Errorf("generated generation_config.json %s (err %v): want eos_token_id 2, pad_token_id 0", b, err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

// TestConvertBadInput: each bad flag or folder is refused with exit 2 and
// one line naming it, and nothing is written.
func TestConvertBadInput(t *testing.T) {
	dir := t.TempDir()
	src := "../../testdata/llama3-tiny"
	noWeights := filepath.Join(dir, "noweights")
	os.Mkdir(noWeights, 0o755)
	os.WriteFile(filepath.Join(noWeights, "config.json"), []byte(`{"model_type": "llama"}`), 0o644)
	badConfig := filepath.Join(dir, "badconfig")
	os.Mkdir(badConfig, 0o755)
	os.WriteFile(filepath.Join(badConfig, "config.json"), []byte(`[1, 2]`), 0o644)
	other := foreignFolder(t, dir)
	out := filepath.Join(dir, "out")
	before := names(t, dir)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no model", []string{"--dtype", "bf16", "--out", out}, []string{"--model"}},
		{"no out", []string{"--model", src, "--dtype", "bf16"}, []string{"--out"}},
		{"no dtype", []string{"--model", src, "--out", out}, []string{"--dtype"}},
		{"unknown dtype", []string{"--model", src, "--dtype", "int4", "--out", out}, []string{"--dtype int4"}},
		{"cuda", []string{"--model", src, "--dtype", "bf16", "--device", "cuda", "--out", out}, []string{"--device"}},
		{"model missing", []string{"--model", filepath.Join(dir, "nope"), "--dtype", "bf16", "--out", out}, []string{"--model", "nope"}},
		{"config not an object", []string{"--model", badConfig, "--dtype", "bf16", "--out", out}, []string{"--model", "badconfig", "config.json"}},
		{"no weights", []string{"--model", noWeights, "--dtype", "bf16", "--out", out}, []string{"--model", "noweights"}},
		{"out is the model", []string{"--model", src, "--dtype", "bf16", "--out", src + "/"}, []string{"--out"}},
		{"out holds other files", []string{"--model", src, "--dtype", "bf16", "--out", other}, []string{"--out", "other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runBadInput(t, append([]string{"convert"}, tc.args...), true, tc.want...)
			if got := names(t, dir); got != before {
				t.Errorf("folder now holds %s, want %s", got, before)
			}
			if got := names(t, other); got != "notes.txt" {
				t.Errorf("other now holds %s", got)
			}
		})
	}
}
