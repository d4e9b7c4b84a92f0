package llmpruner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/models"
)

// outputsSetup returns a small model, a config pruning it into out and a
// LoRA recovery config of a few steps.
func outputsSetup(t *testing.T, model, out string) (Config, LoRAConfig) {
	t.Helper()
	src, err := models.LoadConfig(model)
	if err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "recover.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("the cat sat on the mat and the dog ran to the log\n", 60)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{Model: model, Out: out, LayerRatio: 0.5, Samples: randomSamples(2, 16, src.Vocab, 9), Tokenizer: byteTokenizer{src.Vocab}}
	lc := LoRAConfig{Steps: 4, Rank: 2, Alpha: 4, LR: 1e-2, Batch: 2, Seqlen: 16, Data: []string{text}, Seed: 1}
	return c, lc
}

// An interrupted run, while pruning or during LoRA recovery (which runs in
// the staging folder, before the commit), leaves --out as it was: absent
// or the previous output byte for byte, and nothing beside it.
func TestPruneInterruptedLeavesOut(t *testing.T) {
	model := tinyLlama(t)
	for _, tc := range []struct {
		name, marker string
	}{
		{"pruning", "llm-pruner: layer "},
		{"LoRA recovery", "LoRA recovery"},
	} {
		for _, previous := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: " into a new folder", true: " over a previous output"}[previous], func(t *testing.T) {
				var prev func(out string)
				if previous {
					prev = func(out string) {
						c, _ := outputsSetup(t, model, out)
						if _, err := Prune(context.Background(), c, nil); err != nil {
							t.Fatal(err)
						}
					}
				}
				testfs.InterruptedLeavesOut(t, tc.marker, prev, func(ctx context.Context, out string, w io.Writer) error {
					c, lc := outputsSetup(t, model, out)
					_, _, err := PruneRecover(ctx, c, lc, w)
					return err
				})
			})
		}
	}
}

// An --out holding another model is refused, with or without Overwrite,
// and left byte for byte; Overwrite over a folder holding a dataset file
// keeps the file.
func TestPruneRefusesForeignOut(t *testing.T) {
	model := tinyLlama(t)
	testfs.RefusesForeignOut(t, tinyLlama(t), outdir.ErrForeign, func(out string, overwrite bool) error {
		c, lc := outputsSetup(t, model, out)
		c.Overwrite = overwrite
		_, _, err := PruneRecover(context.Background(), c, lc, nil)
		return err
	}, loads)
}

// Two runs into one --out at once: the one started while the other holds
// the folder gets ErrBusy, and the folder holds the first run's complete
// output (its LoRA record included).
func TestPruneConcurrentOut(t *testing.T) {
	model := tinyLlama(t)
	out := filepath.Join(t.TempDir(), "out")
	c, lc := outputsSetup(t, model, out)
	second, _ := outputsSetup(t, model, out)
	second.LayerRatio = 0.25
	firstErr, err := testfs.WhileHeld("llm-pruner: layer ", func(w io.Writer) error {
		_, _, err := PruneRecover(context.Background(), c, lc, w)
		return err
	}, func() error {
		_, err := Prune(context.Background(), second, nil)
		return err
	})
	if firstErr != nil {
		t.Fatalf("first run: %v", firstErr)
	}
	if !errors.Is(err, outdir.ErrBusy) {
		t.Fatalf("second run: err = %v, want ErrBusy", err)
	}
	cfg, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `"llm_pruner_lora"`) || !strings.Contains(string(cfg), `"layer_ratio": 0.5`) {
		t.Errorf("config.json is not the first run's (LoRA record, layer ratio 0.5):\n%s", cfg)
	}
	loads(t, out)
}

// A run into its own previous output replaces it: the LoRA record of the
// first run is gone, the folder loads.
func TestPruneReplacesOwnOutput(t *testing.T) {
	model := tinyLlama(t)
	out := filepath.Join(t.TempDir(), "out")
	c, lc := outputsSetup(t, model, out)
	if _, lr, err := PruneRecover(context.Background(), c, lc, nil); err != nil || lr == nil {
		t.Fatalf("first run: %v (LoRA result %v)", err, lr)
	}
	c.LayerRatio = 0.25
	if _, err := Prune(context.Background(), c, nil); err != nil {
		t.Fatalf("re-run into its own output: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), `"llm_pruner_lora"`) || !strings.Contains(string(cfg), `"layer_ratio": 0.25`) {
		t.Errorf("config.json is not the second run's:\n%s", cfg)
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
