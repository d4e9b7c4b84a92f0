package compress

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/models/packed"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

// fixture describes a test model and settings that fit its shapes.
type fixture struct {
	dir   string
	group int
	tok   Tokenizer // nil: the folder's tokenizer
}

var fixtures = map[string]fixture{
	"llama2": {llama2Tiny, 8, nil},
	"llama3": {llama3Tiny, 16, nil},
	"opt":    {optTiny, 32, nil},
	"opt350": {opt350Tiny, 32, nil},
	"glm":    {glmTiny, -1, corpus.ByteEncoder{}},
}

func fixtureConfig(t *testing.T, name, method string) Config {
	f := fixtures[name]
	c := Defaults(method)
	c.Model, c.Out, c.Calib = f.dir, t.TempDir(), []string{calibJSONL}
	c.NSamples, c.Seqlen, c.Tokenizer = 6, 48, f.tok
	if method != SmoothQuant {
		c.GroupSize = f.group
	}
	if c.Sampling == corpus.SampleConcat {
		c.Sampling = corpus.SampleWindow // the fixture documents are longer than 48 tokens
	}
	return c
}

func compressFixture(t *testing.T, c Config, adjust func(*engine)) *compressed {
	t.Helper()
	// The tests inspect the compressed blocks in memory: no spilling
	// (TestSpillSavesSameBytes checks that spilling changes no output).
	r, err := compressWith(context.Background(), &c, nil, func(e *engine) {
		e.spillDir = ""
		if adjust != nil {
			adjust(e)
		}
	})
	if err != nil {
		t.Fatalf("%s on %s: %v", c.Method, c.Model, err)
	}
	t.Cleanup(func() { r.m.Close() })
	return r
}

func blockLinears(m *models.Model) []*models.Linear {
	var ls []*models.Linear
	for i := 0; i < m.NumLayers(); i++ {
		ls = append(ls, m.Linears(i)...)
	}
	return ls
}

// weightsOf returns the float weights of any matrix (packed.Weights).
func weightsOf(m kernels.Matrix) []float32 { return packed.Weights(m) }

func hostW(t *testing.T, l *models.Linear) []float32 {
	d, ok := l.Host.(*kernels.Dense)
	if !ok {
		t.Fatalf("%s: weight is %T", l.Name, l.Host)
	}
	return d.W
}

func TestEnginePruning(t *testing.T) {
	for _, tc := range []struct {
		model, method string
		sparsity      float64
		n, m          int
	}{
		{"llama2", Magnitude, 0.5, 0, 0},
		{"llama3", Wanda, 0.6, 0, 0},
		{"opt", SparseGPT, 0.5, 0, 0},
		{"glm", SparseGPT, 0, 2, 4},
		{"opt350", Wanda, 0, 2, 4},
		{"llama2", Magnitude, 0, 4, 8},
		{"llama3", SparseGPT, 0, 4, 8},
	} {
		t.Run(tc.model+"-"+tc.method, func(t *testing.T) {
			c := fixtureConfig(t, tc.model, tc.method)
			c.Sparsity, c.PatternN, c.PatternM = tc.sparsity, tc.n, tc.m
			r := compressFixture(t, c, nil)
			ls := blockLinears(r.m)
			if len(r.res.layers) != len(ls) {
				t.Fatalf("%d layer records for %d linears", len(r.res.layers), len(ls))
			}
			for _, l := range ls {
				w := hostW(t, l)
				if tc.m > 0 {
					checkNM(t, w, l.Out(), l.In(), tc.n, tc.m)
					continue
				}
				z := countZeros(w)
				switch tc.method {
				case Magnitude:
					if want := int(float64(len(w)) * tc.sparsity); z != want {
						t.Errorf("%s: %d zeros, want %d", l.Name, z, want)
					}
				case Wanda:
					k := int(float64(l.In()) * tc.sparsity)
					for r := 0; r < l.Out(); r++ {
						if zr := countZeros(w[r*l.In() : (r+1)*l.In()]); zr != k {
							t.Fatalf("%s row %d: %d zeros, want %d", l.Name, r, zr, k)
						}
					}
				case SparseGPT:
					bs := c.BlockSize
					want := 0
					for b := 0; b < l.In(); b += bs {
						want += int(float64(l.Out()*min(bs, l.In()-b)) * tc.sparsity)
					}
					if z < want || z > want+l.Out() { // dead inputs may add zeros
						t.Errorf("%s: %d zeros, want %d", l.Name, z, want)
					}
				}
			}
		})
	}
}

