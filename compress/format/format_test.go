package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/models/packed"
	"github.com/llmcbench/gollm/tensor"
)

const fixtures = "../../testdata"

func loadFixture(t testing.TB, name string) *models.Model {
	t.Helper()
	m, err := models.Load(filepath.Join(fixtures, name), models.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// rtn quantizes w [out×in] round-to-nearest with GPTQ's quantizer
// conventions (asymmetric min/max including 0, or symmetric with zero
// 2^(bits−1)); gidx (optional) assigns columns to groups.
func rtn(w []float32, out, in, bits, groupSize int, sym bool, gidx []int32) *packed.Quantized {
	q := &packed.Quantized{Out: out, In: in, Bits: bits, GroupSize: groupSize, Sym: sym, Q: make([]uint8, out*in), GIdx: gidx}
	gs := groupSize
	if gs <= 0 {
		gs = in
	}
	group := func(i int) int {
		if gidx != nil {
			return int(gidx[i])
		}
		return i / gs
	}
	ng := q.NumGroups()
	q.Scales = make([]float32, ng*out)
	q.Zeros = make([]float32, ng*out)
	maxq := float64(int(1)<<bits - 1)
	for o := 0; o < out; o++ {
		lo, hi := make([]float64, ng), make([]float64, ng)
		for i := 0; i < in; i++ {
			g := group(i)
			v := float64(w[o*in+i])
			lo[g], hi[g] = math.Min(lo[g], v), math.Max(hi[g], v)
		}
		for g := 0; g < ng; g++ {
			if sym {
				a := math.Max(-lo[g], hi[g])
				lo[g], hi[g] = -a, a
			}
			if lo[g] == 0 && hi[g] == 0 {
				lo[g], hi[g] = -1, 1
			}
			s := (hi[g] - lo[g]) / maxq
			z := math.Round(-lo[g] / s)
			if sym {
				z = (maxq + 1) / 2
			}
			q.Scales[g*out+o] = float32(s)
			q.Zeros[g*out+o] = float32(z)
		}
		for i := 0; i < in; i++ {
			g := group(i)*out + o
			c := math.Round(float64(w[o*in+i])/float64(q.Scales[g])) + float64(q.Zeros[g])
			q.Q[o*in+i] = uint8(math.Max(0, math.Min(maxq, c)))
		}
	}
	return q
}

// actOrderGIdx assigns a random permutation of the columns to groups of
// groupSize, as GPTQ with desc_act does.
func actOrderGIdx(in, groupSize int, seed uint64) []int32 {
	r := rand.New(rand.NewPCG(seed, 1))
	g := make([]int32, in)
	for j, i := range r.Perm(in) {
		g[i] = int32(j / groupSize)
	}
	return g
}

// saveAndLoad saves m with o into a fresh folder and loads it back (closed
// when the test ends); it returns the reloaded model and the folder.
func saveAndLoad(t *testing.T, m *models.Model, o SaveOptions) (*models.Model, string) {
	t.Helper()
	dir := t.TempDir()
	if err := Save(m, dir, o); err != nil {
		t.Fatal(err)
	}
	re, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { re.Close() })
	return re, dir
}

func blockLinears(m *models.Model) []*models.Linear {
	var ls []*models.Linear
	for i := 0; i < m.NumLayers(); i++ {
		ls = append(ls, m.Linears(i)...)
	}
	return ls
}

// logits runs ids through a fresh state.
func logits(t *testing.T, m *models.Model, ids []int) []float32 {
	t.Helper()
	s := m.NewState(len(ids))
	l, err := s.Append(ids)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), l...)
}

