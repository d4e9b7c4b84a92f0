package outdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmcbench/gollm/internal/testfs"
)

// tree returns every file under dir with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		m[f] = string(b)
	}
	return m
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func stage(t *testing.T, d *Dir, files map[string]string) {
	for n, c := range files {
		write(t, d.Path(n), c)
	}
}

func TestCreateCommit(t *testing.T) {
	cases := []struct {
		name      string
		before    map[string]string // files in out before the run (nil: no folder)
		manifest  bool              // before was written by gollm
		overwrite bool
		wantErr   error
		after     map[string]string // expected files after Commit (manifest aside)
		staged    map[string]string // files the run writes (nil: a = new)
	}{
		{name: "new folder", after: map[string]string{"a": "new"}},
		{name: "empty folder", before: map[string]string{}, after: map[string]string{"a": "new"}},
		{name: "previous gollm output", before: map[string]string{"a": "old", "b": "old"}, manifest: true,
			after: map[string]string{"a": "new"}},
		{name: "another model", before: map[string]string{"config.json": "x", "model.safetensors": "w"}, wantErr: ErrForeign},
		{name: "another model with overwrite", before: map[string]string{"config.json": "x", "model.safetensors": "w"},
			overwrite: true, wantErr: ErrForeign},
		{name: "a dataset", before: map[string]string{"train.jsonl": "d"}, wantErr: ErrForeign},
		{name: "a dataset with overwrite", before: map[string]string{"train.jsonl": "d", "a": "old"}, overwrite: true,
			after: map[string]string{"train.jsonl": "d", "a": "new"}},
		// Several staged files: the manifest, which sorts first, must not
		// displace one of them (Commit once renamed it twice and lost the
		// last file).
		{name: "a dataset with overwrite, several files", before: map[string]string{"train.jsonl": "d"}, overwrite: true,
			staged: map[string]string{"a": "1", "b": "2", "c": "3", "sub/d": "4", "z": "5"},
			after:  map[string]string{"train.jsonl": "d", "a": "1", "b": "2", "c": "3", "sub/d": "4", "z": "5"}},
		{name: "previous gollm output, several files", before: map[string]string{"a": "old"}, manifest: true,
			staged: map[string]string{"a": "1", "b": "2", "c": "3", "z": "5"},
			after:  map[string]string{"a": "1", "b": "2", "c": "3", "z": "5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			if tc.before != nil {
				os.Mkdir(out, 0o755)
				for n, c := range tc.before {
					write(t, filepath.Join(out, n), c)
				}
				if tc.manifest {
					d0, err := Create(out+"0", Options{Command: "test"})
					if err != nil {
						t.Fatal(err)
					}
					stage(t, d0, tc.before)
					if err := d0.Commit(); err != nil {
						t.Fatal(err)
					}
					d0.Close()
					os.RemoveAll(out)
					if err := os.Rename(out+"0", out); err != nil {
						t.Fatal(err)
					}
				}
			}
			d, err := Create(out, Options{Command: "test", Overwrite: tc.overwrite})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Create = %v, want %v", err, tc.wantErr)
				}
				if got := tree(t, out); len(got) != len(tc.before) {
					t.Errorf("refused run changed out: %v", got)
				}
				if s := testfs.Entries(t, parent); len(s) != 1 {
					t.Errorf("refused run left %v", s)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			staged := tc.staged
			if staged == nil {
				staged = map[string]string{"a": "new"}
			}
			stage(t, d, staged)
			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
			d.Close()
			got := tree(t, out)
			if _, ok := got[ManifestName]; !ok {
				t.Errorf("no manifest in %v", got)
			}
			delete(got, ManifestName)
			if len(got) != len(tc.after) {
				t.Errorf("out = %v, want %v", got, tc.after)
			}
			for n, c := range tc.after {
				if got[n] != c {
					t.Errorf("%s = %q, want %q", n, got[n], c)
				}
			}
			if s := testfs.Entries(t, parent); len(s) != 1 || s[0] != "out" {
				t.Errorf("left beside out: %v", s)
			}
		})
	}
}

// An interrupted run (Abort without Commit) leaves out as it was and nothing
// beside it.
func TestAbortLeavesNothing(t *testing.T) {
	for _, existed := range []bool{false, true} {
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		if existed {
			d, _ := Create(out, Options{Command: "test"})
			stage(t, d, map[string]string{"config.json": "v1"})
			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
			d.Close()
		}
		before := tree(t, parent)
		d, err := Create(out, Options{Command: "test"})
		if err != nil {
			t.Fatal(err)
		}
		stage(t, d, map[string]string{"config.json": "v2", "model.safetensors": "half"})
		d.Abort()
		if after := tree(t, parent); len(after) != len(before) || after["out/config.json"] != before["out/config.json"] {
			t.Errorf("existed=%v: after abort %v, before %v", existed, after, before)
		}
	}
}

