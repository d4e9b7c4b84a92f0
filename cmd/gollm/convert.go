package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/tensor"
)

func init() {
	register(command{name: "convert", summary: "rewrite a checkpoint's weights in another dtype (e.g. bf16 for a committed reference model)", run: runConvert})
}

// convertDTypes are the storage dtypes convert writes, with the name
// config.json's torch_dtype gives each.
var convertDTypes = map[string]struct {
	dtype tensor.DType
	torch string
}{
	"f32":  {tensor.F32, "float32"},
	"f16":  {tensor.F16, "float16"},
	"bf16": {tensor.BF16, "bfloat16"},
}

// convertCopied are the files of a Hugging Face folder convert copies
// unchanged (config.json is rewritten; weights are converted).
var convertCopied = []string{"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "generation_config.json"}

type convertOutput struct {
	Out     string `json:"out"`
	DType   string `json:"dtype"`
	Tensors int    `json:"tensors"`
	Bytes   int64  `json:"weight_bytes"`
}

// runConvert writes --model's checkpoint into --out with every
// floating-point tensor in --dtype (round-to-nearest-even), config.json's
// torch_dtype set to match, and the tokenizer and generation config
// copied. A folder without generation_config.json gets one naming the
// config's bos and eos ids, so the result is a complete Hugging Face folder.
// Training state (optimizer moments, loss logs) is not copied.
func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("convert", stderr)
	fs.Lookup("dtype").Usage = "storage dtype of the written weights: bf16, f16 or f32 (required)"
	model := fs.String("model", "", "Hugging Face model folder to convert")
	out := fs.String("out", "", "output folder (config.json, model.safetensors, tokenizer files, generation_config.json)")
	overwrite := fs.Bool("overwrite", false, "write into a folder holding other files (they are kept)")
	if err := parse(fs, args); err != nil {
		return err
	}
	to, ok := convertDTypes[cf.dtype]
	switch {
	case *model == "":
		return usagef("--model is required (the checkpoint folder to convert)")
	case *out == "":
		return usagef("--out is required (the converted checkpoint folder)")
	case cf.dtype == "":
		return usagef("--dtype is required: bf16, f16 or f32")
	case !ok:
		return usagef("--dtype %s: want bf16, f16 or f32", cf.dtype)
	case cf.device != "cpu":
		return usagef("--device %s: convert runs on the CPU", cf.device)
	}
	if a, b := filepath.Clean(*model), filepath.Clean(*out); a == b {
		return usagef("--out %s: is --model; choose another folder", *out)
	}
	config, err := os.ReadFile(filepath.Join(*model, "config.json"))
	if err != nil {
		return badinput.Missing(fmt.Errorf("--model %s: %w", *model, err))
	}
	var raw map[string]any
	if err := json.Unmarshal(config, &raw); err != nil || raw == nil {
		return usagef("--model %s: config.json is not a JSON object", *model)
	}
	ck, err := tensor.OpenCheckpoint(*model)
	if err != nil {
		return fmt.Errorf("--model %s: %w", *model, err)
	}
	defer ck.Close()
	if len(ck.Names()) == 0 {
		return usagef("--model %s: the checkpoint holds no tensors", *model)
	}
	d, err := outdir.Create(*out, outdir.Options{Command: "convert", Flag: "--out", Overwrite: *overwrite})
	if err != nil {
		return err
	}
	defer d.Close()

	var ts []*tensor.Tensor
	var bytes int64
	for _, name := range ck.Names() {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := ck.Tensor(name)
		if err != nil {
			return fmt.Errorf("--model %s: %w", *model, err)
		}
		if t.DType.IsFloat() && t.DType != to.dtype {
			v, err := t.Float32()
			if err != nil {
				return fmt.Errorf("--model %s: %w", *model, err)
			}
			if t, err = tensor.Encode(name, to.dtype, t.Shape, v); err != nil {
				return err
			}
		}
		bytes += int64(len(t.Data))
		ts = append(ts, t)
	}
	if err := tensor.WriteFile(d.Path("model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	delete(raw, "dtype")
	raw["torch_dtype"] = to.torch
	b, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.Path("config.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	hasGen := false
	for _, name := range convertCopied {
		b, err := os.ReadFile(filepath.Join(*model, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("--model %s: %w", *model, err)
		}
		if err := os.WriteFile(d.Path(name), b, 0o644); err != nil {
			return err
		}
		hasGen = hasGen || name == "generation_config.json"
	}
	if !hasGen {
		if err := writeGenerationConfig(d.Path("generation_config.json"), raw); err != nil {
			return err
		}
	}
	if err := d.Commit(); err != nil {
		return err
	}
	res := convertOutput{Out: *out, DType: cf.dtype, Tensors: len(ts), Bytes: bytes}
	if cf.json {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "wrote %d tensors (%d bytes of weights) as %s into %s\n", len(ts), bytes, cf.dtype, *out)
	return nil
}

// writeGenerationConfig writes the generation_config.json transformers
// derives from a config: its bos, eos and pad token ids (those present).
func writeGenerationConfig(path string, config map[string]any) error {
	gen := map[string]any{"_from_model_config": true}
	for _, k := range []string{"bos_token_id", "eos_token_id", "pad_token_id"} {
		if v, ok := config[k]; ok && v != nil {
			gen[k] = v
		}
	}
	b, err := json.MarshalIndent(gen, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
