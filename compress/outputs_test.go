package compress

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/compress/llmpruner"
	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/models"
)

// outputCases are a fast method, calibrated ones (GPTQ packs, SparseGPT
// spills its blocks into the staging folder) and the two whole-model
// methods (LLM-Pruner interrupted while pruning and during LoRA recovery,
// which runs in the staging folder before the commit), each with the
// progress marker after which a test interrupts or races it.
var outputCases = []struct{ model, method, marker string }{
	{"llama3", Magnitude, "block 1/"},
	{"llama2", GPTQ, "block 1/"},
	{"opt", SparseGPT, "block 1/"},
	{"llama2", LLMPruner, "llm-pruner: layer "},
	{"llama2", LLMPruner, "LoRA recovery"},
	{"llama3", OmniQuant, "omniquant: block 1/"},
}

func outConfig(t *testing.T, model, method, out string) Config {
	c := fixtureConfig(t, model, method)
	c.Out = out
	switch method {
	case LLMPruner:
		text := filepath.Join(t.TempDir(), "recover.txt")
		if err := os.WriteFile(text, []byte(strings.Repeat("the cat sat on the mat and the dog ran to the log\n", 60)), 0o644); err != nil {
			t.Fatal(err)
		}
		c.LayerRatio, c.NSamples, c.Seqlen = 0.5, 2, 16
		c.LoRA = llmpruner.LoRAConfig{Steps: 4, Rank: 2, Alpha: 4, LR: 1e-2, Batch: 2, Seqlen: 16, Data: []string{text}, Seed: 1}
	case OmniQuant:
		c.Epochs, c.NSamples, c.Seqlen = 1, 2, 16
	}
	return c
}

// An interrupted run (ctx cancelled after the first block) leaves --out as
// it was: absent, or the previous output byte for byte, and nothing beside
// it (no staging folder, no lock).
func TestRunInterruptedLeavesOut(t *testing.T) {
	for _, tc := range outputCases {
		for _, previous := range []bool{false, true} {
			name := tc.model + "-" + tc.method + "-" + strings.TrimSuffix(strings.Fields(tc.marker)[0], ":") + map[bool]string{false: "-absent", true: "-previous"}[previous]
			t.Run(name, func(t *testing.T) {
				var prev func(out string)
				if previous {
					prev = func(out string) {
						if _, err := Run(context.Background(), outConfig(t, tc.model, RTN, out), nil); err != nil {
							t.Fatal(err)
						}
					}
				}
				testfs.InterruptedLeavesOut(t, tc.marker, prev, func(ctx context.Context, out string, w io.Writer) error {
					_, err := Run(ctx, outConfig(t, tc.model, tc.method, out), w)
					return err
				})
			})
		}
	}
}

// An --out holding files gollm did not write is refused (ErrForeign) and
// left byte for byte; --overwrite keeps a dataset file there and replaces
// nothing but the output's files, and is still refused over another
// model's weights.
func TestRunRefusesForeignOut(t *testing.T) {
	for _, tc := range outputCases[1:5:5] {
		t.Run(tc.model+"-"+tc.method, func(t *testing.T) {
			model := filepath.Join(t.TempDir(), "other-model")
			testfs.CopyTree(t, fixtures["opt"].dir, model)
			testfs.RefusesForeignOut(t, model, outdir.ErrForeign, func(out string, overwrite bool) error {
				c := outConfig(t, tc.model, tc.method, out)
				c.Overwrite = overwrite
				_, err := Run(context.Background(), c, nil)
				return err
			}, loads)
		})
	}
}

// Two runs into one --out at once: the second, started while the first
// holds the folder, is refused with ErrBusy naming the holder; the first
// completes and the folder is its output alone.
func TestRunConcurrentOut(t *testing.T) {
	for _, tc := range outputCases {
		if tc.method == SparseGPT || strings.HasPrefix(tc.marker, "LoRA") {
			continue // one run per kind is enough
		}
		t.Run(tc.model+"-"+tc.method, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			second := outConfig(t, tc.model, RTN, out)
			second.Bits = 8
			firstErr, err := testfs.WhileHeld(tc.marker, func(w io.Writer) error {
				_, err := Run(context.Background(), outConfig(t, tc.model, tc.method, out), w)
				return err
			}, func() error {
				_, err := Run(context.Background(), second, nil)
				return err
			})
			if firstErr != nil {
				t.Fatalf("first run: %v", firstErr)
			}
			if !errors.Is(err, outdir.ErrBusy) || !strings.Contains(err.Error(), "pid") {
				t.Fatalf("second run: err = %v, want ErrBusy naming the holder", err)
			}
			rec, err := ReadRecord(out)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Config.Method != tc.method {
				t.Errorf("record of method %q, want the first run's %q", rec.Config.Method, tc.method)
			}
			loads(t, out)
		})
	}
}

// A run into the output of an earlier run replaces it: the second run's
// files only (no leftover quantize_config.json of the packed first run),
// and it loads.
func TestRunReplacesOwnOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	first := outConfig(t, "llama2", RTN, out)
	if _, err := Run(context.Background(), first, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "quantize_config.json")); err != nil {
		t.Fatalf("the GPTQ-format output has no quantize_config.json: %v", err)
	}
	second := outConfig(t, "llama2", Magnitude, out)
	if _, err := Run(context.Background(), second, nil); err != nil {
		t.Fatalf("re-run into its own output: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "quantize_config.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("quantize_config.json of the replaced output left behind (%v)", err)
	}
	rec, err := ReadRecord(out)
	if err != nil || rec.Config.Method != Magnitude {
		t.Fatalf("record %+v, %v", rec, err)
	}
	loads(t, out)
	if got := testfs.Entries(t, filepath.Dir(out)); !slices.Equal(got, []string{"out"}) {
		t.Errorf("beside --out: %v", got)
	}
}

// loads fails t unless dir loads as a model.
func loads(t testing.TB, dir string) {
	t.Helper()
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatalf("%s does not load: %v", dir, err)
	}
	m.Close()
}
