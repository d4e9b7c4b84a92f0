package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tokenizer"
)

// Limits on the size of one step, far above what a CPU trainer can run but
// low enough that a typo (--batch 80000000) fails in a second instead of
// allocating until the machine swaps.
const (
	maxBatch         = 1 << 16
	maxTokensPerStep = 1 << 24
)

// inputError is a bad option or input file: its message names the flag or
// file, and it wraps ErrBadInput.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return ErrBadInput }

func badf(format string, args ...any) error { return &inputError{fmt.Sprintf(format, args...)} }

// validate checks the options (defaults filled in) without touching a file.
// Messages name the gollm train flag of each option.
func (o *Options) validate() error {
	switch {
	case o.Out == "":
		return badf("--out is required (the checkpoint folder)")
	case o.Steps <= 0:
		return badf("--steps %d: must be positive", o.Steps)
	case o.SeqLen <= 0:
		return badf("--seqlen %d: must be positive", o.SeqLen)
	case o.Batch <= 0:
		return badf("--batch %d: must be positive", o.Batch)
	case o.Batch > maxBatch || o.Batch*o.SeqLen > maxTokensPerStep:
		return badf("--batch %d: %d windows of %d tokens per step is beyond the %d windows and %d tokens a step may hold", o.Batch, o.Batch, o.SeqLen, maxBatch, maxTokensPerStep)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return badf("--lr %v: must be a positive finite number", o.LR)
	case math.IsNaN(o.MinLR) || o.MinLR < 0:
		return badf("--min-lr %v: must be a finite number ≥ 0", o.MinLR)
	case o.MinLR > o.LR:
		return badf("--min-lr %v: above --lr %v (the cosine decays from --lr to --min-lr)", o.MinLR, o.LR)
	case o.Warmup < 0 || o.Warmup >= o.Steps:
		return badf("--warmup %d: must be ≥ 0 and below --steps %d", o.Warmup, o.Steps)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return badf("--weight-decay %v: must be a finite number ≥ 0", o.WeightDecay)
	case math.IsNaN(o.Clip):
		return badf("--clip NaN: must be a number (negative: no clipping)")
	case o.SaveEvery < 0:
		return badf("--save-every %d: must be ≥ 0 (0: only at the end)", o.SaveEvery)
	case !(o.Beta1 >= 0 && o.Beta1 < 1) || !(o.Beta2 >= 0 && o.Beta2 < 1) || !(o.Eps > 0):
		return badf("beta1 %v, beta2 %v, eps %v: betas must lie in [0, 1) and eps be positive", o.Beta1, o.Beta2, o.Eps)
	case !(o.InitStd > 0) || math.IsInf(o.InitStd, 0):
		return badf("init std %v: must be a positive finite number", o.InitStd)
	}
	if !o.Resume {
		switch {
		case !slices.Contains(models.ArchitectureNames(), o.Arch):
			return badf("--arch %q: want %s", o.Arch, ArchChoices())
		case o.Config == "":
			return badf("--config is required (a Hugging Face config.json)")
		case len(o.Data) == 0:
			return badf("--data is required (comma-separated text files)")
		case o.Tokenizer == "":
			return badf("--tokenizer is required (a folder with tokenizer.json or tokenizer.model)")
		}
	}
	return nil
}

// sources are the inputs of a run, read and checked before any work: the
// config written into every checkpoint, the tokenizer and its files.
type sources struct {
	config   []byte // config.json of the checkpoint
	cfg      *models.Config
	tok      *tokenizer.Tokenizer
	tokFiles map[string][]byte // tokenizer files copied into every checkpoint
}

// readSources reads and checks the config, the tokenizer and the data files
// of o (for a resumed run, the config and tokenizer saved in o.Out).
func readSources(o *Options) (*sources, error) {
	src := &sources{tokFiles: map[string][]byte{}}
	cfgFlag, tokFlag, tokDir := "--config "+o.Config, "--tokenizer "+o.Tokenizer, o.Tokenizer
	var err error
	if o.Resume {
		cfgFlag, tokFlag, tokDir = "--out "+o.Out, "--out "+o.Out, o.Out
		if src.config, err = os.ReadFile(filepath.Join(o.Out, "config.json")); err != nil {
			return nil, badf("%s: %v", cfgFlag, err)
		}
	} else if src.config, err = modelConfig(o); err != nil {
		return nil, err
	}
	if src.cfg, err = parseConfigBytes(src.config); err != nil {
		return nil, badf("%s: %v", cfgFlag, err)
	}
	if !o.Resume && src.cfg.Arch != o.Arch {
		return nil, badf("--config %s: model_type %q is a %s model, --arch says %s", o.Config, src.cfg.ModelType, src.cfg.Arch, o.Arch)
	}
	if o.SeqLen > src.cfg.MaxPos {
		return nil, badf("--seqlen %d: above the model's max_position_embeddings %d (%s)", o.SeqLen, src.cfg.MaxPos, cfgFlag)
	}
	if err := checkTrainingFits(src.cfg, o); err != nil {
		return nil, badf("%s: %v", cfgFlag, err)
	}
	if src.tok, err = tokenizer.Load(tokDir); err != nil {
		return nil, badf("%s: %s", tokFlag, strings.TrimPrefix(err.Error(), "tokenizer "+tokDir+": "))
	}
	if tv := src.tok.VocabSize(); tv > src.cfg.Vocab {
		return nil, badf("%s: the tokenizer has %d tokens, the model's vocab_size is %d (%s)", tokFlag, tv, src.cfg.Vocab, cfgFlag)
	}
	for _, f := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(tokDir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, badf("%s: %v", tokFlag, err)
		}
		src.tokFiles[f] = b
	}
	dataFlag := "--data "
	if o.Resume {
		dataFlag = "--out " + o.Out + ": the run's --data "
	}
	for _, f := range o.Data {
		fh, err := os.Open(f)
		if err != nil {
			return nil, badf("%s%s: %v", dataFlag, f, errors.Unwrap(err))
		}
		st, err := fh.Stat()
		fh.Close()
		if err == nil && st.IsDir() {
			return nil, badf("%s%s: is a folder (give the text files, comma-separated)", dataFlag, f)
		}
	}
	return src, nil
}

