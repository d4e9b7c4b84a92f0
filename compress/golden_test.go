package compress

import (
	"context"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/kernels"
)

// golden is the file of the SHA-256 of every file Run writes for goldenCases.
var golden = testfs.Golden{
	File: "../testdata/golden/compress.sha256",
	Pkg:  "./compress",
	Header: []string{
		"SHA-256 of every file compress.Run writes for TestGolden's cases (compress/golden_test.go),",
		"compression.json and .gollm-output.json without their run-specific fields.",
		"Pure-Go GEMM (CGO_ENABLED=0). Rewrite: CGO_ENABLED=0 go test ./compress -run Golden -update",
	},
}

// goldenCases are every method on every fixture (with the settings
// fixtureConfig gives: 6 samples of 48 tokens, group sizes that fit) and
// the variants of the other compression tests that change what is written:
// N:M patterns, bit widths with and without a packed layout, GPTQ's
// act-order, static groups and true-sequential order, AWQ without
// clipping. The key of a case is fixture/method[-variant]. ChatGLM's RTN
// and GPTQ run at 8 bits.
var goldenCases = func() []goldenCase {
	var cs []goldenCase
	for _, model := range []string{"llama2", "llama3", "opt", "opt350", "glm"} {
		for _, method := range Methods {
			gc := goldenCase{model, method, "", nil}
			if model == "glm" && (method == RTN || method == GPTQ) {
				// 4-bit codes of its 172-column MLP do not pack (172·4 is
				// not a multiple of 32).
				gc.variant, gc.edit = "w8", func(c *Config) { c.Bits = 8 }
			}
			cs = append(cs, gc)
		}
	}
	return append(cs,
		goldenCase{"llama2", Magnitude, "2:4", func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
		goldenCase{"llama2", Magnitude, "4:8", func(c *Config) { c.PatternN, c.PatternM = 4, 8 }},
		goldenCase{"llama3", Wanda, "0.6", func(c *Config) { c.Sparsity = 0.6 }},
		goldenCase{"opt350", Wanda, "2:4", func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
		goldenCase{"opt", SparseGPT, "2:4", func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
		goldenCase{"glm", SparseGPT, "2:4", func(c *Config) { c.PatternN, c.PatternM = 2, 4 }},
		goldenCase{"llama3", SparseGPT, "4:8", func(c *Config) { c.PatternN, c.PatternM = 4, 8 }},
		goldenCase{"opt", RTN, "w8", func(c *Config) { c.Bits = 8 }},
		goldenCase{"llama3", RTN, "w5", func(c *Config) { c.Bits = 5 }}, // no packed layout: dense
		goldenCase{"llama2", GPTQ, "act_order", func(c *Config) { c.ActOrder = true }},
		goldenCase{"llama3", GPTQ, "w2-sym", func(c *Config) { c.Bits, c.Sym = 2, true }},
		goldenCase{"llama3", GPTQ, "w2-not_sequential", func(c *Config) { c.Bits, c.TrueSequential = 2, false }},
		goldenCase{"opt", GPTQ, "act_order-static_groups", func(c *Config) { c.ActOrder, c.StaticGroups, c.TrueSequential = true, true, false }},
		goldenCase{"llama3", AWQ, "w2", func(c *Config) { c.Bits = 2 }},
		goldenCase{"llama2", AWQ, "no_clip", func(c *Config) { c.NoClip = true }},
	)
}()

type goldenCase struct {
	model, method, variant string
	edit                   func(*Config)
}

func (g goldenCase) key() string {
	k := g.model + "/" + g.method
	if g.variant != "" {
		k += "-" + g.variant
	}
	return k
}

// TestGolden runs goldenCases through Run and compares the SHA-256 of
// every file written (compression.json and the output manifest without
// their run-specific fields: times, memory, dates, paths, host, thread
// count; see testfs.GoldenTree) with golden.File. It pins the bytes of
// every checkpoint while the compression pipeline is refactored.
// `go test ./compress -run Golden -update` rewrites the file.
//
// The golden hashes are those of the pure-Go GEMM (CGO_ENABLED=0, the
// purego tag, or GOLLM_OPENBLAS=off), whose results are the same on every
// x86-64 machine and for every thread count (docs/METHODS.md,
// "Determinism"; GOAMD64=v1 emits no fused multiply-adds). OpenBLAS's
// results depend on its core type (Haswell and SkylakeX kernels round
// differently), so with OpenBLAS the calibrated methods' bytes differ:
// the test then compares, logs the differences and skips unless every
// hash matches. -update is refused there.
func TestGolden(t *testing.T) {
	golden.Start(t, kernels.BLAS())
	got := map[string]string{}
	for _, gc := range goldenCases {
		t.Run(strings.ReplaceAll(gc.key(), "/", "-"), func(t *testing.T) {
			c := fixtureConfig(t, gc.model, gc.method)
			if gc.edit != nil {
				gc.edit(&c)
			}
			if _, err := Run(context.Background(), c, nil); err != nil {
				t.Fatal(err)
			}
			for f, h := range testfs.GoldenTree(t, c.Out) {
				got[gc.key()+"/"+f] = h
			}
		})
	}
	golden.Finish(t, kernels.BLAS(), got)
}
