package models_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testref"
	"github.com/llmcbench/gollm/models"
)

// This file imports only models and tensor: a program that does not import
// compress loads every packed format the compressors write
// (testdata/packed, written by go run ./scripts/mkpacked) to the logits
// the compressors' own code computed for them.

// packedFolders are the checkpoints of scripts/mkpacked and the storage
// format their block linears load as.
var packedFolders = []struct{ dir, format string }{
	{"gptq", "int4-g16"},
	{"gptq-v2", "int2-g16"},
	{"gptq-a8", "int4-g16-a8"},
	{"awq", "int4-g16"},
	{"w8a8", "w8a8"},
	{"sparse24", "2:4"},
}

func TestLoadPackedFormats(t *testing.T) {
	for _, tc := range packedFolders {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "packed", tc.dir)
			m, err := models.Load(dir, models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for i := 0; i < m.NumLayers(); i++ {
				for _, l := range m.Linears(i) {
					if f := l.Host.Format(); f != tc.format {
						t.Fatalf("%s loaded as %s, want %s", l.Name, f, tc.format)
					}
				}
			}
			exp := testref.Load(t, filepath.Join(dir, "expected.safetensors"))
			ids, want := exp.IDs, exp.Logits
			got, err := m.NewState(len(ids)).Append(ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d logits, want %d", len(got), len(want))
			}
			// The expected logits come from the same weights; only the
			// kernels' summation order (AVX2 or pure Go) may differ.
			var scale, diff float64
			for i := range want {
				scale = math.Max(scale, math.Abs(float64(want[i])))
				diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
			}
			t.Logf("max |Δlogit| %.3g, max |logit| %.3g", diff, scale)
			if diff > 1e-4*scale {
				t.Errorf("logits differ by %.3g (max |logit| %.3g)", diff, scale)
			}
		})
	}
}

// A packed checkpoint whose quantization_config contradicts its tensors is
// refused with ErrBadModel naming the folder and the layer, not loaded to
// wrong weights.
func TestLoadPackedBadConfig(t *testing.T) {
	for _, tc := range []struct{ name, from, to string }{
		{"gptq bits", "\"bits\": 4,\n    \"checkpoint_format\"", "\"bits\": 2,\n    \"checkpoint_format\""},
		{"gptq method", `"quant_method": "gptq"`, `"quant_method": "marlin"`},
		{"gptq format", `"checkpoint_format": "gptq"`, `"checkpoint_format": "gptq_v3"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join("..", "testdata", "packed", "gptq")
			dir := t.TempDir()
			for _, f := range []string{"config.json", "model.safetensors"} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					t.Fatal(err)
				}
				if f == "config.json" {
					if !strings.Contains(string(b), tc.from) {
						t.Fatalf("config.json has no %s", tc.from)
					}
					b = []byte(strings.Replace(string(b), tc.from, tc.to, 1))
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := models.Load(dir, models.Options{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, models.ErrBadModel) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "model.layers.0.") {
				t.Errorf("error %q: want ErrBadModel naming %s and the layer", err, dir)
			}
		})
	}
}
