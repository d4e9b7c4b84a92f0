// Package study runs an LLMCBench study: every model × method × task of a
// configuration, each measurement one results cell (bench.Cell) in a
// study folder, resumable, with compressions, evaluations and
// measurements run in child gollm processes (see docs/BENCH.md, "Runner").
package study

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/compress"
	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/internal/badinput"
)

// ErrBadConfig marks a configuration that cannot run (exit code 2).
var ErrBadConfig = badinput.New("bad study config")

// EngineCPU is gollm's own CPU engine (Track 5).
const EngineCPU = "gollm-cpu"

// Config is a study: what `gollm bench --config FILE` reads (YAML or JSON)
// and `gollm bench --print-config` prints.
type Config struct {
	// Models are Hugging Face model folders.
	Models []Model `yaml:"models" json:"models"`
	// Methods are compression specs (compress.ParseSpec); the dense
	// model is always measured too.
	Methods []string `yaml:"methods" json:"methods"`
	// Calib lists the calibration files of the methods that calibrate.
	Calib []string `yaml:"calib" json:"calib"`
	// Data is the folder of task folders; empty means the built-in world,
	// generated into <study>/world (gollm synth --seed 1 --scale 2: the
	// reference models' world, synth.ReferenceOptions) when absent.
	Data  string `yaml:"data" json:"data"`
	Tasks []Task `yaml:"tasks" json:"tasks"`
	// Engines lists the Track-5 speed engines: gollm-cpu (gollm generate),
	// gollm-serve and llama.cpp (gollm loadgen --engine; engines.go).
	Engines []string `yaml:"engines" json:"engines"`
	// Threads is the compute threads of every child (0: all cores).
	Threads int `yaml:"threads" json:"threads"`
	// Seeds runs every method that samples calibration data once per
	// seed (spec key seed); empty: the method's reference seed.
	Seeds []int `yaml:"seeds" json:"seeds"`
	// Slurm holds the #SBATCH options of gollm bench --executor slurm
	// (docs/CLUSTER.md); flags override them.
	Slurm SlurmOptions `yaml:"slurm" json:"slurm"`

	file  string            // the config file (for messages)
	lines map[string]int    // "methods[2]" → line in file
	specs []compress.Spec   // the parsed methods × seeds, in order
	paths map[string]string // model name → resolved folder
}

// Model is one model of a study: a Hugging Face folder, named in the
// results by Name (default: the folder's base name). In YAML a bare string
// is the path; a bare name that is no folder is a reference model,
// refmodels/<name>.
type Model struct {
	Name string `yaml:"name" json:"name"`
	Path string `yaml:"path" json:"path"`
}

// Task is one evaluation task with its options (those of gollm eval). In
// YAML a bare string is the task name.
type Task struct {
	Name   string `yaml:"name" json:"name"`
	Data   string `yaml:"data,omitempty" json:"data,omitempty"`
	Limit  int    `yaml:"limit" json:"limit"`
	Shots  int    `yaml:"shots,omitempty" json:"shots,omitempty"`
	Prompt string `yaml:"prompt,omitempty" json:"prompt,omitempty"`
	Seqlen int    `yaml:"seqlen,omitempty" json:"seqlen,omitempty"`
}

// UnmarshalYAML accepts a mapping or a bare path.
func (m *Model) UnmarshalYAML(n *yaml.Node) error {
	type plain Model
	return decodeOrScalar(n, (*plain)(m), func(s string) { m.Path = s })
}

// UnmarshalYAML accepts a mapping or a bare task name.
func (t *Task) UnmarshalYAML(n *yaml.Node) error {
	type plain Task
	return decodeOrScalar(n, (*plain)(t), func(s string) { t.Name = s })
}

// decodeOrScalar decodes n into v, or hands a bare scalar to scalar.
func decodeOrScalar(n *yaml.Node, v any, scalar func(string)) error {
	if n.Kind == yaml.ScalarNode {
		scalar(n.Value)
		return nil
	}
	return n.Decode(v)
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the default study, commented (gollm bench
// --print-config).
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default returns the default study, resolved against the current folder
// (its models and calibration file are the repository's test fixtures).
func Default() (*Config, error) {
	c, err := Parse("(default config)", defaultYAML, ".")
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.Msg += " (the default study runs from the repository root; elsewhere give --config, see --print-config)"
	}
	return c, err
}

// Load reads and validates a config file; relative paths in it are
// relative to the file's folder.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("cannot read the config: %v", errors.Unwrap(err))}
	}
	return Parse(path, b, filepath.Dir(path))
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// Parse parses and validates a config (YAML or JSON) named file; relative
// paths resolve against base. Every error names file and line and matches
// ErrBadConfig.
func Parse(file string, b []byte, base string) (*Config, error) {
	c := &Config{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, c.yamlErr(err)
	}
	c.lines = map[string]int{}
	indexLines(&root, "", c.lines)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, c.yamlErr(err)
	}
	if err := c.validate(base); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlErr turns a YAML error ("yaml: line 3: …", or a list of them) into
