package compress

import (
	"context"
	"fmt"
	"time"

	"github.com/llmcbench/gollm/models"
)

// magnitude prunes the smallest weights of every linear (no calibration);
// the pruning itself is MagnitudePrune.
type magnitude struct{ blockDefaults }

func (magnitude) Info() MethodInfo {
	return MethodInfo{Name: Magnitude, Doc: "prune the smallest weights of every linear (no calibration)",
		Params: []Param{pruneSparsityParam, patternParam}}
}

func (magnitude) calibrated() bool                   { return false }
func (magnitude) format(c *Config) string            { return pruneFormat(c) }
func (magnitude) record(c *Config, mc *MethodConfig) { recordPruning(c, mc) }

func (magnitude) block(_ context.Context, e *engine, i int) error {
	return e.eachDenseLinear(i, func(l *models.Linear, src []float32, t time.Time) error {
		w := append([]float32(nil), src...)
		if _, err := MagnitudePrune(w, l.Out(), l.In(), e.pruneOptions()); err != nil {
			return fmt.Errorf("linear %s: %w", l.Name, err)
		}
		return e.recordPruned(l, w, t)
	})
}
