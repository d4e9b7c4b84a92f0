package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/compress/llmpruner"
	"github.com/llmcbench/gollm/compress/omniquant"
	"github.com/llmcbench/gollm/internal/outdir"
)

func init() {
	register(command{name: "compress", summary: "prune or quantize a model and write the compressed checkpoint with its Track-3 record", run: runCompress})
}

// checkOut checks --out as the compress packages will (outdir.Create: a
// folder holding files gollm did not write, one another run is writing, a
// bad parent) before the tokenizer is loaded, and releases it; the package
// then takes the folder for the run.
func checkOut(out string, overwrite bool) error {
	d, err := outdir.Create(out, outdir.Options{Command: "compress", Flag: "--out", Overwrite: overwrite})
	if err != nil {
		return err
	}
	d.Abort()
	return nil
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

func parsePattern(s string) (n, m int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, ":")
	n, e1 := strconv.Atoi(a)
	m, e2 := strconv.Atoi(b)
	if !ok || e1 != nil || e2 != nil || n <= 0 || m <= 0 || n >= m {
		return 0, 0, usagef("--pattern %q: want N:M with 0 < N < M (e.g. 2:4)", s)
	}
	return n, m, nil
}

func runCompress(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs, cf := newFlags("compress", stderr)
	model := fs.String("model", "", "Hugging Face model folder to compress")
	out := fs.String("out", "", "folder to write the compressed checkpoint to: absent, empty or an earlier gollm output (built beside it, moved into place when complete; eval's --out is a JSON file)")
	overwrite := fs.Bool("overwrite", false, "allow an --out holding files gollm did not write: files of the output's names are replaced, the others kept (never another checkpoint's weights)")
	method := fs.String("method", "", strings.Join(compress.AllMethods, "|"))
	var calib listFlag
	fs.Var(&calib, "calib", "calibration files (C4 .json.gz/jsonl, WikiText .raw, text); repeat or comma-separate")
	nsamples := fs.Int("nsamples", 0, "calibration samples (default: the method's reference setting)")
	seqlen := fs.Int("seqlen", 0, "tokens per calibration sample (default: the method's; eval's --seqlen is the perplexity window, train's the training window)")
	seed := fs.Int64("seed", -1, "calibration sampling seed, ≥ 0 (default: the method's reference seed; generate's --seed seeds token sampling, train's the initial weights and data order)")
	sampling := fs.String("sampling", "", "calibration loader: window (GPTQ), concat (AWQ), truncate (SmoothQuant); default per method")
	sparsity := fs.Float64("sparsity", 0, "fraction of weights to prune, in (0, 1) (default 0.5, or N/M with --pattern; llm-pruner: fraction of all parameters)")
	pattern := fs.String("pattern", "", "N:M semi-structured pattern, e.g. 2:4")
	bits := fs.Int("bits", 0, "weight bits, 2-8 (default 4; smoothquant 8)")
	wbits := fs.Int("wbits", 0, "omniquant weight bits (the same setting as --bits; give one)")
	abits := fs.Int("abits", 0, "omniquant activation bits (0 or 16: weight-only)")
	group := fs.Int("group-size", 0, "input columns per quantization group: a multiple of 8, or -1 for one group per output channel (default 128; omniquant: -1)")
	sym := fs.Bool("sym", false, "symmetric quantization")
	asym := fs.Bool("asym", false, "asymmetric quantization (the default)")
	actOrder := fs.Bool("act-order", false, "GPTQ: quantize columns by decreasing Hessian diagonal (desc_act)")
	staticGroups := fs.Bool("static-groups", false, "GPTQ: group quantizers from the original weights")
	noTrueSeq := fs.Bool("no-true-sequential", false, "GPTQ: quantize a block's linears from one statistics pass")
	damp := fs.Float64("damp", 0, "Hessian dampening as a fraction of the mean diagonal, in (0, 1) (default 0.01)")
	alpha := fs.Float64("alpha", 0, "SmoothQuant migration strength, in (0, 1] (default: the model's published value)")
	noClip := fs.Bool("no-clip", false, "AWQ: skip the clipping search")
	blockStart := fs.Int("block-start", 0, "llm-pruner: first pruned layer")
	blockEnd := fs.Int("block-end", 0, "llm-pruner: end of the pruned layers, exclusive (default: the last layer)")
	importance := fs.String("importance", "", "llm-pruner importance: element1 (default), vector, element2")
	loraSteps := fs.Int("lora-steps", 0, "llm-pruner: LoRA recovery steps after pruning (0: none)")
	loraRank := fs.Int("lora-rank", 8, "llm-pruner: LoRA rank")
	loraAlpha := fs.Float64("lora-alpha", 16, "llm-pruner: LoRA alpha (scaling alpha/rank)")
	loraLR := fs.Float64("lora-lr", 1e-4, "llm-pruner: LoRA peak learning rate")
	loraBatch := fs.Int("lora-batch", 4, "llm-pruner: LoRA windows per step")
	loraSeqlen := fs.Int("lora-seqlen", 128, "llm-pruner: LoRA tokens per window")
	var loraData listFlag
	fs.Var(&loraData, "lora-data", "llm-pruner: LoRA recovery text files (default: the --calib files); repeat or comma-separate")
	epochs := fs.Int("epochs", 0, "omniquant epochs per block, ≥ 1 (default 20)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *model == "":
		return usagef("--model is required")
	case *out == "":
		return usagef("--out is required (the folder for the compressed checkpoint)")
	case *method == "":
		return usagef("--method is required: one of %s", strings.Join(compress.AllMethods, ", "))
	case *sym && *asym:
		return usagef("--sym and --asym are exclusive")
	}
	if err := checkCompressFlags(fs, *method); err != nil {
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
	pn, pm, err := parsePattern(*pattern)
	if err != nil {
		return err
	}
	var result any
	switch *method {
	case "llm-pruner":
		c := llmpruner.Config{Model: *model, Out: *out, Sparsity: *sparsity, BlockStart: *blockStart, BlockEnd: *blockEnd,
			Importance: *importance, Calib: calib, NSamples: *nsamples, Seqlen: *seqlen, Seed: *seed, Overwrite: *overwrite}
		if err := c.Validate(); err != nil {
			return err
		}
		data := []string(loraData)
		if len(data) == 0 {
			data = calib
		}
		lc := llmpruner.LoRAConfig{Steps: *loraSteps, Rank: *loraRank, Alpha: *loraAlpha, LR: *loraLR, Batch: *loraBatch, Seqlen: *loraSeqlen, Data: data}
		if *loraRank < 1 || *loraBatch < 1 || *loraSeqlen < 2 || !(*loraLR > 0) || !(*loraAlpha > 0) {
			return usagef("--lora-rank, --lora-batch, --lora-seqlen, --lora-lr and --lora-alpha must be positive")
		}
		if err := lc.Validate(); err != nil {
			return err
		}
		if err := checkOut(*out, *overwrite); err != nil {
			return err
		}
		tok, err := loadTokenizer(*model)
		if err != nil {
			return err
		}
		c.Tokenizer = tok
		// Pruning and LoRA recovery both run in the staging folder: --out
		// receives the recovered checkpoint, or nothing.
		res, lr, err := llmpruner.PruneRecover(ctx, c, lc, stderr)
		if err != nil {
			return err
		}
		result = res
		if lr != nil {
			result = map[string]any{"llm_pruner": res, "lora": lr}
		}
	case "omniquant":
		if err := checkOut(*out, *overwrite); err != nil {
			return err
		}
		tok, err := loadTokenizer(*model)
		if err != nil {
			return err
		}
		wb := *wbits
		if wb == 0 {
			wb = *bits
		}
		if wb == 0 {
			wb = 4
		}
		c := omniquant.Config{Model: *model, Out: *out, WBits: wb, ABits: *abits, GroupSize: *group, Epochs: *epochs,
			Calib: calib, NSamples: *nsamples, Seqlen: *seqlen, Seed: *seed, Tokenizer: tok, Overwrite: *overwrite}
		if *seed < 0 {
			c.Seed = omniquant.DefaultSeed
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if result, err = omniquant.Quantize(ctx, c, stderr); err != nil {
			return err
		}
	default:
		c := compress.Config{Model: *model, Out: *out, Method: *method, Calib: calib, NSamples: *nsamples, Seqlen: *seqlen,
			Seed: *seed, Sampling: *sampling, Sparsity: *sparsity, PatternN: pn, PatternM: pm, Bits: *bits, GroupSize: *group,
			Sym: *sym, ActOrder: *actOrder, StaticGroups: *staticGroups, TrueSequential: !*noTrueSeq && *method == compress.GPTQ,
			Damp: *damp, Alpha: *alpha, NoClip: *noClip, Device: cf.device, Overwrite: *overwrite}
		if err := c.Validate(); err != nil {
			return err
		}
		rec, err := compress.Run(ctx, c, stderr)
		if err != nil {
			return err
		}
		result = rec
		if !cf.json {
			fmt.Fprintf(stdout, "%s %s → %s (%s): %.1f s, peak RSS %.0f MB\n", *method, *model, *out, rec.Format, rec.WallSeconds, float64(rec.PeakRSSBytes)/1e6)
			return nil
		}
	}
	if cf.json {
		return writeJSON(stdout, result)
	}
	fmt.Fprintf(stdout, "%s %s → %s\n", *method, *model, *out)
	return nil
}
