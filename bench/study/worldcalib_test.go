package study

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/synth"
)

// TestWorldCalibrationIsTheReferenceWorld holds the default study's
// calibration documents, testdata/calib/world-validation.jsonl (C4's
// layout: one {"text"} per line), equal to the documents of the validation
// split of the world the reference models are trained on (corpus/
// validation.txt, split at its blank lines), so that a change to synth
// cannot leave the default study calibrating on another world's text.
func TestWorldCalibrationIsTheReferenceWorld(t *testing.T) {
	// Read as the calibration loaders read it.
	got, _, err := corpus.Read([]string{filepath.Join("..", "..", "testdata", "calib", "world-validation.jsonl")}, corpus.Whole)
	if err != nil {
		t.Fatal(err)
	}
	out, err := synth.Generate(synth.ReferenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	v := out.File("corpus/validation.txt")
	if v == nil {
		t.Fatal("synth wrote no corpus/validation.txt")
	}
	var want []string
	for _, d := range strings.Split(string(v.Data), "\n\n") {
		if strings.TrimSpace(d) != "" {
			want = append(want, strings.Trim(d, "\n"))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("testdata/calib/world-validation.jsonl (%d documents) differs from the reference world's corpus/validation.txt (%d documents): write it again from gollm synth --seed 1 --scale 2 --repeat 32 (testdata/calib/README.md)", len(got), len(want))
	}
}
