package testfs

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/models"
)

// RefusesForeignOut checks how a run writing a model folder treats an
// --out it does not own. run(out, overwrite) runs into out. Into other (a folder holding another model's
// files) the run must fail with an error wrapping foreign (outdir's
// ErrForeign) and naming "--out <folder>", with and without overwrite, and
// so must it into a folder holding a dataset file without overwrite; each
// refused folder is left byte for byte. With overwrite the run into the
// dataset folder must succeed, keep the dataset file, write an output
// that loads and leave nothing beside the folder.
func RefusesForeignOut(t *testing.T, other string, foreign error, run func(out string, overwrite bool) error) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	WriteFile(t, data, "train.jsonl", []byte(`{"text": "keep me"}`+"\n"))
	for _, step := range []struct {
		out       string
		overwrite bool
	}{{other, false}, {other, true}, {data, false}} {
		before := HashTree(t, step.out)
		err := run(step.out, step.overwrite)
		if !errors.Is(err, foreign) || !strings.Contains(err.Error(), "--out "+step.out) {
			t.Fatalf("--out %s (overwrite %v): err = %v, want %v naming --out", step.out, step.overwrite, err, foreign)
		}
		if after := HashTree(t, step.out); !maps.Equal(before, after) {
			t.Fatalf("--out %s changed by a refused run", step.out)
		}
	}
	before := HashTree(t, data)
	if err := run(data, true); err != nil {
		t.Fatal(err)
	}
	if HashTree(t, data)["train.jsonl"] != before["train.jsonl"] {
		t.Error("the run with overwrite changed or removed the dataset file")
	}
	Loads(t, data)
	if got := Entries(t, filepath.Dir(data)); !slices.Equal(got, []string{"data"}) {
		t.Errorf("beside --out: %v", got)
	}
}

// Loads fails the test unless dir loads as a model (models.Load).
func Loads(t testing.TB, dir string) {
	t.Helper()
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatalf("%s does not load: %v", dir, err)
	}
	m.Close()
}
