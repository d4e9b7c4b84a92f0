package compress

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// The block-sequential engine. Block 0's inputs are the embeddings of the
// calibration samples; for each block i the engine runs the block over
// every sample with the model's linear hook collecting statistics, lets the
// method compress the block's linears, recomputes the block's outputs with
// the compressed weights (or, for AWQ and SmoothQuant, keeps the float
// outputs, as their references do) and feeds them to block i+1. Only the
// block being compressed, its inputs and its outputs are resident beyond
// what was already compressed. The method's own step is its
// blockMethod.block (method.go; one file per method).

// LayerRecord is what a method did to one linear layer.
type LayerRecord struct {
	Name string `json:"name"`
	Out  int    `json:"out"`
	In   int    `json:"in"`
	// Sparsity is the fraction of zero weights after pruning.
	Sparsity float64 `json:"sparsity,omitempty"`
	// Loss is GPTQ's Σ(w−q)²/Hinv_ii²/2, or the relative output error
	// ‖(W'−W)X‖²/‖WX‖² on the calibration inputs where the method measures
	// it.
	Loss    float64 `json:"loss,omitempty"`
	Seconds float64 `json:"seconds"`
}

// ScaleRecord is one AWQ scaling group's search result (or SmoothQuant's
// smoothing pair).
type ScaleRecord struct {
	Block  int      `json:"block"`
	Prev   string   `json:"prev"`
	Layers []string `json:"layers"`
	// Ratio is AWQ's best grid point (s = x̄^ratio) or SmoothQuant's α.
	Ratio float64 `json:"ratio"`
	// Loss is AWQ's mean squared output error at the best ratio.
	Loss float64 `json:"loss,omitempty"`
}

// results collects a run's compressed weights for saving.
type results struct {
	quant   map[string]*Quantized // by Linear.Name
	tensors map[string][]float32  // replaced non-linear tensors (norms, biases) by checkpoint name
	layers  []LayerRecord
	scales  []ScaleRecord
	// dense holds float weights by Linear.Name where a test asked the
	// engine to stop before quantizing (engine.floatOnly).
	dense map[string][]float32
}

type engine struct {
	cfg   *Config
	m     *models.Model
	rules *archRules
	st    *models.State
	inps  *actStore
	outs  *actStore
	res   *results
	log   io.Writer
	// stride samples every stride-th calibration token for AWQ's clipping.
	stride int
	tokens int
	// buf is the float32 activations of the sample being run.
	buf []float32
	// spillDir, when set, receives each finished block's float weights
	// (dense and 2:4 outputs), and the block is released: only the block
	// being compressed stays in memory (see spillBlock).
	spillDir string
	// floatOnly makes AWQ and SmoothQuant stop after folding their scales
	// (no clipping, no quantization): tests check that the transform keeps
	// the float model's function.
	floatOnly bool
}

func (e *engine) logf(format string, args ...any) {
	if e.log != nil {
		fmt.Fprintf(e.log, format+"\n", args...)
	}
}

// byShort indexes a block's linears by their short names.
func byShort(ls []*models.Linear) map[string]*models.Linear {
	m := make(map[string]*models.Linear, len(ls))
	for _, l := range ls {
		m[l.Short] = l
	}
	return m
}

// denseOf returns the float weights of l (the method's input).
func denseOf(l *models.Linear) ([]float32, error) {
	d, ok := l.Host.(*kernels.Dense)
	if !ok {
		return nil, badInput("linear %s is stored as %s, not dense float weights: compress an uncompressed model", l.Name, l.Host.Format())
	}
	return d.W, nil
}

// eachDenseLinear calls f for each linear of block i with its dense
// weights and the time its step started (for its layer record), stopping at
// the first error; a linear not stored as dense weights is bad input.
func (e *engine) eachDenseLinear(i int, f func(l *models.Linear, w []float32, start time.Time) error) error {
	for _, l := range e.m.Linears(i) {
		t := time.Now()
		w, err := denseOf(l)
		if err != nil {
			return err
		}
		if err := f(l, w, t); err != nil {
			return err
		}
	}
	return nil
}

