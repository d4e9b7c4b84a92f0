package llmpruner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/llmcbench/gollm/compress/format"
	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/optim"
	"github.com/llmcbench/gollm/internal/progress"
	"github.com/llmcbench/gollm/tensor"
)

// LoRAConfig is LLM-Pruner's optional recovery step (post_training.py):
// low-rank adapters on every block linear, trained on local text with
// next-token loss, then merged into the weights.
type LoRAConfig struct {
	// Steps is the number of optimizer steps (0: no recovery).
	Steps int `json:"steps"`
	// Rank and Alpha: adapters of rank r scaled by alpha/r (reference 8, 16).
	Rank  int     `json:"rank"`
	Alpha float64 `json:"alpha"`
	// LR is AdamW's peak learning rate (reference 1e-4), with linear
	// warm-up over the first tenth of the steps and cosine decay to 0.
	LR float64 `json:"lr"`
	// Batch windows of Seqlen tokens per step.
	Batch  int `json:"batch"`
	Seqlen int `json:"seqlen"`
	// Data are the text files (one document per line, or JSON lines with
	// "text"), tokenized without special tokens and concatenated; the last
	// tenth is held out to measure the loss before and after.
	Data []string `json:"data"`
	Seed uint64   `json:"seed"`
}

// LoRAResult records a recovery run (also written to config.json under
// "llm_pruner_lora").
type LoRAResult struct {
	Config       LoRAConfig `json:"config"`
	Adapted      int        `json:"adapted_linears"`
	AdapterParam int        `json:"adapter_params"`
	LossBefore   float64    `json:"heldout_loss_before"`
	LossAfter    float64    `json:"heldout_loss_after"`
	TrainTokens  int        `json:"train_tokens"`
	Seconds      float64    `json:"seconds"`
}

// WithDefaults returns lc with its zero settings replaced by the
// reference's (post_training.py: rank 8, alpha 16, lr 1e-4, batch 4,
// 128-token windows).
func (lc LoRAConfig) WithDefaults() LoRAConfig {
	lc.defaults()
	return lc
}

func (lc *LoRAConfig) defaults() {
	if lc.Rank == 0 {
		lc.Rank = 8
	}
	if lc.Alpha == 0 {
		lc.Alpha = 16
	}
	if lc.LR == 0 {
		lc.LR = 1e-4
	}
	if lc.Batch == 0 {
		lc.Batch = 4
	}
	if lc.Seqlen == 0 {
		lc.Seqlen = 128
	}
}

// Validate checks the settings (errors wrap badinput.ErrBadInput).
func (lc *LoRAConfig) Validate() error {
	switch {
	case lc.Steps < 0:
		return badInput("--lora-steps %d: must be ≥ 0", lc.Steps)
	case lc.Steps == 0:
		return nil
	case lc.Rank < 0 || lc.Batch < 0 || lc.Seqlen < 0 || lc.Alpha < 0 || lc.LR < 0 || math.IsNaN(lc.LR) || math.IsNaN(lc.Alpha):
		return badInput("LoRA rank, alpha, lr, batch and seqlen must be positive")
	case len(lc.Data) == 0:
		return badInput("--lora-data: no recovery text given")
	}
	for _, f := range lc.Data {
		if _, err := os.Stat(f); err != nil {
			return badInput("--lora-data %s: %v", f, err)
		}
	}
	return nil
}

// Recover runs LoRA recovery on the pruned model in dir and rewrites its
// weights with the adapters merged (same names, shapes and dtypes) and
// its config.json with the record, each file replaced in one rename.
// Progress goes to progress (a bar: see internal/progress). PruneRecover
// runs it in the staging folder, before the output is moved into place.
func Recover(ctx context.Context, dir string, lc LoRAConfig, tok Tokenizer, progress io.Writer) (*LoRAResult, error) {
	lc.defaults()
	if err := lc.Validate(); err != nil {
		return nil, err
	}
	if lc.Steps == 0 {
		return nil, nil
	}
	tokens, err := loraTokens(lc, tok)
	if err != nil {
		return nil, err
	}
	return recoverTokens(ctx, dir, lc, tokens, progress)
}

// loraTokens reads and tokenizes the LoRA data and checks that it gives a
// training window and a held-out one (PruneRecover calls it before
// pruning, so a short --lora-data fails before any work).
func loraTokens(lc LoRAConfig, tok Tokenizer) ([]int, error) {
	docs, _, err := corpus.Read(lc.Data, corpus.Lines)
	if err != nil {
		return nil, err
	}
	var tokens []int
	for _, d := range docs {
		tokens = append(tokens, tok.Encode(d, false)...)
	}
	nHeld := len(tokens) / 10
	if len(tokens)-nHeld <= lc.Seqlen || nHeld <= lc.Seqlen {
		return nil, badInput("--lora-data: %d tokens cannot give training and held-out windows of %d+1 tokens (lower --lora-seqlen or give more text)", len(tokens), lc.Seqlen)
	}
	return tokens, nil
}

