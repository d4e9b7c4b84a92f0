package study

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/loadgen"
)

// Serving engines of Track 5, measured through gollm loadgen --engine
// (vllm bench serve's metrics): gollm serve on the row's checkpoint, and
// llama.cpp (node-llama-cpp, make llamacpp) on its GGUF export.
const (
	EngineGollmServe = loadgen.LabelGollmServe
	EngineLlamaCpp   = loadgen.LabelLlamaCpp
)

// The load of a serving engine's cell: ServePrompts random-id prompts of
// ServeInputLen tokens, each generating ServeOutputLen tokens, at most
// ServeConcurrency in flight (short, so that a configured engine adds
// seconds per row, not minutes; LLMCBench's reproducer uses 32 in / 128 out).
const (
	ServeInputLen    = 32
	ServeOutputLen   = 32
	ServePrompts     = 8
	ServeConcurrency = 4
)

// knownEngine reports whether this build measures engine e in Track 5.
func knownEngine(e string) bool {
	return e == EngineCPU || e == EngineGollmServe || e == EngineLlamaCpp
}

// speedInputs is what determines a speed cell of method on engine e.
func speedInputs(method, e string, c *Config) map[string]string {
	in := map[string]string{"method": method, "engine": e, "threads": strconv.Itoa(c.Threads)}
	if e == EngineCPU {
		in["speed"] = fmt.Sprintf("prompt=%d,new=%d,runs=%d", PromptTokens, NewTokens, SpeedRuns)
	} else {
		in["loadgen"] = fmt.Sprintf("input=%d,output=%d,prompts=%d,concurrency=%d", ServeInputLen, ServeOutputLen, ServePrompts, ServeConcurrency)
	}
	return in
}

// serveSpeed measures p's checkpoint on a serving engine with gollm
// loadgen --engine, as a child. llama.cpp gets the checkpoint exported to
// GGUF f16 (into the study's checkpoint folder); a checkpoint gollm export
// refuses (packed quantized, structurally pruned: what
// loadgen/engines.csv lists as not loaded) fails the cell with export's
// reason, and so does a machine without node-llama-cpp ("not installed").
func (r *runner) serveSpeed(p *plan) (*bench.Cell, error) {
	mi, failed, err := r.info(p)
	if err != nil || failed != nil {
		return failed, err
	}
	engine, model := loadgen.EngineGollm, p.modelDir
	if p.engine == EngineLlamaCpp {
		if _, _, err := loadgen.LlamaCpp(""); errors.Is(err, loadgen.ErrNotInstalled) {
			return r.failedCell(p, err.Error(), false), nil
		}
		engine, model = loadgen.EngineLlamaCpp, filepath.Join(r.o.Dir, bench.CheckpointsDir, p.key+".gguf")
		if _, err := os.Stat(model); err != nil {
			res, err := r.child("export", "--model", p.modelDir, "--format", "gguf", "--dtype", "f16", "--out", model, "--overwrite")
			if err != nil {
				return nil, err
			}
			if res.code != 0 {
				c := r.fail(p, res)
				c.Error = "llama.cpp: not supported: gollm export --format gguf: " + c.Error
				return c, nil
			}
		}
	}
	res, err := r.child("loadgen", "--engine", engine, "--model", model, "--num-prompts", strconv.Itoa(ServePrompts),
		"--input-len", strconv.Itoa(ServeInputLen), "--output-len", strconv.Itoa(ServeOutputLen),
		"--concurrency", strconv.Itoa(ServeConcurrency), "--engine-parallel", strconv.Itoa(ServeConcurrency),
		"--vocab-size", strconv.Itoa(mi.Vocab), "--seed", "0", "--json")
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return r.fail(p, res), nil
	}
	var lr loadgen.Result
	if err := json.Unmarshal(res.stdout, &lr); err != nil {
		return r.failedCell(p, "gollm loadgen: unexpected output: "+err.Error(), false), nil
	}
	lc, err := loadgen.Cell(&lr, loadgen.CellLabels{Model: p.model, Method: p.method, Gollm: r.o.Version})
	if err != nil {
		return nil, err
	}
	c := r.newCell(p)
	c.Params = mi.Stats.Params
	c.Result, c.Metrics = lc.Result, lc.Metrics
	if lc.Status != bench.StatusOK {
		c.Status, c.Error = lc.Status, lc.Error
	}
	return c, nil
}
