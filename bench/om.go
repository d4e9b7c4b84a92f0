// Package bench holds LLMCBench's study-level arithmetic: the ratios that
// compare a compressed model with its original, and the overall metrics
// (OM) that summarise each track.
package bench

import (
	"fmt"
	"math"
)

// Ratio compares a compressed model's metric with the original's so that
// 1 means "as good as the original" and larger is better: compressed /
// original for higher-is-better metrics (accuracy), original / compressed
// for lower-is-better ones (perplexity, memory, size, MACs, time).
func Ratio(original, compressed float64, lowerIsBetter bool) (float64, error) {
	if original <= 0 || compressed <= 0 || math.IsNaN(original) || math.IsNaN(compressed) || math.IsInf(original, 0) || math.IsInf(compressed, 0) {
		return 0, fmt.Errorf("ratio of %v and %v: both must be positive and finite", original, compressed)
	}
	if lowerIsBetter {
		return original / compressed, nil
	}
	return compressed / original, nil
}

// OM is LLMCBench's overall metric: 100 · sqrt((1/N) Σ_i mean(r²) over
// group i), a quadratic mean over N groups (e.g. the knowledge-ability and
// inference-ability datasets of Track 1) of the mean squared ratio within
// each group (over models and datasets). Empty groups are an error.
func OM(groups ...[]float64) (float64, error) {
	if len(groups) == 0 {
		return 0, fmt.Errorf("overall metric of no groups")
	}
	var sum float64
	for i, g := range groups {
		if len(g) == 0 {
			return 0, fmt.Errorf("overall metric: group %d is empty", i)
		}
		var sq float64
		for _, r := range g {
			if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
				return 0, fmt.Errorf("overall metric: group %d has ratio %v", i, r)
			}
			sq += r * r
		}
		sum += sq / float64(len(g))
	}
	return 100 * math.Sqrt(sum/float64(len(groups))), nil
}

// Combine is the quadratic mean of several OMs (e.g. OM_perf from OM_ka and
// OM_ia).
func Combine(oms ...float64) (float64, error) {
	groups := make([][]float64, len(oms))
	for i, v := range oms {
		groups[i] = []float64{v / 100}
	}
	return OM(groups...)
}
