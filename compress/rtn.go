package compress

import (
	"context"
	"time"

	"github.com/llmcbench/gollm/models"
)

// rtn rounds every weight to the nearest point of its group's min/max grid
// (no calibration); the quantizer is RTNQuantize.
type rtn struct{ blockDefaults }

func (rtn) Info() MethodInfo {
	return MethodInfo{Name: RTN, Doc: "round weights to the nearest grid point (no calibration)",
		Params: []Param{bitsParam(4, bits2to8), groupParam, symParam}}
}

func (rtn) calibrated() bool                   { return false }
func (rtn) format(c *Config) string            { return quantFormat(c.Bits) }
func (rtn) record(c *Config, mc *MethodConfig) { recordQuantizer(c, mc) }

func (rtn) block(_ context.Context, e *engine, i int) error {
	return e.eachDenseLinear(i, func(l *models.Linear, src []float32, t time.Time) error {
		q := RTNQuantize(src, l.Out(), l.In(), e.cfg.Bits, e.cfg.GroupSize, e.cfg.Sym)
		return e.recordQuant(l, q, nil, nil, 0, t)
	})
}
