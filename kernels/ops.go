package kernels

import (
	"math"
)

// Transformer ops on row-major float32 matrices. Each op works row by row
// (one row = one token), splits rows over the CPU cores when there are
// enough of them, and allocates nothing.

// RMSNorm computes dst[r] = x[r] / sqrt(mean(x[r]²) + eps) · gamma for each
// of the rows of width len(gamma). dst may alias x.
func RMSNorm(dst, x, gamma []float32, eps float32) {
	n := len(gamma)
	rows := len(x) / n
	ParallelFor(rows, max(1, 16384/n), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			RMSNormRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n], gamma, eps)
		}
	})
}

// RMSNormRow is RMSNorm of one row x (dst may alias x); it returns the
// scale inv = 1/sqrt(mean(x²) + eps) it applied, for a backward pass.
func RMSNormRow(dst, x, gamma []float32, eps float32) (inv float64) {
	n := len(x)
	dst, gamma = dst[:n], gamma[:n]
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv = 1 / math.Sqrt(ss/float64(n)+float64(eps))
	iv := float32(inv)
	for i, v := range x {
		dst[i] = v * iv * gamma[i]
	}
	return inv
}

// LayerNorm computes dst[r] = (x[r] − mean) / sqrt(var + eps) · gamma + beta
// (biased variance, as torch.nn.LayerNorm). beta may be nil. dst may alias x.
func LayerNorm(dst, x, gamma, beta []float32, eps float32) {
	n := len(gamma)
	rows := len(x) / n
	ParallelFor(rows, max(1, 16384/n), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			LayerNormRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n], gamma, beta, eps)
		}
	})
}

// LayerNormRow is LayerNorm of one row x (beta may be nil; dst may alias
// x); it returns the row's mean and inv = 1/sqrt(var + eps), for a backward
// pass.
func LayerNormRow(dst, x, gamma, beta []float32, eps float32) (mean, inv float64) {
	n := len(x)
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean = sum / float64(n)
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	inv = 1 / math.Sqrt(ss/float64(n)+float64(eps))
	for i, v := range x {
		y := float32((float64(v)-mean)*inv) * gamma[i]
		if beta != nil {
			y += beta[i]
		}
		dst[i] = y
	}
	return mean, inv
}

// Silu returns x·sigmoid(x).
func Silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// SwiGLU computes dst = silu(gate) ⊙ up elementwise. dst may alias either.
func SwiGLU(dst, gate, up []float32) {
	ParallelFor(len(dst), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = Silu(gate[i]) * up[i]
		}
	})
}

// ReLU sets negative entries of x to zero in place.
func ReLU(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

// GELU applies the exact (erf) GELU in place.
func GELU(x []float32) {
	for i, v := range x {
		x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
	}
}

// Add computes dst = a + b elementwise. dst may alias a or b.
func Add(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// RoPE rotates each head of the rows of x in place. x is [rows, heads·headDim];
// row r sits at position pos0+r. invFreq has rotDim/2 entries (rotDim ≤
// headDim; dimensions past rotDim pass through). interleaved selects the
// pairing: false pairs (i, i+rotDim/2) as LLaMA's rotate_half does; true pairs
// (2i, 2i+1) as ChatGLM and GPT-J do. scale multiplies cos and sin (the
// "attention scaling" of some rope types; 1 for most).
func RoPE(x []float32, heads, headDim, pos0 int, invFreq []float32, interleaved bool, scale float32) {
	width := heads * headDim
	rows := len(x) / width
	half := len(invFreq)
	ParallelFor(rows, max(1, 4096/width), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			pos := float64(pos0 + r)
			for i := 0; i < half; i++ {
				// Match PyTorch: the angle is computed in float32 (inv_freq · position).
				ang := float64(float32(pos) * invFreq[i])
				c, s := float32(math.Cos(ang))*scale, float32(math.Sin(ang))*scale
				for h := 0; h < heads; h++ {
					base := r*width + h*headDim
					var a, b int
					if interleaved {
						a, b = base+2*i, base+2*i+1
					} else {
						a, b = base+i, base+i+half
					}
					x0, x1 := x[a], x[b]
					x[a] = x0*c - x1*s
					x[b] = x1*c + x0*s
				}
			}
		}
	})
}

// Softmax normalises x in place (max-subtracted, float64 accumulation).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v - m))
		x[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// LogSoftmax returns log softmax(x)[i] for one index without modifying x.
func LogSoftmax(x []float32, i int) float64 {
	m, sum := ExpSum(x)
	return float64(x[i]-m) - math.Log(sum)
}

// ExpSum returns m = max(x) and Σ exp(x_j − m) (each x_j − m in float32,
// the sum in float64): the shifted normaliser of a softmax over x, so that
// log Σ exp(x_j) = m + log(sum). x must not be empty.
func ExpSum(x []float32) (m float32, sum float64) {
	m = x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	for _, v := range x {
		sum += math.Exp(float64(v - m))
	}
	return m, sum
}

// Dot returns the float32 dot product of a and b (len(a) ≤ len(b)), with
// four accumulators so the loop pipelines.
func Dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy computes y += alpha·x.
func Axpy(alpha float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		y[i] += alpha * x[i]
		y[i+1] += alpha * x[i+1]
		y[i+2] += alpha * x[i+2]
		y[i+3] += alpha * x[i+3]
	}
	for ; i < n; i++ {
		y[i] += alpha * x[i]
	}
}

