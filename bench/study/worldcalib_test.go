package study

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/synth"
)

// TestWorldCalibrationIsTheReferenceWorld holds the default study's
// calibration documents, testdata/calib/world-validation.jsonl (C4's
// layout: one {"text"} per line), equal to the documents of the validation
// split of the world the reference models are trained on (corpus/
// validation.txt, split at its blank lines), so that a change to synth
// cannot leave the default study calibrating on another world's text.
func TestWorldCalibrationIsTheReferenceWorld(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "calib", "world-validation.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d: %v", len(got)+1, err)
		}
		got = append(got, rec.Text)
	}
	if err := sc.Err(); err != nil {
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
