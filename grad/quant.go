package grad

import (
	"fmt"
	"math"
)

// Fake quantization of a weight matrix [out×in] with asymmetric min/max
// integer grids per (output row, group of `group` input columns), as
// OmniQuant's quantizer computes them:
//
//	scale = max(xmax − xmin, ·)/(2^bits − 1) (clamped to [1e-5, 1e4])
//	zero  = round(−xmin/scale)
//	Q(w)  = (clamp(round(w/scale) + zero, 0, 2^bits − 1) − zero)·scale
//
// round is round-half-to-even (torch.round).

const (
	quantScaleMin = 1e-5
	quantScaleMax = 1e4
)

func quantGroups(op string, w *Var, bits, group int) (groupSize, groups int) {
	if bits < 1 || bits > 16 {
		panic(fmt.Sprintf("grad.%s: %d bits", op, bits))
	}
	if group <= 0 {
		group = w.Cols
	}
	if w.Cols%group != 0 {
		panic(fmt.Sprintf("grad.%s: %d input columns are not a multiple of group size %d", op, w.Cols, group))
	}
	return group, w.Cols / group
}

// FakeQuant returns Q(w) (see above) with bits bits and groups of group
// input columns (group ≤ 0: one group per row). Backward is the
// straight-through estimator: the gradient passes to w unchanged, as if Q
// were the identity.
func (t *Tape) FakeQuant(w *Var, bits, group int) *Var {
	g, groups := quantGroups("FakeQuant", w, bits, group)
	qmax := float64(int(1)<<bits - 1)
	y := t.out(w.Rows, w.Cols, w)
	for r := 0; r < w.Rows; r++ {
		for gi := 0; gi < groups; gi++ {
			seg := w.Val[r*w.Cols+gi*g : r*w.Cols+(gi+1)*g]
			lo, hi := minMax(seg)
			s := math.Min(math.Max((hi-lo)/qmax, quantScaleMin), quantScaleMax)
			z := math.RoundToEven(-lo / s)
			out := y.Val[r*w.Cols+gi*g:]
			for i, x := range seg {
				c := math.Min(math.Max(math.RoundToEven(float64(x)/s)+z, 0), qmax)
				out[i] = float32((c - z) * s)
			}
		}
	}
	t.record(y, func(dy []float32) {
		dw := w.g()
		for i, d := range dy {
			dw[i] += d
		}
	})
	return y
}

func minMax(seg []float32) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range seg {
		lo = math.Min(lo, float64(x))
		hi = math.Max(hi, float64(x))
	}
	return lo, hi
}

// FakeQuantLWC is FakeQuant with OmniQuant's learnable weight clipping: up
// and low are [out×groups] factors and the grid spans
// [sigmoid(low)·min, sigmoid(up)·max] of each group (OmniQuant initialises
// both to 4.0, i.e. almost no clipping). Backward is the clipping-aware
// straight-through estimator OmniQuant uses: round passes gradients
// unchanged, the zero point is a constant (torch.round has no gradient),
// w receives the gradient only where it was not clamped, and the gradient
// of the scale reaches up and low through the sigmoids and, through the
// group's min and max, the elements that attain them (as torch.amax/amin
// route it; ties go to the first).
func (t *Tape) FakeQuantLWC(w, up, low *Var, bits, group int) *Var {
	return t.fakeQuantLWC(w, up, low, bits, group, math.RoundToEven, nil)
}

// fakeQuantLWC is FakeQuantLWC with the rounding of w/scale and, if zeros
// is non-nil, the zero points given (the tests check the straight-through
// backward against finite differences of the surrogate with round = id and
// frozen zero points).
func (t *Tape) fakeQuantLWC(w, up, low *Var, bits, group int, round func(float64) float64, zeros []float64) *Var {
	g, groups := quantGroups("FakeQuantLWC", w, bits, group)
	checkShape("FakeQuantLWC up", up, w.Rows, groups)
	checkShape("FakeQuantLWC low", low, w.Rows, groups)
	qmax := float64(int(1)<<bits - 1)
	ng := w.Rows * groups
	scale := make([]float64, ng)
	zero := make([]float64, ng)
	gmin := make([]float64, ng)
	gmax := make([]float64, ng)
	clamped := make([]bool, ng) // scale hit its clamp
	y := t.out(w.Rows, w.Cols, w, up, low)
	for r := 0; r < w.Rows; r++ {
		for gi := 0; gi < groups; gi++ {
			k := r*groups + gi
			seg := w.Val[r*w.Cols+gi*g : r*w.Cols+(gi+1)*g]
			lo, hi := minMax(seg)
			gmin[k], gmax[k] = lo, hi
			xmax := sigmoid(float64(up.Val[k])) * hi
			xmin := sigmoid(float64(low.Val[k])) * lo
			s := (xmax - xmin) / qmax
			if s < quantScaleMin || s > quantScaleMax {
				clamped[k] = true
				s = math.Min(math.Max(s, quantScaleMin), quantScaleMax)
			}
			scale[k] = s
			if zeros != nil {
				zero[k] = zeros[k]
			} else {
				zero[k] = math.RoundToEven(math.Min(math.Max(-xmin/s, -1e4), 1e4))
			}
			out := y.Val[r*w.Cols+gi*g:]
			for i, x := range seg {
				c := math.Min(math.Max(round(float64(x)/s)+zero[k], 0), qmax)
				out[i] = float32((c - zero[k]) * s)
			}
		}
	}
	t.record(y, func(dy []float32) {
		var dw []float32
		if w.requires {
			dw = w.g()
		}
		for r := 0; r < w.Rows; r++ {
			for gi := 0; gi < groups; gi++ {
				k := r*groups + gi
				s, z := scale[k], zero[k]
				var ds float64
				for i := gi * g; i < (gi+1)*g; i++ {
					x := float64(w.Val[r*w.Cols+i])
					d := float64(dy[r*w.Cols+i])
					u := round(x/s) + z
					inside := u >= 0 && u <= qmax
					c := math.Min(math.Max(u, 0), qmax)
					ds += d * (c - z)
					if inside {
						ds -= d * x / s
						if dw != nil {
							dw[r*w.Cols+i] += float32(d)
						}
					}
				}
				if clamped[k] {
					continue
				}
				su := sigmoid(float64(up.Val[k]))
				sl := sigmoid(float64(low.Val[k]))
				if up.requires {
					up.g()[k] += float32(ds * gmax[k] * su * (1 - su) / qmax)
				}
				if low.requires {
					low.g()[k] += float32(-ds * gmin[k] * sl * (1 - sl) / qmax)
				}
				if dw != nil {
					seg := w.Val[r*w.Cols+gi*g : r*w.Cols+(gi+1)*g]
					iMax, iMin := argExtremes(seg)
					dw[r*w.Cols+gi*g+iMax] += float32(ds * su / qmax)
					dw[r*w.Cols+gi*g+iMin] += float32(-ds * sl / qmax)
				}
			}
		}
	})
	return y
}

// argExtremes returns the indexes of the first maximum and first minimum.
func argExtremes(seg []float32) (iMax, iMin int) {
	for i, x := range seg {
		if x > seg[iMax] {
			iMax = i
		}
		if x < seg[iMin] {
			iMin = i
		}
	}
	return iMax, iMin
}