// AttentionScratch returns how many floats Attention needs as scratch for a
// cache of maxLen positions.
func AttentionScratch(maxLen int) int { return MaxThreads() * maxLen }

// Attention computes causal multi-head attention for rows query tokens at
// positions pos0…pos0+rows−1 against a cache holding positions 0…pos0+rows−1.
// q and out are [rows, heads·headDim]; k and v are [≥pos0+rows, kvHeads·headDim]
// (grouped-query: query head h reads kv head h/(heads/kvHeads)). scratch must
// hold AttentionScratch(cacheLen) floats. out must not alias q.
func Attention(out, q, k, v []float32, rows, pos0, heads, kvHeads, headDim int, scale float32, scratch []float32) {
	width, kvWidth := heads*headDim, kvHeads*headDim
	group := heads / kvHeads
	total := pos0 + rows
	work := rows * heads
	grain := max(1, 65536/(total*headDim+1))
	ParallelForWorker(work, grain, func(w, lo, hi int) {
		sc := scratch[w*total : (w+1)*total]
		for it := lo; it < hi; it++ {
			r, h := it/heads, it%heads
			n := pos0 + r + 1
			qr := q[r*width+h*headDim : r*width+(h+1)*headDim]
			kvOff := (h / group) * headDim
			s := sc[:n]
			for j := 0; j < n; j++ {
				s[j] = Dot(qr, k[j*kvWidth+kvOff:]) * scale
			}
			Softmax(s)
			o := out[r*width+h*headDim : r*width+(h+1)*headDim]
			clear(o)
			for j := 0; j < n; j++ {
				Axpy(s[j], v[j*kvWidth+kvOff:j*kvWidth+kvOff+headDim], o)
			}
		}
	})
}

// AttentionRef is the plain single-threaded reference for Attention
// (float64 accumulation throughout).
func AttentionRef(out, q, k, v []float32, rows, pos0, heads, kvHeads, headDim int, scale float32) {
	width, kvWidth := heads*headDim, kvHeads*headDim
	group := heads / kvHeads
	for r := 0; r < rows; r++ {
		n := pos0 + r + 1
		for h := 0; h < heads; h++ {
			kvOff := (h / group) * headDim
			s := make([]float64, n)
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				var d float64
				for e := 0; e < headDim; e++ {
					d += float64(q[r*width+h*headDim+e]) * float64(k[j*kvWidth+kvOff+e])
				}
				s[j] = d * float64(scale)
				m = math.Max(m, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - m)
				sum += s[j]
			}
			for e := 0; e < headDim; e++ {
				var acc float64
				for j := 0; j < n; j++ {
					acc += s[j] / sum * float64(v[j*kvWidth+kvOff+e])
				}
				out[r*width+h*headDim+e] = float32(acc)
			}
		}
	}
}

// AttentionGEMMMinRows is the chunk length from which Attention's callers
// should use AttentionGEMM: below it the per-head GEMM calls cost more than
// the dot-product loop.
const AttentionGEMMMinRows = 16

// AttentionGEMMScratch returns how many floats AttentionGEMM needs for rows
// queries against total cached positions.
func AttentionGEMMScratch(rows, total int) int { return rows * total }

// AttentionGEMM computes the same causal attention as Attention through two
// GEMMs per head (S = scale·Q_h·K_hᵀ, masked softmax, O_h = P·V_h), which is
// what makes long prefills fast: 4·rows·total·headDim FLOPs per head at GEMM
// speed instead of dot-product speed. scratch holds
// AttentionGEMMScratch(rows, pos0+rows) floats.
func AttentionGEMM(out, q, k, v []float32, rows, pos0, heads, kvHeads, headDim int, scale float32, scratch []float32) {
	width, kvWidth := heads*headDim, kvHeads*headDim
	group := heads / kvHeads
	total := pos0 + rows
	s := scratch[:rows*total]
	for h := 0; h < heads; h++ {
		kvOff := (h / group) * headDim
		Sgemm(false, true, rows, total, headDim, scale, q[h*headDim:], width, k[kvOff:], kvWidth, 0, s, total)
		ParallelFor(rows, max(1, 8192/total), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				n := pos0 + r + 1
				row := s[r*total : (r+1)*total]
				Softmax(row[:n])
				clear(row[n:])
			}
		})
		Sgemm(false, false, rows, headDim, total, 1, s, total, v[kvOff:], kvWidth, 0, out[h*headDim:], width)
	}
}
