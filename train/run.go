package train

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/progress"
	"github.com/llmcbench/gollm/tensor"
)

// stopError ends a run early with a message for the user (one line) and
// an underlying cause for errors.Is: the context's error when interrupted,
// ErrDiverged when the loss turned NaN.
type stopError struct {
	msg   string
	cause error
}

func (e *stopError) Error() string { return e.msg }
func (e *stopError) Unwrap() error { return e.cause }

// Run trains (or, with Resume, continues training) a model as o says and
// saves checkpoints in o.Out: config.json, model.safetensors (float32),
// the tokenizer files, trainer_state.safetensors (AdamW moments, step,
// sampler state, options) and the loss curve as loss.csv and loss.json.
//
// Every option and input file is checked, and o.Out claimed (package
// outdir: a folder of another program's files is refused unless
// Overwrite, one run at a time), before any work. Each save (the end,
// every SaveEvery steps, an interruption) writes a complete checkpoint in
// a staging folder and swaps it into place, so o.Out always holds one
// whole checkpoint. On cancellation Run saves the current step and
// returns an error wrapping ctx.Err(); when the loss or the gradient norm
// turns NaN or infinite it stops without saving (o.Out keeps the last
// finite checkpoint) and returns an error wrapping ErrDiverged.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Resume {
		if o.Out == "" {
			return nil, badf("--out is required (the folder of the run to resume)")
		}
		if o.Steps < 0 || o.SaveEvery < 0 {
			return nil, badf("--steps %d, --save-every %d: must not be negative", o.Steps, o.SaveEvery)
		}
		if err := checkTrainOutput(o.Out); err != nil {
			return nil, err
		}
	} else {
		o.defaults()
		if err := o.validate(); err != nil {
			return nil, err
		}
	}
	var src *sources
	if !o.Resume {
		// The checkpoint records absolute data paths, so that --resume
		// finds the files from any working folder.
		data := make([]string, len(o.Data))
		for i, f := range o.Data {
			if data[i] = f; !filepath.IsAbs(f) {
				if abs, err := filepath.Abs(f); err == nil {
					data[i] = abs
				}
			}
		}
		o.Data = data
		var err error
		if src, err = readSources(&o); err != nil {
			return nil, err
		}
	}
	d, err := outdir.Create(o.Out, outdir.Options{Command: "train", Flag: "--out", Overwrite: o.Overwrite})
	if err != nil {
		return nil, err
	}
	defer d.Close()

	var st *state
	lastSaved := -1 // the step of the checkpoint in o.Out (-1: none of this run)
	if o.Resume {
		if st, err = loadState(o.Out); err != nil {
			return nil, err
		}
		given := o
		o = st.opts
		o.Out, o.SaveEvery, o.Progress, o.Resume, o.StopAt, o.Overwrite, o.afterStep =
			given.Out, given.SaveEvery, given.Progress, true, given.StopAt, given.Overwrite, given.afterStep
		if given.Steps > 0 {
			o.Steps = given.Steps
		}
		if o.Steps <= st.step {
			return nil, badf("--steps %d: the checkpoint in %s is already at step %d", o.Steps, o.Out, st.step)
		}
		if o.Warmup >= o.Steps {
			return nil, badf("--steps %d: the run in %s warms up for %d steps; give more steps", o.Steps, o.Out, o.Warmup)
		}
		o.defaults()
		if err := o.validate(); err != nil {
			return nil, fmt.Errorf("--out %s: saved settings: %w", o.Out, err)
		}
		if src, err = readSources(&o); err != nil {
			return nil, err
		}
		lastSaved = st.step
	}

	var m *grad.Model
	if o.Resume {
		if m, err = grad.LoadModel(o.Out); err != nil {
			return nil, fmt.Errorf("--out %s: %w: %w", o.Out, ErrBadInput, err)
		}
	} else if m, err = grad.InitModel(src.cfg, o.Seed, o.InitStd); err != nil {
		return nil, fmt.Errorf("--config %s: %w: %w", o.Config, ErrBadInput, err)
	}
	data, err := Tokenize(src.tok, o.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	sampler, err := corpus.NewSampler(data, o.SeqLen, o.Seed)
	if err != nil {
		return nil, badf("--data %s: %v (lower --seqlen or give more text)", strings.Join(o.Data, ","), err)
	}
	tr := NewTrainer(m, o)
	res := &Result{Summary: Summary{Out: o.Out, Params: m.NumParams(), DataTokens: len(data), UnigramEntropy: UnigramEntropy(data)}, Model: m}
	if o.Resume {
		if err := st.restore(tr, sampler); err != nil {
			return nil, err
		}
		res.Curve = st.curve
	}
	save := func() error {
		if err := saveCheckpoint(d, src, o, tr, sampler, res.Curve); err != nil {
			return err
		}
		lastSaved = tr.Opt.T
		return nil
	}
	kept := func() string {
		if lastSaved < 0 {
			return fmt.Sprintf("no checkpoint was saved (%s is as it was)", o.Out)
		}
		return fmt.Sprintf("kept the checkpoint of step %d in %s", lastSaved, o.Out)
	}

	// The bar counts this invocation's steps, so that its rate and ETA hold
	// for a resumed run too.
	first := tr.Opt.T
	name := "train"
	if first > 0 {
		name = fmt.Sprintf("train (resumed at step %d)", first)
	}
	bar := progress.New(o.Progress, name, o.Steps-first)
	tokensPerStep := float64(o.Batch * o.SeqLen)
	start, done := time.Now(), 0
	end := o.Steps
	if o.StopAt > 0 && o.StopAt < end {
		end = o.StopAt
	}
	for tr.Opt.T < end {
		if err := ctx.Err(); err != nil {
			bar.Abort()
			step := tr.Opt.T
			switch {
			case step == lastSaved:
				return nil, &stopError{fmt.Sprintf("interrupted at step %d; the checkpoint of step %d is in %s (continue with --resume)", step, step, o.Out), err}
			case step == 0:
				return nil, &stopError{fmt.Sprintf("interrupted before the first step; nothing saved in %s", o.Out), err}
			}
			if serr := save(); serr != nil {
				return nil, fmt.Errorf("interrupted at step %d; saving the checkpoint failed (%s): %w", step, kept(), serr)
			}
			return nil, &stopError{fmt.Sprintf("interrupted at step %d; checkpoint saved in %s (continue with --resume)", step, o.Out), err}
		}
		t0 := time.Now()
		ids, targets := sampler.Batch(o.Batch)
		loss, gn, lr, err := tr.Step(ids, targets, o.Batch, o.SeqLen)
		if de, ok := err.(*DivergedError); ok {
			bar.Abort()
			return nil, &stopError{fmt.Sprintf("%v; %s", de, kept()), de}
		}
		if err != nil {
			bar.Abort()
			return nil, fmt.Errorf("train step %d: %w", tr.Opt.T+1, err)
		}
		done++
		p := Point{Step: tr.Opt.T, Loss: loss, LR: lr, GradNorm: gn, TokensPerS: tokensPerStep / time.Since(t0).Seconds()}
		res.Curve = append(res.Curve, p)
		bar.Set(p.Step-first, fmt.Sprintf("step %d loss %.4f lr %.2e %.0f tok/s", p.Step, p.Loss, p.LR, tokensPerStep*float64(done)/time.Since(start).Seconds()))
		if o.afterStep != nil {
			o.afterStep(tr)
		}
		if o.SaveEvery > 0 && tr.Opt.T%o.SaveEvery == 0 && tr.Opt.T < end {
			if err := save(); err != nil {
				bar.Abort()
				return nil, fmt.Errorf("checkpoint of step %d: %w", tr.Opt.T, err)
			}
		}
	}
	bar.Finish()
	if tr.Opt.T != lastSaved {
		if err := save(); err != nil {
			return nil, fmt.Errorf("checkpoint of step %d: %w", tr.Opt.T, err)
		}
	}
	res.Steps = tr.Opt.T
	if n := len(res.Curve); n > 0 {
		res.FinalLoss = res.Curve[n-1].Loss
	}
	if done > 0 {
		res.TokensPerS = tokensPerStep * float64(done) / time.Since(start).Seconds()
	}
	return res, nil
}

