package omniquant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/llmcbench/gollm/internal/outdir"
	"github.com/llmcbench/gollm/models"
)

// outHash maps every file under dir (relative path, hidden files included)
// to its SHA-256; nil if dir does not exist.
func outHash(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	h := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(b)
		h[rel] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func outEntries(t *testing.T, dir string) []string {
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

// outHook calls hook once, on the first write containing marker.
type outHook struct {
	mu     sync.Mutex
	marker string
	hook   func()
	done   bool
}

func (w *outHook) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && strings.Contains(string(p), w.marker) {
		w.done = true
		w.hook()
	}
	return len(p), nil
}

const outModel = "../../testdata/llama3-tiny"

// outConfig is a quick W4 run (one epoch, two short samples) into out.
func outConfig(t *testing.T, out string) Config {
	return Config{Model: outModel, Out: out, WBits: 4, GroupSize: 16, Epochs: 1,
		Calib: []string{calibFile(t)}, NSamples: 2, Seqlen: 16, Tokenizer: tok(t, outModel)}
}

func outLoads(t *testing.T, dir string) {
	t.Helper()
	m, err := models.Load(dir, models.Options{})
	if err != nil {
		t.Fatalf("%s does not load: %v", dir, err)
	}
	m.Close()
}

// An interrupted run (ctx cancelled after the first block) leaves --out as
// it was, absent or the previous output byte for byte, and nothing beside
// it; a re-run into the previous output replaces it.
func TestQuantizeInterruptedLeavesOut(t *testing.T) {
	for _, previous := range []bool{false, true} {
		t.Run(map[bool]string{false: "new folder", true: "previous output"}[previous], func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			if previous {
				if _, err := Quantize(context.Background(), outConfig(t, out), nil); err != nil {
					t.Fatal(err)
				}
			}
			before := outHash(t, out)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &outHook{marker: "omniquant: block 1/", hook: cancel}
			_, err := Quantize(ctx, outConfig(t, out), w)
			if !w.done {
				t.Fatal("the run never reported its first block")
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if after := outHash(t, out); !maps.Equal(before, after) {
				t.Errorf("--out changed by the interrupted run:\nbefore %v\nafter  %v", before, after)
			}
			want := []string(nil)
			if previous {
				want = []string{"out"}
			}
			if got := outEntries(t, parent); !slices.Equal(got, want) {
				t.Errorf("beside --out: %v, want %v", got, want)
			}
			if previous {
				c := outConfig(t, out)
				c.WBits = 8
				if _, err := Quantize(context.Background(), c, nil); err != nil {
					t.Fatalf("re-run into its own output: %v", err)
				}
				if maps.Equal(before, outHash(t, out)) {
					t.Error("the re-run did not replace the output")
				}
				outLoads(t, out)
			}
		})
	}
}

// An --out holding another model is refused with and without Overwrite,
// byte for byte unchanged; Overwrite keeps a dataset file.
func TestQuantizeRefusesForeignOut(t *testing.T) {
	parent := t.TempDir()
	other := filepath.Join(parent, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range outEntries(t, outModel) {
		b, err := os.ReadFile(filepath.Join(outModel, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(parent, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "train.jsonl"), []byte(`{"text": "keep"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		out       string
		overwrite bool
	}{{other, false}, {other, true}, {data, false}} {
		before := outHash(t, tc.out)
		c := outConfig(t, tc.out)
		c.Overwrite = tc.overwrite
		_, err := Quantize(context.Background(), c, nil)
		if !errors.Is(err, outdir.ErrForeign) || !strings.Contains(err.Error(), "--out "+tc.out) {
			t.Fatalf("--out %s (overwrite %v): err = %v, want ErrForeign naming --out", tc.out, tc.overwrite, err)
		}
		if !maps.Equal(before, outHash(t, tc.out)) {
			t.Fatalf("--out %s changed by a refused run", tc.out)
		}
	}
	before := outHash(t, data)
	c := outConfig(t, data)
	c.Overwrite = true
	if _, err := Quantize(context.Background(), c, nil); err != nil {
		t.Fatal(err)
	}
	if outHash(t, data)["train.jsonl"] != before["train.jsonl"] {
		t.Error("the dataset file was changed or removed")
	}
	outLoads(t, data)
}

// Two runs into one --out at once: the second gets ErrBusy; the folder
// holds the first run's complete output.
func TestQuantizeConcurrentOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	started, release := make(chan struct{}), make(chan struct{})
	var firstErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := &outHook{marker: "omniquant: block 1/", hook: func() {
			close(started)
			<-release
		}}
		_, firstErr = Quantize(context.Background(), outConfig(t, out), w)
		if !w.done {
			close(started)
		}
	}()
	<-started
	second := outConfig(t, out)
	second.WBits = 8
	_, err := Quantize(context.Background(), second, nil)
	close(release)
	wg.Wait()
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
	outLoads(t, out)
}
