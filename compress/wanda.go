package compress

import (
	"context"

	"github.com/llmcbench/gollm/internal/corpus"
)

// wanda prunes by |weight|·‖input‖ per output row from one statistics pass
// over the block (WandaPrune).
type wanda struct{ blockDefaults }

func (wanda) Info() MethodInfo {
	return MethodInfo{Name: Wanda, Doc: "prune by |weight|·‖input‖ per output row (Wanda)", Params: []Param{
		pruneSparsityParam, patternParam, nsamplesParam(128), seqlenParam("auto"), seedParam(0), samplingParam(corpus.SampleWindow)}}
}

func (wanda) calibrated() bool                   { return true }
func (wanda) format(c *Config) string            { return pruneFormat(c) }
func (wanda) record(c *Config, mc *MethodConfig) { recordPruning(c, mc) }

func (wanda) block(ctx context.Context, e *engine, i int) error {
	return e.pruneWithStats(ctx, i, wantColSq, func(w []float32, out, in int, st *inputStat) error {
		_, err := WandaPrune(w, out, in, st.wandaNorms(), e.pruneOptions())
		return err
	})
}