func closeLogits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*scale+1e-5 {
			t.Fatalf("%s: logit %d = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// nonLinearSame checks that every tensor of a not owned by a linear is in
// b with the same bytes.
func nonLinearSame(t *testing.T, a, b *models.Model) {
	t.Helper()
	var lins []*saveLinear
	for i := -1; i < a.NumLayers(); i++ {
		for _, l := range a.Linears(i) {
			lins = append(lins, &saveLinear{name: l.Name})
		}
	}
	s := &saver{}
	for _, name := range a.Checkpoint().Names() {
		if s.ownedByLinear(name, lins) {
			continue
		}
		ta, _ := a.Checkpoint().Tensor(name)
		tb, err := b.Checkpoint().Tensor(name)
		if err != nil {
			t.Fatalf("tensor %q missing after save: %v", name, err)
		}
		if ta.DType != tb.DType || !slices.Equal(ta.Shape, tb.Shape) || string(ta.Data) != string(tb.Data) {
			t.Fatalf("tensor %q changed: %s%v → %s%v", name, ta.DType, ta.Shape, tb.DType, tb.Shape)
		}
	}
}

func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var testIDs = []int{1, 5, 17, 200, 3, 999, 42, 7}

// TestSaveReloadQuantized writes GPTQ and AWQ checkpoints of the fixture
// models and checks that they reload to exactly the fake-quantized weights
// (MulT of one-hot inputs against Dequantize, bit for bit) and to the
// logits of the model whose weights were replaced by the dequantized float
// weights.
func TestSaveReloadQuantized(t *testing.T) {
	tests := []struct {
		model, format string
		bits, group   int
		sym, actOrder bool
	}{
		{"llama3-tiny", FormatGPTQ, 4, 32, false, false},
		{"llama3-tiny", FormatGPTQ, 4, 16, true, true},
		{"llama3-tiny", FormatGPTQ, 8, -1, true, false},
		{"llama3-tiny", FormatGPTQ, 2, 16, false, false},
		{"opt-tiny", FormatGPTQ, 3, 32, false, true},
		{"llama2-tiny", FormatGPTQ, 4, -1, false, false},
		{"llama3-tiny", FormatAWQ, 4, 16, false, false},
		{"opt-tiny", FormatAWQ, 4, 64, false, false},
	}
	for ti, tc := range tests {
		name := fmt.Sprintf("%s/%s-%dbit-g%d-sym=%v-act=%v", tc.model, tc.format, tc.bits, tc.group, tc.sym, tc.actOrder)
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, tc.model)
			ref := loadFixture(t, tc.model)
			quant := map[string]*packed.Quantized{}
			refLins := blockLinears(ref)
			for li, l := range blockLinears(m) {
				out, in := l.Host.Dims()
				var gidx []int32
				if tc.actOrder {
					gidx = actOrderGIdx(in, tc.group, uint64(ti*100+li))
				}
				q := rtn(packed.Weights(l.Host), out, in, tc.bits, tc.group, tc.sym, gidx)
				q.RoundScalesF16()
				if err := q.Validate(); err != nil {
					t.Fatal(err)
				}
				quant[l.Name] = q
				d, _ := kernels.NewDense(out, in, q.Dequantize())
				if err := ref.SetWeight(refLins[li], d, nil); err != nil {
					t.Fatal(err)
				}
			}
			re, dir := saveAndLoad(t, m, SaveOptions{Format: tc.format, Quant: quant, Meta: map[string]any{"method": "rtn", "damp_percent": 0.02}})
			for _, l := range blockLinears(re) {
				qm, ok := l.Host.(*kernels.QuantGroupMatrix)
				if !ok {
					t.Fatalf("%s: reloaded as %T, want *kernels.QuantGroupMatrix", l.Name, l.Host)
				}
				if qm.Bits() != tc.bits {
					t.Fatalf("%s: %d bits", l.Name, qm.Bits())
				}
				want := quant[l.Name].Dequantize()
				got := kernels.DenseWeights(qm)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: W[%d] = %g after reload, want %g", l.Name, i, got[i], want[i])
					}
				}
				back, ok := packed.FromMatrix(qm)
				if !ok {
					t.Fatal("FromMatrix failed")
				}
				for i := range back.Q {
					if back.Q[i] != quant[l.Name].Q[i] {
						t.Fatalf("%s: code %d = %d, want %d", l.Name, i, back.Q[i], quant[l.Name].Q[i])
					}
				}
			}
			closeLogits(t, "reloaded vs dequantized model", logits(t, re, testIDs), logits(t, ref, testIDs))
			nonLinearSame(t, m, re)
			qc := readConfig(t, dir)["quantization_config"].(map[string]any)
			if qc["quant_method"] != tc.format || qc["bits"] != float64(tc.bits) {
				t.Errorf("quantization_config = %v", qc)
			}
			wantGS := float64(tc.group)
			if tc.group <= 0 {
				wantGS = -1
			}
			if qc["group_size"] != wantGS {
				t.Errorf("group_size = %v, want %v", qc["group_size"], wantGS)
			}
			if tc.format == FormatGPTQ {
				wantCF := "gptq"
				for _, q := range quant {
					if packed.GPTQNeedsV2(q) {
						wantCF = "gptq_v2"
					}
				}
				if qc["desc_act"] != tc.actOrder || qc["sym"] != tc.sym || qc["damp_percent"] != 0.02 || qc["checkpoint_format"] != wantCF {
					t.Errorf("gptq config = %v", qc)
				}
				if _, err := os.Stat(filepath.Join(dir, "quantize_config.json")); err != nil {
					t.Error(err)
				}
			} else if qc["version"] != "gemm" || qc["zero_point"] != true {
				t.Errorf("awq config = %v", qc)
			}
			for _, f := range []string{"tokenizer.json", "tokenizer.model", "generation_config.json"} {
				_, srcErr := os.Stat(filepath.Join(fixtures, tc.model, f))
				if _, err := os.Stat(filepath.Join(dir, f)); (srcErr == nil) != (err == nil) {
					t.Errorf("%s: copied = %v, in the source = %v", f, err == nil, srcErr == nil)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "reference.safetensors")); err == nil {
				t.Error("reference.safetensors copied")
			}
		})
	}
}

