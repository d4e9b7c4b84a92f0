package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/train"
)

func init() {
	badInputs = append(badInputs, train.ErrBadInput, grad.ErrBadIDs)
	register(command{name: "train", summary: "train a model from a config on local text (resumable)", run: runTrain})
}

type trainOutput struct {
	Out            string  `json:"out"`
	Steps          int     `json:"steps"`
	Params         int     `json:"params"`
	DataTokens     int     `json:"data_tokens"`
	UnigramEntropy float64 `json:"unigram_entropy"`
	FinalLoss      float64 `json:"final_loss"`
	TokensPerS     float64 `json:"tokens_per_s"`
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newFlags("train", stderr)
	var o train.Options
	fs.StringVar(&o.Arch, "arch", "", "architecture: llama, opt or chatglm")
	fs.StringVar(&o.Config, "config", "", "Hugging Face config.json of the model to train")
	data := fs.String("data", "", "text files to train on, comma-separated")
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "folder with tokenizer.json or tokenizer.model (copied into --out)")
	fs.IntVar(&o.Steps, "steps", 0, "total optimizer steps")
	fs.StringVar(&o.Out, "out", "", "output folder: Hugging Face checkpoint, trainer state, loss.csv, loss.json")
	fs.IntVar(&o.SeqLen, "seqlen", 128, "tokens per training window")
	fs.IntVar(&o.Batch, "batch", 8, "windows per step")
	fs.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate")
	fs.Float64Var(&o.MinLR, "min-lr", 0, "final learning rate of the cosine decay (0: lr/10)")
	fs.IntVar(&o.Warmup, "warmup", 0, "linear warm-up steps (0: steps/20)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 0.1, "AdamW decoupled weight decay (matrices only)")
	fs.Float64Var(&o.Clip, "clip", 1, "global gradient-norm clip (negative: off)")
	fs.BoolVar(&o.Recompute, "recompute", false, "recompute each block's activations in the backward pass (less memory, one more forward)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the initial weights and the data windows")
	fs.IntVar(&o.SaveEvery, "save-every", 0, "also checkpoint every N steps (0: only at the end)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run checkpointed in --out (its saved settings are used; --steps may be given)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data != "" {
		for _, f := range strings.Split(*data, ",") {
			if f = strings.TrimSpace(f); f != "" {
				o.Data = append(o.Data, f)
			}
		}
	}
	switch {
	case o.Out == "":
		return usagef("--out is required")
	case o.Steps <= 0:
		return usagef("--steps %d: must be positive", o.Steps)
	case !o.Resume && o.Arch != "llama" && o.Arch != "opt" && o.Arch != "chatglm":
		return usagef("--arch %q: want llama, opt or chatglm", o.Arch)
	case !o.Resume && o.Config == "":
		return usagef("--config is required")
	case !o.Resume && len(o.Data) == 0:
		return usagef("--data is required")
	case !o.Resume && o.Tokenizer == "":
		return usagef("--tokenizer is required")
	case o.SeqLen <= 0 || o.Batch <= 0:
		return usagef("--seqlen %d and --batch %d must be positive", o.SeqLen, o.Batch)
	case o.LR <= 0:
		return usagef("--lr %g: must be positive", o.LR)
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
	out := trainOutput{Out: res.Out, Steps: res.Steps, Params: res.Params, DataTokens: res.DataTokens,
		UnigramEntropy: res.UnigramEntropy, FinalLoss: res.FinalLoss, TokensPerS: res.TokensPerS}
	if cf.json {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "trained %d parameters for %d steps: loss %.4f (unigram entropy %.4f), %.0f tokens/s; checkpoint in %s\n",
		res.Params, res.Steps, res.FinalLoss, res.UnigramEntropy, res.TokensPerS, res.Out)
	return nil
}
