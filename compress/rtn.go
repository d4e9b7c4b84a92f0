package compress

import (
	"context"
	"time"
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
	for _, l := range e.m.Linears(i) {
		t := time.Now()
		src, err := denseOf(l)
		if err != nil {
			return err
		}
		q := RTNQuantize(src, l.Out(), l.In(), e.cfg.Bits, e.cfg.GroupSize, e.cfg.Sym)
		if err := e.recordQuant(l, q, nil, nil, 0, t); err != nil {
			return err
		}
	}
	return nil
}
