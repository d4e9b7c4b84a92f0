package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/models"
)

// checkpointFiles are the files every checkpoint of the tiny LLaMA holds.
var checkpointFiles = []string{outdir.ManifestName, "config.json", "generation_config.json", "loss.csv", "loss.json",
	"model.safetensors", "tokenizer.json", "trainer_state.safetensors"}

// shortOptions is tinyOptions with a short schedule (each run is a second).
func shortOptions(t *testing.T, dir string, steps int) Options {
	o := tinyOptions(t, dir)
	o.Steps, o.Warmup, o.Batch, o.SeqLen = steps, 2, 4, 16
	o.Out = filepath.Join(dir, "out")
	return o
}

// checkCheckpoint asserts that dir holds exactly one complete checkpoint
// of step want, that the engine loads it, and that its weights are finite.
func checkCheckpoint(t *testing.T, dir string, want int) {
	t.Helper()
	if got := testfs.Entries(t, dir); strings.Join(got, " ") != strings.Join(checkpointFiles, " ") {
		t.Errorf("%s holds %v, want %v", dir, got, checkpointFiles)
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.step != want || len(st.curve) != want {
		t.Errorf("checkpoint of step %d with %d curve points, want step %d", st.step, len(st.curve), want)
	}
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatalf("models.Load: %v", err)
	}
	defer m.Close()
	logits, err := m.NewState(8).Append([]int{0, 5, 9, 12})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("checkpoint of step %d gives a non-finite logit", want)
		}
	}
}

// TestInterruptSavesCheckpoint: a run cancelled after K steps (with
// periodic saves before) leaves one complete checkpoint of step K in Out,
// and resuming from it reproduces the uninterrupted curve.
func TestInterruptSavesCheckpoint(t *testing.T) {
	const steps, stopAt = 12, 7
	dir := t.TempDir()
	o := shortOptions(t, dir, steps)
	o.Out = filepath.Join(dir, "full")
	full, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}

	o.Out, o.SaveEvery = filepath.Join(dir, "out"), 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.afterStep = func(tr *Trainer) {
		if tr.Opt.T == stopAt {
			cancel()
		}
	}
	_, err = Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	want := "interrupted at step 7; checkpoint saved in " + o.Out + " (continue with --resume)"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	checkCheckpoint(t, o.Out, stopAt)
	if got := testfs.Entries(t, dir); strings.Join(got, " ") != "corpus.txt full model.json out" {
		t.Errorf("left beside the checkpoint: %v", got)
	}

	res, err := Run(context.Background(), Options{Out: o.Out, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Curve) != steps {
		t.Fatalf("resumed curve has %d points, want %d", len(res.Curve), steps)
	}
	for i, p := range res.Curve {
		if p.Step != i+1 || math.Abs(p.Loss-full.Curve[i].Loss) > 1e-5*full.Curve[i].Loss {
			t.Fatalf("step %d: resumed loss %.7f (step %d), uninterrupted %.7f", i+1, p.Loss, p.Step, full.Curve[i].Loss)
		}
	}
	checkCheckpoint(t, o.Out, steps)
}

// TestNonFiniteLossKeepsCheckpoint corrupts a weight after some step: the
// next loss is NaN, the run stops with ErrDiverged, and Out keeps the last
// checkpoint saved before (or stays absent when none was).
func TestNonFiniteLossKeepsCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name               string
		saveEvery, corrupt int
		kept               int // step of the checkpoint left in Out; 0: none
		want               string
	}{
		{"after a save", 3, 4, 3, "loss is NaN at step 5; kept the checkpoint of step 3 in "},
		{"before any save", 0, 2, 0, "loss is NaN at step 3; no checkpoint was saved ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := shortOptions(t, dir, 10)
			o.SaveEvery = tc.saveEvery
			o.afterStep = func(tr *Trainer) {
				if tr.Opt.T == tc.corrupt {
					last := tr.Model.Specs[len(tr.Model.Specs)-1].Name // the final norm or the LM head
					tr.Model.Params[last].Val[0] = float32(math.NaN())
				}
			}
			_, err := Run(context.Background(), o)
			if !errors.Is(err, ErrDiverged) {
				t.Fatalf("error %v, want ErrDiverged", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("message %q, want it to start with %q", err, tc.want)
			}
			if tc.kept == 0 {
				if _, err := os.Stat(o.Out); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Out exists after a run that saved nothing: %v", err)
				}
				return
			}
			checkCheckpoint(t, o.Out, tc.kept)
		})
	}
}

