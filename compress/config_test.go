package compress

import (
	"errors"
	"strings"
	"testing"

	"github.com/llmcbench/gollm/internal/corpus"
	"github.com/llmcbench/gollm/internal/testfs"
	"github.com/llmcbench/gollm/models"
)

const (
	llama2Tiny = "../testdata/llama2-tiny"
	llama3Tiny = "../testdata/llama3-tiny"
	optTiny    = "../testdata/opt-tiny"
	opt350Tiny = "../testdata/opt350-tiny"
	glmTiny    = "../testdata/chatglm3-tiny"
	calibJSONL = "../testdata/calib/c4-sample.jsonl"
)

func TestValidateBadInput(t *testing.T) {
	out := t.TempDir()
	pq := testfs.WriteFile(t, t.TempDir(), "train-00000.parquet", []byte("PAR1"))
	base := func(method string) Config {
		c := Defaults(method)
		c.Model, c.Out, c.Calib, c.Seqlen, c.NSamples = llama2Tiny, out, []string{calibJSONL}, 32, 4
		return c
	}
	tests := []struct {
		name string
		edit func(*Config)
		msg  string
	}{
		{"method", func(c *Config) { c.Method = "bogus" }, "--method"},
		{"no-model", func(c *Config) { c.Model = "" }, "--model"},
		{"model-without-config", func(c *Config) { c.Model = out }, "config.json"},
		{"no-out", func(c *Config) { c.Out = "" }, "--out"},
		{"out-is-model", func(c *Config) { c.Out = llama2Tiny }, "input model"},
		{"bits-9", func(c *Config) { c.Bits = 9 }, "--bits 9"},
		{"bits-1", func(c *Config) { c.Bits = 1 }, "--bits 1"},
		{"group-12", func(c *Config) { c.GroupSize = 12 }, "--group-size 12"},
		{"group-neg", func(c *Config) { c.GroupSize = -2 }, "--group-size -2"},
		{"device", func(c *Config) { c.Device = "cuda" }, "--device"},
		{"no-calib", func(c *Config) { c.Calib = nil }, "--calib"},
		{"missing-calib", func(c *Config) { c.Calib = []string{"nope.jsonl"} }, "nope.jsonl"},
		{"calib-dir", func(c *Config) { c.Calib = []string{out} }, "folder"},
		{"calib-parquet", func(c *Config) { c.Calib = []string{calibJSONL, pq} }, "parquet is not read"},
		{"nsamples", func(c *Config) { c.NSamples = -1 }, "--nsamples"},
		{"damp", func(c *Config) { c.Damp = 2 }, "dampening"},
		{"sampling", func(c *Config) { c.Sampling = "odd" }, "sampling"},
	}
	for _, tc := range tests {
		c := base(GPTQ)
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrBadInput mentioning %q", tc.name, err, tc.msg)
		}
	}
	other := []struct {
		name, method string
		edit         func(*Config)
		msg          string
	}{
		{"pattern-nm", Wanda, func(c *Config) { c.PatternN, c.PatternM = 4, 4 }, "--pattern 4:4"},
		{"pattern-sparsity", Wanda, func(c *Config) { c.PatternN, c.PatternM, c.Sparsity = 2, 4, 0.7 }, "contradicts"},
		{"sparsity", Magnitude, func(c *Config) { c.Sparsity = 1.5 }, "--sparsity"},
		{"act-order-rtn", RTN, func(c *Config) { c.ActOrder = true }, "--act-order"},
		{"sq-bits", SmoothQuant, func(c *Config) { c.Bits = 4 }, "W8A8"},
		{"sq-alpha", SmoothQuant, func(c *Config) { c.Alpha = 1.5 }, "--alpha"},
	}
	for _, tc := range other {
		c := base(tc.method)
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrBadInput mentioning %q", tc.name, err, tc.msg)
		}
	}
	// Magnitude and RTN need no calibration.
	for _, m := range []string{Magnitude, RTN} {
		c := Config{Method: m, Model: llama2Tiny, Out: out}
		if err := c.Validate(); err != nil {
			t.Errorf("%s without calibration: %v", m, err)
		}
	}
	// Zero values take the method's defaults.
	c := Config{Method: AWQ, Model: llama2Tiny, Out: out, Calib: []string{calibJSONL}, Seed: -1}
	if err := c.Validate(); err != nil || c.Bits != 4 || c.GroupSize != 128 || c.NSamples != 128 || c.Seqlen != 512 || c.Seed != 42 || c.Sampling != corpus.SampleConcat {
		t.Errorf("AWQ defaults: %+v, %v", c, err)
	}
}

func TestCheckModel(t *testing.T) {
	llama, err := models.LoadConfig(llama2Tiny) // hidden 32, intermediate 88, max 256
	if err != nil {
		t.Fatal(err)
	}
	glm, err := models.LoadConfig(glmTiny) // ffn 172
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mc   *models.Config
		c    Config
		msg  string
	}{
		{"group-not-dividing", llama, Config{Method: RTN, Bits: 4, GroupSize: 64}, "does not divide the 32 inputs"},
		{"nm-not-dividing", glm, Config{Method: Magnitude, Sparsity: 0.5, PatternN: 4, PatternM: 8}, "does not divide the 172 inputs"},
		{"seqlen", llama, Config{Method: GPTQ, Bits: 4, GroupSize: 8, Seqlen: 512, NSamples: 1}, "max_position_embeddings 256"},
		{"gptq-pack", glm, Config{Method: GPTQ, Bits: 4, GroupSize: -1, Seqlen: 16, NSamples: 1}, "cannot be packed"},
		{"memory", llama, Config{Method: GPTQ, Bits: 4, GroupSize: 8, Seqlen: 16, NSamples: 1, MemoryLimit: 1 << 20}, "does not fit"},
	}
	for _, tc := range tests {
		c := tc.c
		c.Model = "m"
		err := c.checkModel(tc.mc, 16)
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrBadInput mentioning %q", tc.name, err, tc.msg)
		}
	}
	ok := Config{Method: GPTQ, Bits: 4, GroupSize: 8, Seqlen: 64, NSamples: 4}
	if err := ok.checkModel(llama, 256); err != nil {
		t.Errorf("valid settings: %v", err)
	}
	if f := (&Config{Method: RTN, Bits: 5}).outputFormat(); f != "dense" {
		t.Errorf("5-bit RTN format %q", f)
	}
	if f := (&Config{Method: AWQ, Bits: 3}).outputFormat(); f != "gptq" {
		t.Errorf("3-bit AWQ format %q", f)
	}
	if f := (&Config{Method: SparseGPT, PatternN: 2, PatternM: 4}).outputFormat(); f != "2:4" {
		t.Errorf("2:4 format %q", f)
	}
}
