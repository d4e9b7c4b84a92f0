// Package testfs holds the file-system helpers the tests of several packages
// share: writing an input file, hashing a folder before and after a run,
// listing and copying folders, the output-safety checks of a run that is
// interrupted (InterruptedLeavesOut), writes into an --out it does not own
// (RefusesForeignOut) or meets a second run into its --out (WhileHeld), a
// progress writer that fires a hook (to cancel a run at a chosen point),
// the golden files of the compression tests (Golden, GoldenTree,
// ReadGolden, WriteGolden, GoldenDiff and the -update flag), and the check
// that a bad-input error is one line naming what it must (OneLineError).
// Only tests import it; it imports no gollm package.
package testfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Fixtures names the tiny fixture models in testdata/ (one folder each,
// with the reference outputs transformers recorded), every architecture
// and attention layout gollm supports.
var Fixtures = []string{"llama2-tiny", "llama3-tiny", "opt-tiny", "opt350-tiny", "chatglm3-tiny"}

// WriteFile writes data to dir/name and returns the path; it fails the test
// on an error.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// HashTree maps every file under dir (relative path, hidden files
// included) to its SHA-256; nil if dir does not exist.
func HashTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return hashFiles(t, dir, nil)
}

// hashFiles maps every file under dir (slash-separated relative path) to
// the SHA-256 of its bytes as edit returns them (as read when edit is nil).
func hashFiles(t testing.TB, dir string, edit func(p string, b []byte) ([]byte, error)) map[string]string {
	t.Helper()
	h := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if edit != nil {
			if b, err = edit(p, b); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(b)
		h[filepath.ToSlash(rel)] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Entries lists the names in dir.
func Entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// CopyTree copies the regular files of src (one level) into dst.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range Entries(t, src) {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// HookWriter is a progress writer calling Hook once, on the first write
// that contains Marker. It is safe for concurrent use.
type HookWriter struct {
	Marker string
	Hook   func()
	mu     sync.Mutex
	done   bool
}

func (w *HookWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && strings.Contains(string(p), w.Marker) {
		w.done = true
		w.Hook()
	}
	return len(p), nil
}

// Fired reports whether the hook has run.
func (w *HookWriter) Fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// RefusesForeignOut checks how a run writing a model folder treats an
// --out it does not own. run(out, overwrite) runs into out;
// loads(t, dir) fails t unless dir loads as a model. Into other (a folder holding another model's
// files) the run must fail with an error wrapping foreign (outdir's
// ErrForeign) and naming "--out <folder>", with and without overwrite, and
// so must it into a folder holding a dataset file without overwrite; each
// refused folder is left byte for byte. With overwrite the run into the
// dataset folder must succeed, keep the dataset file, write an output
// that loads and leave nothing beside the folder.
func RefusesForeignOut(t *testing.T, other string, foreign error, run func(out string, overwrite bool) error, loads func(t testing.TB, dir string)) {
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
	loads(t, data)
	if got := Entries(t, filepath.Dir(data)); !slices.Equal(got, []string{"data"}) {
		t.Errorf("beside --out: %v", got)
	}
}

// InterruptedLeavesOut checks that a run cancelled at its first progress
// write holding marker leaves its --out as it was: absent, or, when
// previous is not nil (it runs into out to completion first), the
// previous output byte for byte; and nothing beside it (no staging
// folder, no lock). run(ctx, out, w) runs into out with progress writer
// w. It returns out.
func InterruptedLeavesOut(t *testing.T, marker string, previous func(out string), run func(ctx context.Context, out string, w io.Writer) error) string {
	t.Helper()
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	var want []string
	if previous != nil {
		previous(out)
		want = []string{"out"}
	}
	before := HashTree(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &HookWriter{Marker: marker, Hook: cancel}
	err := run(ctx, out, w)
	if !w.Fired() {
		t.Fatalf("the run never wrote %q", marker)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if after := HashTree(t, out); !maps.Equal(before, after) {
		t.Errorf("--out changed by the interrupted run:\nbefore %v\nafter  %v", before, after)
	}
	if got := Entries(t, parent); !slices.Equal(got, want) {
		t.Errorf("beside --out: %v, want %v", got, want)
	}
	return out
}

// WhileHeld runs first with a progress writer that, at first's first write
// holding marker, runs second to its end before letting first go on: a
// second run started while the first holds its --out. It returns both
// errors; when first never writes marker, second runs after it.
func WhileHeld(marker string, first func(w io.Writer) error, second func() error) (firstErr, secondErr error) {
	w := &HookWriter{Marker: marker, Hook: func() { secondErr = second() }}
	firstErr = first(w)
	if !w.Fired() {
		secondErr = second()
	}
	return firstErr, secondErr
}

// OneLineError fails t unless err is an error whose message is one line
// holding every string of want: the form a bad-input error takes on the
// command line.
func OneLineError(t testing.TB, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
}
