package study

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/synth"
)

// TestWorldCalibrationIsTheReferenceWorld holds the default study's
// calibration text, testdata/calib/world-validation.txt, equal to the
// validation split of the world the reference models are trained on, so
// that a change to synth cannot leave the default study calibrating on
// another world's text.
func TestWorldCalibrationIsTheReferenceWorld(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "calib", "world-validation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := synth.Generate(synth.ReferenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	f := out.File("corpus/validation.txt")
	if f == nil {
		t.Fatal("synth wrote no corpus/validation.txt")
	}
	if !bytes.Equal(f.Data, want) {
		t.Errorf("testdata/calib/world-validation.txt (%d bytes) differs from the reference world's corpus/validation.txt (%d bytes): copy it again from gollm synth --seed 1 --scale 2 --repeat 32", len(want), len(f.Data))
	}
}
