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
// weights 1, biases 0, other weights uniform with standard deviation 0.02
// (the usual initializer_range) — the shape and cost of a real model, for
// speed measurements. Values depend only on the seed and the tensor name,
// and are generated in parallel chunks.
type randomSource struct {
	cfg  *Config
	seed uint64
}

func newRandomSource(cfg *Config, seed int64) *randomSource {
	return &randomSource{cfg: cfg, seed: uint64(seed)}
}

func nameHash(s string) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
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
		const chunk = 1 << 16
		amp := float32(0.02 * math.Sqrt(3))
		h := nameHash(name)
		kernels.ParallelFor((n+chunk-1)/chunk, 1, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				rng := rand.New(rand.NewPCG(r.seed^h, uint64(c)))
				for i := c * chunk; i < min((c+1)*chunk, n); i++ {
					v[i] = (2*rng.Float32() - 1) * amp
				}
			}
		})
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

func (r *randomSource) check(name string, shape []int) (float64, error) {
	return 4 * numel(shape), nil
}

func (r *randomSource) checkMatrix(prefix string, out, in int) (float64, error) {
	return 4 * float64(out) * float64(in), nil
}
