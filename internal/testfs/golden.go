package testfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Update is the -update flag of the golden tests: rewrite the golden file
// from this run instead of comparing with it.
var Update = flag.Bool("update", false, "rewrite the golden files (testdata/golden) from this run")

// runSpecific lists, per JSON file name, the keys that differ from run to
// run (times, memory, dates, paths, host, thread count) and that
// GoldenTree therefore drops before hashing. A key path is dot-separated;
// "[]" descends into every element of an array.
var runSpecific = map[string][]string{
	"compression.json": {
		"started", "wall_seconds", "compress_seconds", "peak_rss_bytes", "peak_rss_reset", "peak_device_bytes",
		"model", "out", "go_version", "goos", "goarch",
		"config.threads", "layers.[].seconds", "calibration.files.[].path",
	},
	".gollm-output.json": {"created"},
	"config.json": {
		"gollm_compression.meta.threads", "gollm_compression.meta.calibration.files",
		"gollm_compression.meta.blocks.[].seconds",
		"llm_pruner.out", "llm_pruner.seconds", "llm_pruner_lora.seconds", "llm_pruner_lora.config.data",
	},
}

// GoldenTree maps every file under dir (relative path, hidden files
// included) to its SHA-256, like HashTree, except that the JSON files
// named in runSpecific are hashed with their run-specific keys removed
// (re-encoded with sorted keys; as written when none of the keys is
// present).
func GoldenTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	return hashFiles(t, dir, func(p string, b []byte) ([]byte, error) {
		keys, ok := runSpecific[filepath.Base(p)]
		if !ok {
			return b, nil
		}
		b, err := dropKeys(b, keys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return b, nil
	})
}

// dropKeys re-encodes the JSON object b without the given key paths; b
// itself when it holds none of them.
func dropKeys(b []byte, keys []string) ([]byte, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	dropped := false
	for _, k := range keys {
		dropped = drop(v, strings.Split(k, ".")) || dropped
	}
	if !dropped {
		return b, nil
	}
	return json.Marshal(v)
}

// drop deletes the key path from v and reports whether anything was there.
func drop(v any, path []string) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x[path[0]]; !ok {
			return false
		}
		if len(path) == 1 {
			delete(x, path[0])
			return true
		}
		return drop(x[path[0]], path[1:])
	case []any:
		dropped := false
		if path[0] == "[]" {
			for _, e := range x {
				dropped = drop(e, path[1:]) || dropped
			}
		}
		return dropped
	}
	return false
}

// ReadGolden reads a golden file of "sha256  key" lines (sha256sum's
// layout); a missing file reads as empty.
func ReadGolden(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, key, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s:%d: want \"<sha256>  <key>\", got %q", path, n, line)
		}
		m[key] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// WriteGolden writes got as a golden file: header comment lines (each
// prefixed "# ") then "sha256  key" lines sorted by key.
func WriteGolden(t testing.TB, path string, header []string, got map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", h)
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		fmt.Fprintf(&b, "%s  %s\n", got[k], k)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// GoldenDiff lists the differences between want and got, one line per
// key: missing, unexpected, or with a different hash; nil when equal.
func GoldenDiff(want, got map[string]string) []string {
	var d []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		switch g, ok := got[k]; {
		case !ok:
			d = append(d, "missing: "+k)
		case g != want[k]:
			d = append(d, "differs: "+k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			d = append(d, "new:     "+k)
		}
	}
	return d
}

// Golden describes a golden test: a file of SHA-256 hashes of every file
// the test's cases write, pinned for the pure-Go GEMM (CGO_ENABLED=0),
// whose results are the same on every x86-64 machine and thread count.
// OpenBLAS rounds differently per core type, so under it the test
// compares, logs the differences and skips unless every hash matches;
// -update is refused there.
type Golden struct {
	File string // the golden file
	Pkg  string // the package's path for go test, e.g. "./compress"
	// Header are the comment lines -update writes first; a last line
	// saying how to rewrite the file (rewriteLine) is added when no line
	// says it.
	Header []string
}

// rewriteLine is the header line that says how the golden file of the
// package pkg is rewritten.
func rewriteLine(pkg string) string {
	return "Pure-Go GEMM (CGO_ENABLED=0). Rewrite: CGO_ENABLED=0 go test " + pkg + " -run Golden -update"
}

// header returns g.Header with rewriteLine(g.Pkg) added when absent.
func (g Golden) header() []string {
	if slices.Contains(g.Header, rewriteLine(g.Pkg)) {
		return g.Header
	}
	return append(slices.Clip(g.Header), rewriteLine(g.Pkg))
}

// Start begins the golden test: it skips under -short and fails at once
// when -update is asked for with a GEMM backend (kernels.BLAS) other than
// "pure-go".
func (g Golden) Start(t testing.TB, backend string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the golden test runs every case")
	}
	if *Update && backend != "pure-go" {
		t.Fatalf("-update with GEMM backend %q: the golden hashes are those of the pure-Go GEMM; run CGO_ENABLED=0 go test %s -run Golden -update", backend, g.Pkg)
	}
}

// Finish ends the golden test with got, the hashes of its cases: with
// -update it rewrites File, otherwise it compares got with File (see
// Golden for the OpenBLAS case; backend is kernels.BLAS()). It does
// nothing when t has failed.
func (g Golden) Finish(t testing.TB, backend string, got map[string]string) {
	t.Helper()
	if t.Failed() {
		return
	}
	if *Update {
		WriteGolden(t, g.File, g.header(), got)
		t.Logf("wrote %d hashes to %s", len(got), g.File)
		return
	}
	want := ReadGolden(t, g.File)
	diff := GoldenDiff(want, got)
	if len(diff) == 0 {
		return
	}
	if backend != "pure-go" {
		t.Skipf("GEMM backend %q: %d of %d files differ from the pure-Go golden hashes (expected with OpenBLAS; the golden holds for CGO_ENABLED=0):\n%s",
			backend, len(diff), len(want), strings.Join(diff, "\n"))
	}
	t.Errorf("%d of %d files differ from %s (rewrite it with -update only if the change of bytes is intended):\n%s",
		len(diff), len(want), g.File, strings.Join(diff, "\n"))
}