// TestSaveReloadGPTQv2 checks the zero point 0 case, which the zero − 1
// convention cannot store: the checkpoint switches to gptq_v2.
func TestSaveReloadGPTQv2(t *testing.T) {
	m := loadFixture(t, "llama3-tiny")
	quant := map[string]*packed.Quantized{}
	for _, l := range blockLinears(m) {
		out, in := l.Host.Dims()
		q := rtn(packed.Weights(l.Host), out, in, 4, 32, false, nil)
		q.Zeros[0] = 0
		quant[l.Name] = q
	}
	re, dir := saveAndLoad(t, m, SaveOptions{Format: FormatGPTQ, Quant: quant})
	if cf := readConfig(t, dir)["quantization_config"].(map[string]any)["checkpoint_format"]; cf != "gptq_v2" {
		t.Fatalf("checkpoint_format = %v", cf)
	}
	for _, l := range blockLinears(re) {
		q := quant[l.Name]
		q.RoundScalesF16()
		want, got := q.Dequantize(), kernels.DenseWeights(l.Host)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: W[%d] = %g, want %g", l.Name, i, got[i], want[i])
			}
		}
	}
}

// w8a8Quant builds the W8A8 convention from float weights.
func w8a8Quant(w []float32, out, in int) *packed.Quantized {
	q := &packed.Quantized{Out: out, In: in, Bits: 8, GroupSize: -1, Sym: true, ActBits: 8,
		Q: make([]uint8, out*in), Scales: make([]float32, out), Zeros: make([]float32, out)}
	for o := 0; o < out; o++ {
		var a float64
		for _, v := range w[o*in : (o+1)*in] {
			a = math.Max(a, math.Abs(float64(v)))
		}
		s := float32(a / 127)
		if s == 0 {
			s = 1
		}
		q.Scales[o], q.Zeros[o] = s, 128
		for i, v := range w[o*in : (o+1)*in] {
			q.Q[o*in+i] = uint8(128 + math.RoundToEven(float64(v/s)))
		}
	}
	return q
}