func TestEngineQuantization(t *testing.T) {
	for _, tc := range []struct {
		model, method string
		bits          int
		edit          func(*Config)
	}{
		{"llama2", RTN, 4, nil},
		{"llama3", GPTQ, 4, nil},
		{"llama2", GPTQ, 4, func(c *Config) { c.ActOrder = true }},
		{"llama3", GPTQ, 2, func(c *Config) { c.TrueSequential = false }},
		{"llama3", RTN, 5, nil},
		{"opt", GPTQ, 4, func(c *Config) { c.ActOrder, c.StaticGroups, c.TrueSequential = true, true, false }},
		{"glm", GPTQ, 8, nil},
		{"llama2", AWQ, 4, nil},
		{"opt", AWQ, 4, nil},
		{"glm", AWQ, 4, nil},
		{"llama3", SmoothQuant, 8, nil},
		{"opt", SmoothQuant, 8, nil},
		{"opt350", AWQ, 4, nil},
	} {
		t.Run(tc.model+"-"+tc.method, func(t *testing.T) {
			c := fixtureConfig(t, tc.model, tc.method)
			c.Bits = tc.bits
			if tc.edit != nil {
				tc.edit(&c)
			}
			r := compressFixture(t, c, nil)
			ls := blockLinears(r.m)
			for _, l := range ls {
				q := r.res.quant[l.Name]
				if q == nil {
					t.Fatalf("%s not quantized", l.Name)
				}
				if err := q.Validate(); err != nil {
					t.Fatalf("%s: %v", l.Name, err)
				}
				if q.Bits != tc.bits {
					t.Fatalf("%s: %d bits", l.Name, q.Bits)
				}
				if tc.method == RTN || tc.method == GPTQ {
					if !slices.Equal(weightsOf(l.Host), q.Dequantize()) {
						t.Fatalf("%s: the model does not hold the quantized weights", l.Name)
					}
				}
			}
			switch tc.method {
			case AWQ:
				rules, _ := rulesFor(r.m.Config)
				if want := len(rules.awq) * r.m.NumLayers(); len(r.res.scales) != want {
					t.Errorf("%d scale records, want %d", len(r.res.scales), want)
				}
			case SmoothQuant:
				if len(r.res.tensors) == 0 {
					t.Error("no smoothed norm")
				}
			}
		})
	}
}

// logitsOf runs ids through m and returns the logits.
func logitsOf(t *testing.T, m *models.Model, ids []int) []float32 {
	t.Helper()
	s := m.NewState(len(ids))
	l, err := s.Append(ids)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(l)
}

func evalIDs(t *testing.T, c *corpus.Calibration) [][]int {
	// Held-out text: a window of the WikiText fixture.
	docs, _, err := corpus.Read([]string{"../testdata/calib/wiki.train.raw"}, corpus.Whole)
	if err != nil {
		t.Fatal(err)
	}
	tok := corpus.ByteEncoder{}
	ids := tok.Encode(docs[0][:400], true)
	_ = c
	return [][]int{ids[:48], ids[100:148], ids[200:248]}
}

func logitErr(t *testing.T, ref, m *models.Model, seqs [][]int) float64 {
	var num, den float64
	for _, ids := range seqs {
		a, b := logitsOf(t, ref, ids), logitsOf(t, m, ids)
		for i := range a {
			num += float64(a[i]-b[i]) * float64(a[i]-b[i])
			den += float64(a[i]) * float64(a[i])
		}
	}
	return math.Sqrt(num / den)
}

