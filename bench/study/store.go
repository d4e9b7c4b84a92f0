package study

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/internal/outdir"
)

// Study folder layout (docs/BENCH.md; the rest is bench.StudyFileName,
// bench.CellsDir, bench.SamplesDir and bench.CheckpointsDir).
const (
	WorldDir    = "world"
	digestsFile = ".digests.json"
)

// DefaultDir is the study folder when gollm bench is given no --out.
const DefaultDir = "gollm-study"

// Version returns gollm's version for cell keys: the VCS revision the
// binary was built from ("+dirty" when modified), or "devel" (tests, go
// run without VCS information).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// readCell reads the cell file of key. ok is false when there is none;
// err is set when the file exists but cannot be trusted (unreadable, not
// JSON, another schema or key).
func readCell(dir, key string) (c *bench.Cell, ok bool, err error) {
	path := filepath.Join(dir, bench.CellsDir, key+".json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	c = &bench.Cell{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, false, fmt.Errorf("%s: not a cell file: %v", path, err)
	}
	switch {
	case c.Schema != bench.CellSchema:
		return nil, false, fmt.Errorf("%s: schema %d, want %d", path, c.Schema, bench.CellSchema)
	case c.Key != key || bench.KeyOf(c.Kind, c.Inputs) != key:
		return nil, false, fmt.Errorf("%s: its key and inputs do not match its name", path)
	case c.Status != bench.StatusOK && c.Status != bench.StatusFailed:
		return nil, false, fmt.Errorf("%s: unknown status %q", path, c.Status)
	}
	return c, true, nil
}

// writeCell writes c atomically (temporary file, then rename).
func writeCell(dir string, c *bench.Cell) error {
	path := filepath.Join(dir, bench.CellsDir, c.Key+".json")
	return outdir.WriteFile(path, func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	})
}

// digests caches file SHA-256s by path, size and modification time, so a
// large model is hashed once per study.
type digests struct {
	path    string
	entries map[string]digestEntry
	dirty   bool
}

type digestEntry struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

func loadDigests(studyDir string) *digests {
	d := &digests{path: filepath.Join(studyDir, digestsFile), entries: map[string]digestEntry{}}
	if b, err := os.ReadFile(d.path); err == nil {
		// A damaged cache is only a cache: start again.
		if json.Unmarshal(b, &d.entries) != nil {
			d.entries = map[string]digestEntry{}
		}
	}
	return d
}

func (d *digests) save() error {
	if !d.dirty {
		return nil
	}
	d.dirty = false
	return outdir.WriteFile(d.path, func(f *os.File) error { return json.NewEncoder(f).Encode(d.entries) })
}

// file returns the SHA-256 of the file at path.
func (d *digests) file(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if e, ok := d.entries[abs]; ok && e.Size == st.Size() && e.ModTime == st.ModTime().UnixNano() {
		return e.SHA256, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	d.entries[abs] = digestEntry{Size: st.Size(), ModTime: st.ModTime().UnixNano(), SHA256: sum}
	d.dirty = true
	return sum, nil
}

// files returns one digest over the named files: SHA-256 of "name
// sha256\n" lines in name order.
func (d *digests) files(names map[string]string) (string, error) {
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		sum, err := d.file(names[k])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %s\n", k, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isModelFile reports whether a model folder's file determines the model:
// its config, weights and tokenizer.
func isModelFile(name string) bool {
	switch {
	case name == "config.json", name == "generation_config.json", name == "special_tokens_map.json",
		name == "merges.txt", name == "tokenizer.model":
		return true
	case strings.HasPrefix(name, "tokenizer") && strings.HasSuffix(name, ".json"),
		strings.HasPrefix(name, "vocab"),
		strings.HasSuffix(name, ".safetensors"), strings.HasSuffix(name, ".safetensors.index.json"):
		return true
	}
	return false
}

// modelDigest digests a model folder's config, weights and tokenizer.
func (d *digests) model(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	names := map[string]string{}
	for _, e := range ents {
		if e.Type().IsRegular() && isModelFile(e.Name()) {
			names[e.Name()] = filepath.Join(dir, e.Name())
		}
	}
	return d.files(names)
}

// tree digests every regular file under the given files and folders
// (folders walked), named by their path relative to root.
func (d *digests) tree(root string, paths []string) (string, error) {
	names := map[string]string{}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				rel, rerr := filepath.Rel(root, path)
				if rerr != nil {
					rel = path
				}
				names[filepath.ToSlash(rel)] = path
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return d.files(names)
}