func TestSaveReloadW8A8(t *testing.T) {
	m := loadFixture(t, "llama3-tiny")
	ref := loadFixture(t, "llama3-tiny")
	quant := map[string]*packed.Quantized{}
	refLins := blockLinears(ref)
	for li, l := range blockLinears(m) {
		out, in := l.Host.Dims()
		q := w8a8Quant(packed.Weights(l.Host), out, in)
		quant[l.Name] = q
		qm, err := q.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := qm.(*kernels.QuantW8A8Matrix); !ok {
			t.Fatalf("Matrix() = %T", qm)
		}
		if err := ref.SetWeight(refLins[li], qm, nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := Save(m, dir, SaveOptions{Format: FormatW8A8, Quant: quant}); err != nil {
		t.Fatal(err)
	}
	qc := readConfig(t, dir)["quantization_config"].(map[string]any)
	if qc["quant_method"] != "compressed-tensors" || qc["format"] != "int-quantized" {
		t.Fatalf("quantization_config = %v", qc)
	}
	if ig := fmt.Sprint(qc["ignore"]); ig != "[lm_head]" {
		t.Errorf("ignore = %s", ig)
	}
	// The loader on the written checkpoint, layer by layer.
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	qcRaw, _ := json.Marshal(qc)
	for _, l := range blockLinears(m) {
		mm, ok, err := packed.LoadLinear(ck, l.Name, qcRaw)
		if err != nil || !ok {
			t.Fatalf("%s: ok=%v err=%v", l.Name, ok, err)
		}
		a8, isA8 := mm.(*kernels.QuantW8A8Matrix)
		if !isA8 {
			t.Fatalf("%s: loaded as %T", l.Name, mm)
		}
		back, _ := packed.FromMatrix(a8)
		q := quant[l.Name]
		for i := range q.Q {
			if back.Q[i] != q.Q[i] {
				t.Fatalf("%s: code %d = %d, want %d", l.Name, i, back.Q[i], q.Q[i])
			}
		}
		for i := range q.Scales {
			if back.Scales[i] != q.Scales[i] {
				t.Fatalf("%s: scale %d = %g, want %g", l.Name, i, back.Scales[i], q.Scales[i])
			}
		}
	}
	// Through models.Load: compressed-tensors stores the int8 weights under
	// the dense name (prefix.weight is an int8 tensor).
	re, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	closeLogits(t, "W8A8 reload", logits(t, re, testIDs), logits(t, ref, testIDs))
}

// magnitude24 zeroes the two smallest |w| of every group of four.
func magnitude24(w []float32) []float32 {
	p := append([]float32(nil), w...)
	for g := 0; g+4 <= len(p); g += 4 {
		for k := 0; k < 2; k++ {
			mi := -1
			for j := g; j < g+4; j++ {
				if p[j] != 0 && (mi < 0 || math.Abs(float64(p[j])) < math.Abs(float64(p[mi]))) {
					mi = j
				}
			}
			if mi >= 0 {
				p[mi] = 0
			}
		}
	}
	return p
}

func TestSaveReloadSparse(t *testing.T) {
	for _, tc := range []struct{ model, format string }{
		{"llama3-tiny", FormatSparse24},
		{"opt-tiny", FormatSparse24},
		{"chatglm3-tiny", FormatSparse24},
		{"llama2-tiny", FormatDense},
	} {
		t.Run(tc.model+"/"+tc.format, func(t *testing.T) {
			m := loadFixture(t, tc.model)
			pruned := map[string][]float32{}
			for _, l := range blockLinears(m) {
				out, in := l.Host.Dims()
				w := magnitude24(packed.Weights(l.Host))
				pruned[l.Name] = w
				d, _ := kernels.NewDense(out, in, w)
				if err := m.SetWeight(l, d, nil); err != nil {
					t.Fatal(err)
				}
			}
			re, dir := saveAndLoad(t, m, SaveOptions{Format: tc.format, Meta: map[string]any{"method": "magnitude"}})
			for _, l := range blockLinears(re) {
				if tc.format == FormatSparse24 {
					if _, ok := l.Host.(*kernels.Sparse24Matrix); !ok {
						t.Fatalf("%s: reloaded as %T", l.Name, l.Host)
					}
				}
				got := kernels.DenseWeights(l.Host)
				for i, want := range pruned[l.Name] {
					if got[i] != want {
						t.Fatalf("%s: W[%d] = %g, want %g", l.Name, i, got[i], want)
					}
				}
			}
			closeLogits(t, "reloaded vs pruned model", logits(t, re, testIDs), logits(t, m, testIDs))
			nonLinearSame(t, m, re)
			cfg := readConfig(t, dir)
			rec := cfg["gollm_compression"].(map[string]any)
			sp := rec["sparsity"].(map[string]any)
			if g := sp["global"].(float64); g < 0.5 || g > 0.51 || sp["pattern"] != "2:4" {
				t.Errorf("sparsity record = %v", sp)
			}
			if rec["meta"].(map[string]any)["method"] != "magnitude" {
				t.Errorf("meta = %v", rec["meta"])
			}
			if tc.format == FormatSparse24 {
				sc := cfg["quantization_config"].(map[string]any)["sparsity_config"].(map[string]any)
				if sc["format"] != "sparse-24-bitmask" {
					t.Errorf("sparsity_config = %v", sc)
				}
			} else if _, has := cfg["quantization_config"]; has {
				t.Error("dense checkpoint has a quantization_config")
			}
		})
	}
}

// TestSaveShardsAndOverrides writes small shards with an index, replaces a
// norm and converts the dtype.
func TestSaveShardsAndOverrides(t *testing.T) {
	m := loadFixture(t, "llama3-tiny")
	norm := make([]float32, m.Config.Hidden)
	for i := range norm {
		norm[i] = float32(i) / 8
	}
	dir := t.TempDir()
	err := Save(m, dir, SaveOptions{Format: FormatDense, ShardBytes: 64 << 10, DType: tensor.F32,
		Tensors: map[string][]float32{"model.layers.0.input_layernorm.weight": norm}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors.index.json")); err != nil {
		t.Fatalf("no index: %v", err)
	}
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if len(ck.Files()) < 2 {
		t.Fatalf("%d shard(s)", len(ck.Files()))
	}
	tn, _ := ck.Tensor("model.layers.0.input_layernorm.weight")
	got, _ := tn.Float32()
	if tn.DType != tensor.F32 || !sameBits(got, norm) {
		t.Fatalf("override: %s %v", tn.DType, got[:4])
	}
	for _, name := range ck.Names() {
		if info, _ := ck.Info(name); info.DType != tensor.F32 {
			t.Fatalf("%s is %s, want F32", name, info.DType)
		}
	}
	if readConfig(t, dir)["torch_dtype"] != "float32" {
		t.Error("torch_dtype not updated")
	}
	re, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	re.Close()
}

func TestSaveErrors(t *testing.T) {
	m := loadFixture(t, "llama3-tiny")
	glm := loadFixture(t, "chatglm3-tiny")
	lins := blockLinears(m)
	good := func(bits, group int) map[string]*packed.Quantized {
		q := map[string]*packed.Quantized{}
		for _, l := range lins {
			out, in := l.Host.Dims()
			q[l.Name] = rtn(packed.Weights(l.Host), out, in, bits, group, false, nil)
		}
		return q
	}
	drop := good(4, 16)
	delete(drop, lins[0].Name)
	extra := good(4, 16)
	extra["lm_head"] = extra[lins[0].Name]
	unknown := good(4, 16)
	unknown["model.layers.0.nope"] = unknown[lins[0].Name]
	mixed := good(4, 16)
	o, i := lins[1].Host.Dims()
	mixed[lins[1].Name] = rtn(packed.Weights(lins[1].Host), o, i, 4, 32, false, nil)
	nan := good(4, 16)
	nan[lins[0].Name].Scales[0] = float32(math.NaN())
	act := good(4, 16)
	o, i = lins[0].Host.Dims()
	act[lins[0].Name] = rtn(packed.Weights(lins[0].Host), o, i, 4, 16, false, actOrderGIdx(i, 16, 1))
	w8 := good(8, -1)
	glmQ := map[string]*packed.Quantized{}
	for _, l := range blockLinears(glm) {
		out, in := l.Host.Dims()
		glmQ[l.Name] = rtn(packed.Weights(l.Host), out, in, 4, -1, false, nil)
	}
	tests := []struct {
		name  string
		model *models.Model
		dir   string
		opt   SaveOptions
		want  error
	}{
		{"unknown format", m, "", SaveOptions{Format: "int4"}, ErrBadSave},
		{"into the model's folder", m, filepath.Join(fixtures, "llama3-tiny"), SaveOptions{Format: FormatDense}, ErrBadSave},
		{"quant for dense", m, "", SaveOptions{Format: FormatDense, Quant: good(4, 16)}, ErrBadSave},
		{"missing block layer", m, "", SaveOptions{Format: FormatGPTQ, Quant: drop}, ErrBadSave},
		{"head quantized", m, "", SaveOptions{Format: FormatGPTQ, Quant: extra}, ErrBadSave},
		{"unknown layer", m, "", SaveOptions{Format: FormatGPTQ, Quant: unknown}, ErrBadSave},
		{"mixed group sizes", m, "", SaveOptions{Format: FormatGPTQ, Quant: mixed}, ErrBadSave},
		{"NaN scale", m, "", SaveOptions{Format: FormatGPTQ, Quant: nan}, packed.ErrBadQuant},
		{"3 bits, in not a multiple of 32", m, "", SaveOptions{Format: FormatGPTQ, Quant: good(3, 16)}, packed.ErrBadQuant},
		{"AWQ 3 bits", m, "", SaveOptions{Format: FormatAWQ, Quant: good(3, 16)}, packed.ErrBadQuant},
		{"AWQ act-order", m, "", SaveOptions{Format: FormatAWQ, Quant: act}, packed.ErrBadQuant},
		{"AWQ group not dividing", m, "", SaveOptions{Format: FormatAWQ, Quant: good(4, 32)}, packed.ErrBadQuant},
		{"W8A8 without the convention", m, "", SaveOptions{Format: FormatW8A8, Quant: w8}, packed.ErrBadQuant},
		{"2:4 on a dense model", m, "", SaveOptions{Format: FormatSparse24}, kernels.ErrNot24},
		{"GPTQ 4-bit, in·bits not a multiple of 32", glm, "", SaveOptions{Format: FormatGPTQ, Quant: glmQ}, packed.ErrBadQuant},
		{"override of a linear", m, "", SaveOptions{Format: FormatDense, Tensors: map[string][]float32{lins[0].Name + ".weight": {1}}}, ErrBadSave},
		{"override of a missing tensor", m, "", SaveOptions{Format: FormatDense, Tensors: map[string][]float32{"nope": {1}}}, ErrBadSave},
		{"override of the wrong length", m, "", SaveOptions{Format: FormatDense, Tensors: map[string][]float32{"model.norm.weight": {1}}}, ErrBadSave},
		{"int dtype", m, "", SaveOptions{Format: FormatDense, DType: tensor.I32}, ErrBadSave},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "out")
			}
			err := Save(tc.model, dir, tc.opt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.dir == "" && !errors.Is(tc.want, kernels.ErrNot24) {
				if _, statErr := os.Stat(dir); statErr == nil {
					t.Errorf("%s was created although Save failed its checks", dir)
				}
			}
		})
	}
}