// ArchChoices lists the architectures --arch takes, for help texts and
// errors ("llama, opt or chatglm").
func ArchChoices() string {
	n := models.ArchitectureNames()
	if len(n) == 1 {
		return n[0]
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// modelConfig returns o.Config as the checkpoint's config.json: float32,
// with model_type and architectures set from Arch when absent (both when
// model_type is: the config then names no family of its own).
func modelConfig(o *Options) ([]byte, error) {
	b, err := os.ReadFile(o.Config)
	if err != nil {
		return nil, badf("--config %s: %v", o.Config, errors.Unwrap(err))
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, badf("--config %s: not a JSON object: %v", o.Config, err)
	}
	a, err := models.ArchitectureOf(&models.Config{Arch: o.Arch})
	if err != nil {
		return nil, badf("--arch %q: want %s", o.Arch, ArchChoices())
	}
	if _, ok := raw["model_type"]; !ok {
		// Neither key may then contradict --arch.
		raw["model_type"], raw["architectures"] = o.Arch, []string{a.Class}
	}
	if _, ok := raw["architectures"]; !ok {
		raw["architectures"] = []string{a.Class}
	}
	delete(raw, "dtype")
	raw["torch_dtype"] = "float32"
	out, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return nil, badf("--config %s: %v", o.Config, err)
	}
	return append(out, '\n'), nil
}

// parseConfigBytes parses a config.json held in memory (models parses
// files only, so it goes through a temporary file).
func parseConfigBytes(b []byte) (*models.Config, error) {
	f, err := os.CreateTemp("", "gollm-train-config-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	cfg, err := models.ParseConfig(f.Name())
	if err != nil { // drop the temporary file's name
		return nil, errors.New(strings.TrimPrefix(err.Error(), "config "+f.Name()+": "))
	}
	cfg.Path = ""
	return cfg, nil
}

// checkTrainOutput reports whether dir is the output of a previous gollm
// train run (what --resume needs): its manifest says so and lists the
// trainer state.
func checkTrainOutput(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, outdir.ManifestName))
	if err != nil {
		if _, serr := os.Stat(dir); serr != nil {
			return badf("--out %s: --resume continues a run saved there by gollm train, but the folder does not exist", dir)
		}
		return badf("--out %s: not a gollm train output (no %s); --resume continues a run saved there by gollm train", dir, outdir.ManifestName)
	}
	var m outdir.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return badf("--out %s: %s is not valid JSON: %v", dir, outdir.ManifestName, err)
	}
	if m.Command != "train" {
		return badf("--out %s: written by gollm %s, not gollm train; --resume continues a training run", dir, m.Command)
	}
	for _, f := range m.Files {
		if f == stateFile {
			return nil
		}
	}
	return badf("--out %s: not a gollm train output (no %s)", dir, stateFile)
}

// checkTrainingFits refuses, before anything is allocated, a model and
// batch whose training state cannot fit in memory: float32 weights,
// gradients and AdamW's two moments (16 bytes a parameter), and the
// activations a step keeps for the backward pass — a rough upper estimate
// of ~24 hidden-sized and 4 MLP-sized values per token and layer, the
// attention scores, and the logits with their gradient.
func checkTrainingFits(c *models.Config, o *Options) error {
	specs, err := grad.ParamSpecs(c)
	if err != nil {
		return nil // the model build reports it
	}
	params := 0.0
	for _, s := range specs {
		params += float64(s.Numel())
	}
	tokens := float64(o.Batch) * float64(o.SeqLen)
	perLayer := 24*float64(c.Hidden) + 4*float64(c.Intermediate) + float64(c.Heads)*float64(o.SeqLen)
	layers := float64(c.Layers)
	if o.Recompute {
		layers = 1
	}
	act := 4 * tokens * (layers*perLayer + 2*float64(c.Vocab))
	return models.CheckFits("training", models.Need{Weights: 16 * params, Workspace: act})
}
