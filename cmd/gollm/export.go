package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/export/gguf"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/progress"
)

func init() {
	register(command{name: "export", summary: "write a dense LLaMA-family checkpoint as a GGUF file for llama.cpp (--format gguf)", run: runExport})
}

// exportTypes are the weight types export --dtype accepts.
var exportTypes = map[string]gguf.TensorType{"f32": gguf.F32, "f16": gguf.F16, "q8_0": gguf.Q8_0, "q4_0": gguf.Q4_0}

type exportOutput struct {
	Out     string `json:"out"`
	Format  string `json:"format"`
	DType   string `json:"dtype"`
	Tensors int    `json:"tensors"`
	Bytes   int64  `json:"bytes"`
}

// runExport writes --model as one GGUF file (--out), refusing to replace an
// existing file without --overwrite; the file appears only when complete.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("export", stderr)
	fs.Lookup("dtype").Usage = "weight type of the matrices: f32, f16 (default), q8_0 or q4_0 (norms stay f32)"
	model := fs.String("model", "", "Hugging Face model folder (dense LLaMA family)")
	format := fs.String("format", "", "output format: gguf (required)")
	out := fs.String("out", "", "output file (.gguf)")
	overwrite := fs.Bool("overwrite", false, "replace an existing --out file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cf.dtype == "" {
		cf.dtype = "f16"
	}
	typ, ok := exportTypes[cf.dtype]
	switch {
	case *model == "":
		return usagef("--model is required (the checkpoint folder to export)")
	case *format == "":
		return usagef("--format is required: gguf")
	case *format != "gguf":
		return usagef("--format %s: want gguf", *format)
	case *out == "":
		return usagef("--out is required (the .gguf file to write)")
	case !ok:
		return usagef("--dtype %s: want f32, f16, q8_0 or q4_0", cf.dtype)
	case cf.device != "cpu":
		return usagef("--device %s: export runs on the CPU", cf.device)
	}
	if st, err := os.Stat(*out); err == nil && !st.IsDir() && !*overwrite {
		return usagef("--out %s: exists; pass --overwrite to replace it", *out)
	}
	if err := outdir.CheckFile(*out); err != nil {
		return err
	}
	if abs, err := filepath.Abs(*out); err == nil {
		if mdl, err := filepath.Abs(*model); err == nil && filepath.Dir(abs) == mdl && filepath.Ext(abs) != ".gguf" {
			return usagef("--out %s: inside --model and not a .gguf file; choose another name", *out)
		}
	}
	var bar *progress.Bar
	f, err := gguf.Export(*model, gguf.Options{Type: typ, Progress: func(done, total int, name string) {
		if bar == nil {
			bar = progress.New(stderr, "export", total)
		}
		bar.Set(done, name)
	}})
	if err != nil {
		if bar != nil {
			bar.Abort()
		}
		return err
	}
	if bar != nil {
		bar.Finish()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var n int64
	if err := outdir.WriteFile(*out, func(w *os.File) error {
		var err error
		n, err = f.WriteTo(w)
		return err
	}); err != nil {
		return err
	}
	res := exportOutput{Out: *out, Format: "gguf", DType: cf.dtype, Tensors: len(f.Tensors), Bytes: n}
	if cf.json {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors, %s weights, %d bytes\n", *out, res.Tensors, res.DType, n)
	return nil
}
