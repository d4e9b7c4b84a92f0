package models

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/internal/testref"
)

// TestBatchMatchesSequential runs members of different lengths and start
// positions through one Batch.Append and checks every member's logits
// against the same tokens appended to an identical state on its own, and
// that later single-state calls see the batch's cache entries.
func TestBatchMatchesSequential(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			rng := rand.New(rand.NewPCG(3, 4))
			toks := func(n int) []int {
				ids := make([]int, n)
				for i := range ids {
					ids[i] = rng.IntN(m.Config.Vocab)
				}
				return ids
			}
			cases := []struct{ prefix, n int }{{0, 5}, {7, 1}, {3, 20}, {0, 1}, {12, 3}}
			var batch, solo []*State
			var ids [][]int
			for _, c := range cases {
				b, s := m.NewState(64), m.NewState(64)
				if c.prefix > 0 {
					p := toks(c.prefix)
					for _, st := range []*State{b, s} {
						if _, err := st.Append(p); err != nil {
							t.Fatal(err)
						}
					}
				}
				batch, solo, ids = append(batch, b), append(solo, s), append(ids, toks(c.n))
			}
			out, err := m.NewBatch().Append(batch, ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				want, err := solo[i].Append(ids[i])
				if err != nil {
					t.Fatal(err)
				}
				if e := testref.RelErr(out[i], want); e > 1e-4 {
					t.Errorf("member %d (prefix %d, %d tokens): relative error %.2g", i, c.prefix, c.n, e)
				}
				if batch[i].Len() != c.prefix+c.n {
					t.Errorf("member %d: Len %d, want %d", i, batch[i].Len(), c.prefix+c.n)
				}
				next := toks(2)
				got, err := batch[i].Append(next)
				if err != nil {
					t.Fatal(err)
				}
				got = append([]float32(nil), got...)
				want, _ = solo[i].Append(next)
				if e := testref.RelErr(got, want); e > 1e-4 {
					t.Errorf("member %d: the step after the batch differs (relative error %.2g)", i, e)
				}
			}
		})
	}
}

// TestCopyPrefix continues a context copied from another state and
// compares with running the whole sequence on one state.
func TestCopyPrefix(t *testing.T) {
	for _, name := range testfs.Fixtures {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			seq := []int{1, 5, 9, 2, 7, 3, 8, 4}
			src, dst, ref := m.NewState(32), m.NewState(32), m.NewState(32)
			if _, err := src.Append(seq[:6]); err != nil {
				t.Fatal(err)
			}
			if _, err := dst.Append([]int{4, 4, 4, 4, 4, 4, 4, 4, 4}); err != nil { // stale contents to overwrite
				t.Fatal(err)
			}
			if err := dst.CopyPrefix(src, 5); err != nil {
				t.Fatal(err)
			}
			if dst.Len() != 5 {
				t.Fatalf("Len %d after CopyPrefix(5)", dst.Len())
			}
			got, err := dst.Append(seq[5:])
			if err != nil {
				t.Fatal(err)
			}
			all, err := ref.Append(seq)
			if err != nil {
				t.Fatal(err)
			}
			v := m.Config.Vocab
			if e := testref.RelErr(got, all[5*v:]); e > 1e-4 {
				t.Errorf("relative error %.2g", e)
			}
			if err := dst.CopyPrefix(src, 7); err == nil {
				t.Error("copying more positions than the source holds succeeded")
			}
		})
	}
}

// TestBatchErrors checks that bad batches fail before any member advances.
func TestBatchErrors(t *testing.T) {
	m, err := Load(filepath.Join("..", "testdata", "llama2-tiny"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a, b := m.NewState(8), m.NewState(8)
	for _, tc := range []struct {
		name   string
		states []*State
		ids    [][]int
		ctx    bool
	}{
		{"count mismatch", []*State{a, b}, [][]int{{1}}, false},
		{"empty member", []*State{a, b}, [][]int{{1}, {}}, false},
		{"duplicate member", []*State{a, a}, [][]int{{1}, {2}}, false},
		{"too long", []*State{a, b}, [][]int{{1}, {1, 2, 3, 4, 5, 6, 7, 8, 9}}, true},
		{"bad token", []*State{a, b}, [][]int{{1}, {-1}}, false},
	} {
		_, err := m.NewBatch().Append(tc.states, tc.ids)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if tc.ctx && !errors.Is(err, ErrContext) {
			t.Errorf("%s: %v does not match ErrContext", tc.name, err)
		}
		if a.Len() != 0 || b.Len() != 0 {
			t.Fatalf("%s: members advanced on error", tc.name)
		}
	}
}