// one FILE:LINE: message.
func (c *Config) yamlErr(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	e := &ConfigError{File: c.file, Msg: msg}
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
		e.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		rest := msg[:m[0]] + msg[m[1]:]
		rest = strings.Replace(rest, " in type study.Config", "", 1)
		rest = strings.Replace(rest, " in type study.plain", "", 1)
		e.Msg = strings.Replace(rest, "field ", "unknown key ", 1)
	}
	return e
}

// indexLines records the line of every node under path ("tasks[1].limit").
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, k := range n.Content {
			indexLines(k, path, lines)
		}
		return
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			lines[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, k := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = k.Line
			indexLines(k, p, lines)
		}
	}
	if _, ok := lines[path]; !ok && path != "" {
		lines[path] = n.Line
	}
}

// ConfigError is a config that cannot run: FILE:LINE: PATH: MSG. It
// matches ErrBadConfig and badinput.ErrBadInput (exit code 2).
type ConfigError struct {
	File string
	Line int    // 0: unknown
	Path string // "methods[3]", "tasks[0].limit"; may be empty
	Msg  string
}

func (e *ConfigError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Path != "" {
		s += ": " + e.Path
	}
	return s + ": " + e.Msg
}

// Unwrap returns ErrBadConfig.
func (e *ConfigError) Unwrap() error { return ErrBadConfig }

