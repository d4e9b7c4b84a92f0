package main

import (
	"flag"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/compress"
)

// methodFlags says which methods each method-specific compress flag applies
// to. A flag given with another method is refused: it would be silently
// ignored otherwise. Flags not listed (model, out, threads, ...) apply to
// every method.
var methodFlags = map[string][]string{
	"calib":              calibrated,
	"nsamples":           calibrated,
	"seqlen":             calibrated,
	"seed":               calibrated,
	"sampling":           {compress.Wanda, compress.SparseGPT, compress.GPTQ, compress.AWQ, compress.SmoothQuant},
	"sparsity":           {compress.Magnitude, compress.Wanda, compress.SparseGPT, compress.LLMPruner},
	"pattern":            {compress.Magnitude, compress.Wanda, compress.SparseGPT},
	"bits":               {compress.RTN, compress.GPTQ, compress.AWQ, compress.SmoothQuant, compress.OmniQuant},
	"wbits":              {compress.OmniQuant},
	"abits":              {compress.OmniQuant},
	"group-size":         {compress.RTN, compress.GPTQ, compress.AWQ, compress.OmniQuant},
	"sym":                {compress.RTN, compress.GPTQ, compress.AWQ},
	"asym":               {compress.RTN, compress.GPTQ, compress.AWQ},
	"act-order":          {compress.GPTQ},
	"static-groups":      {compress.GPTQ},
	"no-true-sequential": {compress.GPTQ},
	"damp":               {compress.GPTQ, compress.SparseGPT},
	"alpha":              {compress.SmoothQuant},
	"no-clip":            {compress.AWQ},
	"block-start":        {compress.LLMPruner},
	"block-end":          {compress.LLMPruner},
	"importance":         {compress.LLMPruner},
	"lora-steps":         {compress.LLMPruner},
	"lora-rank":          {compress.LLMPruner},
	"lora-alpha":         {compress.LLMPruner},
	"lora-lr":            {compress.LLMPruner},
	"lora-batch":         {compress.LLMPruner},
	"lora-seqlen":        {compress.LLMPruner},
	"lora-data":          {compress.LLMPruner},
	"epochs":             {compress.OmniQuant},
}

// calibrated lists the methods that read calibration data.
var calibrated = []string{compress.Wanda, compress.SparseGPT, compress.GPTQ, compress.AWQ, compress.SmoothQuant,
	compress.LLMPruner, compress.OmniQuant}

// zeroMeansDefault lists the flags whose default is 0 in the flag set and
// stands for "the method's default". Given explicitly, 0 is a value, and
// none of these methods has a meaning for it: it is refused rather than
// silently replaced by the default (--sparsity 0 used to prune 50%).
var zeroMeansDefault = map[string]string{
	"nsamples":   "want ≥ 1 calibration samples",
	"seqlen":     "want ≥ 1 tokens per calibration sample",
	"sparsity":   "nothing would be pruned; want a fraction in (0, 1) (the uncompressed model is the dense baseline)",
	"bits":       "want a weight width of 2 to 8 bits",
	"wbits":      "want a weight width of 2 to 8 bits",
	"group-size": "want -1 (one group per output channel) or a positive multiple of 8",
	"damp":       "GPTQ and SparseGPT need a positive dampening; want a fraction in (0, 1)",
	"alpha":      "want a migration strength in (0, 1]",
	"block-end":  "the layer range would be empty; leave --block-end out for the last layer",
	"epochs":     "want ≥ 1 epoch (0 would export the initial clipping, which is RTN: use --method rtn)",
}

// checkCompressFlags refuses, before any work, flags that make no sense for
// the method or with each other, and explicit values the method cannot
// honour. It sees which flags were given on the command line, so a value
// equal to a flag's default is still told apart from an absent flag.
func checkCompressFlags(fs *flag.FlagSet, method string) error {
	if !slices.Contains(compress.AllMethods, method) {
		return usagef("--method %q: want one of %s", method, strings.Join(compress.AllMethods, ", "))
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	for _, name := range sortedKeys(set) {
		v := set[name]
		if ms, ok := methodFlags[name]; ok && !slices.Contains(ms, method) {
			return usagef("--%s does not apply to --method %s (it is for %s)", name, method, strings.Join(ms, ", "))
		}
		if why, ok := zeroMeansDefault[name]; ok {
			if x, err := strconv.ParseFloat(v, 64); err == nil && x == 0 {
				return usagef("--%s 0: %s", name, why)
			}
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return usagef("--%s %s: want a finite number", name, v)
		}
	}
	if _, ok := set["bits"]; ok {
		if _, ok := set["wbits"]; ok {
			return usagef("--wbits and --bits both given: they are the same setting for omniquant; give one")
		}
	}
	if s, ok := set["seed"]; ok && strings.HasPrefix(s, "-") {
		return usagef("--seed %s: want ≥ 0 (leave it out for the method's reference seed)", s)
	}
	for _, name := range []string{"nsamples", "seqlen", "block-start", "lora-steps"} {
		if s, ok := set[name]; ok && strings.HasPrefix(s, "-") {
			return usagef("--%s %s: must be ≥ 0", name, s)
		}
	}
	return nil
}
