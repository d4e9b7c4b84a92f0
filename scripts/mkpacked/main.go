// Command mkpacked writes the tiny packed checkpoints under testdata/packed
// that models' tests load without importing compress: one folder per
// packed format the compressors write, each with the logits the model
// computes on a fixed prompt, so a program that imports only models can
// check that it loads every format to the same function.
//
//	go run ./scripts/mkpacked [--out testdata/packed]
//
// The source model (testdata/packed/source) is llama3-tiny with its
// vocabulary cut to the 260 ids of a byte-level tokenizer (BOS 1, byte b as
// b+3), so each checkpoint is about 100 KB. Every folder is what
// compress.Run (or omniquant.Run) writes, less compression.json and the
// output marker (whose timings change per run), plus expected.safetensors:
//
//	input_ids  I64 [S]     the prompt (byte-level ids)
//	logits     F32 [S, V]  the logits of every position, computed by the
//	                       code that wrote the checkpoint
//
// The folders, in the order written:
//
//	gptq       GPTQ 4-bit, group 16, act-order, symmetric (g_idx permuted)
//	gptq-v2    RTN 2-bit, group 16, asymmetric (zero points of 0: gptq_v2)
//	gptq-a8    OmniQuant W4A8, group 16 (quantization_config.gollm_act_bits)
//	awq        AWQ 4-bit, group 16 (AutoAWQ gemm)
//	w8a8       SmoothQuant (compressed-tensors int-quantized)
//	sparse24   SparseGPT 2:4 (compressed-tensors sparse-24-bitmask)
//
// Rerunning it rewrites the same safetensors bytes (the compressors are
// deterministic), so a diff after a change to the writers is a change of the
// on-disk format; config.json differs only in the recorded thread count and,
// for gptq-a8, OmniQuant's per-block seconds.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// vocab is the byte-level vocabulary: 3 special ids and 256 bytes (+1 spare).
const vocab = 260

// prompt is the text whose logits expected.safetensors holds.
const prompt = "The quick brown fox jumps over the lazy dog."

// calib is the calibration file, relative to the repository root (the
// command runs there so that the recorded path is the same on every run).
const calib = "testdata/calib/c4-sample.jsonl"

func main() {
	out := flag.String("out", "testdata/packed", "output folder")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkpacked:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	src := filepath.Join(out, "source")
	if err := writeSource("testdata/llama3-tiny", src); err != nil {
		return err
	}
	quant := func(method string, edit func(*compress.Config)) func(dir string) error {
		return func(dir string) error {
			c := compress.Defaults(method)
			c.Model, c.Out, c.Calib, c.Tokenizer = src, dir, []string{calib}, corpus.ByteEncoder{}
			c.NSamples, c.Seqlen, c.Sampling = 6, 48, corpus.SampleWindow
			if edit != nil {
				edit(&c)
			}
			_, err := compress.Run(context.Background(), c, nil)
			return err
		}
	}
	for _, f := range []struct {
		name  string
		write func(dir string) error
	}{
		{"gptq", quant(compress.GPTQ, func(c *compress.Config) { c.GroupSize, c.ActOrder, c.Sym = 16, true, true })},
		{"gptq-v2", quant(compress.RTN, func(c *compress.Config) { c.Bits, c.GroupSize = 2, 16 })},
		{"gptq-a8", quant(compress.OmniQuant, func(c *compress.Config) {
			c.Bits, c.ABits, c.GroupSize, c.Epochs, c.NSamples, c.Seqlen = 4, 8, 16, 1, 4, 32
		})},
		{"awq", quant(compress.AWQ, func(c *compress.Config) { c.GroupSize = 16 })},
		{"w8a8", quant(compress.SmoothQuant, nil)},
		{"sparse24", quant(compress.SparseGPT, func(c *compress.Config) { c.PatternN, c.PatternM = 2, 4 })},
	} {
		dir := filepath.Join(out, f.name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := f.write(dir); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		for _, run := range []string{"compression.json", ".gollm-output.json"} {
			if err := os.Remove(filepath.Join(dir, run)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		if err := writeExpected(dir); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		fmt.Fprintf(os.Stderr, "mkpacked: wrote %s\n", dir)
	}
	return nil
}

// writeSource writes llama3-tiny (from) with the vocabulary cut to vocab
// ids into dir.
func writeSource(from, dir string) error {
	raw, err := os.ReadFile(filepath.Join(from, "config.json"))
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	cfg["vocab_size"] = vocab
	ck, err := tensor.OpenCheckpoint(from)
	if err != nil {
		return err
	}
	defer ck.Close()
	var ts []*tensor.Tensor
	for _, name := range ck.Names() {
		t, err := ck.Tensor(name)
		if err != nil {
			return err
		}
		if name == "model.embed_tokens.weight" {
			row := len(t.Data) / t.Shape[0]
			t = &tensor.Tensor{Name: name, DType: t.DType, Shape: []int{vocab, t.Shape[1]}, Data: t.Data[:vocab*row]}
		}
		ts = append(ts, t)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return tensor.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
}

// writeExpected loads the checkpoint in dir and writes the prompt's logits
// to dir/expected.safetensors.
func writeExpected(dir string) error {
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		return err
	}
	defer m.Close()
	ids := corpus.ByteEncoder{}.Encode(prompt, true)
	logits, err := m.NewState(len(ids)).Append(ids)
	if err != nil {
		return err
	}
	idb := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.LittleEndian.PutUint64(idb[8*i:], uint64(id))
	}
	ts := []*tensor.Tensor{
		{Name: "input_ids", DType: tensor.I64, Shape: []int{len(ids)}, Data: idb},
		tensor.FromFloat32("logits", []int{len(ids), len(logits) / len(ids)}, logits),
	}
	return tensor.WriteFile(filepath.Join(dir, "expected.safetensors"), ts, nil)
}
