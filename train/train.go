package train

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

// ErrBadInput marks bad options or input files (the CLI exits 2 on it).
var ErrBadInput = errors.New("bad training input")

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
	// Out is the output folder (the checkpoint, logs and optimizer state).
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
	// Resume continues from the checkpoint in Out (its saved options win,
	// except Steps, SaveEvery, StopAt and Progress).
	Resume bool `json:"-"`
	// StopAt, if positive and below Steps, ends this invocation (with a
	// checkpoint) once StopAt updates are done; a later Resume continues
	// the same schedule.
	StopAt int `json:"-"`
	// Progress receives a progress bar with loss and tokens/s (nil: none).
	Progress io.Writer `json:"-"`
}

func (o *Options) defaults() {
	if o.SeqLen == 0 {
		o.SeqLen = 128
	}
	if o.Batch == 0 {
		o.Batch = 8
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.MinLR == 0 {
		o.MinLR = o.LR / 10
	}
	if o.Warmup == 0 {
		o.Warmup = o.Steps / 20
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 0.1
	}
	if o.Clip == 0 {
		o.Clip = 1
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.95
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.InitStd == 0 {
		o.InitStd = 0.02
	}
}

func (o *Options) validate() error {
	switch {
	case o.Out == "":
		return fmt.Errorf("%w: no output folder", ErrBadInput)
	case o.Steps <= 0:
		return fmt.Errorf("%w: steps %d must be positive", ErrBadInput, o.Steps)
	case o.SeqLen <= 0 || o.Batch <= 0:
		return fmt.Errorf("%w: seqlen %d and batch %d must be positive", ErrBadInput, o.SeqLen, o.Batch)
	case o.LR <= 0 || o.MinLR < 0 || o.Warmup < 0 || o.WeightDecay < 0:
		return fmt.Errorf("%w: lr, min-lr, warmup and weight decay must not be negative (lr positive)", ErrBadInput)
	case o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || o.Eps <= 0:
		return fmt.Errorf("%w: betas must lie in [0, 1) and eps be positive", ErrBadInput)
	}
	if !o.Resume {
		switch {
		case o.Arch != "llama" && o.Arch != "opt" && o.Arch != "chatglm":
			return fmt.Errorf("%w: arch %q (want llama, opt or chatglm)", ErrBadInput, o.Arch)
		case o.Config == "":
			return fmt.Errorf("%w: no model config", ErrBadInput)
		case len(o.Data) == 0:
			return fmt.Errorf("%w: no data files", ErrBadInput)
		case o.Tokenizer == "":
			return fmt.Errorf("%w: no tokenizer folder", ErrBadInput)
		}
	}
	return nil
}

// Point is one step of the loss curve.
type Point struct {
	Step       int     `json:"step"` // 1-based update number
	Loss       float64 `json:"loss"` // training loss of the batch before the update
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"` // before clipping
	TokensPerS float64 `json:"tokens_per_s"`
}

// Result summarises a run.
type Result struct {
	Out            string  `json:"out"`
	Steps          int     `json:"steps"`
	Params         int     `json:"params"`
	DataTokens     int     `json:"data_tokens"`
	UnigramEntropy float64 `json:"unigram_entropy"`
	FinalLoss      float64 `json:"final_loss"`
	TokensPerS     float64 `json:"tokens_per_s"`
	Curve          []Point `json:"curve"`
	// Model is the trained model (also saved in Out).
	Model *grad.Model `json:"-"`
}

// Trainer holds a model, its optimizer and schedule, and does updates.
type Trainer struct {
	Model    *grad.Model
	Opt      *AdamW
	Schedule Schedule
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
		Opt:       NewAdamW(m, o.Beta1, o.Beta2, o.Eps, o.WeightDecay),
		Schedule:  Schedule{Peak: o.LR, Min: o.MinLR, Warmup: o.Warmup, Total: o.Steps},
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
	gradNorm = ClipGradNorm(t.Model, t.Clip)
	lr = t.Schedule.LR(t.Opt.T)
	t.Opt.Step(t.Model, lr)
	return loss, gradNorm, lr, nil
}

// Run trains (or, with Resume, continues training) a model as o says and
// writes the checkpoint to o.Out: config.json, model.safetensors (float32),
// the tokenizer files, trainer_state.safetensors (AdamW moments, step,
// sampler state, options) and the loss curve as loss.csv and loss.json.
// On cancellation it saves a checkpoint before returning ctx.Err().
func Run(ctx context.Context, o Options) (*Result, error) {
	steps, saveEvery, progress, resume, stopAt := o.Steps, o.SaveEvery, o.Progress, o.Resume, o.StopAt
	var st *state
	if resume {
		var err error
		if st, err = loadState(o.Out); err != nil {
			return nil, err
		}
		out := o.Out
		o = st.opts
		o.Out, o.Steps, o.SaveEvery, o.Progress, o.Resume, o.StopAt = out, steps, saveEvery, progress, true, stopAt
	}
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	tokDir := o.Tokenizer
	if resume {
		tokDir = o.Out
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("train %s: %w", o.Out, err)
	}
	var m *grad.Model
	if resume {
		if m, err = grad.LoadModel(o.Out); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
	} else {
		cfg, err := writeConfig(o)
		if err != nil {
			return nil, err
		}
		if m, err = grad.InitModel(cfg, o.Seed, o.InitStd); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		if err := copyTokenizer(o.Tokenizer, o.Out); err != nil {
			return nil, err
		}
	}
	if tv := tok.VocabSize(); tv > m.Config.Vocab {
		return nil, fmt.Errorf("%w: the tokenizer has %d tokens, the model's vocabulary %d", ErrBadInput, tv, m.Config.Vocab)
	}
	if m.Config.Arch == "opt" && o.SeqLen > m.Config.MaxPos {
		return nil, fmt.Errorf("%w: seqlen %d exceeds OPT's max_position_embeddings %d", ErrBadInput, o.SeqLen, m.Config.MaxPos)
	}
	data, err := Tokenize(tok, o.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	sampler, err := NewSampler(data, o.SeqLen, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	tr := NewTrainer(m, o)
	res := &Result{Out: o.Out, Params: m.NumParams(), DataTokens: len(data), UnigramEntropy: UnigramEntropy(data)}
	if resume {
		if err := st.restore(tr, sampler); err != nil {
			return nil, err
		}
		res.Curve = st.curve
	}
	bar := newBar(progress, o.Steps)
	tokensPerStep := float64(o.Batch * o.SeqLen)
	start, done := time.Now(), 0
	end := o.Steps
	if o.StopAt > 0 && o.StopAt < end {
		end = o.StopAt
	}
	res.Model = m
	for tr.Opt.T < end {
		if err := ctx.Err(); err != nil {
			bar.finish()
			if serr := save(o, tr, sampler, res.Curve); serr != nil {
				return nil, serr
			}
			return nil, err
		}
		t0 := time.Now()
		ids, targets := sampler.Batch(o.Batch)
		loss, gn, lr, err := tr.Step(ids, targets, o.Batch, o.SeqLen)
		if err != nil {
			return nil, fmt.Errorf("train step %d: %w", tr.Opt.T+1, err)
		}
		done++
		p := Point{Step: tr.Opt.T, Loss: loss, LR: lr, GradNorm: gn, TokensPerS: tokensPerStep / time.Since(t0).Seconds()}
		res.Curve = append(res.Curve, p)
		bar.update(p, tokensPerStep*float64(done)/time.Since(start).Seconds())
		if o.SaveEvery > 0 && tr.Opt.T%o.SaveEvery == 0 && tr.Opt.T < end {
			if err := save(o, tr, sampler, res.Curve); err != nil {
				return nil, err
			}
		}
	}
	bar.finish()
	if err := save(o, tr, sampler, res.Curve); err != nil {
		return nil, err
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

// writeConfig writes o.Config to Out/config.json as float32 with
// model_type set from Arch (checking that they agree) and parses it.
func writeConfig(o Options) (*models.Config, error) {
	b, err := os.ReadFile(o.Config)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", o.Config, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config %s: %w: not a JSON object: %v", o.Config, ErrBadInput, err)
	}
	if _, ok := raw["model_type"]; !ok {
		raw["model_type"] = o.Arch
		if o.Arch == "chatglm" {
			raw["architectures"] = []string{"ChatGLMModel"}
		}
	}
	if _, ok := raw["architectures"]; !ok {
		switch o.Arch {
		case "llama":
			raw["architectures"] = []string{"LlamaForCausalLM"}
		case "opt":
			raw["architectures"] = []string{"OPTForCausalLM"}
		}
	}
	delete(raw, "dtype")
	raw["torch_dtype"] = "float32"
	out, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", o.Config, err)
	}
	path := filepath.Join(o.Out, "config.json")
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("train %s: %w", o.Out, err)
	}
	cfg, err := models.ParseConfig(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w: %w", o.Config, ErrBadInput, err)
	}
	if cfg.Arch != o.Arch {
		return nil, fmt.Errorf("config %s: %w: model_type %q is a %s model, --arch says %s", o.Config, ErrBadInput, cfg.ModelType, cfg.Arch, o.Arch)
	}
	return cfg, nil
}

// tokenizerFiles are the files a Hugging Face folder's tokenizer may use.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "generation_config.json"}

func copyTokenizer(src, dst string) error {
	if abs1, err1 := filepath.Abs(src); err1 == nil {
		if abs2, err2 := filepath.Abs(dst); err2 == nil && abs1 == abs2 {
			return nil
		}
	}
	for _, f := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(src, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("tokenizer %s: %w", src, err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return fmt.Errorf("train %s: %w", dst, err)
		}
	}
	return nil
}

const stateFile = "trainer_state.safetensors"

// save writes the checkpoint, the optimizer state and the logs; each file
// goes to a temporary name first and is renamed into place.
func save(o Options, tr *Trainer, s *Sampler, curve []Point) error {
	ts, err := tr.Model.Tensors(tensor.F32)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(o.Out, "model.safetensors"), func(p string) error {
		return tensor.WriteFile(p, ts, map[string]string{"format": "pt"})
	}); err != nil {
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
	if err := writeAtomic(filepath.Join(o.Out, stateFile), func(p string) error { return tensor.WriteFile(p, st, meta) }); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(o.Out, "loss.json"), func(p string) error {
		b, err := json.MarshalIndent(curve, "", " ")
		if err != nil {
			return err
		}
		return os.WriteFile(p, append(b, '\n'), 0o644)
	}); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(o.Out, "loss.csv"), func(p string) error {
		f, err := os.Create(p)
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
	})
}

