package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/models"
)

const (
	model = "../../testdata/llama3-tiny"
	calib = "../../testdata/calib/c4-sample.jsonl"
)

// Every method runs through Run and writes a checkpoint that loads and a
// compression.json with its canonical spec, wall time and peak memory.
func TestRunEveryMethod(t *testing.T) {
	small := "nsamples=2,seqlen=16"
	specs := map[string]string{
		compress.Magnitude:   "magnitude",
		compress.Wanda:       "wanda:" + small,
		compress.SparseGPT:   "sparsegpt:pattern=2:4," + small,
		compress.LLMPruner:   "llm-pruner:layer_ratio=0.5," + small,
		compress.RTN:         "rtn:bits=8,group=16",
		compress.GPTQ:        "gptq:group=16," + small,
		compress.AWQ:         "awq:group=16,sampling=window," + small,
		compress.SmoothQuant: "smoothquant:" + small,
		compress.OmniQuant:   "omniquant:group=16,epochs=1," + small,
	}
	for _, method := range compress.AllMethods {
		t.Run(method, func(t *testing.T) {
			spec, err := compress.ParseSpec(specs[method])
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			rec, err := Run(context.Background(), Job{Spec: spec, Model: model, Out: out, Calib: []string{calib}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			back, err := compress.ReadRecord(out)
			if err != nil {
				t.Fatal(err)
			}
			if back.Spec != spec.String() || rec.Spec != back.Spec || back.Config.Method != method || !(back.WallSeconds > 0) || back.Format == "" {
				t.Errorf("record: spec %q (want %q), method %q, wall %g s, format %q", back.Spec, spec, back.Config.Method, back.WallSeconds, back.Format)
			}
			if back.PeakRSSBytes <= 0 {
				t.Errorf("record: peak RSS %d", back.PeakRSSBytes)
			}
			if method == compress.SmoothQuant {
				return // models.Load does not yet read int8 .weight tensors (see compress's TestRunSavesAndReloads)
			}
			m, err := models.Load(out, models.Options{})
			if err != nil {
				t.Fatalf("output does not load: %v", err)
			}
			m.Close()
		})
	}
}

// Bad input is reported before any work, whichever package runs the
// method.
func TestRunBadInput(t *testing.T) {
	for _, s := range []string{"wanda", "llm-pruner:sparsity=0.2", "omniquant"} {
		spec, err := compress.ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		_, err = Run(context.Background(), Job{Spec: spec, Model: model, Out: out, Calib: []string{"nope.jsonl"}}, nil)
		if err == nil || !strings.Contains(err.Error(), "nope.jsonl") {
			t.Errorf("%s: %v, want an error naming the missing calibration file", s, err)
		}
		_, err = Run(context.Background(), Job{Spec: spec, Model: model, Out: out, Calib: []string{calib}, Device: "cuda"}, nil)
		if !errors.Is(err, compress.ErrBadInput) {
			t.Errorf("%s on cuda: %v, want bad input", s, err)
		}
	}
}
