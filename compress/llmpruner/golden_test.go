package llmpruner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/compress"
	. "github.com/llmcbench/gollm/compress/llmpruner"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// golden is the file of the SHA-256 of every file an LLM-Pruner run
// (compress.Run) writes for TestGolden's cases.
var golden = testfs.Golden{
	File: "../../testdata/golden/llmpruner.sha256",
	Pkg:  "./compress/llmpruner",
	Header: []string{
		"SHA-256 of every file llmpruner.PruneRecover writes for TestGolden's cases (compress/llmpruner/golden_test.go),",
		"config.json and .gollm-output.json without their run-specific fields.",
		"Pure-Go GEMM (CGO_ENABLED=0). Rewrite: CGO_ENABLED=0 go test ./compress/llmpruner -run Golden -update",
	},
}

// TestGolden prunes every fixture (testdata/*-tiny) with the settings of
// TestPrune — a target sparsity or a per-layer ratio, a layer range, the
// three importance kinds, random calibration samples or a calibration
// file — and once with LoRA recovery, and compares the SHA-256 of every
// file compress.Run writes (config.json without its run-specific fields: the output
// path, the seconds, the LoRA data paths; see testfs.GoldenTree) with
// golden.File, to pin the bytes while the compression pipeline is
// refactored. `go test ./compress/llmpruner -run Golden -update` rewrites
// the file. As in compress's TestGolden, the hashes are those of the
// pure-Go GEMM (CGO_ENABLED=0); with OpenBLAS the test compares, logs the
// differences and skips unless every hash matches.
func TestGolden(t *testing.T) {
	golden.Start(t, kernels.BLAS())
	calib := filepath.Join("..", "..", "testdata", "calib", "c4-sample.jsonl")
	lora := filepath.Join(t.TempDir(), "recover.txt")
	if err := os.WriteFile(lora, []byte(strings.Repeat("the cat sat on the mat and the dog ran to the log\n", 60)), 0o644); err != nil {
		t.Fatal(err)
	}
	type gcase struct {
		key                 string
		fixture             string
		sparsity, ratio     float64
		start, end          int
		importance          string
		calibFile, recovery bool
	}
	var cases []gcase
	for _, f := range testfs.Fixtures {
		cases = append(cases, gcase{key: f + "/ratio0.5", fixture: f, ratio: 0.5, importance: Element1})
	}
	cases = append(cases,
		gcase{key: "llama2-tiny/sparsity0.005-vector", fixture: "llama2-tiny", sparsity: 0.005, importance: Vector},
		gcase{key: "llama3-tiny/sparsity0.05-range1-2-calib", fixture: "llama3-tiny", sparsity: 0.05, start: 1, end: 2, importance: Element1, calibFile: true},
		gcase{key: "opt350-tiny/ratio0.5-range1-2-vector", fixture: "opt350-tiny", ratio: 0.5, start: 1, end: 2, importance: Vector},
		gcase{key: "chatglm3-tiny/ratio0.5-param_mix", fixture: "chatglm3-tiny", ratio: 0.5, importance: "param_mix"},
		gcase{key: "llama2-tiny/ratio0.5-lora", fixture: "llama2-tiny", ratio: 0.5, importance: Element1, recovery: true},
	)
	got := map[string]string{}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.key, "/", "-"), func(t *testing.T) {
			model := filepath.Join("..", "..", "testdata", tc.fixture)
			src, err := models.LoadConfig(model)
			if err != nil {
				t.Fatal(err)
			}
			cfg := compress.Config{Method: compress.LLMPruner, Model: model, Out: filepath.Join(t.TempDir(), "out"), Sparsity: tc.sparsity, LayerRatio: tc.ratio,
				BlockStart: tc.start, BlockEnd: tc.end, Importance: tc.importance, Seed: -1, Tokenizer: NewByteTokenizer(src.Vocab)}
			if tc.calibFile {
				cfg.Calib, cfg.NSamples, cfg.Seqlen = []string{calib}, 4, 24
			} else {
				cfg.Samples = RandomSamples(4, 16, src.Vocab, 9)
			}
			if tc.recovery {
				cfg.LoRA = LoRAConfig{Steps: 4, Rank: 2, Alpha: 4, LR: 1e-2, Batch: 2, Seqlen: 16, Data: []string{lora}, Seed: 1}
			}
			if _, err := compress.Run(context.Background(), cfg, nil); err != nil {
				t.Fatal(err)
			}
			for f, h := range testfs.GoldenTree(t, cfg.Out) {
				got[tc.key+"/"+f] = h
			}
		})
	}
	golden.Finish(t, kernels.BLAS(), got)
}
