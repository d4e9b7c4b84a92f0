package compress

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/llmcbench/gollm/kernels"
)

// kthSmallest returns the k-th smallest value (0-based) of v, reordering
// v. NaNs must have been replaced beforehand.
func kthSmallest(v []float32, k int) float32 {
	lo, hi := 0, len(v)-1
	rng := rand.New(rand.NewPCG(uint64(len(v)), uint64(k)))
	for lo < hi {
		p := v[lo+rng.IntN(hi-lo+1)]
		// Three-way partition: [lo, lt) < p, [lt, gt] == p, (gt, hi] > p.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case v[i] < p:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case v[i] > p:
				v[i], v[gt] = v[gt], v[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return v[k]
}

// smallestMask sets mask[i] for exactly k entries of scores: every score
// below the k-th smallest, then the entries equal to it in index order (the
// result of a stable ascending sort cut after k). scratch, if long enough,
// is reused.
func smallestMask(scores []float32, k int, mask []bool, scratch []float32) {
	for i := range mask[:len(scores)] {
		mask[i] = false
	}
	if k <= 0 {
		return
	}
	if k >= len(scores) {
		for i := range scores {
			mask[i] = true
		}
		return
	}
	if cap(scratch) < len(scores) {
		scratch = make([]float32, len(scores))
	}
	scratch = scratch[:len(scores)]
	for i, s := range scores {
		if s != s {
			s = float32(math.Inf(1))
		}
		scratch[i] = s
	}
	t := kthSmallest(scratch, k-1)
	n := 0
	for i, s := range scores {
		if s < t {
			mask[i] = true
			n++
		}
	}
	for i, s := range scores {
		if n == k {
			break
		}
		if s == t || (s != s && math.IsInf(float64(t), 1)) {
			mask[i] = true
			n++
		}
	}
}

// nmMask sets, in each run of m consecutive entries of scores, the n with
// the smallest scores (ties to the lower index); len(scores) is a multiple
// of m.
func nmMask(scores []float32, n, m int, mask []bool) {
	for g := 0; g+m <= len(scores); g += m {
		s, mk := scores[g:g+m], mask[g:g+m]
		for i := range mk {
			mk[i] = false
		}
		for range n {
			best := -1
			for i, v := range s {
				if !mk[i] && (best < 0 || v < s[best] || s[best] != s[best]) {
					best = i
				}
			}
			mk[best] = true
		}
	}
}

// applyMask zeroes w where mask is set and returns how many it zeroed.
func applyMask(w []float32, mask []bool) int {
	n := 0
	for i, m := range mask {
		if m {
			w[i] = 0
			n++
		}
	}
	return n
}

// PruneOptions select the sparsity: a fraction, or N:M (N of every M
// consecutive input columns pruned in each row) when M > 0.
type PruneOptions struct {
	Sparsity float64
	N, M     int
}

func (o PruneOptions) check(in int) error {
	if o.M > 0 {
		if o.N < 1 || o.N >= o.M || in%o.M != 0 {
			return fmt.Errorf("pattern %d:%d does not divide %d input columns", o.N, o.M, in)
		}
		return nil
	}
	if !(o.Sparsity >= 0 && o.Sparsity < 1) {
		return fmt.Errorf("sparsity %g", o.Sparsity)
	}
	return nil
}

// MagnitudePrune zeroes the smallest |w| of w [out×in] in place: exactly
// ⌊out·in·sparsity⌋ of them over the whole matrix (one threshold per
// layer), or with N:M the N smallest of every M columns in each row. It
// returns the number of weights pruned.
func MagnitudePrune(w []float32, out, in int, o PruneOptions) (int, error) {
	if err := o.check(in); err != nil || len(w) != out*in {
		return 0, fmt.Errorf("magnitude: %d×%d: %v", out, in, err)
	}
	score := make([]float32, len(w))
	for i, v := range w {
		score[i] = float32(math.Abs(float64(v)))
	}
	mask := make([]bool, len(w))
	if o.M > 0 {
		kernels.ParallelFor(out, 16, func(lo, hi int) {
			nmMask(score[lo*in:hi*in], o.N, o.M, mask[lo*in:hi*in])
		})
	} else {
		smallestMask(score, int(float64(len(w))*o.Sparsity), mask, nil)
	}
	return applyMask(w, mask), nil
}

// WandaPrune prunes w [out×in] in place by Wanda's score |W_ij|·sqrt(s_j),
// where s_j is the mean over calibration sequences of ‖X_j‖₂² (the squared
// norm of input column j): in each output row exactly ⌊in·sparsity⌋ weights
// with the lowest scores (a stable sort, ties to the lower index), or with
// N:M the N lowest of every M columns. No weight is updated.
func WandaPrune(w []float32, out, in int, colSq []float64, o PruneOptions) (int, error) {
	if err := o.check(in); err != nil || len(w) != out*in || len(colSq) != in {
		return 0, fmt.Errorf("wanda: %d×%d with %d column norms: %v", out, in, len(colSq), err)
	}
	norm := make([]float32, in)
	for j, s := range colSq {
		norm[j] = float32(math.Sqrt(s))
	}
	k := int(float64(in) * o.Sparsity)
	counts := make([]int, kernels.Workers(out, 8))
	kernels.ParallelForWorker(out, 8, func(wk, lo, hi int) {
		score := make([]float32, in)
		mask := make([]bool, in)
		scratch := make([]float32, in)
		for r := lo; r < hi; r++ {
			row := w[r*in : r*in+in]
			for j, v := range row {
				score[j] = float32(math.Abs(float64(v))) * norm[j]
			}
			if o.M > 0 {
				nmMask(score, o.N, o.M, mask)
			} else {
				smallestMask(score, k, mask, scratch)
			}
			counts[wk] += applyMask(row, mask)
		}
	})
	n := 0
	for _, c := range counts {
		n += c
	}
	return n, nil
}

// SparseGPTPrune runs SparseGPT (IST-DASLab/sparsegpt fasterprune) on w
// [out×in] in place with the prepared Hessian (no act-order): in blocks of
// blockSize columns, the mask of an unstructured run is the ⌊out·count·
// sparsity⌋ smallest w²/Hinv_jj² over the whole block (chosen when the block
// starts); with N:M, every M columns each row prunes its N smallest w²/d²
// (on the weights as updated so far). Each pruned weight's error
// err = w/Hinv_ii is spread over the remaining columns (the OBS update), with
// a lazy GEMM update of the later columns per block. It returns the number
// of pruned weights.
func SparseGPTPrune(w []float32, out, in int, hs *Hessian, o PruneOptions, blockSize int) (int, error) {
	if err := o.check(in); err != nil || len(w) != out*in || hs.N != in || hs.Perm != nil {
		return 0, fmt.Errorf("sparsegpt: %d×%d, hessian %d: %v", out, in, hs.N, err)
	}
	bs := max(blockSize, 1)
	if o.M > 0 && bs%o.M != 0 {
		return 0, fmt.Errorf("sparsegpt: block size %d is not a multiple of M=%d", bs, o.M)
	}
	for i, d := range hs.Dead {
		if d {
			for r := 0; r < out; r++ {
				w[r*in+i] = 0
			}
		}
	}
	hinv := hs.Hinv
	errs := make([]float32, out*bs)
	score := make([]float32, out*bs)
	mask := make([]bool, out*bs)
	var scratch []float32
	pruned := 0
	counts := make([]int, kernels.Workers(out, 4))
	for i1 := 0; i1 < in; i1 += bs {
		i2 := min(i1+bs, in)
		cnt := i2 - i1
		if o.M == 0 {
			sc, mk := score[:out*cnt], mask[:out*cnt]
			kernels.ParallelFor(out, 16, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					for i := 0; i < cnt; i++ {
						d := hinv[(i1+i)*in+i1+i]
						v := w[r*in+i1+i]
						sc[r*cnt+i] = v * v / (d * d)
					}
				}
			})
			if cap(scratch) < len(sc) {
				scratch = make([]float32, len(sc))
			}
			smallestMask(sc, int(float64(out*cnt)*o.Sparsity), mk, scratch)
		}
		kernels.ParallelForWorker(out, 4, func(wk, lo, hi int) {
			for r := lo; r < hi; r++ {
				row := w[r*in : r*in+in]
				mk := mask[r*cnt : r*cnt+cnt]
				sc := score[r*cnt : r*cnt+cnt]
				er := errs[r*cnt : r*cnt+cnt]
				for i := 0; i < cnt; i++ {
					col := i1 + i
					if o.M > 0 && i%o.M == 0 {
						for j := 0; j < o.M; j++ {
							d := hinv[(col+j)*in+col+j]
							v := row[col+j]
							sc[i+j] = v * v / (d * d)
						}
						nmMask(sc[i:i+o.M], o.N, o.M, mk[i:i+o.M])
					}
					wv := row[col]
					var qv float32
					if !mk[i] {
						qv = wv
					} else {
						counts[wk]++
					}
					e := (wv - qv) / hinv[col*in+col]
					if e != 0 {
						hrow := hinv[col*in+col+1 : col*in+i2]
						seg := row[col+1 : i2]
						for j, hv := range hrow {
							seg[j] -= e * hv
						}
					}
					row[col] = qv
					er[i] = e
				}
			}
		})
		if i2 < in {
			kernels.Sgemm(false, false, out, in-i2, cnt, -1, errs[:out*cnt], cnt, hinv[i1*in+i2:], in, 1, w[i2:], in)
		}
	}
	for _, c := range counts {
		pruned += c
	}
	return pruned, nil
}

