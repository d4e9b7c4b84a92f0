package omniquant_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/compress"
	. "github.com/llmcbench/gollm/compress/omniquant"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/kernels"
)

// golden is the file of the SHA-256 of every file an OmniQuant run
// (compress.Run) writes for TestGolden's cases.
var golden = testfs.Golden{
	File: "../../testdata/golden/omniquant.sha256",
	Pkg:  "./compress/omniquant",
	Header: []string{
		"SHA-256 of every file omniquant.Quantize writes for TestGolden's cases (compress/omniquant/golden_test.go),",
		"config.json and .gollm-output.json without their run-specific fields.",
		"Pure-Go GEMM (CGO_ENABLED=0). Rewrite: CGO_ENABLED=0 go test ./compress/omniquant -run Golden -update",
	},
}

// TestGolden quantizes the fixtures OmniQuant supports with the exported
// settings of TestOmniQuantBeatsRTN (weight-only W4 in groups, W4A4 and
// W6A6 per channel, with LWC and LET) for two epochs over two short
// samples, and compares the SHA-256 of every file written (config.json
// without its run-specific fields: thread count, per-block seconds,
// calibration file paths; see testfs.GoldenTree) with golden.File, to pin
// the bytes while the compression pipeline is refactored.
// `go test ./compress/omniquant -run Golden -update` rewrites the file. As
// in compress's TestGolden, the hashes are those of the pure-Go GEMM
// (CGO_ENABLED=0); with OpenBLAS the test compares, logs the differences
// and skips unless every hash matches.
func TestGolden(t *testing.T) {
	golden.Start(t, kernels.BLAS())
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
	calib := CalibFile(t)
	for _, tc := range cases {
		key := tc.fixture + "/" + ModeName(tc.wbits, tc.abits, tc.group)
		t.Run(strings.ReplaceAll(key, "/", "-"), func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", tc.fixture)
			cfg := compress.Config{Method: compress.OmniQuant, Model: dir, Out: filepath.Join(t.TempDir(), "q"), Bits: tc.wbits, ABits: tc.abits, GroupSize: tc.group, Epochs: 2,
				Calib: []string{calib}, NSamples: 2, Seqlen: 16, Seed: -1, Tokenizer: goldenByteTok{}}
			if tc.fixture != "chatglm3-tiny" { // the ChatGLM fixture has no tokenizer files
				cfg.Tokenizer = Tok(t, dir)
			}
			if _, err := compress.Run(context.Background(), cfg, nil); err != nil {
				t.Fatal(err)
			}
			for f, h := range testfs.GoldenTree(t, cfg.Out) {
				got[key+"/"+f] = h
			}
		})
	}
	golden.Finish(t, kernels.BLAS(), got)
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