// TestWriteFolder: WriteFolder shards as Save does, writes the config it is
// given, copies the source folder's other files but not its weights or
// config, and rewrites a folder in place (src "") with the new values.
func TestWriteFolder(t *testing.T) {
	src := t.TempDir()
	for name, body := range map[string]string{"config.json": `{"a": 1}`, "tokenizer.json": `{}`, "model.safetensors": "x", "old.bin": "x"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tensors := func(v float32) []*tensor.Tensor {
		var ts []*tensor.Tensor
		for _, name := range []string{"a.weight", "b.weight", "c.weight"} {
			x, err := tensor.Encode(name, tensor.F32, []int{4, 4}, slices.Repeat([]float32{v}, 16))
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, x)
		}
		return ts
	}
	for _, tc := range []struct {
		name       string
		shardBytes int64
		files      []string
	}{
		{"one-file", 0, []string{"config.json", "model.safetensors", "tokenizer.json"}},
		{"sharded", 100, []string{"config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
			"model-00003-of-00003.safetensors", "model.safetensors.index.json", "tokenizer.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, v := range []float32{1, 2} {
				from := src
				if i > 0 {
					from = "" // the rewrite in place
				}
				if err := WriteFolder(dir, from, tensors(v), map[string]any{"v": v}, tc.shardBytes); err != nil {
					t.Fatal(err)
				}
				if got := testfs.Entries(t, dir); !slices.Equal(got, tc.files) {
					t.Fatalf("write %d: files %v, want %v", i, got, tc.files)
				}
				if c := readConfig(t, dir); c["v"] != float64(v) {
					t.Errorf("write %d: config %v, want v = %v", i, c, v)
				}
				ck, err := tensor.OpenCheckpoint(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range ck.Names() {
					if f := testref.Float32(t, ck, name); f[0] != v {
						t.Errorf("write %d: %s = %v, want %v", i, name, f[0], v)
					}
				}
				ck.Close()
			}
		})
	}
}