// recoverTokens is Recover on the tokenized LoRA data.
func recoverTokens(ctx context.Context, dir string, lc LoRAConfig, tokens []int, progress io.Writer) (*LoRAResult, error) {
	start := time.Now()
	nHeld := len(tokens) / 10
	trainToks, held := tokens[:len(tokens)-nHeld], tokens[len(tokens)-nHeld:]
	sampler, err := corpus.NewSampler(trainToks, lc.Seqlen, lc.Seed)
	if err != nil {
		return nil, badInput("--lora-data: %v", err)
	}
	var heldWin [][]int
	for s := 0; s+lc.Seqlen+1 <= len(held) && len(heldWin) < 8; s += lc.Seqlen + 1 {
		heldWin = append(heldWin, held[s:s+lc.Seqlen+1])
	}

	m, err := LoadModel(dir)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(lc.Seed, 0x6c6f7261))
	vars := map[string]*grad.Var{}
	res := &LoRAResult{Config: lc, TrainTokens: lc.Steps * lc.Batch * lc.Seqlen}
	targets := m.gm.LoRATargets()
	if err := m.gm.AddLoRA(targets, lc.Rank, lc.Alpha, rng); err != nil {
		return nil, err
	}
	m.gm.Freeze()
	for name, v := range m.gm.LoRAVars() {
		vars[name] = v
		res.AdapterParam += len(v.Val)
	}
	res.Adapted = len(targets)
	if res.LossBefore, err = m.Loss(heldWin); err != nil {
		return nil, err
	}
	opt := &optim.AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, M: map[string][]float32{}, V: map[string][]float32{}}
	sched := optim.Schedule{Peak: lc.LR, Min: 0, Warmup: max(1, lc.Steps/10), Total: lc.Steps}
	if err := runSteps(ctx, m, sampler, vars, opt, sched, lc, progress); err != nil {
		return nil, err
	}
	if res.LossAfter, err = m.Loss(heldWin); err != nil {
		return nil, err
	}
	m.gm.MergeLoRA()
	res.Seconds = time.Since(start).Seconds()
	if err := rewrite(dir, m, res); err != nil {
		return nil, err
	}
	return res, nil
}

// runSteps runs the LoRA optimizer steps, reporting on a progress bar
// (redrawn on a terminal, plain lines every few seconds otherwise).
func runSteps(ctx context.Context, m *Model, sampler *corpus.Sampler, vars map[string]*grad.Var, opt *optim.AdamW, sched optim.Schedule, lc LoRAConfig, w io.Writer) error {
	bar := progress.New(w, "LoRA recovery", lc.Steps)
	for step := 0; step < lc.Steps; step++ {
		if err := ctx.Err(); err != nil {
			bar.Abort()
			return err
		}
		ids, targets := sampler.Batch(lc.Batch)
		tp := grad.NewTape()
		logits, err := m.Forward(tp, ids, lc.Batch, lc.Seqlen)
		if err != nil {
			bar.Abort()
			return err
		}
		loss := tp.CrossEntropy(logits, targets)
		if !finite(float64(loss.Item())) {
			bar.Abort()
			return fmt.Errorf("llm-pruner: LoRA step %d: loss is %v", step, loss.Item())
		}
		tp.Backward(loss)
		clipVars(vars, 1)
		opt.StepVars(vars, sched.LR(step))
		for _, v := range vars {
			v.ZeroGrad()
		}
		bar.Set(step+1, fmt.Sprintf("loss %.4f", loss.Item()))
	}
	bar.Finish()
	return nil
}

// clipVars scales the gradients of vars to a global L2 norm of at most
// maxNorm (transformers' Trainer default max_grad_norm 1.0).
func clipVars(vars map[string]*grad.Var, maxNorm float64) {
	var ss float64
	for _, v := range vars {
		for _, g := range v.Grad {
			ss += float64(g) * float64(g)
		}
	}
	if n := math.Sqrt(ss); n > maxNorm {
		c := float32(maxNorm / (n + 1e-6))
		for _, v := range vars {
			for i := range v.Grad {
				v.Grad[i] *= c
			}
		}
	}
}

// rewrite writes the merged block weights of m into dir's
// model.safetensors (other tensors unchanged) and the record into its
// config.json.
func rewrite(dir string, m *Model, res *LoRAResult) error {
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return err
	}
	merged := map[string][]float32{}
	for _, name := range m.gm.LoRATargets() {
		merged[name+".weight"] = m.gm.Params[name+".weight"].Val
	}
	var ts []*tensor.Tensor
	for _, name := range ck.Names() {
		t, err := ck.Tensor(name)
		if err != nil {
			ck.Close()
			return err
		}
		if v, ok := merged[name]; ok {
			if t, err = tensor.Encode(name, t.DType, t.Shape, v); err != nil {
				ck.Close()
				return err
			}
			delete(merged, name)
		}
		ts = append(ts, t)
	}
	if len(merged) > 0 {
		ck.Close()
		return fmt.Errorf("llm-pruner: LoRA: %d merged weights are not in %s", len(merged), dir)
	}
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		ck.Close()
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		ck.Close()
		return fmt.Errorf("llm-pruner: %s: %w", path, err)
	}
	j, err := json.Marshal(res)
	if err != nil {
		ck.Close()
		return err
	}
	raw["llm_pruner_lora"] = j
	// In place (no files to copy): the weights and config.json are each
	// replaced in one rename.
	err = format.WriteFolder(dir, "", ts, raw, 0)
	ck.Close()
	return err
}