// The calibrated methods beat their data-free baselines on the model's
// output at equal bits / sparsity.
func TestEngineBeatsBaselines(t *testing.T) {
	ref, err := models.Load(llama3Tiny, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	seqs := evalIDs(t, nil)
	errOf := func(method string, edit func(*Config)) float64 {
		c := fixtureConfig(t, "llama3", method)
		c.NSamples, c.Seqlen = 16, 64
		if edit != nil {
			edit(&c)
		}
		r := compressFixture(t, c, nil)
		return logitErr(t, ref, r.m, seqs)
	}
	q := func(c *Config) { c.Bits = 4 }
	gptq, rtn := errOf(GPTQ, q), errOf(RTN, q)
	if !(gptq < rtn) {
		t.Errorf("4-bit logits error: GPTQ %.4g, RTN %.4g", gptq, rtn)
	}
	awq := errOf(AWQ, q)
	sg, mag, wan := errOf(SparseGPT, nil), errOf(Magnitude, nil), errOf(Wanda, func(c *Config) { c.Seqlen = 64 })
	if !(sg < mag && wan < mag) {
		t.Errorf("50%% logits error: SparseGPT %.4g, Wanda %.4g, magnitude %.4g", sg, wan, mag)
	}
	t.Logf("4-bit: GPTQ %.4g AWQ %.4g RTN %.4g; 50%%: SparseGPT %.4g Wanda %.4g magnitude %.4g", gptq, awq, rtn, sg, wan, mag)
}

// writeTransformed writes the model's checkpoint with the engine's float
// weights and replaced tensors, in float32, to a new folder.
func writeTransformed(t *testing.T, m *models.Model, res *results) string {
	t.Helper()
	dir := t.TempDir()
	ck := m.Checkpoint()
	biases := map[string][]float32{}
	for _, l := range blockLinears(m) {
		if l.Bias != nil {
			biases[l.Name+".bias"] = l.Bias
		}
	}
	var ts []*tensor.Tensor
	for _, name := range ck.Names() {
		v := testref.Float32(t, ck, name)
		if r, ok := res.tensors[name]; ok {
			v = r
		}
		if b, ok := biases[name]; ok {
			v = b
		}
		if w, ok := res.dense[trimSuffix(name, ".weight")]; ok {
			v = w
		}
		info, _ := ck.Info(name)
		ts = append(ts, tensor.FromFloat32(name, info.Shape, v))
	}
	if err := tensor.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(m.Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func trimSuffix(s, suf string) string {
	if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
		return s[:len(s)-len(suf)]
	}
	return ""
}

// SmoothQuant's and AWQ's scale folding (norm → linears, linear → linear)
// leaves the float model's output unchanged.
func TestScaleFoldingKeepsFloatOutput(t *testing.T) {
	for _, model := range []string{"llama2", "llama3", "opt", "glm"} {
		for _, method := range []string{SmoothQuant, AWQ} {
			t.Run(model+"-"+method, func(t *testing.T) {
				c := fixtureConfig(t, model, method)
				r := compressFixture(t, c, func(e *engine) { e.floatOnly = true })
				if len(r.res.tensors) == 0 {
					t.Fatal("no norm was scaled")
				}
				dir := writeTransformed(t, r.m, r.res)
				got, err := models.Load(dir, models.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer got.Close()
				ref, err := models.Load(c.Model, models.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Close()
				if e := logitErr(t, ref, got, evalIDs(t, nil)); e > 1e-5 {
					t.Errorf("scale folding changed the logits by %.3g (relative)", e)
				}
				// The in-memory model (norms untouched, weights compensated)
				// computes the same function too.
				if e := logitErr(t, ref, r.m, evalIDs(t, nil)); e > 1e-5 {
					t.Errorf("in-memory model differs by %.3g", e)
				}
			})
		}
	}
}
