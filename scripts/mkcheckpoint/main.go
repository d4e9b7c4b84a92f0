// Command mkcheckpoint writes a Hugging Face model folder with random
// weights for a config.json, for benchmarks that need a real checkpoint on
// disk (lazy loading, compression memory) without downloading a model:
//
//	go run ./scripts/mkcheckpoint --config cfg.json --out DIR [--dtype f16] [--seed 1]
//
// Matrices are N(0, 0.02²), norm gains 1, biases 0, in the given dtype; the
// folder gets config.json and model.safetensors (no tokenizer).
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/llmcbench/gollm/grad"
	"github.com/llmcbench/gollm/models"
	"github.com/llmcbench/gollm/tensor"
)

func main() {
	cfgPath := flag.String("config", "", "Hugging Face config.json")
	out := flag.String("out", "", "output folder")
	dtype := flag.String("dtype", "f16", "weight dtype: f32, f16 or bf16")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*cfgPath, *out, *dtype, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "mkcheckpoint:", err)
		os.Exit(2)
	}
}

func run(cfgPath, out, dtype string, seed uint64) error {
	if cfgPath == "" || out == "" {
		return fmt.Errorf("--config and --out are required")
	}
	dt, ok := map[string]tensor.DType{"f32": tensor.F32, "f16": tensor.F16, "bf16": tensor.BF16}[dtype]
	if !ok {
		return fmt.Errorf("--dtype %q: want f32, f16 or bf16", dtype)
	}
	cfg, err := models.ParseConfig(cfgPath)
	if err != nil {
		return err
	}
	specs, err := grad.ParamSpecs(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "config.json"), raw, 0o644); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var ts []*tensor.Tensor
	var n int64
	for _, p := range specs {
		v := make([]float32, p.Numel())
		switch p.Kind {
		case grad.Matrix:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.02)
			}
		case grad.NormWeight:
			for i := range v {
				v[i] = 1
			}
		}
		t, err := tensor.Encode(p.Name, dt, p.Shape, v)
		if err != nil {
			return err
		}
		ts = append(ts, t)
		n += int64(len(v))
	}
	if err := tensor.WriteFile(filepath.Join(out, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mkcheckpoint: %d tensors, %.2fB parameters, %s → %s\n", len(ts), float64(n)/1e9, dt, out)
	return nil
}