// A second run into the same folder is refused while the first holds it,
// and allowed once it is done.
func TestLock(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d1, err := Create(out, Options{Command: "compress"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(out, Options{Command: "compress"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Create = %v, want ErrBusy", err)
	}
	stage(t, d1, map[string]string{"a": "1"})
	if err := d1.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(out, Options{Command: "compress"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Create while the first still holds it after Commit = %v, want ErrBusy", err)
	}
	d1.Close()
	d2, err := Create(out, Options{Command: "compress"})
	if err != nil {
		t.Fatalf("Create after the first finished: %v", err)
	}
	d2.Abort()
}

// A file a user drops into out while a run goes on is not deleted when the
// run replaces the folder: it is kept beside.
func TestFileAddedDuringRunKept(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	d, _ := Create(out, Options{Command: "test"})
	stage(t, d, map[string]string{"a": "1"})
	d.Commit()
	d.Close()
	d, err := Create(out, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(out, "notes.txt"), "mine")
	stage(t, d, map[string]string{"a": "2"})
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d.Kept == "" {
		t.Fatal("no Kept folder")
	}
	if b, err := os.ReadFile(filepath.Join(d.Kept, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("user file lost: %q %v", b, err)
	}
	if tree(t, out)["a"] != "2" {
		t.Error("new output not in place")
	}
}

// Repeated commits (train's checkpoints) each leave a complete folder.
func TestRestage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	commitSteps(t, out, nil, func(i int, v string) {
		if got := tree(t, out)["step"]; got != v {
			t.Fatalf("after commit %d step = %q", i, got)
		}
	})
}

// commitSteps creates out for "train" and commits the steps "1", "2" and
// "3" to it (file "step"), re-staging before each later step; restaged and
// committed, when not nil, run after each re-stage and each commit. The
// folder is closed when the test ends.
func commitSteps(t *testing.T, out string, restaged, committed func(i int, v string)) {
	t.Helper()
	d, err := Create(out, Options{Command: "train"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for i, v := range []string{"1", "2", "3"} {
		if i > 0 {
			if err := d.Stage(); err != nil {
				t.Fatal(err)
			}
			if restaged != nil {
				restaged(i, v)
			}
		}
		stage(t, d, map[string]string{"step": v})
		if err := d.Commit(); err != nil {
			t.Fatal(err)
		}
		if committed != nil {
			committed(i, v)
		}
	}
}

func TestCreateBadPaths(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "file"), "x")
	for _, p := range []string{filepath.Join(dir, "file"), filepath.Join(dir, "missing", "out")} {
		if _, err := Create(p, Options{}); !errors.Is(err, ErrBadPath) {
			t.Errorf("Create(%s) = %v, want ErrBadPath", p, err)
		}
	}
}

// Two commits in one second that both keep a user's files: the second
// Kept folder gets its own name, never the staging name (which the next
// run would delete as stale).
func TestKeptNameTaken(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()
	commitSteps(t, out, func(_ int, v string) {
		write(t, filepath.Join(out, "notes.txt"), "mine "+v)
	}, nil)
	want := []string{".out.gollm-lock", "out", "out.gollm-kept-20260102T030405", "out.gollm-kept-20260102T030405-2"}
	if got := testfs.Entries(t, parent); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("parent holds %v, want %v", got, want)
	}
	for i, k := range want[2:] {
		if b, err := os.ReadFile(filepath.Join(parent, k, "notes.txt")); err != nil || string(b) != fmt.Sprintf("mine %d", i+2) {
			t.Errorf("%s/notes.txt: %q %v", k, b, err)
		}
	}
}

// Stale staging folders are matched by name: an output named "a*" does not
// remove the staging folder of a run writing "ab".
func TestStaleMatchLiteral(t *testing.T) {
	parent := t.TempDir()
	ab, err := Create(filepath.Join(parent, "ab"), Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer ab.Abort()
	star, err := Create(filepath.Join(parent, "a*"), Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer star.Abort()
	if _, err := os.Stat(ab.Tmp); err != nil {
		t.Fatalf("the staging folder of ab was removed: %v", err)
	}
}
