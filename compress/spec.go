package compress

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/llmcbench/gollm/internal/corpus"
)

// A method spec string names a compression method and its settings, e.g.
// "gptq:bits=4,group=128,act_order=true" or "wanda:sparsity=0.5,pattern=2:4":
// the method name, then optionally ":" and comma-separated key=value pairs.
// ParseSpec parses it, fills in every default and validates every value;
// Spec.String prints the canonical form (every parameter, in the method's
// declared order), so two specs that mean the same run print the same
// string. The CLI (--method), the records (compression.json "spec") and
// the results share it.

// Param is one parameter of a method spec.
type Param struct {
	// Key is the name in the spec string ("group").
	Key string `json:"key"`
	// Type is "int", "float", "bool", "choice" (one of Choices) or
	// "pattern" (N:M, or "none").
	Type string `json:"type"`
	// Default is the canonical default; "auto" means the value is taken
	// from the model (Wanda's seqlen: max_position_embeddings;
	// SmoothQuant's alpha: DefaultAlpha) or from the other parameters
	// (sparsity with a pattern: N/M).
	Default string `json:"default"`
	// Choices lists the values of a "choice" parameter.
	Choices []string `json:"choices,omitempty"`
	// Flag is the gollm compress flag that sets the parameter (--Flag
	// value; a boolean flag sets true); NegFlag a boolean flag that sets a
	// boolean parameter to false.
	Flag    string `json:"flag,omitempty"`
	NegFlag string `json:"neg_flag,omitempty"`
	// Doc is a one-line description.
	Doc string `json:"doc"`

	aliases map[string]string // other spellings of values
	check   func(v float64) string
}

// MethodInfo describes a method: its name, a one-line description and its
// spec parameters in canonical order.
type MethodInfo struct {
	Name   string  `json:"name"`
	Doc    string  `json:"doc"`
	Params []Param `json:"params"`
}

// Param returns the parameter named key.
func (m *MethodInfo) Param(key string) (Param, bool) {
	for _, p := range m.Params {
		if p.Key == key {
			return p, true
		}
	}
	return Param{}, false
}

// Canonical checks value for parameter key and returns its canonical
// text (what Spec.String prints), e.g. "0.50" → "0.5" for a float.
func (m *MethodInfo) Canonical(key, value string) (string, error) {
	p, ok := m.Param(key)
	if !ok {
		return "", badInput("unknown key %q for %s", key, m.Name)
	}
	v, err := canonical(p, value)
	if err != nil {
		return "", badInput("%s=%s: %v", key, value, err)
	}
	return v, nil
}

// The parameter constructors: one definition per parameter, shared by the
// methods that take it.

func sparsityParam(doc string) Param {
	return Param{Key: "sparsity", Type: "float", Default: "auto", Flag: "sparsity", Doc: doc,
		check: func(v float64) string { return unless(v > 0 && v < 1, "want a fraction in (0, 1)") }}
}

var patternParam = Param{Key: "pattern", Type: "pattern", Default: "none", Flag: "pattern",
	Doc: "N:M semi-structured pruning: N of every M consecutive input weights pruned (2:4 is packed), or none"}

func bitsParam(def int, check func(v float64) string) Param {
	return Param{Key: "bits", Type: "int", Default: strconv.Itoa(def), Flag: "bits", Doc: "weight bit width", check: check}
}

func bits2to8(v float64) string { return unless(v >= 2 && v <= 8, "supported widths are 2 to 8") }

var groupParam = Param{Key: "group", Type: "int", Default: "128", Flag: "group-size",
	Doc: "input columns per quantization group: a positive multiple of 8, or -1 for one group per output row",
	check: func(v float64) string {
		return unless(v == -1 || v >= 8 && math.Mod(v, 8) == 0, "want -1 (per output channel) or a positive multiple of 8")
	}}

var symParam = Param{Key: "sym", Type: "bool", Default: "false", Flag: "sym", NegFlag: "asym",
	Doc: "symmetric quantization (default asymmetric min/max)"}

var dampParam = Param{Key: "damp", Type: "float", Default: "0.01", Flag: "damp",
	Doc:   "Hessian dampening as a fraction of its mean diagonal",
	check: func(v float64) string { return unless(v > 0 && v < 1, "dampening: want a fraction in (0, 1)") }}

