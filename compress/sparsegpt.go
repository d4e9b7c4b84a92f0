package compress

import (
	"context"

	"github.com/llmcbench/gollm/internal/corpus"
)

// sparseGPT prunes with second-order weight updates (SparseGPTPrune) from
// one statistics pass over the block; linears reading one input share its
// prepared Hessian.
type sparseGPT struct{}

func (sparseGPT) Info() MethodInfo {
	return MethodInfo{Name: SparseGPT, Doc: "prune with second-order weight updates (SparseGPT)", Params: []Param{
		pruneSparsityParam, patternParam, dampParam, blockParam,
		nsamplesParam(128), seqlenParam("2048"), seedParam(0), samplingParam(corpus.SampleWindow)}}
}

func (sparseGPT) calibrated() bool        { return true }
func (sparseGPT) format(c *Config) string { return pruneFormat(c) }

func (sparseGPT) record(c *Config, mc *MethodConfig) {
	recordPruning(c, mc)
	mc.Damp, mc.BlockSize = c.Damp, c.BlockSize
}

func (sparseGPT) checkLinear(c *Config, s linearShape) error {
	if c.PatternM > 0 && c.BlockSize%c.PatternM != 0 {
		return badInput("--pattern %d:%d: M=%d does not divide the block size %d", c.PatternN, c.PatternM, c.PatternM, c.BlockSize)
	}
	return nil
}

func (sparseGPT) workBytes(_ *Config, maxIn, _, _ int64) int64 { return hessianBytes(maxIn) }

func (sparseGPT) block(ctx context.Context, e *engine, i int) error {
	hess := map[*inputStat]*Hessian{}
	return e.pruneWithStats(ctx, i, wantGram, func(w []float32, out, in int, st *inputStat) error {
		hs := hess[st]
		if hs == nil {
			var err error
			if hs, err = PrepareHessian(st.hessian(), st.dim, e.cfg.Damp, false); err != nil {
				return err
			}
			hess[st] = hs
		}
		_, err := SparseGPTPrune(w, out, in, hs, e.pruneOptions(), e.cfg.BlockSize)
		return err
	})
}
