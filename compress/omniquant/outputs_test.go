package omniquant

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/models"
)

const outModel = "../../testdata/llama3-tiny"

// outConfig is a quick W4 run (one epoch, two short samples) into out.
func outConfig(t *testing.T, out string) Config {
	return Config{Model: outModel, Out: out, WBits: 4, GroupSize: 16, Epochs: 1,
		Calib: []string{calibFile(t)}, NSamples: 2, Seqlen: 16, Tokenizer: tok(t, outModel)}
}

// An interrupted run (ctx cancelled after the first block) leaves --out as
// it was, absent or the previous output byte for byte, and nothing beside
// it; a re-run into the previous output replaces it.
func TestQuantizeInterruptedLeavesOut(t *testing.T) {
	for _, previous := range []bool{false, true} {
		t.Run(map[bool]string{false: "new folder", true: "previous output"}[previous], func(t *testing.T) {
			var prev func(out string)
			if previous {
				prev = func(out string) {
					if _, err := Quantize(context.Background(), outConfig(t, out), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			out := testfs.InterruptedLeavesOut(t, "omniquant: block 1/", prev, func(ctx context.Context, out string, w io.Writer) error {
				_, err := Quantize(ctx, outConfig(t, out), w)
				return err
			})
			before := testfs.HashTree(t, out)
			if previous {
				c := outConfig(t, out)
				c.WBits = 8
				if _, err := Quantize(context.Background(), c, nil); err != nil {
					t.Fatalf("re-run into its own output: %v", err)
				}
				if maps.Equal(before, testfs.HashTree(t, out)) {
					t.Error("the re-run did not replace the output")
				}
				loads(t, out)
			}
		})
	}
}

// An --out holding another model is refused with and without Overwrite,
// byte for byte unchanged; Overwrite keeps a dataset file.
func TestQuantizeRefusesForeignOut(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other")
	testfs.CopyTree(t, outModel, other)
	testfs.RefusesForeignOut(t, other, outdir.ErrForeign, func(out string, overwrite bool) error {
		c := outConfig(t, out)
		c.Overwrite = overwrite
		_, err := Quantize(context.Background(), c, nil)
		return err
	}, loads)
}

// Two runs into one --out at once: the second gets ErrBusy; the folder
// holds the first run's complete output.
func TestQuantizeConcurrentOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	second := outConfig(t, out)
	second.WBits = 8
	firstErr, err := testfs.WhileHeld("omniquant: block 1/", func(w io.Writer) error {
		_, err := Quantize(context.Background(), outConfig(t, out), w)
		return err
	}, func() error {
		_, err := Quantize(context.Background(), second, nil)
		return err
	})
	if firstErr != nil {
		t.Fatalf("first run: %v", firstErr)
	}
	if !errors.Is(err, outdir.ErrBusy) {
		t.Fatalf("second run: err = %v, want ErrBusy", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"wbits": 4`) {
		t.Errorf("config.json is not the first (4-bit) run's:\n%s", b)
	}
	loads(t, out)
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