var blockParam = Param{Key: "block", Type: "int", Default: "128", Doc: "column block of the GPTQ/SparseGPT update",
	check: atLeast(1)}

func nsamplesParam(def int) Param {
	return Param{Key: "nsamples", Type: "int", Default: strconv.Itoa(def), Flag: "nsamples", Doc: "calibration samples", check: atLeast(1)}
}

func seqlenParam(def string) Param {
	return Param{Key: "seqlen", Type: "int", Default: def, Flag: "seqlen", Doc: "tokens per calibration sample", check: atLeast(1)}
}

func seedParam(def int) Param {
	return Param{Key: "seed", Type: "int", Default: strconv.Itoa(def), Flag: "seed", Doc: "calibration sampling seed", check: atLeast(0)}
}

func samplingParam(def string) Param {
	return Param{Key: "sampling", Type: "choice", Default: def, Choices: []string{corpus.SampleWindow, corpus.SampleConcat, corpus.SampleTruncate}, Flag: "sampling",
		Doc: "calibration loader: window (GPTQ), concat (AWQ), truncate (SmoothQuant)"}
}

func atLeast(lo float64) func(float64) string {
	return func(v float64) string { return unless(v >= lo, fmt.Sprintf("want ≥ %g", lo)) }
}

func positive(v float64) string { return unless(v > 0, "want > 0") }

func unless(ok bool, why string) string {
	if ok {
		return ""
	}
	return why
}

// MethodInfos returns every method with its parameters, in registry
// order.
func MethodInfos() []MethodInfo {
	infos := make([]MethodInfo, len(registry))
	for i, m := range registry {
		infos[i] = m.Info()
	}
	return infos
}

// LookupMethod returns the description of the method named name.
func LookupMethod(name string) (MethodInfo, bool) {
	if m, ok := lookup(name); ok {
		return m.Info(), true
	}
	return MethodInfo{}, false
}

// Spec is a parsed, defaulted and validated method spec.
type Spec struct {
	Method string
	// vals holds the canonical text of every parameter of the method, in
	// the method's declared order.
	vals []string
	info MethodInfo
}

// ParseSpec parses a method spec string ("gptq:bits=3,act_order=true"),
// fills in the defaults and validates every value. Errors wrap ErrBadInput
// and name the method or the key.
func ParseSpec(s string) (Spec, error) {
	name, rest, hasParams := strings.Cut(strings.TrimSpace(s), ":")
	info, ok := LookupMethod(name)
	if !ok {
		return Spec{}, badInput("--method %q: unknown method %q: want one of %s", s, name, strings.Join(AllMethods, ", "))
	}
	sp := Spec{Method: name, info: info, vals: make([]string, len(info.Params))}
	given := make([]bool, len(info.Params))
	if hasParams {
		for _, kv := range strings.Split(rest, ",") {
			key, val, ok := strings.Cut(kv, "=")
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			if !ok || key == "" {
				return Spec{}, badInput("--method %q: %q: want key=value", s, kv)
			}
			i := sp.index(key)
			if i < 0 {
				return Spec{}, badInput("--method %q: unknown key %q for %s: want %s", s, key, name, strings.Join(sp.Keys(), ", "))
			}
			if given[i] {
				return Spec{}, badInput("--method %q: key %q given twice", s, key)
			}
			given[i] = true
			v, err := canonical(info.Params[i], val)
			if err != nil {
				return Spec{}, badInput("--method %q: %s=%s: %v", s, key, val, err)
			}
			sp.vals[i] = v
		}
	}
	for i, p := range info.Params {
		if !given[i] {
			sp.vals[i] = p.Default
		}
	}
	if err := sp.resolve(given); err != nil {
		return Spec{}, badInput("--method %q: %v", s, err)
	}
	return sp, nil
}

