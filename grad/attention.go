package grad

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/kernels"
)

// Attention computes causal multi-head attention for batch independent
// sequences of seqLen tokens. q is [batch·seqLen × heads·headDim]; k and v
// are [batch·seqLen × kvHeads·headDim] (grouped-query: query head h reads
// key/value head h/(heads/kvHeads); kvHeads = 1 is multi-query). The output
// is [batch·seqLen × heads·headDim]; scale multiplies QKᵀ (usually
// 1/sqrt(headDim)).
//
// Per (sequence, head) the forward is two GEMMs (S = scale·Q·Kᵀ, O = P·V)
// around a masked softmax; the probabilities P are kept for backward
// (batch·heads·seqLen² floats), which is four GEMMs:
// dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K,
// dK += scale·dSᵀ·Q.
func (t *Tape) Attention(q, k, v *Var, batch, seqLen, heads, kvHeads, headDim int, scale float32) *Var {
	width, kvWidth := heads*headDim, kvHeads*headDim
	rows := batch * seqLen
	if kvHeads <= 0 || heads%kvHeads != 0 {
		panic(fmt.Sprintf("grad.Attention: %d heads over %d key/value heads", heads, kvHeads))
	}
	checkShape("Attention q", q, rows, width)
	checkShape("Attention k", k, rows, kvWidth)
	checkShape("Attention v", v, rows, kvWidth)
	group := heads / kvHeads
	T := seqLen
	y := t.out(rows, width, q, k, v)
	probs := make([]float32, batch*heads*T*T)
	for b := 0; b < batch; b++ {
		r0 := b * T
		for h := 0; h < heads; h++ {
			kvOff := (h / group) * headDim
			p := probs[(b*heads+h)*T*T : (b*heads+h+1)*T*T]
			kernels.Sgemm(false, true, T, T, headDim, scale, q.Val[r0*width+h*headDim:], width, k.Val[r0*kvWidth+kvOff:], kvWidth, 0, p, T)
			maskedSoftmax(p, T)
			kernels.Sgemm(false, false, T, headDim, T, 1, p, T, v.Val[r0*kvWidth+kvOff:], kvWidth, 0, y.Val[r0*width+h*headDim:], width)
		}
	}
	t.record(y, func(dy []float32) {
		dp := make([]float32, T*T)
		var dq, dk, dv []float32
		if q.requires {
			dq = q.g()
		}
		if k.requires {
			dk = k.g()
		}
		if v.requires {
			dv = v.g()
		}
		for b := 0; b < batch; b++ {
			r0 := b * T
			for h := 0; h < heads; h++ {
				kvOff := (h / group) * headDim
				p := probs[(b*heads+h)*T*T : (b*heads+h+1)*T*T]
				dO := dy[r0*width+h*headDim:]
				if dv != nil {
					kernels.Sgemm(true, false, T, headDim, T, 1, p, T, dO, width, 1, dv[r0*kvWidth+kvOff:], kvWidth)
				}
				if dq == nil && dk == nil {
					continue
				}
				kernels.Sgemm(false, true, T, T, headDim, 1, dO, width, v.Val[r0*kvWidth+kvOff:], kvWidth, 0, dp, T)
				softmaxBackward(dp, p, T)
				if dq != nil {
					kernels.Sgemm(false, false, T, headDim, T, scale, dp, T, k.Val[r0*kvWidth+kvOff:], kvWidth, 1, dq[r0*width+h*headDim:], width)
				}
				if dk != nil {
					kernels.Sgemm(true, false, T, headDim, T, scale, dp, T, q.Val[r0*width+h*headDim:], width, 1, dk[r0*kvWidth+kvOff:], kvWidth)
				}
			}
		}
	})
	return y
}

// maskedSoftmax replaces each row r of the T×T scores s by the softmax of
// its first r+1 entries, zeroing the rest (the causal mask).
func maskedSoftmax(s []float32, T int) {
	kernels.ParallelFor(T, max(1, 8192/T), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := s[r*T : (r+1)*T]
			kernels.Softmax(row[:r+1])
			clear(row[r+1:])
		}
	})
}

// softmaxBackward turns dP into dS = P ⊙ (dP − Σ_j dP_j·P_j) row by row,
// in place (masked entries, where P is 0, become 0).
func softmaxBackward(dp, p []float32, T int) {
	kernels.ParallelFor(T, max(1, 8192/T), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			d, pr := dp[r*T:(r+1)*T], p[r*T:(r+1)*T]
			var dot float64
			for j := 0; j <= r; j++ {
				dot += float64(d[j]) * float64(pr[j])
			}
			for j := 0; j <= r; j++ {
				d[j] = float32(float64(pr[j]) * (float64(d[j]) - dot))
			}
			clear(d[r+1:])
		}
	})
}

// AttentionScale returns 1/sqrt(headDim), the scale every supported
// architecture uses.
func AttentionScale(headDim int) float32 { return float32(1 / math.Sqrt(float64(headDim))) }
