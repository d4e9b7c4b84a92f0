// Package train trains gollm's own models: AdamW with decoupled weight
// decay, a linear warm-up + cosine learning-rate schedule and global-norm
// gradient clipping (internal/optim, shared with LLM-Pruner's LoRA
// recovery), random windows of tokenized local text (corpus.Sampler), and
// resumable checkpoints in the Hugging Face layout that models.Load (and
// transformers) read. Gradients come from package grad.
package train

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/optim"
)

// ErrBadInput marks bad options or input files (the CLI exits 2 on it).
var ErrBadInput = badinput.New("bad training input")

// Options configure Run. Zero values take the defaults noted.
type Options struct {
	// Arch is "llama", "opt" or "chatglm"; it must agree with the config's
	// model_type (and sets it when the config has none).
	Arch string `json:"arch"`
	// Config is a Hugging Face config.json describing the model to train.
	Config string `json:"config"`
	// Data are the text files to train on.
	Data []string `json:"data"`
	// Tokenizer is a folder with tokenizer.json or tokenizer.model.
	Tokenizer string `json:"tokenizer"`
	// Out is the checkpoint folder (the Hugging Face checkpoint, trainer
	// state and loss curve), replaced as a whole at each save.
	Out string `json:"out"`
	// Steps is the total number of updates (the schedule ends there).
	Steps  int `json:"steps"`
	SeqLen int `json:"seqlen"` // default 128
	Batch  int `json:"batch"`  // default 8
	// LR is the peak learning rate (default 1e-3); MinLR the cosine floor
	// (default LR/10).
	LR    float64 `json:"lr"`
	MinLR float64 `json:"min_lr"`
	// Warmup is the number of linear warm-up steps (default Steps/20).
	Warmup      int     `json:"warmup"`
	WeightDecay float64 `json:"weight_decay"` // default 0.1
	Clip        float64 `json:"clip"`         // global grad-norm clip (default 1; <0 off)
	// Recompute recomputes each block's activations during the backward
	// pass (gradient checkpointing, grad.Model.LossBackward): activation
	// memory of one block instead of all, for one more forward pass.
	Recompute bool    `json:"recompute"`
	Beta1     float64 `json:"beta1"`    // default 0.9
	Beta2     float64 `json:"beta2"`    // default 0.95
	Eps       float64 `json:"eps"`      // default 1e-8
	InitStd   float64 `json:"init_std"` // default 0.02
	Seed      uint64  `json:"seed"`
	// SaveEvery writes a checkpoint every so many steps (0: only at the end).
	SaveEvery int `json:"save_every"`
	// Resume continues from the checkpoint in Out, which must be the output
	// of a previous Run: its saved options are used and the ones given here
	// are ignored, except Out, Steps (0: the saved total), SaveEvery,
	// StopAt, Overwrite and Progress.
	Resume bool `json:"-"`
	// Overwrite lets Out hold files gollm did not write (they are kept;
	// see outdir.Options.Overwrite).
	Overwrite bool `json:"-"`
	// StopAt, if positive and below Steps, ends this invocation (with a
	// checkpoint) once StopAt updates are done; a later Resume continues
	// the same schedule.
	StopAt int `json:"-"`
	// Progress receives a progress bar with loss and tokens/s (nil: none).
	Progress io.Writer `json:"-"`

	// afterStep, if set, is called after each update (tests: cancel the
	// context, corrupt a weight, start a second run).
	afterStep func(tr *Trainer)
}

// defaults fills the options left zero with their defaults.
func (o *Options) defaults() {
	o.SeqLen = cmp.Or(o.SeqLen, 128)
	o.Batch = cmp.Or(o.Batch, 8)
	o.LR = cmp.Or(o.LR, 1e-3)
	o.MinLR = cmp.Or(o.MinLR, o.LR/10)
	o.Warmup = cmp.Or(o.Warmup, o.Steps/20)
	o.WeightDecay = cmp.Or(o.WeightDecay, 0.1)
	o.Clip = cmp.Or(o.Clip, 1)
	o.Beta1 = cmp.Or(o.Beta1, 0.9)
	o.Beta2 = cmp.Or(o.Beta2, 0.95)
	o.Eps = cmp.Or(o.Eps, 1e-8)
	o.InitStd = cmp.Or(o.InitStd, 0.02)
}

