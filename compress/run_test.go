package compress

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
)

// A checkpoint written by Run reloads to exactly the weights the method
// produced: packed codes dequantize to the fake-quantized weights, pruned
// weights keep their zeros, scaled norms are the folded ones.
func TestRunSavesAndReloads(t *testing.T) {
	for _, tc := range []struct {
		model, method, format string
		edit                  func(*Config)
	}{
		{"llama2", GPTQ, "gptq", func(c *Config) { c.ActOrder = true }},
		{"llama3", GPTQ, "gptq", func(c *Config) { c.Bits, c.Sym = 2, true }},
		{"opt", RTN, "gptq", func(c *Config) { c.Bits = 8 }},
		{"llama3", RTN, "dense", func(c *Config) { c.Bits = 6 }},
		{"llama2", AWQ, "awq", nil},
		{"opt", AWQ, "awq", nil},
		{"llama3", AWQ, "gptq", func(c *Config) { c.Bits = 2 }},
		{"llama3", SmoothQuant, "w8a8", nil},
		{"opt", SmoothQuant, "w8a8", nil},
		{"llama3", Wanda, "dense", nil},
		{"opt", SparseGPT, "2:4", func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
		{"llama2", Magnitude, "2:4", func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
	} {
		t.Run(tc.model+"-"+tc.method+"-"+tc.format, func(t *testing.T) {
			c := fixtureConfig(t, tc.model, tc.method)
			if tc.edit != nil {
				tc.edit(&c)
			}
			rec, r, err := run(context.Background(), &c, nil, noSpill)
			if r != nil {
				defer r.m.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Format != tc.format {
				t.Fatalf("format %q, want %q", rec.Format, tc.format)
			}
			got, err := models.Load(c.Out, models.Options{})
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			defer got.Close()
			// bfloat16 checkpoints (llama3-tiny) round float tensors to 8 bits.
			tol := 1e-3
			if got.Config.DType == tensor.BF16 {
				tol = 1.0 / 128
			}
			for i := 0; i < got.NumLayers(); i++ {
				for _, l := range got.Linears(i) {
					w := weightsOf(l.Host)
					if q := r.res.quant[l.Name]; q != nil && tc.format != "dense" {
						if want := q.Dequantize(); !slices.Equal(w, want) {
							t.Fatalf("%s: reloaded weights differ from the fake-quantized ones (%s)", l.Name, l.Host.Format())
						}
						continue
					}
					mem := weightsOf(findLinear(r.m, l.Name).Host)
					for j := range w {
						if (w[j] == 0) != (mem[j] == 0) || math.Abs(float64(w[j]-mem[j])) > tol*math.Abs(float64(mem[j]))+1e-7 {
							t.Fatalf("%s[%d]: reloaded %g, compressed %g", l.Name, j, w[j], mem[j])
						}
					}
					if tc.format == "2:4" {
						checkNM(t, w, l.Out(), l.In(), 2, 4)
					}
				}
			}
			ck := got.Checkpoint()
			for name, v := range r.res.tensors {
				if tc.format == "dense" {
					break
				}
				g := testref.Float32(t, ck, name)
				for j := range v {
					if math.Abs(float64(g[j]-v[j])) > tol*math.Abs(float64(v[j])) {
						t.Fatalf("%s[%d] = %g, folded value %g", name, j, g[j], v[j])
					}
				}
			}
			back, err := ReadRecord(c.Out)
			if err != nil {
				t.Fatal(err)
			}
			if back.WallSeconds <= 0 || back.PeakRSSBytes <= 0 || back.Config.Method != tc.method || len(back.Layers) != len(blockLinears(r.m)) {
				t.Errorf("record: wall %g s, peak %d, method %q, %d layers", back.WallSeconds, back.PeakRSSBytes, back.Config.Method, len(back.Layers))
			}
			if needsCalib(tc.method) && (back.Calibration == nil || len(back.Calibration.Windows) == 0 || back.Calibration.Files[0].SHA256 == "") {
				t.Errorf("record has no calibration windows: %+v", back.Calibration)
			}
		})
	}
}

func findLinear(m *models.Model, name string) *models.Linear {
	for _, l := range blockLinears(m) {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// GPTQ and RTN fold nothing into norms: the reloaded checkpoint computes
// what the compressed model in memory computes.
func TestRunReloadedLogits(t *testing.T) {
	c := fixtureConfig(t, "llama3", GPTQ)
	_, r, err := run(context.Background(), &c, nil, nil)
	if r != nil {
		defer r.m.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := models.Load(c.Out, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if e := logitErr(t, r.m, got, evalIDs(t, nil)); e > 1e-4 {
		t.Errorf("reloaded logits differ by %.3g (relative)", e)
	}
	if _, err := os.Stat(filepath.Join(c.Out, "tokenizer.json")); err != nil {
		t.Errorf("tokenizer not copied: %v", err)
	}
	qc, err := packed.ParseQuantConfig(got.Config.Quantization)
	if err != nil || qc.QuantMethod != "gptq" {
		t.Errorf("quantization_config %s: %v", got.Config.Quantization, err)
	}
}

// Bad input is reported before anything is written.
func TestRunBadInputBeforeWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		msg  string
	}{
		{"group", func(c *Config) { c.GroupSize = 64 }, "does not divide"},
		{"calib-missing", func(c *Config) { c.Calib = []string{"../testdata/calib/missing.jsonl"} }, "missing.jsonl"},
		{"too-little-text", func(c *Config) { c.NSamples, c.Seqlen = 10000, 200 }, "too little text"},
		{"seqlen", func(c *Config) { c.Seqlen = 1024 }, "max_position_embeddings"},
		{"no-fit", func(c *Config) { c.MemoryLimit = 1 << 20 }, "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureConfig(t, "llama2", GPTQ)
			c.Out = filepath.Join(c.Out, "sub")
			tc.edit(&c)
			_, err := Run(context.Background(), c, nil)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%v, want ErrBadInput with %q", err, tc.msg)
			}
			if _, err := os.Stat(c.Out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output folder created before the error: %v", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := fixtureConfig(t, "llama2", Wanda)
	if _, err := Run(ctx, c, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

// noSpill keeps finished blocks in memory, for tests that compare the
// saved checkpoint with the compressed model.
func noSpill(e *engine) { e.spillDir = "" }

// TestSpillSavesSameBytes compresses with finished blocks spilled to disk
// and released (the default for dense and 2:4 outputs) and with every
// block kept in memory: the two checkpoints must hold the same tensors,
// byte for byte, and the spilled run must really have released its blocks.
func TestSpillSavesSameBytes(t *testing.T) {
	for _, tc := range []struct {
		model, method string
		edit          func(*Config)
	}{
		{"llama2", Wanda, nil},
		{"opt", SparseGPT, func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
		{"glm", Magnitude, nil},
		{"llama3", RTN, func(c *Config) { c.Bits = 5 }}, // no packed layout: dense
	} {
		t.Run(tc.model+"-"+tc.method, func(t *testing.T) {
			outs := map[bool]string{}
			for _, spill := range []bool{true, false} {
				c := fixtureConfig(t, tc.model, tc.method)
				if tc.edit != nil {
					tc.edit(&c)
				}
				var adjust func(*engine)
				if !spill {
					adjust = noSpill
				}
				_, r, err := run(context.Background(), &c, nil, adjust)
				if err != nil {
					t.Fatal(err)
				}
				resident := 0
				for i := 0; i < r.m.NumLayers(); i++ {
					if r.m.BlockLoaded(i) {
						resident++
					}
				}
				r.m.Close()
				if spill && resident != 0 {
					t.Errorf("spilling run ends with %d resident blocks", resident)
				}
				if !spill && resident != r.m.NumLayers() {
					t.Errorf("run without spilling ends with %d of %d blocks resident", resident, r.m.NumLayers())
				}
				if _, err := os.Stat(filepath.Join(c.Out, ".gollm-spill")); !os.IsNotExist(err) {
					t.Errorf("spill folder left behind (%v)", err)
				}
				outs[spill] = c.Out
			}
			a, err := tensor.OpenCheckpoint(outs[true])
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := tensor.OpenCheckpoint(outs[false])
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !slices.Equal(a.Names(), b.Names()) {
				t.Fatalf("tensor names differ:\n%v\n%v", a.Names(), b.Names())
			}
			for _, name := range a.Names() {
				ta, _ := a.Tensor(name)
				tb, _ := b.Tensor(name)
				if ta.DType != tb.DType || !slices.Equal(ta.Shape, tb.Shape) || !bytes.Equal(ta.Data, tb.Data) {
					t.Errorf("%s differs (%s%v vs %s%v)", name, ta.DType, ta.Shape, tb.DType, tb.Shape)
				}
			}
			ca, _ := os.ReadFile(filepath.Join(outs[true], "config.json"))
			cb, _ := os.ReadFile(filepath.Join(outs[false], "config.json"))
			if !bytes.Equal(ca, cb) {
				t.Errorf("config.json differs:\n%s\n%s", ca, cb)
			}
		})
	}
}

// The checks before any work see every layer's own sizes: on an
// LLM-Pruner output whose layer 1 keeps 44 of llama2-tiny's 88 MLP
// channels (layer 0 unpruned), 8-bit RTN in groups of 8 is refused for
// that layer's down_proj, and one group per row runs.
func TestRunChecksPrunedLayers(t *testing.T) {
	pruned := filepath.Join(t.TempDir(), "pruned")
	pc := fixtureConfig(t, "llama2", LLMPruner)
	pc.Out, pc.LayerRatio, pc.BlockStart, pc.NSamples, pc.Seqlen = pruned, 0.5, 1, 2, 16
	if _, err := Run(context.Background(), pc, nil); err != nil {
		t.Fatal(err)
	}
	mc, err := models.LoadConfig(pruned)
	if err != nil {
		t.Fatal(err)
	}
	if mc.LayerIntermediate(0) != 88 || mc.LayerIntermediate(1) != 44 {
		t.Fatalf("pruned MLP widths %d, %d, want 88, 44", mc.LayerIntermediate(0), mc.LayerIntermediate(1))
	}
	for _, tc := range []struct {
		group int
		bad   string
	}{{8, "44 inputs of mlp.down_proj"}, {-1, ""}} {
		c := fixtureConfig(t, "llama2", RTN)
		c.Model, c.Out, c.Bits, c.GroupSize = pruned, filepath.Join(t.TempDir(), "q"), 8, tc.group
		_, err := Run(context.Background(), c, nil)
		if tc.bad == "" && err != nil {
			t.Errorf("group %d: %v", tc.group, err)
		}
		if tc.bad != "" && (!errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("group %d: %v, want bad input naming %q", tc.group, err, tc.bad)
		}
	}
}