// setDense replaces l's weight with dense float weights w (and bias, if
// non-nil).
func (e *engine) setDense(l *models.Linear, w []float32, bias []float32) error {
	d, err := kernels.NewDense(l.Out(), l.In(), w)
	if err != nil {
		return err
	}
	return e.m.SetWeight(l, d, bias)
}

// zeroMatrix stands in for linears whose output a statistics pass does not
// need (those after the last collected layer): it costs nothing and writes
// zeros.
type zeroMatrix struct{ out, in int }

func (z zeroMatrix) Dims() (int, int) { return z.out, z.in }
func (z zeroMatrix) MulT(dst, _ []float32, m int, _ []float32) {
	clear(dst[:m*z.out])
}
func (z zeroMatrix) Bytes() int64   { return 0 }
func (z zeroMatrix) Format() string { return "skip" }

var _ kernels.Matrix = zeroMatrix{}

// skipAfter replaces every linear of the block that runs after the last of
// names (execution order) with a zeroMatrix and returns the function that
// restores them.
func (e *engine) skipAfter(ls []*models.Linear, names []string) (func() error, error) {
	last := -1
	for i, l := range ls {
		for _, n := range names {
			if l.Short == n {
				last = max(last, i)
			}
		}
	}
	type saved struct {
		l *models.Linear
		w kernels.Matrix
	}
	var restore []saved
	for _, l := range ls[last+1:] {
		restore = append(restore, saved{l, l.Host})
		if err := e.m.SetWeight(l, zeroMatrix{l.Out(), l.In()}, nil); err != nil {
			return nil, err
		}
	}
	return func() error {
		for _, s := range restore {
			if err := e.m.SetWeight(s.l, s.w, nil); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// collect runs block i over every sample and returns the statistics of
// the inputs of names (keyed by the short name of each input's first
// reader). With skip, linears after the last of names are skipped; with
// keep, the block outputs are stored in e.outs. extra, if non-nil, sees
// every linear input with the sample index.
func (e *engine) collect(ctx context.Context, i int, names []string, kind func(short string) statKind, skip, keep bool, extra func(s int, l *models.Linear, x []float32, rows int)) (map[string]*inputStat, error) {
	ls := e.m.Linears(i)
	lead := e.rules.leaderOf()
	lin := byShort(ls)
	stats := map[string]*inputStat{}
	for _, n := range names {
		ld := lead[n]
		if ld == "" {
			ld = n
		}
		k := kind(n)
		if s, ok := stats[ld]; ok {
			if s.kind|k != s.kind {
				return nil, fmt.Errorf("block %d: inconsistent statistics for %s", i, ld)
			}
			continue
		}
		// Union of what every reader of this input wants.
		for _, m := range names {
			if lead[m] == ld {
				k |= kind(m)
			}
		}
		l := lin[ld]
		if l == nil {
			return nil, fmt.Errorf("block %d has no linear %q", i, ld)
		}
		stats[ld] = newInputStat(l.In(), k, e.stride)
	}
	if skip {
		restore, err := e.skipAfter(ls, names)
		if err != nil {
			return nil, err
		}
		defer func() { _ = restore() }()
	}
	var sample, t0 int
	e.st.LinearHook = func(l *models.Linear, x []float32, rows int) {
		if s := stats[l.Short]; s != nil {
			s.add(x, rows, t0)
		}
		if extra != nil {
			extra(sample, l, x, rows)
		}
	}
	defer func() { e.st.LinearHook = nil }()
	for s := range e.inps.samples() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sample = s
		e.buf = e.inps.get(s, e.buf)
		if err := e.m.ForwardBlock(e.st, i, e.buf); err != nil {
			return nil, err
		}
		if keep {
			e.outs.put(s, e.buf)
		}
		t0 += len(e.buf) / e.m.Config.Hidden
	}
	return stats, nil
}

// forwardAll computes block i's outputs of every sample into e.outs, with
// hook (if non-nil) as the state's linear hook.
func (e *engine) forwardAll(ctx context.Context, i int, hook models.LinearHook) error {
	e.st.LinearHook = hook
	defer func() { e.st.LinearHook = nil }()
	for s := range e.inps.samples() {
		if err := ctx.Err(); err != nil {
			return err
		}
		e.buf = e.inps.get(s, e.buf)
		if err := e.m.ForwardBlock(e.st, i, e.buf); err != nil {
			return err
		}
		e.outs.put(s, e.buf)
	}
	return nil
}

// embed fills e.inps with block 0's inputs.
func (e *engine) embed(samples [][]int) error {
	maxLen := 0
	for _, s := range samples {
		maxLen = max(maxLen, len(s))
	}
	e.st = e.m.NewState(maxLen)
	e.inps = newActStore(len(samples), e.m.Config.DType)
	e.outs = newActStore(len(samples), e.m.Config.DType)
	for i, ids := range samples {
		x, err := e.m.Embed(e.st, ids)
		if err != nil {
			return fmt.Errorf("calibration sample %d: %w", i, err)
		}
		e.inps.put(i, x)
		e.tokens += len(ids)
	}
	e.stride = max(1, e.tokens/awqClipTokens)
	return nil
}

// run compresses every block in order.
func (e *engine) run(ctx context.Context) error {
	method := e.cfg.blockMethod()
	n := e.m.NumLayers()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		if err := e.m.LoadBlock(i); err != nil {
			return err
		}
		for _, l := range e.m.Linears(i) {
			if _, err := denseOf(l); err != nil {
				return err
			}
		}
		if err := method.block(ctx, e, i); err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
		if method.calibrated() {
			e.inps, e.outs = e.outs, e.inps
		}
		if err := e.packBlock(i); err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
		if err := e.spillBlock(i); err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		e.logf("block %d/%d done in %.1f s (peak RSS %.2f GiB)", i+1, n, time.Since(t).Seconds(), float64(peakRSS())/(1<<30))
	}
	return nil
}

// recordQuant stores a quantized layer, puts its dequantized weights into
// the model (divided by colScale, when a scale was folded into a norm the
// in-memory model does not hold) and records it.
func (e *engine) recordQuant(l *models.Linear, q *Quantized, colScale []float32, bias []float32, loss float64, t time.Time) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("linear %s: %w", l.Name, err)
	}
	e.res.quant[l.Name] = q
	w := q.Dequantize()
	if colScale != nil {
		divCols(w, q.Out, q.In, colScale)
	}
	if err := e.setDense(l, w, bias); err != nil {
		return err
	}
	e.res.layers = append(e.res.layers, LayerRecord{Name: l.Name, Out: q.Out, In: q.In, Loss: loss, Seconds: time.Since(t).Seconds()})
	return nil
}

func (e *engine) recordPruned(l *models.Linear, w []float32, t time.Time) error {
	if err := e.setDense(l, w, nil); err != nil {
		return err
	}
	zeros := 0
	for _, v := range w {
		if v == 0 {
			zeros++
		}
	}
	e.res.layers = append(e.res.layers, LayerRecord{Name: l.Name, Out: l.Out(), In: l.In(), Sparsity: float64(zeros) / float64(len(w)), Seconds: time.Since(t).Seconds()})
	return nil
}

func shorts(ls []*models.Linear) []string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.Short
	}
	return s
}

// mulCols multiplies column j of w [out×in] by s[j].
func mulCols(w []float32, out, in int, s []float32) {
	kernels.ParallelFor(out, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := w[r*in : r*in+in]
			for j := range row {
				row[j] *= s[j]
			}
		}
	})
}

// divCols divides column j of w [out×in] by s[j].
func divCols(w []float32, out, in int, s []float32) {
	kernels.ParallelFor(out, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := w[r*in : r*in+in]
			for j := range row {
				row[j] /= s[j]
			}
		}
	})
}

// sumSq returns Σ v².
func sumSq(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}