// Point is one step of the loss curve.
type Point struct {
	Step       int     `json:"step"` // 1-based update number
	Loss       float64 `json:"loss"` // training loss of the batch before the update
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"` // before clipping
	TokensPerS float64 `json:"tokens_per_s"`
}

// Summary is what a run reports about itself (gollm train --json).
type Summary struct {
	Out            string  `json:"out"`
	Steps          int     `json:"steps"`
	Params         int     `json:"params"`
	DataTokens     int     `json:"data_tokens"`
	UnigramEntropy float64 `json:"unigram_entropy"`
	FinalLoss      float64 `json:"final_loss"`
	TokensPerS     float64 `json:"tokens_per_s"`
}

// Result summarises a run: its Summary and its loss curve.
type Result struct {
	Summary
	Curve []Point `json:"curve"`
	// Model is the trained model (also saved in Out).
	Model *grad.Model `json:"-"`
}

// Trainer holds a model, its optimizer and schedule, and does updates.
type Trainer struct {
	Model    *grad.Model
	Opt      *optim.AdamW
	Schedule optim.Schedule
	Clip     float64
	// Recompute: see Options.Recompute.
	Recompute bool
	tape      *grad.Tape
}

// NewTrainer returns a trainer of m with o's hyperparameters (defaults
// filled in).
func NewTrainer(m *grad.Model, o Options) *Trainer {
	o.defaults()
	return &Trainer{
		Model:     m,
		Opt:       optim.NewAdamW(m, o.Beta1, o.Beta2, o.Eps, o.WeightDecay),
		Schedule:  optim.Schedule{Peak: o.LR, Min: o.MinLR, Warmup: o.Warmup, Total: o.Steps},
		Clip:      o.Clip,
		Recompute: o.Recompute,
		tape:      grad.NewTape(),
	}
}

// Step does one update on batch sequences of seqLen tokens and returns the
// loss before it, the gradient norm before clipping and the learning rate.
func (t *Trainer) Step(ids, targets []int, batch, seqLen int) (loss, gradNorm, lr float64, err error) {
	t.Model.ZeroGrad()
	if t.Recompute {
		loss, err = t.Model.LossBackward(ids, targets, batch, seqLen, true)
		if err != nil {
			return 0, 0, 0, err
		}
	} else {
		l, err := t.Model.Loss(t.tape, ids, targets, batch, seqLen)
		if err != nil {
			t.tape.Reset()
			return 0, 0, 0, err
		}
		t.tape.Backward(l)
		loss = float64(l.Item())
	}
	gradNorm = optim.ClipGradNorm(t.Model, t.Clip)
	lr = t.Schedule.LR(t.Opt.T)
	switch {
	case !finite(loss):
		return loss, gradNorm, lr, &DivergedError{Step: t.Opt.T + 1, What: "loss", Value: loss}
	case !finite(gradNorm):
		return loss, gradNorm, lr, &DivergedError{Step: t.Opt.T + 1, What: "gradient norm", Value: gradNorm}
	}
	t.Opt.Step(t.Model, lr)
	return loss, gradNorm, lr, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ErrDiverged marks a run stopped because its loss or gradient norm turned
// NaN or infinite (a runtime failure: the CLI exits 1).
var ErrDiverged = errors.New("training diverged")

// DivergedError is Trainer.Step's error when the loss or the gradient norm
// of a step is not finite; the update is not applied, so the model keeps
// its last finite weights.
type DivergedError struct {
	Step  int     // 1-based number of the step that failed
	What  string  // "loss" or "gradient norm"
	Value float64 // NaN, +Inf or -Inf
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("%s is %v at step %d", e.What, e.Value, e.Step)
}

// Unwrap makes errors.Is(err, ErrDiverged) hold.
func (e *DivergedError) Unwrap() error { return ErrDiverged }
