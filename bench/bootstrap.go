package bench

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// Bootstrap settings: every confidence interval in a Summary is a 95%
// percentile bootstrap over BootstrapResamples resamples of the documents
// of each task, drawn from a fixed seed so that a report is reproducible
// (docs/BENCH.md, "Uncertainty").
const (
	BootstrapResamples = 1000
	BootstrapLevel     = 0.95
	bootstrapSeed      = 0x11c3be4c // "LLMCBench", fixed: reports must not move between runs
)

// replicates returns BootstrapResamples bootstrap replicates of a statistic
// over n = len(num) documents: each replicate draws n document indices with
// replacement and returns finish(Σ num[i], Σ den[i]) over the draws (den
// nil: Σ 1). The draws depend only on pairKey and n, so two cells that
// score the same documents in the same order (the dense and the
// compressed model on one task) are resampled with the same indices: their
// ratio is a paired comparison. Cost: n·BootstrapResamples draws.
func replicates(pairKey string, num, den []float64, finish func(num, den float64) float64) []float64 {
	n := len(num)
	if n == 0 {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(pairKey))
	rng := rand.New(rand.NewPCG(bootstrapSeed, h.Sum64()))
	reps := make([]float64, BootstrapResamples)
	for b := range reps {
		var sn, sd float64
		if den == nil {
			for range n {
				sn += num[rng.IntN(n)]
			}
			sd = float64(n)
		} else {
			for range n {
				i := rng.IntN(n)
				sn += num[i]
				sd += den[i]
			}
		}
		reps[b] = finish(sn, sd)
	}
	return reps
}

// meanReplicates returns bootstrap replicates of the mean of vals, scaled.
func meanReplicates(pairKey string, vals []float64, scale float64) []float64 {
	return replicates(pairKey, vals, nil, func(n, d float64) float64 { return scale * n / d })
}

// perplexityReplicates returns bootstrap replicates of exp(ΣNLL / ΣTokens)
// over perplexity windows.
func perplexityReplicates(pairKey string, nll, tokens []float64) []float64 {
	return replicates(pairKey, nll, tokens, func(n, d float64) float64 {
		if d <= 0 {
			return math.NaN()
		}
		return math.Exp(n / d)
	})
}

// percentileCI returns the central BootstrapLevel interval of reps
// (percentiles by linear interpolation between order statistics), or nil
// when there are no replicates or one is not a number.
func percentileCI(reps []float64) *[2]float64 {
	if len(reps) == 0 {
		return nil
	}
	s := slices.Clone(reps)
	for _, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
	}
	slices.Sort(s)
	alpha := (1 - BootstrapLevel) / 2
	return &[2]float64{quantile(s, alpha), quantile(s, 1-alpha)}
}

// quantile is the q-quantile of sorted values (type 7: linear
// interpolation between the order statistics around q·(n−1)).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(lo)
	return sorted[lo] + f*(sorted[lo+1]-sorted[lo])
}
