package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/llmcbench/gollm/compress"
)

// extraMethodFlags are the method-specific flags that are not a spec
// parameter (compress.Param.Flag), with the methods they apply to. The
// others' methods come from the spec parameters (flagMethods).
var extraMethodFlags = map[string]func(m compress.MethodInfo) bool{
	"calib":     calibrated,
	"lora-data": func(m compress.MethodInfo) bool { return m.Name == compress.LLMPruner },
	"wbits":     func(m compress.MethodInfo) bool { return m.Name == compress.OmniQuant },
}

// calibrated reports whether the method reads calibration data.
func calibrated(m compress.MethodInfo) bool {
	_, ok := m.Param("nsamples")
	return ok
}

// specParam returns the spec parameter that flag name sets for method m,
// and whether the flag negates it (--asym, --no-clip).
func specParam(m compress.MethodInfo, name string) (p compress.Param, neg, ok bool) {
	if name == "wbits" && m.Name == compress.OmniQuant {
		p, ok = m.Param("bits")
		return p, false, ok
	}
	for _, p := range m.Params {
		if p.Flag == name || p.NegFlag == name {
			return p, p.NegFlag == name, true
		}
	}
	return compress.Param{}, false, false
}

// flagMethods lists the methods flag name applies to; ok is false for the
// flags that apply to every method (--model, --out, --threads, ...).
func flagMethods(name string) (methods []string, ok bool) {
	for _, m := range compress.MethodInfos() {
		_, _, isParam := specParam(m, name)
		extra, isExtra := extraMethodFlags[name]
		if isExtra || isParam {
			ok = true
		}
		if isParam || isExtra && extra(m) {
			methods = append(methods, m.Name)
		}
	}
	return methods, ok
}

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

// methodSpec parses --method (a method name or a full spec string, see
// compress.ParseSpec) and merges into it the method flags given on the
// command line, which are sugar for their spec keys: --bits 3 is bits=3.
// It refuses, before any work, flags that make no sense for the method or
// with each other, a flag that disagrees with the same key in --method,
// and explicit values the method cannot honour. It sees which flags were
// given, so a value equal to a flag's default is still told apart from an
// absent flag.
func methodSpec(fs *flag.FlagSet, method string) (compress.Spec, error) {
	name, rest, _ := strings.Cut(method, ":")
	info, ok := compress.LookupMethod(name)
	if !ok {
		return compress.Spec{}, usagef("--method %q: want one of %s, optionally with :key=value,... (gollm compress --list-methods)", method, strings.Join(compress.AllMethods, ", "))
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	for _, fl := range sortedKeys(set) {
		v := set[fl]
		if ms, ok := flagMethods(fl); ok && !slices.Contains(ms, name) {
			return compress.Spec{}, usagef("--%s does not apply to --method %s (it is for %s)", fl, name, strings.Join(ms, ", "))
		}
		if why, ok := zeroMeansDefault[fl]; ok {
			if x, err := strconv.ParseFloat(v, 64); err == nil && x == 0 {
				return compress.Spec{}, usagef("--%s 0: %s", fl, why)
			}
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return compress.Spec{}, usagef("--%s %s: want a finite number", fl, v)
		}
	}
	if _, ok := set["bits"]; ok {
		if _, ok := set["wbits"]; ok {
			return compress.Spec{}, usagef("--wbits and --bits both given: they are the same setting for omniquant; give one")
		}
	}
	if set["sym"] == "true" && set["asym"] == "true" {
		return compress.Spec{}, usagef("--sym and --asym are exclusive")
	}
	if s, ok := set["seed"]; ok && strings.HasPrefix(s, "-") {
		return compress.Spec{}, usagef("--seed %s: want ≥ 0 (leave it out for the method's reference seed)", s)
	}
	for _, fl := range []string{"nsamples", "seqlen", "block-start", "lora-steps"} {
		if s, ok := set[fl]; ok && strings.HasPrefix(s, "-") {
			return compress.Spec{}, usagef("--%s %s: must be ≥ 0", fl, s)
		}
	}
	// The key=value pairs of --method, then the flags' values.
	inSpec := map[string]string{}
	var pairs []string
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			pairs = append(pairs, kv)
			if k, v, ok := strings.Cut(kv, "="); ok {
				inSpec[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	for _, fl := range sortedKeys(set) {
		p, neg, ok := specParam(info, fl)
		if !ok {
			continue
		}
		v := set[fl]
		if p.Type == "bool" && neg {
			b, _ := strconv.ParseBool(v)
			v = strconv.FormatBool(!b)
		}
		fv, err := info.Canonical(p.Key, v)
		if err != nil {
			return compress.Spec{}, usagef("--%s %s: %s", fl, set[fl], strings.TrimPrefix(err.Error(), compress.ErrBadInput.Error()+": "))
		}
		if sv, ok := inSpec[p.Key]; ok {
			if cv, err := info.Canonical(p.Key, sv); err == nil && cv != fv {
				return compress.Spec{}, usagef("--%s %s contradicts %s=%s in --method %s", fl, set[fl], p.Key, sv, method)
			}
			continue
		}
		inSpec[p.Key] = fv
		pairs = append(pairs, p.Key+"="+fv)
	}
	spec := name
	if len(pairs) > 0 {
		spec += ":" + strings.Join(pairs, ",")
	}
	return compress.ParseSpec(spec)
}

// listMethodsText writes every method with its spec parameters: type, default,
// flag and a one-line description.
func listMethodsText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for i, m := range compress.MethodInfos() {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s\t%s\n", m.Name, m.Doc)
		for _, p := range m.Params {
			typ := p.Type
			if p.Type == "choice" {
				typ = strings.Join(p.Choices, "|")
			}
			flags := ""
			if p.Flag != "" {
				flags = "--" + p.Flag
			}
			if p.NegFlag != "" {
				flags = strings.TrimPrefix(flags+" --"+p.NegFlag, " ")
			}
			fmt.Fprintf(tw, "  %s=%s\t%s\t%s\t%s\n", p.Key, p.Default, typ, flags, p.Doc)
		}
	}
	return tw.Flush()
}
