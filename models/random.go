package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/tensor"
)

// randomSource invents parameters of the shapes the config implies: norm
// weights 1, biases 0, other weights N(0, 0.02²) — the shape and cost of a
// real model, for speed measurements.
type randomSource struct {
	cfg *Config
	rng *rand.Rand
}

func newRandomSource(cfg *Config, seed int64) *randomSource {
	return &randomSource{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
}

func (r *randomSource) has(name string) bool {
	return strings.HasPrefix(name, "lm_head") && !r.cfg.TieEmbed
}

func (r *randomSource) values(name string, n int) []float32 {
	v := make([]float32, n)
	switch {
	case strings.Contains(name, "norm") && strings.HasSuffix(name, ".weight"):
		for i := range v {
			v[i] = 1
		}
	case strings.HasSuffix(name, ".bias"):
	default:
		for i := range v {
			v[i] = float32(r.rng.NormFloat64() * 0.02)
		}
	}
	return v
}

func (r *randomSource) tensor(name string, shape ...int) (*tensor.Tensor, error) {
	n := tensor.Numel(shape)
	if n <= 0 || n > math.MaxInt32*4 {
		return nil, fmt.Errorf("random weights: tensor %q has shape %v", name, shape)
	}
	return tensor.FromFloat32(name, shape, r.values(name, n)), nil
}

func (r *randomSource) matrix(prefix string, out, in int) (kernels.Matrix, error) {
	return kernels.NewDense(out, in, r.values(prefix+".weight", out*in))
}
