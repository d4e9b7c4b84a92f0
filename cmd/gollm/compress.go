package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/compress/pipeline"
)

func init() {
	register(command{name: "compress", summary: "prune or quantize a model and write the compressed checkpoint with its Track-3 record", run: runCompress})
}

// listFlag collects a flag given several times and/or comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

func runCompress(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs, cf := newFlags("compress", stderr)
	model := fs.String("model", "", "Hugging Face model folder to compress")
	out := fs.String("out", "", "folder to write the compressed checkpoint to: absent, empty or an earlier gollm output (built beside it, moved into place when complete; eval's --out is a JSON file)")
	overwrite := fs.Bool("overwrite", false, "allow an --out holding files gollm did not write: files of the output's names are replaced, the others kept (never another checkpoint's weights)")
	method := fs.String("method", "", "method spec: "+strings.Join(compress.AllMethods, "|")+", optionally with :key=value,... (e.g. gptq:bits=3,act_order=true; see --list-methods); the method flags below are sugar for its keys")
	listMethods := fs.Bool("list-methods", false, "print every method with its spec parameters, their types, defaults and flags (--json: as JSON) and exit")
	var calib listFlag
	fs.Var(&calib, "calib", "calibration files (C4 .json.gz/jsonl, WikiText .raw, text); repeat or comma-separate")
	fs.Int("nsamples", 0, "calibration samples (default: the method's reference setting)")
	fs.Int("seqlen", 0, "tokens per calibration sample (default: the method's; eval's --seqlen is the perplexity window, train's the training window)")
	fs.Int64("seed", -1, "calibration sampling seed, ≥ 0 (default: the method's reference seed; generate's --seed seeds token sampling, train's the initial weights and data order)")
	fs.String("sampling", "", "calibration loader: window (GPTQ), concat (AWQ), truncate (SmoothQuant); default per method")
	fs.Float64("sparsity", 0, "fraction of weights to prune, in (0, 1) (default 0.5, or N/M with --pattern; llm-pruner: fraction of all parameters)")
	fs.String("pattern", "", "N:M semi-structured pattern, e.g. 2:4")
	fs.Int("bits", 0, "weight bits, 2-8 (default 4; smoothquant 8)")
	fs.Int("wbits", 0, "omniquant weight bits (the same setting as --bits; give one)")
	fs.Int("abits", 0, "omniquant activation bits (0 or 16: weight-only)")
	fs.Int("group-size", 0, "input columns per quantization group: a multiple of 8, or -1 for one group per output channel (default 128; omniquant: -1)")
	fs.Bool("sym", false, "symmetric quantization")
	fs.Bool("asym", false, "asymmetric quantization (the default)")
	fs.Bool("act-order", false, "GPTQ: quantize columns by decreasing Hessian diagonal (desc_act)")
	fs.Bool("static-groups", false, "GPTQ: group quantizers from the original weights")
	fs.Bool("no-true-sequential", false, "GPTQ: quantize a block's linears from one statistics pass")
	fs.Float64("damp", 0, "Hessian dampening as a fraction of the mean diagonal, in (0, 1) (default 0.01)")
	fs.Float64("alpha", 0, "SmoothQuant migration strength, in (0, 1] (default: the model's published value)")
	fs.Bool("no-clip", false, "AWQ: skip the clipping search")
	fs.Int("block-start", 0, "llm-pruner: first pruned layer")
	fs.Int("block-end", 0, "llm-pruner: end of the pruned layers, exclusive (default: the last layer)")
	fs.String("importance", "", "llm-pruner importance: element1 (default), vector, element2")
	fs.Int("lora-steps", 0, "llm-pruner: LoRA recovery steps after pruning (0: none)")
	fs.Int("lora-rank", 0, "llm-pruner: LoRA rank (default: see --list-methods)")
	fs.Float64("lora-alpha", 0, "llm-pruner: LoRA alpha, scaling alpha/rank (default: see --list-methods)")
	fs.Float64("lora-lr", 0, "llm-pruner: LoRA peak learning rate (default: see --list-methods)")
	fs.Int("lora-batch", 0, "llm-pruner: LoRA windows per step (default: see --list-methods)")
	fs.Int("lora-seqlen", 0, "llm-pruner: LoRA tokens per window (default: see --list-methods)")
	var loraData listFlag
	fs.Var(&loraData, "lora-data", "llm-pruner: LoRA recovery text files (default: the --calib files); repeat or comma-separate")
	fs.Int("epochs", 0, "omniquant epochs per block, ≥ 1 (default 20)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *listMethods {
		if cf.json {
			return writeJSON(stdout, compress.MethodInfos())
		}
		return listMethodsText(stdout)
	}
	switch {
	case *model == "":
		return usagef("--model is required")
	case *out == "":
		return usagef("--out is required (the folder for the compressed checkpoint)")
	case *method == "":
		return usagef("--method is required: one of %s", strings.Join(compress.AllMethods, ", "))
	}
	spec, err := methodSpec(fs, *method)
	if err != nil {
		return err
	}
	if cf.device != "cpu" {
		return usagef("--device %s: compression runs on the cpu in this build", cf.device)
	}
	if _, err := cf.backendFor(); err != nil {
		return err
	}
	// Ctrl-C cancels ctx: every method then removes its staging folder and
	// leaves --out as it was (exit 1).
	_, statErr := os.Stat(*out)
	defer func() {
		if err != nil && ctx.Err() != nil {
			if statErr == nil {
				err = fmt.Errorf("interrupted; %s left as it was", *out)
			} else {
				err = fmt.Errorf("interrupted; nothing was written to %s", *out)
			}
		}
	}()
	rec, err := pipeline.Run(ctx, pipeline.Job{Spec: spec, Model: *model, Out: *out, Calib: calib, LoRAData: loraData,
		Device: cf.device, Overwrite: *overwrite}, stderr)
	if err != nil {
		return err
	}
	if cf.json {
		return writeJSON(stdout, rec)
	}
	fmt.Fprintf(stdout, "%s %s → %s (%s): %.1f s, peak RSS %.0f MB\n", spec.Method, *model, *out, rec.Format, rec.WallSeconds, float64(rec.PeakRSSBytes)/1e6)
	return nil
}
