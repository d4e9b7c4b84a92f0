package omniquant

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/kernels"
)

// goldenFile holds the SHA-256 of every file Quantize writes for
// TestGolden's cases.
const goldenFile = "../../testdata/golden/omniquant.sha256"

// TestGolden quantizes the fixtures OmniQuant supports with the exported
// settings of TestOmniQuantBeatsRTN (weight-only W4 in groups, W4A4 and
// W6A6 per channel, with LWC and LET) for two epochs over two short
// samples, and compares the SHA-256 of every file written (config.json
// without its run-specific fields: thread count, per-block seconds,
// calibration file paths; see testfs.GoldenTree) with goldenFile, to pin
// the bytes while the compression pipeline is refactored.
// `go test ./compress/omniquant -run Golden -update` rewrites the file. As
// in compress's TestGolden, the hashes are those of the pure-Go GEMM
// (CGO_ENABLED=0); with OpenBLAS the test compares, logs the differences
// and skips unless every hash matches.
func TestGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the golden test quantizes every fixture")
	}
	backend := kernels.BLAS()
	pure := backend == "pure-go"
	if *testfs.Update && !pure {
		t.Fatalf("-update with GEMM backend %q: the golden hashes are those of the pure-Go GEMM; run CGO_ENABLED=0 go test ./compress/omniquant -run Golden -update", backend)
	}
	cases := []struct {
		fixture             string
		wbits, abits, group int
	}{
		{"llama3-tiny", 4, 0, 16},
		{"llama2-tiny", 4, 0, 8},
		{"llama3-tiny", 4, 4, -1},
		{"llama2-tiny", 6, 6, -1},
		{"opt-tiny", 4, 0, 32},
		{"opt350-tiny", 4, 0, 32},
		{"chatglm3-tiny", 8, 0, -1},
	}
	got := map[string]string{}
	calib := calibFile(t)
	for _, tc := range cases {
		key := tc.fixture + "/" + modeName(tc.wbits, tc.abits, tc.group)
		t.Run(strings.ReplaceAll(key, "/", "-"), func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", tc.fixture)
			cfg := Config{Model: dir, Out: filepath.Join(t.TempDir(), "q"), WBits: tc.wbits, ABits: tc.abits, GroupSize: tc.group, Epochs: 2,
				Calib: []string{calib}, NSamples: 2, Seqlen: 16, Tokenizer: goldenByteTok{}}
			if tc.fixture != "chatglm3-tiny" { // the ChatGLM fixture has no tokenizer files
				cfg.Tokenizer = tok(t, dir)
			}
			if _, err := Quantize(context.Background(), cfg, nil); err != nil {
				t.Fatal(err)
			}
			for f, h := range testfs.GoldenTree(t, cfg.Out) {
				got[key+"/"+f] = h
			}
		})
	}
	if t.Failed() {
		return
	}
	if *testfs.Update {
		testfs.WriteGolden(t, goldenFile, []string{
			"SHA-256 of every file omniquant.Quantize writes for TestGolden's cases (compress/omniquant/golden_test.go),",
			"config.json and .gollm-output.json without their run-specific fields.",
			"Pure-Go GEMM (CGO_ENABLED=0). Rewrite: CGO_ENABLED=0 go test ./compress/omniquant -run Golden -update",
		}, got)
		t.Logf("wrote %d hashes to %s", len(got), goldenFile)
		return
	}
	want := testfs.ReadGolden(t, goldenFile)
	diff := testfs.GoldenDiff(want, got)
	if len(diff) == 0 {
		return
	}
	if !pure {
		t.Skipf("GEMM backend %q: %d of %d files differ from the pure-Go golden hashes (expected with OpenBLAS; the golden holds for CGO_ENABLED=0):\n%s",
			backend, len(diff), len(want), strings.Join(diff, "\n"))
	}
	t.Errorf("%d of %d files differ from %s (rewrite it with -update only if the change of bytes is intended):\n%s",
		len(diff), len(want), goldenFile, strings.Join(diff, "\n"))
}

// goldenByteTok encodes text as its bytes (ids 0–255), for the fixture
// without tokenizer files.
type goldenByteTok struct{}

func (goldenByteTok) Encode(s string, _ bool) []int {
	ids := make([]int, len(s))
	for i := range len(s) {
		ids[i] = int(s[i])
	}
	return ids
}