// canonical checks val against p and returns its canonical text.
func canonical(p Param, val string) (string, error) {
	if val == "auto" && p.Default == "auto" {
		return val, nil
	}
	if a, ok := p.aliases[val]; ok {
		val = a
	}
	switch p.Type {
	case "int":
		n, err := strconv.Atoi(val)
		if err != nil {
			return "", fmt.Errorf("want an integer")
		}
		if why := p.checkValue(float64(n)); why != "" {
			return "", fmt.Errorf("%s", why)
		}
		return strconv.Itoa(n), nil
	case "float":
		x, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("want a finite number")
		}
		if why := p.checkValue(x); why != "" {
			return "", fmt.Errorf("%s", why)
		}
		return formatFloat(x), nil
	case "bool":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return "", fmt.Errorf("want true or false")
		}
		return strconv.FormatBool(b), nil
	case "choice":
		if !slices.Contains(p.Choices, val) {
			return "", fmt.Errorf("want one of %s", strings.Join(p.Choices, ", "))
		}
		return val, nil
	case "pattern":
		if val == "none" || val == "" {
			return "none", nil
		}
		n, m, err := parsePattern(val)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d:%d", n, m), nil
	}
	return "", fmt.Errorf("parameter type %q", p.Type)
}

func (p Param) checkValue(v float64) string {
	if p.check == nil {
		return ""
	}
	return p.check(v)
}

// parsePattern parses "N:M" with 1 ≤ N < M.
func parsePattern(s string) (n, m int, err error) {
	a, b, ok := strings.Cut(s, ":")
	n, e1 := strconv.Atoi(a)
	m, e2 := strconv.Atoi(b)
	if !ok || e1 != nil || e2 != nil || n < 1 || m < 2 || n >= m {
		return 0, 0, fmt.Errorf("want N:M with 1 ≤ N < M (N pruned of every M), or none")
	}
	return n, m, nil
}

func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// resolve fills the defaults that depend on other parameters and checks
// the parameters against each other.
func (s *Spec) resolve(given []bool) error {
	if i := s.index("pattern"); i >= 0 {
		j := s.index("sparsity")
		if s.vals[i] != "none" {
			n, m, _ := parsePattern(s.vals[i])
			want := formatFloat(float64(n) / float64(m))
			if s.vals[j] != "auto" && given[j] && s.vals[j] != want {
				return fmt.Errorf("sparsity=%s contradicts pattern=%s (sparsity %s)", s.vals[j], s.vals[i], want)
			}
			s.vals[j] = want
		} else if s.vals[j] == "auto" {
			s.vals[j] = "0.5"
		}
	}
	if m, ok := lookup(s.Method); ok {
		if c, ok := m.(specChecker); ok {
			return c.checkSpec(s)
		}
	}
	return nil
}

// specChecker is a method whose parameters constrain each other beyond
// the pattern/sparsity rule resolve applies (LLM-Pruner).
type specChecker interface{ checkSpec(s *Spec) error }

func (s *Spec) index(key string) int {
	for i, p := range s.info.Params {
		if p.Key == key {
			return i
		}
	}
	return -1
}

// Keys lists the parameter keys of the spec's method in canonical order.
func (s Spec) Keys() []string {
	keys := make([]string, len(s.info.Params))
	for i, p := range s.info.Params {
		keys[i] = p.Key
	}
	return keys
}

// Has reports whether the spec's method takes the parameter key.
func (s Spec) Has(key string) bool { return s.index(key) >= 0 }

// Get returns the canonical text of parameter key ("" if the method has
// no such parameter).
func (s Spec) Get(key string) string {
	if i := s.index(key); i >= 0 {
		return s.vals[i]
	}
	return ""
}

// Int returns an integer parameter; 0 for "auto" or an absent key.
func (s Spec) Int(key string) int {
	n, _ := strconv.Atoi(s.Get(key))
	return n
}

// Float returns a float parameter; 0 for "auto" or an absent key.
func (s Spec) Float(key string) float64 {
	x, _ := strconv.ParseFloat(s.Get(key), 64)
	return x
}

// Bool returns a boolean parameter; false for an absent key.
func (s Spec) Bool(key string) bool { return s.Get(key) == "true" }

// Pattern returns the N:M pattern (0, 0 for none).
func (s Spec) Pattern() (n, m int) {
	n, m, _ = parsePattern(s.Get("pattern"))
	return n, m
}

// String prints the canonical spec: the method, then every parameter as
// key=value in the method's declared order.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(s.Method)
	for i, p := range s.info.Params {
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(p.Key + "=" + s.vals[i])
	}
	return b.String()
}
