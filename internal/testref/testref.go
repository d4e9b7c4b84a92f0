// Package testref reads, in tests, what a reference implementation
// recorded for a fixture model (the fixtures' reference.safetensors from
// transformers, the packed fixtures' expected.safetensors) and the float
// tensors of a checkpoint. Only tests import it; it imports no gollm
// package but tensor, so tensor's own tests cannot use it.
package testref

import (
	"fmt"
	"math"
	"testing"

	"github.com/llmcbench/gollm/tensor"
)

// Source is what holds named tensors: a *tensor.File or a
// *tensor.Checkpoint.
type Source interface {
	Tensor(name string) (*tensor.Tensor, error)
}

// get returns src's tensor name; it fails the test if it is missing.
func get(t testing.TB, src Source, name string) *tensor.Tensor {
	t.Helper()
	x, err := src.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Float32 returns the values of src's tensor name as float32; it fails the
// test if the tensor is missing or not a number type.
func Float32(t testing.TB, src Source, name string) []float32 {
	t.Helper()
	v, err := get(t, src, name).Float32()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// Ints returns the values of src's integer tensor name as ints, and its
// shape; it fails the test if the tensor is missing or not an integer type.
func Ints(t testing.TB, src Source, name string) ([]int, []int) {
	t.Helper()
	x := get(t, src, name)
	v, err := x.Int64()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]int, len(v))
	for i, id := range v {
		out[i] = int(id)
	}
	return out, x.Shape
}

// Reference is a reference file: input_ids [B, S] (or [S], one row) and
// logits [B, S, V] (or [S, V]), and, where recorded, hidden_states.0, .1, …
// and greedy_ids.
type Reference struct {
	// Rows holds input_ids row by row; IDs the same ids concatenated.
	Rows [][]int
	IDs  []int
	// Logits is [B, S, Vocab].
	Logits []float32
	Vocab  int
	// Hidden holds hidden_states.i for i = 0, 1, … and HiddenShapes their
	// shapes (none where the file records none).
	Hidden       [][]float32
	HiddenShapes [][]int
	// Greedy is greedy_ids (nil where the file records none).
	Greedy []int
}

// Load reads the reference file at path; it fails the test if the file
// cannot be read or lacks input_ids or logits of matching shapes.
func Load(t testing.TB, path string) *Reference {
	t.Helper()
	f, err := tensor.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, shape := Ints(t, f, "input_ids")
	if len(shape) == 1 {
		shape = []int{1, shape[0]}
	}
	r := &Reference{IDs: ids, Logits: Float32(t, f, "logits")}
	info, _ := f.Info("logits")
	if len(shape) != 2 || len(info.Shape) < 2 || tensor.Numel(info.Shape[:len(info.Shape)-1]) != len(ids) {
		t.Fatalf("%s: input_ids %v and logits %v, want [B, S] (or [S]) and [B, S, V]", path, shape, info.Shape)
	}
	r.Vocab = info.Shape[len(info.Shape)-1]
	for b := range shape[0] {
		r.Rows = append(r.Rows, ids[b*shape[1]:(b+1)*shape[1]])
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("hidden_states.%d", i)
		info, ok := f.Info(name)
		if !ok {
			break
		}
		r.Hidden = append(r.Hidden, Float32(t, f, name))
		r.HiddenShapes = append(r.HiddenShapes, info.Shape)
	}
	if _, ok := f.Info("greedy_ids"); ok {
		r.Greedy, _ = Ints(t, f, "greedy_ids")
	}
	return r
}

// RelErr is max|got−want| / max|want| (max|got−want| where want is all
// zero): the error relative to the scale of the tensor, as element-wise
// relative error is meaningless near zero. A NaN difference gives +Inf, so
// a comparison against a tolerance fails.
func RelErr(got, want []float32) float64 {
	var md, mw float64
	for i := range want {
		d := math.Abs(float64(got[i] - want[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		md = math.Max(md, d)
		mw = math.Max(mw, math.Abs(float64(want[i])))
	}
	if mw == 0 {
		return md
	}
	return md / mw
}

// LogProb is log softmax(row)[i] computed in float64 from the definition
// (max-shifted), independently of the kernels whose results tests check
// against it.
func LogProb(row []float32, i int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for _, v := range row {
		z += math.Exp(float64(v) - mx)
	}
	return float64(row[i]) - mx - math.Log(z)
}