// The pieces the three pruners (magnitude.go, wanda.go, sparsegpt.go)
// share.

// pruneSparsityParam is the pruners' sparsity.
var pruneSparsityParam = sparsityParam("fraction of each linear's weights pruned (auto: 0.5, or N/M with a pattern)")

// pruneFormat is a pruner's checkpoint layout: 2:4 packed, or dense.
func pruneFormat(c *Config) string {
	if c.PatternN == 2 && c.PatternM == 4 {
		return "2:4"
	}
	return "dense"
}

// recordPruning records a pruner's sparsity and pattern.
func recordPruning(c *Config, mc *MethodConfig) {
	mc.Sparsity = c.Sparsity
	if c.PatternM > 0 {
		mc.Pattern = fmt.Sprintf("%d:%d", c.PatternN, c.PatternM)
	}
}

func (e *engine) pruneOptions() PruneOptions {
	return PruneOptions{Sparsity: e.cfg.Sparsity, N: e.cfg.PatternN, M: e.cfg.PatternM}
}

// pruneWithStats prunes block i from one statistics pass (kind) over all
// its linears: prune prunes each linear's weights w [out×in] in place with
// the statistics of its input; then the outputs are recomputed with the
// pruned weights (Wanda, SparseGPT).
func (e *engine) pruneWithStats(ctx context.Context, i int, kind statKind, prune func(w []float32, out, in int, st *inputStat) error) error {
	ls := e.m.Linears(i)
	stats, err := e.collect(ctx, i, shorts(ls), func(string) statKind { return kind }, false, false, nil)
	if err != nil {
		return err
	}
	lead := e.rules.leaderOf()
	for _, l := range ls {
		t := time.Now()
		src, _ := denseOf(l)
		w := append([]float32(nil), src...)
		if err := prune(w, l.Out(), l.In(), stats[lead[l.Short]]); err != nil {
			return fmt.Errorf("linear %s: %w", l.Name, err)
		}
		if err := e.recordPruned(l, w, t); err != nil {
			return err
		}
	}
	return e.forwardAll(ctx, i, nil)
}
