package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/train"
)

func init() {
	register(command{name: "train", summary: "train a model from a config on local text (resumable)", run: runTrain})
}

// resumeFlags are the train flags that may be given with --resume; the
// others are the run's settings, saved in its checkpoint.
var resumeFlags = map[string]bool{"out": true, "resume": true, "steps": true, "save-every": true, "overwrite": true,
	"threads": true, "json": true, "device": true, "dtype": true}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("train", stderr)
	var o train.Options
	fs.StringVar(&o.Arch, "arch", "", "architecture: "+train.ArchChoices())
	fs.StringVar(&o.Config, "config", "", "Hugging Face config.json of the model to train (from scratch)")
	data := fs.String("data", "", "text files to train on, comma-separated (each tokenized, followed by EOS)")
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "folder with tokenizer.json or tokenizer.model (copied into --out)")
	fs.IntVar(&o.Steps, "steps", 0, "total optimizer steps of the schedule (with --resume: 0 keeps the saved total)")
	fs.StringVar(&o.Out, "out", "", "checkpoint folder: Hugging Face checkpoint, trainer state, loss.csv, loss.json; replaced whole at each save")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "allow an --out holding files gollm did not write (they are kept; another model's weights are still refused)")
	fs.IntVar(&o.SeqLen, "seqlen", 128, "training window: tokens per sequence (at most the config's max_position_embeddings)")
	fs.IntVar(&o.Batch, "batch", 8, "windows per step")
	fs.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate (positive)")
	fs.Float64Var(&o.MinLR, "min-lr", 0, "final learning rate of the cosine decay, at most --lr (0: lr/10)")
	fs.IntVar(&o.Warmup, "warmup", 0, "linear warm-up steps, below --steps (0: steps/20)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 0.1, "AdamW decoupled weight decay of matrices and embeddings (0 takes the default 0.1)")
	fs.Float64Var(&o.Clip, "clip", 1, "global gradient-norm clip (negative: off; 0 takes the default 1)")
	fs.BoolVar(&o.Recompute, "recompute", false, "recompute each block's activations in the backward pass (less memory, one more forward)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the initial weights and of the order of the data windows")
	fs.IntVar(&o.SaveEvery, "save-every", 0, "also checkpoint every N steps (0: only at the end and on Ctrl-C)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run saved in --out with its saved settings (only --steps, --save-every and --overwrite may be given)")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *data != "" {
		for _, f := range strings.Split(*data, ",") {
			if f = strings.TrimSpace(f); f != "" {
				o.Data = append(o.Data, f)
			}
		}
	}
	if o.Resume {
		for _, name := range sortedKeys(given) {
			if !resumeFlags[name] {
				return usagef("--%s: --resume continues with the settings saved in --out; drop --%s (or start a new run without --resume)", name, name)
			}
		}
	}
	// Zero means "the default" inside train.Options; on the command line
	// these flags have explicit defaults, so a given 0 is a mistake.
	switch {
	case o.Out == "":
		return usagef("--out is required (the checkpoint folder)")
	case o.Steps < 0 || (o.Steps == 0 && !o.Resume):
		return usagef("--steps %d: must be positive", o.Steps)
	case o.SeqLen <= 0:
		return usagef("--seqlen %d: must be positive", o.SeqLen)
	case o.Batch <= 0:
		return usagef("--batch %d: must be positive", o.Batch)
	case o.LR == 0:
		return usagef("--lr 0: must be positive")
	case o.SaveEvery < 0:
		return usagef("--save-every %d: must be ≥ 0 (0: only at the end)", o.SaveEvery)
	case cf.threads < 0:
		return usagef("--threads %d: must be ≥ 0", cf.threads)
	}
	if cf.device != "cpu" {
		return usagef("--device %s: training runs on the CPU only", cf.device)
	}
	if cf.threads > 0 {
		kernels.SetMaxThreads(cf.threads)
		kernels.SetThreads(cf.threads)
	}
	o.Progress = stderr
	res, err := train.Run(ctx, o)
	if err != nil {
		return err
	}
	if cf.json {
		return writeJSON(stdout, res.Summary)
	}
	fmt.Fprintf(stdout, "trained %d parameters for %d steps: loss %.4f (unigram entropy %.4f), %.0f tokens/s; checkpoint in %s\n",
		res.Params, res.Steps, res.FinalLoss, res.UnigramEntropy, res.TokensPerS, res.Out)
	return nil
}