// tokenizerFiles are the files a Hugging Face folder's tokenizer may use.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "generation_config.json"}

const stateFile = "trainer_state.safetensors"

// saveCheckpoint writes a complete checkpoint (model, config, tokenizer,
// optimizer state, logs) into d's staging folder and commits it: o.Out
// then holds this checkpoint, and until then the previous one.
func saveCheckpoint(d *outdir.Dir, src *sources, o Options, tr *Trainer, s *corpus.Sampler, curve []Point) error {
	if d.Tmp == "" {
		if err := d.Stage(); err != nil {
			return err
		}
	}
	if err := writeCheckpoint(d, src, o, tr, s, curve); err != nil {
		os.RemoveAll(d.Tmp) // a partial staging folder is never committed
		d.Tmp = ""
		return err
	}
	return d.Commit()
}

func writeCheckpoint(d *outdir.Dir, src *sources, o Options, tr *Trainer, s *corpus.Sampler, curve []Point) error {
	if err := os.WriteFile(d.Path("config.json"), src.config, 0o644); err != nil {
		return err
	}
	for name, b := range src.tokFiles {
		if err := os.WriteFile(d.Path(name), b, 0o644); err != nil {
			return err
		}
	}
	ts, err := tr.Model.Tensors(tensor.F32)
	if err != nil {
		return err
	}
	if err := tensor.WriteFile(d.Path("model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	var st []*tensor.Tensor
	for _, sp := range tr.Model.Specs {
		st = append(st, tensor.FromFloat32("exp_avg."+sp.Name, sp.Shape, tr.Opt.M[sp.Name]))
		st = append(st, tensor.FromFloat32("exp_avg_sq."+sp.Name, sp.Shape, tr.Opt.V[sp.Name]))
	}
	rng, err := s.State()
	if err != nil {
		return err
	}
	opts, err := json.Marshal(o)
	if err != nil {
		return err
	}
	meta := map[string]string{"step": strconv.Itoa(tr.Opt.T), "sampler": base64.StdEncoding.EncodeToString(rng), "options": string(opts)}
	if err := tensor.WriteFile(d.Path(stateFile), st, meta); err != nil {
		return err
	}
	b, err := json.MarshalIndent(curve, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.Path("loss.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(d.Path("loss.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"step", "loss", "lr", "grad_norm", "tokens_per_s"})
	for _, c := range curve {
		_ = w.Write([]string{strconv.Itoa(c.Step), fmtF(c.Loss), fmtF(c.LR), fmtF(c.GradNorm), strconv.FormatFloat(c.TokensPerS, 'f', 1, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fmtF(x float64) string { return strconv.FormatFloat(x, 'g', 8, 64) }

// state is a loaded trainer_state file.
type state struct {
	opts    Options
	step    int
	sampler []byte
	moments map[string][]float32
	curve   []Point
}

func loadState(dir string) (*state, error) {
	path := dir + string(os.PathSeparator) + stateFile
	f, err := tensor.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w: %w", dir, ErrBadInput, err)
	}
	defer f.Close()
	meta := f.Metadata
	st := &state{moments: map[string][]float32{}}
	if st.step, err = strconv.Atoi(meta["step"]); err != nil || st.step < 0 {
		return nil, badf("--out %s: %s: bad step %q", dir, stateFile, meta["step"])
	}
	if st.sampler, err = base64.StdEncoding.DecodeString(meta["sampler"]); err != nil {
		return nil, badf("--out %s: %s: bad sampler state", dir, stateFile)
	}
	if err := json.Unmarshal([]byte(meta["options"]), &st.opts); err != nil {
		return nil, badf("--out %s: %s: bad options: %v", dir, stateFile, err)
	}
	for _, n := range f.Names() {
		t, err := f.Tensor(n)
		if err != nil {
			return nil, fmt.Errorf("--out %s: %w: %w", dir, ErrBadInput, err)
		}
		if st.moments[n], err = t.Float32(); err != nil {
			return nil, fmt.Errorf("--out %s: %w: %w", dir, ErrBadInput, err)
		}
	}
	if b, err := os.ReadFile(dir + string(os.PathSeparator) + "loss.json"); err == nil {
		if err := json.Unmarshal(b, &st.curve); err != nil {
			return nil, badf("--out %s: loss.json: %v", dir, err)
		}
	}
	if len(st.curve) > st.step {
		st.curve = st.curve[:st.step]
	}
	return st, nil
}

func (st *state) restore(tr *Trainer, s *corpus.Sampler) error {
	for _, sp := range tr.Model.Specs {
		m, ok1 := st.moments["exp_avg."+sp.Name]
		v, ok2 := st.moments["exp_avg_sq."+sp.Name]
		if !ok1 || !ok2 || len(m) != sp.Numel() || len(v) != sp.Numel() {
			return badf("--out: %s: optimizer state for %q missing or misshapen", stateFile, sp.Name)
		}
		copy(tr.Opt.M[sp.Name], m)
		copy(tr.Opt.V[sp.Name], v)
	}
	tr.Opt.T = st.step
	if err := s.SetState(st.sampler); err != nil {
		return badf("--out: %s: sampler state: %v", stateFile, err)
	}
	return nil
}