func fmtF(x float64) string { return strconv.FormatFloat(x, 'g', 8, 64) }

func writeAtomic(path string, write func(tmp string) error) error {
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("train %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("train %s: %w", path, err)
	}
	return nil
}

// state is a loaded trainer_state file.
type state struct {
	opts    Options
	step    int
	sampler []byte
	moments map[string][]float32
	curve   []Point
}

func loadState(dir string) (*state, error) {
	path := filepath.Join(dir, stateFile)
	f, err := tensor.Open(path)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	defer f.Close()
	meta := f.Metadata
	st := &state{moments: map[string][]float32{}}
	if st.step, err = strconv.Atoi(meta["step"]); err != nil || st.step < 0 {
		return nil, fmt.Errorf("resume %s: %w: bad step %q", path, ErrBadInput, meta["step"])
	}
	if st.sampler, err = base64.StdEncoding.DecodeString(meta["sampler"]); err != nil {
		return nil, fmt.Errorf("resume %s: %w: bad sampler state", path, ErrBadInput)
	}
	if err := json.Unmarshal([]byte(meta["options"]), &st.opts); err != nil {
		return nil, fmt.Errorf("resume %s: %w: bad options: %v", path, ErrBadInput, err)
	}
	for _, n := range f.Names() {
		t, err := f.Tensor(n)
		if err != nil {
			return nil, fmt.Errorf("resume %s: %w", path, err)
		}
		if st.moments[n], err = t.Float32(); err != nil {
			return nil, fmt.Errorf("resume %s: %w", path, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loss.json")); err == nil {
		if err := json.Unmarshal(b, &st.curve); err != nil {
			return nil, fmt.Errorf("resume %s: %w: loss.json: %v", dir, ErrBadInput, err)
		}
	}
	if len(st.curve) > st.step {
		st.curve = st.curve[:st.step]
	}
	return st, nil
}

func (st *state) restore(tr *Trainer, s *Sampler) error {
	for _, sp := range tr.Model.Specs {
		m, ok1 := st.moments["exp_avg."+sp.Name]
		v, ok2 := st.moments["exp_avg_sq."+sp.Name]
		if !ok1 || !ok2 || len(m) != sp.Numel() || len(v) != sp.Numel() {
			return fmt.Errorf("resume: %w: optimizer state for %q missing or misshapen", ErrBadInput, sp.Name)
		}
		copy(tr.Opt.M[sp.Name], m)
		copy(tr.Opt.V[sp.Name], v)
	}
	tr.Opt.T = st.step
	if err := s.SetState(st.sampler); err != nil {
		return fmt.Errorf("resume: %w: sampler state: %v", ErrBadInput, err)
	}
	return nil
}

// bar draws a one-line progress bar on w.
type bar struct {
	w     io.Writer
	total int
	last  time.Time
}

func newBar(w io.Writer, total int) *bar { return &bar{w: w, total: total} }

func (b *bar) update(p Point, tokS float64) {
	if b.w == nil || (time.Since(b.last) < 100*time.Millisecond && p.Step < b.total) {
		return
	}
	b.last = time.Now()
	const width = 30
	fill := width * p.Step / max(b.total, 1)
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d loss %.4f lr %.2e %.0f tok/s ", strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.Step, b.total, p.Loss, p.LR, tokS)
}

func (b *bar) finish() {
	if b.w != nil && !b.last.IsZero() {
		fmt.Fprintln(b.w)
	}
}
