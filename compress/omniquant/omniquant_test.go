package omniquant

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/internal/badinput"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
	"github.com/llmcbench/gollm/tokenizer"
)

const calibText = `The history of the river valley begins long before the first farms were cut from the forest. ` +
	`Hunters followed the herds along the water, and their camps left stone tools, charcoal and the bones of deer. ` +
	`Later settlers built houses of timber and clay, planted barley and wheat, and traded salt for copper with the hill people. ` +
	`In the nineteenth century a railway reached the town; mills rose on both banks and the population doubled within twenty years. ` +
	`Today the old mills hold a museum, a library and a market where farmers sell cheese, apples and honey every Saturday morning. `

// calibFile writes a small calibration text and returns its path.
func calibFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "calib.txt")
	if err := os.WriteFile(p, []byte(strings.Repeat(calibText, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func tok(t *testing.T, dir string) *tokenizer.Tokenizer {
	t.Helper()
	tk, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestValidate(t *testing.T) {
	tk := struct{ tokenizer.Tokenizer }{}
	base := func() Config {
		return Config{Model: "m", WBits: 4, Calib: []string{"c"}, Tokenizer: &tk}
	}
	cases := []struct {
		name string
		edit func(*Config)
		bad  bool
	}{
		{"w4a16 defaults", func(*Config) {}, false},
		{"w4a4", func(c *Config) { c.ABits = 4 }, false},
		{"a16 is weight-only", func(c *Config) { c.ABits = 16 }, false},
		{"1 bit", func(c *Config) { c.WBits = 1 }, true},
		{"9 bits", func(c *Config) { c.WBits = 9 }, true},
		{"3 activation bits", func(c *Config) { c.ABits = 3 }, true},
		{"LET weight-only", func(c *Config) { c.LET = true }, true},
		{"negative epochs", func(c *Config) { c.Epochs = -1 }, true},
		{"bad group", func(c *Config) { c.GroupSize = -2 }, true},
		{"no calibration", func(c *Config) { c.Calib = nil }, true},
		{"no tokenizer", func(c *Config) { c.Tokenizer = nil }, true},
		{"no model", func(c *Config) { c.Model = "" }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate()
			if tc.bad != (err != nil) || (err != nil && !errors.Is(err, badinput.ErrBadInput)) {
				t.Fatalf("Validate = %v, want bad=%v wrapping ErrBadInput", err, tc.bad)
			}
		})
	}
	c := base()
	c.ABits = 4
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.LWC || !c.LET || c.LETLR != 1e-3 || c.LWCLR != 1e-2 || c.Epochs != 20 || c.NSamples != 128 || c.Seqlen != 2048 || c.Seed != 2 || c.GroupSize != -1 {
		t.Fatalf("W4A4 defaults: %+v", c)
	}
	c = base()
	c.ABits = 6
	c.WBits = 6
	if err := c.Validate(); err != nil || c.LETLR != 5e-3 || c.smoothAlpha() != 0.5 {
		t.Fatalf("W6A6 defaults: %v %+v", err, c)
	}
	c = base()
	if err := c.Validate(); err != nil || c.LET || !c.LWC {
		t.Fatalf("W4A16 must use LWC only: %v %+v", err, c)
	}
}

func TestGroupSizeMustDivide(t *testing.T) {
	dir := "../../testdata/llama3-tiny"
	_, err := Quantize(context.Background(), Config{Model: dir, WBits: 4, GroupSize: 48, Epochs: 1,
		Calib: []string{calibFile(t)}, NSamples: 1, Seqlen: 16, Tokenizer: tok(t, dir)}, nil)
	if !errors.Is(err, badinput.ErrBadInput) {
		t.Fatalf("group 48 on 64 columns: %v, want ErrBadInput", err)
	}
}

// TestLWCInit checks the reference's initial clipping: logits 4.0, so the
// grid spans sigmoid(4)·[min, max] (≈0.982, not exactly min/max), in the
// training forward (grad.FakeQuantLWC) and in the final quantizer alike.
func TestLWCInit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const out, in, g, bits = 3, 32, 16, 4
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	s4 := sigmoid(LWCInit)
	if math.Abs(s4-0.98201379) > 1e-7 {
		t.Fatalf("sigmoid(4) = %v", s4)
	}
	up, low := fill(out*in/g, LWCInit), fill(out*in/g, LWCInit)
	q := quantizeLWC(w, out, in, bits, g, up, low)
	rtn := quantizeLWC(w, out, in, bits, g, nil, nil)
	tp := grad.NewTape()
	fq := tp.FakeQuantLWC(grad.Const(out, in, w), grad.Const(out, in/g, up), grad.Const(out, in/g, low), bits, g)
	for r := 0; r < out; r++ {
		for gi := 0; gi < in/g; gi++ {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, x := range w[r*in+gi*g : r*in+(gi+1)*g] {
				lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
			}
			want := s4 * (hi - lo) / 15
			got := float64(q.Scales[gi*out+r])
			if math.Abs(got-want) > 1e-3*want { // float16 scale
				t.Errorf("row %d group %d: scale %v, want sigmoid(4)·(max−min)/15 = %v", r, gi, got, want)
			}
			if rs := float64(rtn.Scales[gi*out+r]); math.Abs(rs-(hi-lo)/15) > 1e-3*rs {
				t.Errorf("RTN scale %v, want %v", rs, (hi-lo)/15)
			}
			// The initial grid's zero point is the RTN one on this data.
			if z := math.RoundToEven(-s4 * lo / want); math.Abs(float64(q.Zeros[gi*out+r])-z) > 1 {
				t.Errorf("zero %v, want about %v", q.Zeros[gi*out+r], z)
			}
		}
	}
	// The exported codes dequantize to the training forward's values up to
	// the float16 rounding of the scale.
	dq := q.Dequantize()
	for i := range dq {
		s := float64(q.Scales[(i%in)/g*out+i/in])
		if math.Abs(float64(dq[i]-fq.Val[i])) > 0.01*s+1e-6 && math.Abs(float64(dq[i]-fq.Val[i])) > 1.01*s {
			t.Fatalf("element %d: exported %v, training forward %v", i, dq[i], fq.Val[i])
		}
	}
}

// testRun builds a run on dir without calibration text (samples drawn at
// random from the vocabulary).
func testRun(t *testing.T, dir string, cfg Config, nsamples int) *run {
	t.Helper()
	m, err := grad.LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	return testRunModel(m, dir, cfg, nsamples)
}

// testRunModel builds a run on m with nsamples random samples.
func testRunModel(m *grad.Model, dir string, cfg Config, nsamples int) *run {
	cfg.Model = dir
	r := &run{cfg: cfg, progress: discard{}, m: m}
	rng := rand.New(rand.NewPCG(3, 4))
	for range nsamples {
		ids := make([]int, cfg.Seqlen)
		for i := range ids {
			ids[i] = rng.IntN(m.Config.Vocab)
		}
		r.samples = append(r.samples, ids)
	}
	return r
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestLETFoldKeepsFunction: the transformed (folded) float block computes
// the same output as the original one, for random scales, under GQA and
// RoPE (the q/k scale is tied across each rotary pair).
func TestLETFoldKeepsFunction(t *testing.T) {
	for _, dir := range []string{"../../testdata/llama3-tiny", "../../testdata/llama2-tiny"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := testRun(t, dir, Config{WBits: 4, ABits: 4, GroupSize: -1, LWC: true, LET: true, Seqlen: 12}, 2)
			x, err := r.m.Embed(grad.NewTape(), r.samples[0], 1, 12)
			if err != nil {
				t.Fatal(err)
			}
			b := r.newBlock(1, [][]float32{x.Val})
			want := b.forward(grad.NewTape(), b.constIn(x.Val), modeFP).Val
			rng := rand.New(rand.NewPCG(5, 6))
			for _, s := range []*grad.Var{b.let.sQKV, b.let.sFC, b.let.sVO} {
				for j := range s.Val {
					s.Val[j] = float32(0.3 + 2*rng.Float64())
				}
			}
			hd := r.m.Config.HeadDim
			for k := range b.let.sQK.Val {
				if p := b.let.pair[k%hd]; p >= k%hd {
					v := float32(0.3 + 2*rng.Float64())
					b.let.sQK.Val[k], b.let.sQK.Val[k-k%hd+p] = v, v
				}
			}
			eff := b.effective(modeLearn)
			got := b.forwardEff(grad.NewTape(), b.constIn(x.Val), modeFP, eff).Val
			var maxd, maxv float64
			for i := range want {
				maxd = math.Max(maxd, math.Abs(float64(got[i]-want[i])))
				maxv = math.Max(maxv, math.Abs(float64(want[i])))
			}
			if maxd > 1e-4*maxv {
				t.Fatalf("folded block differs by %g (output scale %g)", maxd, maxv)
			}
			// And the transform is not the identity.
			if d := eff[r.m.Architecture().LayerPrefix(1)+"input_layernorm.weight"].Val[0] - r.m.Params[r.m.Architecture().LayerPrefix(1)+"input_layernorm.weight"].Val[0]; d == 0 {
				t.Fatal("scales did not change the norm gain")
			}
		})
	}
}

// TestLETGradient checks the chain rule from the transformed tensors to
// the LET scales against central finite differences of the float64-summed
// block loss (weights and activations in float, so the loss is smooth).
func TestLETGradient(t *testing.T) {
	r := testRun(t, "../../testdata/llama3-tiny", Config{WBits: 4, ABits: 4, GroupSize: -1, LWC: true, LET: true, Seqlen: 6}, 1)
	x, err := r.m.Embed(grad.NewTape(), r.samples[0], 1, 6)
	if err != nil {
		t.Fatal(err)
	}
	b := r.newBlock(0, [][]float32{x.Val})
	rng := rand.New(rand.NewPCG(7, 8))
	target := make([]float32, len(x.Val))
	for i := range target {
		target[i] = float32(rng.NormFloat64())
	}
	loss := func() (float64, map[string]*grad.Var, *grad.Tape, *grad.Var) {
		tp := grad.NewTape()
		eff := b.effective(modeLearn)
		y := b.forwardEff(tp, b.constIn(x.Val), modeFP, eff)
		l := tp.MSE(y, b.constIn(target))
		return float64(l.Item()), eff, tp, l
	}
	_, eff, tp, l := loss()
	tp.Backward(l)
	b.let.backward(eff)
	for _, s := range b.let.params() {
		for _, j := range []int{0, 3, len(s.Val) - 1} {
			if s == b.let.sQK {
				continue // tied pairs: checked through the pair sum below
			}
			old := s.Val[j]
			h := float32(1e-2) * old
			s.Val[j] = old + h
			lp, _, _, _ := loss()
			s.Val[j] = old - h
			lm, _, _, _ := loss()
			s.Val[j] = old
			fd := (lp - lm) / float64(2*h)
			if g := float64(s.Grad[j]); math.Abs(g-fd) > 0.05*math.Abs(fd)+1e-5 {
				t.Errorf("scale %d: gradient %g, finite difference %g", j, g, fd)
			}
		}
	}
	// sQK: move both members of a pair together.
	hd := r.m.Config.HeadDim
	k, p := 1, b.let.pair[1]
	_ = hd
	old := b.let.sQK.Val[k]
	h := float32(1e-2)
	set := func(v float32) { b.let.sQK.Val[k], b.let.sQK.Val[p] = v, v }
	set(old + h)
	lp, _, _, _ := loss()
	set(old - h)
	lm, _, _, _ := loss()
	set(old)
	fd := (lp - lm) / float64(2*h)
	// Each tied member carries the pair's full gradient; moving both by h
	// changes the loss by that gradient·h.
	if g := float64(b.let.sQK.Grad[k]); math.Abs(g-fd) > 0.05*math.Abs(fd)+1e-5 {
		t.Errorf("q/k scale pair: gradient %g, finite difference %g", g, fd)
	}
}

// TestOmniQuantBeatsRTN checks what the optimisation delivers on every
// x86-64 machine, with margins measured on nine configurations (AMD EPYC
// Zen 5, 2 cores: OPENBLAS_CORETYPE unset (SkylakeX forced by gollm),
// Haswell, SkylakeX, Prescott, Zen, CGO_ENABLED=0, GOMAXPROCS=1 with and
// without Haswell, OPENBLAS_NUM_THREADS=1); ratios below are the measured
// ranges over those runs and both blocks. The exported GPTQ folder must
// reload with packed quantized kernels and compute the same logits as the
// quantized weights.
//
// Like the reference (OpenGVLab/OmniQuant keeps the parameters of the last
// epoch, not the best), nothing guarantees that the loss ends below where
// it started, so the bounds are measured ones:
//   - LWC only (weight-only): final/init 0.860–0.975, so final < init is
//     asserted for every block (the learned clipping never ends above its
//     own starting loss); W3 and W2 are far from RTN (final/RTN
//     0.802–0.925), so final < 0.96·RTN is asserted too. W4 with small
//     groups is close to RTN (final/RTN 0.88–0.97): not asserted.
//   - W4A4 (LWC + LET): final/init 0.856–0.907, so final < init; final/RTN
//     0.878–0.909 in block 0, whose inputs (the embeddings) are the same
//     bits on every machine, so final < 0.95·RTN there; later blocks see
//     inputs that carry each machine's rounding through the quantized
//     activations (init/RTN 1.010–1.115, final/RTN 0.914–0.974 in block 1):
//     not asserted.
//   - W6A6: the quantization error is at the level of the rounding noise
//     of the straight-through gradients, and 160 Adam steps of LET scales
//     can end above the start (final/init 0.841–1.112, final/RTN
//     0.90–1.15, one result on each side of RTN depending on the BLAS core):
//     only a divergence bound, final < 1.25·init, is asserted.
func TestOmniQuantBeatsRTN(t *testing.T) {
	cases := []struct {
		dir          string
		wbits, group int
		abits        int
		export       bool    // GPTQ packing stores 2/3/4/8 bits with in·bits, out·bits multiples of 32
		maxOverInit  float64 // final < maxOverInit·init in every block
		maxOverRTN   float64 // final < maxOverRTN·RTN in blocks < rtnBlocks (0: not asserted)
		rtnBlocks    int
	}{
		{"../../testdata/llama3-tiny", 4, 16, 0, true, 1, 0, 0},
		{"../../testdata/llama3-tiny", 3, -1, 0, false, 1, 0.96, 2},
		{"../../testdata/llama2-tiny", 4, 8, 0, true, 1, 0, 0},
		{"../../testdata/llama2-tiny", 2, 8, 0, false, 1, 0.96, 2},
		{"../../testdata/llama3-tiny", 4, -1, 4, true, 1, 0.95, 1},
		{"../../testdata/llama2-tiny", 6, -1, 6, true, 1.25, 0, 0}, // 6-bit codes in 8-bit containers
	}
	for _, tc := range cases {
		name := filepath.Base(tc.dir) + "/" + modeName(tc.wbits, tc.abits, tc.group)
		t.Run(name, func(t *testing.T) {
			cfg := Config{Model: tc.dir, WBits: tc.wbits, ABits: tc.abits, GroupSize: tc.group, Epochs: 20,
				Calib: []string{calibFile(t)}, NSamples: 8, Seqlen: 32, Tokenizer: tok(t, tc.dir)}
			res, err := Quantize(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Blocks) != 2 {
				t.Fatalf("%d block results", len(res.Blocks))
			}
			for _, b := range res.Blocks {
				t.Logf("block %d: rtn %.5g init %.5g final %.5g (final/init %.3f, final/rtn %.3f)",
					b.Block, b.RTNMSE, b.InitMSE, b.FinalMSE, b.FinalMSE/b.InitMSE, b.FinalMSE/b.RTNMSE)
				if !(b.FinalMSE > 0) || !(b.FinalMSE < tc.maxOverInit*b.InitMSE) {
					t.Errorf("block %d: OmniQuant MSE %g not below %g × its starting MSE %g", b.Block, b.FinalMSE, tc.maxOverInit, b.InitMSE)
				}
				if b.Block < tc.rtnBlocks && !(b.FinalMSE < tc.maxOverRTN*b.RTNMSE) {
					t.Errorf("block %d: OmniQuant MSE %g not below %g × RTN's %g", b.Block, b.FinalMSE, tc.maxOverRTN, b.RTNMSE)
				}
			}
			if tc.export {
				out := t.TempDir()
				if err := res.Save(out); err != nil {
					t.Fatal(err)
				}
				checkExport(t, tc.dir, out, res, tc.abits)
			}
		})
	}
}

func modeName(w, a, g int) string {
	s := "W" + string(rune('0'+w)) + "A"
	if a == 0 {
		s += "16"
	} else {
		s += string(rune('0' + a))
	}
	if g > 0 {
		s += "g" + string(rune('0'+g/10)) + string(rune('0'+g%10))
	}
	return s
}

// checkExport reloads out and compares its logits with a float model whose
// block linears are the dequantized codes (and, with LET, folded norms).
//
// With activation bits, every reloaded linear must quantize its input per
// token (kernels.ActQuantMatrix, tested against its reference in package
// kernels): the logits then differ from the float-activation model's, but
// stay close to them.
func checkExport(t *testing.T, src, out string, res *Result, abits int) {
	t.Helper()
	weightOnly := abits == 0 || abits >= 16
	m, err := models.Load(out, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < m.Config.Layers; i++ {
		for _, l := range m.Linears(i) {
			if aq, ok := l.Host.(*kernels.ActQuantMatrix); weightOnly == ok || (ok && aq.Bits != abits) {
				t.Fatalf("%s reloaded as %s with %d activation bits requested", l.Name, l.Host.Format(), abits)
			}
			q, ok := packed.FromMatrix(l.Host)
			if !ok {
				t.Fatalf("%s reloaded as %T, not a packed quantized matrix", l.Name, l.Host)
			}
			want := res.Quant[l.Name]
			if want == nil || string(q.Q) != string(want.Q) {
				t.Fatalf("%s: reloaded codes differ from the quantized ones", l.Name)
			}
		}
	}
	ref, err := grad.LoadModel(out) // fails: no float weights for packed linears
	if err == nil {
		t.Fatalf("grad.LoadModel read a packed checkpoint as float (%d params)", ref.NumParams())
	}
	fm, err := grad.LoadModel(src)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range res.Quant {
		copy(fm.Params[name+".weight"].Val, q.Dequantize())
	}
	if !weightOnly {
		// LET folded the norm gains: take them from the export.
		ck, err := tensor.OpenCheckpoint(out)
		if err != nil {
			t.Fatal(err)
		}
		defer ck.Close()
		for name, p := range fm.Params {
			if strings.HasSuffix(name, "layernorm.weight") && strings.Contains(name, ".layers.") {
				copy(p.Val, testref.Float32(t, ck, name))
			}
		}
	}
	ids := []int{1, 5, 9, 2, 7, 3, 8, 4}
	st := m.NewState(0)
	x, err := m.Embed(st, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < m.Config.Layers; i++ {
		if err := m.ForwardBlock(st, i, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.Logits(st, x)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := fm.Forward(grad.NewTape(), ids, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	var maxd, maxv float64
	for i := range got {
		maxd = math.Max(maxd, math.Abs(float64(got[i]-logits.Val[i])))
		maxv = math.Max(maxv, math.Abs(float64(logits.Val[i])))
	}
	switch {
	case weightOnly && maxd > 2e-3*maxv+1e-4:
		t.Fatalf("reloaded logits differ from the quantized float model by %g (scale %g)", maxd, maxv)
	case !weightOnly && (maxd == 0 || maxd > 0.5*maxv):
		t.Fatalf("with %d-bit activations the logits differ from float activations' by %g (scale %g)", abits, maxd, maxv)
	}
	t.Logf("reloaded logits vs quantized weights on float activations: max difference %.3g (scale %.3g)", maxd, maxv)
}

// TestActQuantEveryArch: activation quantization (without LET) applies to
// the block of every architecture — the model's own block code with
// grad.BlockHooks — changing its output a little at 8 bits.
func TestActQuantEveryArch(t *testing.T) {
	for _, name := range []string{"llama3-tiny", "opt-tiny", "opt350-tiny", "chatglm3-tiny"} {
		t.Run(name, func(t *testing.T) {
			r := testRun(t, "../../testdata/"+name, Config{WBits: 8, ABits: 8, GroupSize: -1, LWC: true, Seqlen: 8}, 1)
			x, err := r.m.Embed(grad.NewTape(), r.samples[0], 1, 8)
			if err != nil {
				t.Fatal(err)
			}
			b := r.newBlock(0, nil)
			quant := b.forward(grad.NewTape(), b.constIn(x.Val), modeRTN).Val
			r.cfg.ABits = 0 // weight-only: activations in float
			float := b.forward(grad.NewTape(), b.constIn(x.Val), modeRTN).Val
			var maxd, maxv float64
			for i := range float {
				maxd = math.Max(maxd, math.Abs(float64(quant[i]-float[i])))
				maxv = math.Max(maxv, math.Abs(float64(float[i])))
			}
			if maxd == 0 || maxd > 0.05*maxv {
				t.Fatalf("8-bit activations change the block output by %g (output scale %g), want (0, 5%%]", maxd, maxv)
			}
		})
	}
}
