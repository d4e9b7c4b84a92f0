package omniquant

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/models/packed"
)

// run holds the state of one Quantize call.
type run struct {
	cfg      Config
	progress io.Writer
	m        *grad.Model
	samples  [][]int
	calib    *corpus.Calibration
}

// newRun loads the model and draws the calibration samples.
func newRun(cfg Config, progress io.Writer) (*run, error) {
	m, err := grad.LoadModel(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("omniquant: %w", err)
	}
	r := &run{cfg: cfg, progress: progress, m: m}
	if cfg.LET && m.Config.Arch != "llama" {
		return nil, badInput("model %s: LET is implemented for LLaMA only (architecture %q); use weight-only settings", cfg.Model, m.Config.Arch)
	}
	if cfg.LET && (m.Config.AttentionBias || m.Config.MLPBias) {
		return nil, badInput("model %s: LET with biased linears is not implemented", cfg.Model)
	}
	for i := 0; i < m.Config.Layers; i++ {
		for _, name := range r.linearNames(i) {
			w := m.Params[name+".weight"]
			if cfg.GroupSize > 0 && w.Cols%cfg.GroupSize != 0 {
				return nil, badInput("model %s: group size %d does not divide the %d input columns of %s", cfg.Model, cfg.GroupSize, w.Cols, name)
			}
		}
	}
	docs, _, err := corpus.Read(cfg.Calib, corpus.Whole)
	if err != nil {
		return nil, fmt.Errorf("omniquant: %w", err)
	}
	r.calib, err = corpus.Sample(docs, cfg.Tokenizer, corpus.SampleWindow, cfg.NSamples, cfg.Seqlen, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("omniquant: calibration %v: %w", cfg.Calib, err)
	}
	r.samples = r.calib.Samples
	for _, s := range r.samples {
		for _, id := range s {
			if id < 0 || id >= m.Config.Vocab {
				return nil, badInput("calibration %v: token id %d outside the vocabulary of %s", cfg.Calib, id, cfg.Model)
			}
		}
	}
	return r, nil
}

// linearNames returns the linears of block i (weight names without
// ".weight") in execution order.
func (r *run) linearNames(i int) []string {
	b := r.m.Architecture().Block(r.m.Config, i)
	names := make([]string, len(b.Linears))
	for j, l := range b.Linears {
		names[j] = b.Prefix + l.Short
	}
	return names
}

// blockNames returns every parameter of block i.
func (r *run) blockNames(i int) []string {
	var names []string
	for _, t := range r.m.Architecture().Block(r.m.Config, i).Tensors {
		names = append(names, t.Name)
	}
	return names
}

// quantize runs the block-sequential optimisation.
func (r *run) quantize(ctx context.Context) (*Result, error) {
	start := time.Now()
	c := r.m.Config
	res := &Result{Config: r.cfg, Quant: map[string]*packed.Quantized{}}
	L := r.cfg.Seqlen
	fpIn := make([][]float32, len(r.samples))
	qIn := make([][]float32, len(r.samples))
	for s, ids := range r.samples {
		x, err := r.m.Embed(grad.NewTape(), ids, 1, L)
		if err != nil {
			return nil, fmt.Errorf("omniquant: model %s: %w", r.cfg.Model, err)
		}
		fpIn[s] = x.Val
		qIn[s] = append([]float32(nil), x.Val...)
	}
	mode := "W" + strconv.Itoa(r.cfg.WBits) + "A16"
	if !r.cfg.weightOnly() {
		mode = fmt.Sprintf("W%dA%d", r.cfg.WBits, r.cfg.ABits)
	}
	fmt.Fprintf(r.progress, "omniquant: %s %s, group %d, %d blocks, %d samples × %d tokens, %d epochs, lwc=%v let=%v\n",
		r.cfg.Model, mode, r.cfg.GroupSize, c.Layers, len(r.samples), L, r.cfg.Epochs, r.cfg.LWC, r.cfg.LET)
	for i := 0; i < c.Layers; i++ {
		t0 := time.Now()
		b := r.newBlock(i, fpIn)
		targets := make([][]float32, len(fpIn))
		for s := range fpIn {
			targets[s] = b.forward(grad.NewTape(), b.constIn(fpIn[s]), modeFP).Val
		}
		st := BlockStats{Block: i}
		st.RTNMSE = b.meanMSE(qIn, targets, modeRTN)
		st.InitMSE = b.meanMSE(qIn, targets, modeLearn)
		if err := b.train(ctx, qIn, targets); err != nil {
			return nil, err
		}
		st.FinalMSE = b.meanMSE(qIn, targets, modeLearn)
		if math.IsNaN(st.FinalMSE) || math.IsInf(st.FinalMSE, 0) {
			return nil, fmt.Errorf("omniquant: model %s: block %d: loss is %v", r.cfg.Model, i, st.FinalMSE)
		}
		qs, err := b.finish()
		if err != nil {
			return nil, fmt.Errorf("omniquant: model %s: block %d: %w", r.cfg.Model, i, err)
		}
		for name, q := range qs {
			res.Quant[name] = q
		}
		for s := range qIn {
			qIn[s] = b.forward(grad.NewTape(), b.constIn(qIn[s]), modeFinal).Val
		}
		fpIn = targets
		st.Seconds = time.Since(t0).Seconds()
		res.Blocks = append(res.Blocks, st)
		fmt.Fprintf(r.progress, "omniquant: block %d/%d: mse rtn %.4g, init %.4g, omniquant %.4g (%.1fs)\n",
			i+1, c.Layers, st.RTNMSE, st.InitMSE, st.FinalMSE, st.Seconds)
	}
	res.Seconds = time.Since(start).Seconds()
	res.Calibration = r.calib
	if r.cfg.LET {
		res.norms = map[string][]float32{}
		for name, p := range r.m.Params {
			if strings.HasSuffix(name, "layernorm.weight") && strings.Contains(name, ".layers.") {
				res.norms[name] = p.Val
			}
		}
	}
	return res, nil
}