// TestForeignOutRefused: an Out holding another model is refused before
// any work and left byte-identical, even with Overwrite; Overwrite over a
// folder of other (non-weight) files trains and keeps them.
func TestForeignOutRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		files     []string // copied from testdata/opt-tiny, or written
		overwrite bool
		refused   bool
	}{
		{"another model", []string{"config.json", "model.safetensors"}, false, true},
		{"another model, overwrite", []string{"config.json", "model.safetensors"}, true, true},
		{"notes", []string{"notes.txt"}, false, true},
		{"notes, overwrite", []string{"notes.txt"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := shortOptions(t, dir, 3)
			o.Overwrite = tc.overwrite
			if err := os.Mkdir(o.Out, 0o755); err != nil {
				t.Fatal(err)
			}
			before := map[string][]byte{}
			for _, f := range tc.files {
				b, err := os.ReadFile(filepath.Join("..", "testdata", "opt-tiny", f))
				if errors.Is(err, os.ErrNotExist) {
					b = []byte("my notes\n")
				} else if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(o.Out, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
				before[f] = b
			}
			_, err := Run(context.Background(), o)
			if tc.refused != errors.Is(err, outdir.ErrForeign) {
				t.Fatalf("error %v, want ErrForeign: %v", err, tc.refused)
			}
			for f, b := range before {
				if got, err := os.ReadFile(filepath.Join(o.Out, f)); err != nil || string(got) != string(b) {
					t.Errorf("%s changed (%v)", f, err)
				}
			}
			if got := testfs.Entries(t, dir); strings.Join(got, " ") != "corpus.txt model.json out" {
				t.Errorf("folder holds %v after the run", got)
			}
			if tc.refused {
				if got := testfs.Entries(t, o.Out); len(got) != len(tc.files) {
					t.Errorf("refused Out holds %v, want only %v", got, tc.files)
				}
			} else if _, err := models.Load(o.Out, models.Options{}); err != nil {
				t.Errorf("trained checkpoint: %v", err)
			}
		})
	}
}

// TestConcurrentRunRefused starts a second run into the same Out while the
// first is training: it is refused with ErrBusy, the first completes.
func TestConcurrentRunRefused(t *testing.T) {
	dir := t.TempDir()
	o := shortOptions(t, dir, 3)
	var second error
	started := false
	o.afterStep = func(tr *Trainer) {
		if !started {
			started = true
			o2 := o
			o2.afterStep = nil
			_, second = Run(context.Background(), o2)
		}
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(second, outdir.ErrBusy) {
		t.Errorf("second run: %v, want ErrBusy", second)
	}
	checkCheckpoint(t, o.Out, 3)
}

// TestResumeInputs: --resume needs a gollm train output and a schedule
// that goes on; the refusals change nothing.
func TestResumeInputs(t *testing.T) {
	dir := t.TempDir()
	o := shortOptions(t, dir, 3)
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model")
	os.Mkdir(model, 0o755)
	os.WriteFile(filepath.Join(model, "config.json"), []byte(tinyLlama), 0o644)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"missing folder", Options{Out: filepath.Join(dir, "nope"), Resume: true}, "does not exist"},
		{"not a gollm output", Options{Out: model, Resume: true}, "not a gollm train output"},
		{"already done", Options{Out: o.Out, Resume: true, Steps: 3}, "already at step 3"},
		{"steps below the checkpoint", Options{Out: o.Out, Resume: true, Steps: 2}, "already at step 3"},
	} {
		_, err := Run(context.Background(), tc.o)
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrBadInput with %q", tc.name, err, tc.want)
		}
	}
	checkCheckpoint(t, o.Out, 3)
}