// errAt returns a config error at the line of path (or of its closest
// parent that has one).
func (c *Config) errAt(path, format string, args ...any) error {
	line := 0
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return &ConfigError{File: c.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// resolve returns p relative to base unless absolute.
func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func (c *Config) validate(base string) error {
	if len(c.Models) == 0 {
		return c.errAt("models", "no models")
	}
	c.paths = map[string]string{}
	for i := range c.Models {
		m := &c.Models[i]
		at := fmt.Sprintf("models[%d]", i)
		if m.Path == "" {
			return c.errAt(at, "no path")
		}
		ref := !strings.ContainsAny(m.Path, `/\`) && m.Path != "." && m.Path != ".."
		m.Path = resolve(base, m.Path)
		if st, err := os.Stat(m.Path); ref && (err != nil || !st.IsDir()) {
			// A bare name is a reference model: refmodels/<name>.
			m.Path = filepath.Join(filepath.Dir(m.Path), "refmodels", filepath.Base(m.Path))
		}
		if m.Name == "" {
			m.Name = filepath.Base(filepath.Clean(m.Path))
		}
		if st, err := os.Stat(m.Path); err != nil || !st.IsDir() {
			return c.errAt(at, "model folder %s not found", m.Path)
		}
		if _, err := os.Stat(filepath.Join(m.Path, "config.json")); err != nil {
			return c.errAt(at, "%s is not a model folder (no config.json)", m.Path)
		}
		if _, dup := c.paths[m.Name]; dup {
			return c.errAt(at, "duplicate model name %q (give each a name:)", m.Name)
		}
		c.paths[m.Name] = m.Path
	}
	for _, s := range c.Seeds {
		if s < 0 {
			return c.errAt("seeds", "seed %d: want ≥ 0", s)
		}
	}
	seen := map[string]bool{}
	calibrated := false
	for i, raw := range c.Methods {
		at := fmt.Sprintf("methods[%d]", i)
		if strings.TrimSpace(raw) == bench.Dense {
			continue // always measured
		}
		variants := []string{raw}
		if info, ok := compress.LookupMethod(methodName(raw)); ok && len(c.Seeds) > 0 {
			if _, hasSeed := info.Param("seed"); hasSeed {
				if specHasKey(raw, "seed") {
					return c.errAt(at, "%q sets seed and the study lists seeds: give one or the other", raw)
				}
				variants = nil
				for _, s := range c.Seeds {
					variants = append(variants, withKey(raw, "seed", strconv.Itoa(s)))
				}
			}
		}
		for _, v := range variants {
			sp, err := compress.ParseSpec(v)
			if err != nil {
				return c.errAt(at, "%s", strings.TrimPrefix(trimBadInput(err), fmt.Sprintf("--method %q: ", v)))
			}
			if seen[sp.String()] {
				return c.errAt(at, "duplicate method %s", sp.String())
			}
			seen[sp.String()] = true
			c.specs = append(c.specs, sp)
			info, _ := compress.LookupMethod(sp.Method)
			if _, ok := info.Param("nsamples"); ok {
				calibrated = true
			}
		}
	}
	if calibrated && len(c.Calib) == 0 {
		return c.errAt("calib", "no calibration files, and some methods calibrate")
	}
	for i := range c.Calib {
		c.Calib[i] = resolve(base, c.Calib[i])
		if st, err := os.Stat(c.Calib[i]); err != nil || st.IsDir() {
			return c.errAt(fmt.Sprintf("calib[%d]", i), "calibration file %s not found", c.Calib[i])
		}
	}
	c.Data = resolve(base, c.Data)
	if c.Data != "" {
		if st, err := os.Stat(c.Data); err != nil || !st.IsDir() {
			return c.errAt("data", "data folder %s not found", c.Data)
		}
	}
	if len(c.Tasks) == 0 && len(c.Engines) == 0 {
		return c.errAt("tasks", "no tasks and no engines: nothing to measure beyond the footprint")
	}
	if err := c.validateTasks(base); err != nil {
		return err
	}
	for i, e := range c.Engines {
		if !knownEngine(e) {
			return c.errAt(fmt.Sprintf("engines[%d]", i), "unknown engine %q (this build has %s, %s, %s)", e, EngineCPU, EngineGollmServe, EngineLlamaCpp)
		}
		if i > 0 && slicesIndex(c.Engines[:i], e) >= 0 {
			return c.errAt(fmt.Sprintf("engines[%d]", i), "duplicate engine %q", e)
		}
	}
	if c.Threads < 0 {
		return c.errAt("threads", "threads %d: want ≥ 0 (0: all cores)", c.Threads)
	}
	if f, msg := c.Slurm.Check(); f != "" {
		key := strings.ReplaceAll(f, "-", "_")
		if f == "sbatch" {
			for i, l := range c.Slurm.Sbatch {
				if g, _ := (&SlurmOptions{Sbatch: []string{l}}).Check(); g != "" {
					key = fmt.Sprintf("sbatch[%d]", i)
					break
				}
			}
		}
		return c.errAt("slurm."+key, "%s", msg)
	}
	return nil
}

// validateTasks expands task groups and checks each task's options as
// gollm eval would (eval.Check), data folders included unless the data is
// the built-in world, generated when the study runs.
func (c *Config) validateTasks(base string) error {
	var out []Task
	seen := map[string]bool{}
	for i, t := range c.Tasks {
		at := fmt.Sprintf("tasks[%d]", i)
		t.Data = resolve(base, t.Data)
		switch {
		case t.Limit < 0:
			return c.errAt(at+".limit", "limit %d: want ≥ 0 (0: all documents)", t.Limit)
		case t.Shots < 0:
			return c.errAt(at+".shots", "shots %d: want ≥ 0", t.Shots)
		case t.Seqlen < 0 || t.Seqlen == 1:
			return c.errAt(at+".seqlen", "seqlen %d: want 0 (the default) or ≥ 2", t.Seqlen)
		}
		names, err := eval.ExpandTasks([]string{t.Name})
		if err != nil {
			return c.errAt(at, "%s", trimBadInput(err))
		}
		for _, n := range names {
			if seen[n] {
				return c.errAt(at, "duplicate task %q", n)
			}
			seen[n] = true
			tt := t
			tt.Name, tt.Data = n, t.dataDir(c)
			ec := eval.Config{Tasks: []string{n}, Limit: t.Limit, Shots: t.Shots, Seqlen: t.Seqlen, PromptVariant: t.Prompt, DataDir: tt.dataDir(c)}
			if err := eval.Check(ec); err != nil && !(ec.DataDir == "" && strings.Contains(err.Error(), "needs --data")) {
				return c.errAt(at, "%s", trimBadInput(err))
			}
			out = append(out, tt)
		}
	}
	c.Tasks = out
	return nil
}

// dataDir is the task's data folder: its own, the study's, or "" for the
// built-in world (known only when the study runs).
func (t Task) dataDir(c *Config) string {
	if t.Data != "" {
		return t.Data
	}
	return c.Data
}

// trimBadInput drops the "bad input: " (and "eval: ") prefix of an error.
func trimBadInput(err error) string {
	s := strings.TrimPrefix(err.Error(), badinput.ErrBadInput.Error()+": ")
	return strings.TrimPrefix(s, "eval: ")
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// methodName returns the method of a spec string.
func methodName(spec string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(spec), ":")
	return name
}

// specHasKey reports whether a spec string sets key.
func specHasKey(spec, key string) bool {
	_, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return false
	}
	for _, kv := range strings.Split(rest, ",") {
		k, _, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// withKey adds key=value to a spec string.
func withKey(spec, key, value string) string {
	if strings.Contains(spec, ":") {
		return spec + "," + key + "=" + value
	}
	return strings.TrimSpace(spec) + ":" + key + "=" + value
}

// Specs returns the study's compression specs (methods × seeds), parsed.
func (c *Config) Specs() []compress.Spec { return c.specs }

// File returns the config file the study came from.
func (c *Config) File() string { return c.file }
