package grad

import (
	"fmt"
	"math"

	"github.com/llmcbench/gollm/kernels"
)

// rowGrain is the number of rows a ParallelFor chunk should hold for
// row-wise ops of width n (about 16k values per chunk).
func rowGrain(n int) int { return max(1, 16384/max(n, 1)) }

func checkShape(op string, v *Var, rows, cols int) {
	if v.Rows != rows || v.Cols != cols {
		panic(fmt.Sprintf("grad.%s: got a %d×%d matrix, want %d×%d", op, v.Rows, v.Cols, rows, cols))
	}
}

// Embedding gathers rows ids of table [vocab×dim] into a len(ids)×dim
// matrix. Backward scatter-adds into the table's gradient. Ids outside the
// table panic (callers validate user input first).
func (t *Tape) Embedding(table *Var, ids []int) *Var {
	d := table.Cols
	y := t.out(len(ids), d, table)
	for i, id := range ids {
		if id < 0 || id >= table.Rows {
			panic(fmt.Sprintf("grad.Embedding: id %d outside [0, %d)", id, table.Rows))
		}
		copy(y.Val[i*d:(i+1)*d], table.Val[id*d:(id+1)*d])
	}
	t.record(y, func(dy []float32) {
		g := table.g()
		for i, id := range ids {
			kernels.Add(g[id*d:(id+1)*d], g[id*d:(id+1)*d], dy[i*d:(i+1)*d])
		}
	})
	return y
}

// Linear computes y = x·wᵀ + b for x [n×in], w [out×in] (nn.Linear layout)
// and b [1×out] (or nil), through kernels.Linear. Backward: dx = dy·w,
// dw += dyᵀ·x, db += Σ_rows dy, each one GEMM (kernels.Sgemm).
func (t *Tape) Linear(x, w, b *Var) *Var {
	n, in, out := x.Rows, x.Cols, w.Rows
	checkShape("Linear weight", w, out, in)
	var bias []float32
	if b != nil {
		checkShape("Linear bias", b, 1, out)
		bias = b.Val
	}
	y := t.out(n, out, x, w, b)
	kernels.Linear(y.Val, x.Val, n, in, w.Val, out, bias)
	t.record(y, func(dy []float32) {
		if x.requires {
			kernels.Sgemm(false, false, n, in, out, 1, dy, out, w.Val, in, 1, x.g(), in)
		}
		if w.requires {
			kernels.Sgemm(true, false, out, in, n, 1, dy, out, x.Val, in, 1, w.g(), in)
		}
		if b != nil && b.requires {
			colSumInto(b.g(), dy, n, out)
		}
	})
	return y
}

// colSumInto adds the column sums of m [rows×cols] to dst (float64 partial
// sums per chunk of rows, the chunks independent of the thread count and
// combined in order, so results are the same bits for any thread count).
func colSumInto(dst, m []float32, rows, cols int) {
	grain := rowGrain(cols)
	parts := make([][]float64, chunkCount(rows, grain))
	kernels.ParallelForChunks(rows, grain, func(w, lo, hi int) {
		acc := make([]float64, cols)
		for r := lo; r < hi; r++ {
			for j, v := range m[r*cols : (r+1)*cols] {
				acc[j] += float64(v)
			}
		}
		parts[w] = acc
	})
	for j := range dst[:cols] {
		var s float64
		for _, p := range parts {
			if p != nil {
				s += p[j]
			}
		}
		dst[j] += float32(s)
	}
}

// Add returns a + b (same shape): the residual connection.
func (t *Tape) Add(a, b *Var) *Var {
	checkShape("Add", b, a.Rows, a.Cols)
	y := t.out(a.Rows, a.Cols, a, b)
	kernels.Add(y.Val, a.Val, b.Val)
	t.record(y, func(dy []float32) {
		if a.requires {
			kernels.Add(a.g(), a.g(), dy)
		}
		if b.requires {
			kernels.Add(b.g(), b.g(), dy)
		}
	})
	return y
}

// Cols returns columns [c0, c1) of x (ChatGLM's fused QKV and h→4h
// outputs). Backward adds into those columns of dx.
func (t *Tape) Cols(x *Var, c0, c1 int) *Var {
	if c0 < 0 || c1 > x.Cols || c0 > c1 {
		panic(fmt.Sprintf("grad.Cols: [%d, %d) of %d columns", c0, c1, x.Cols))
	}
	w := c1 - c0
	y := t.out(x.Rows, w, x)
	for r := 0; r < x.Rows; r++ {
		copy(y.Val[r*w:(r+1)*w], x.Val[r*x.Cols+c0:r*x.Cols+c1])
	}
	t.record(y, func(dy []float32) {
		g := x.g()
		for r := 0; r < x.Rows; r++ {
			d := g[r*x.Cols+c0 : r*x.Cols+c1]
			kernels.Add(d, d, dy[r*w:(r+1)*w])
		}
	})
	return y
}

// RMSNorm computes y = x / sqrt(mean(x²) + eps) · gamma row by row, as
// kernels.RMSNorm (gamma is 1×cols).
func (t *Tape) RMSNorm(x, gamma *Var, eps float32) *Var {
	n := x.Cols
	checkShape("RMSNorm gamma", gamma, 1, n)
	rows := x.Rows
	y := t.out(rows, n, x, gamma)
	inv := make([]float64, rows)
	kernels.ParallelFor(rows, rowGrain(n), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			inv[r] = kernels.RMSNormRow(y.Val[r*n:(r+1)*n], x.Val[r*n:(r+1)*n], gamma.Val, eps)
		}
	})
	t.record(y, func(dy []float32) {
		var dx []float32
		if x.requires {
			dx = x.g()
		}
		grain := rowGrain(n)
		parts := make([][]float64, chunkCount(rows, grain))
		kernels.ParallelForChunks(rows, grain, func(w, lo, hi int) {
			var dg []float64
			if gamma.requires {
				dg = make([]float64, n)
				parts[w] = dg
			}
			for r := lo; r < hi; r++ {
				xr, dyr := x.Val[r*n:(r+1)*n], dy[r*n:(r+1)*n]
				iv := inv[r]
				var dot float64 // Σ gamma·dy·x
				for i, v := range xr {
					gd := float64(gamma.Val[i]) * float64(dyr[i])
					dot += gd * float64(v)
					if dg != nil {
						dg[i] += float64(dyr[i]) * float64(v) * iv
					}
				}
				if dx != nil {
					c := iv * iv * iv * dot / float64(n)
					dxr := dx[r*n : (r+1)*n]
					for i, v := range xr {
						dxr[i] += float32(iv*float64(gamma.Val[i])*float64(dyr[i]) - c*float64(v))
					}
				}
			}
		})
		if gamma.requires {
			addParts(gamma.g(), parts)
		}
	})
	return y
}

// chunkCount is how many partial results kernels.ParallelForChunks(rows,
// grain, …) needs.
func chunkCount(rows, grain int) int {
	c, _ := kernels.ReduceChunks(rows, grain)
	return c
}

// addParts adds the element-wise sum of parts (nil entries skipped), taken
// in order, to dst.
func addParts(dst []float32, parts [][]float64) {
	for j := range dst {
		var s float64
		for _, p := range parts {
			if p != nil {
				s += p[j]
			}
		}
		dst[j] += float32(s)
	}
}

// LayerNorm computes y = (x − mean)/sqrt(var + eps)·gamma + beta row by row
// (biased variance, as torch.nn.LayerNorm and kernels.LayerNorm); beta may
// be nil (ChatGLM's LayerNorm variant).
func (t *Tape) LayerNorm(x, gamma, beta *Var, eps float32) *Var {
	n := x.Cols
	checkShape("LayerNorm gamma", gamma, 1, n)
	var bv []float32
	if beta != nil {
		checkShape("LayerNorm beta", beta, 1, n)
		bv = beta.Val
	}
	rows := x.Rows
	y := t.out(rows, n, x, gamma, beta)
	mean := make([]float64, rows)
	inv := make([]float64, rows)
	kernels.ParallelFor(rows, rowGrain(n), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			mean[r], inv[r] = kernels.LayerNormRow(y.Val[r*n:(r+1)*n], x.Val[r*n:(r+1)*n], gamma.Val, bv, eps)
		}
	})
	t.record(y, func(dy []float32) {
		var dx []float32
		if x.requires {
			dx = x.g()
		}
		grain := rowGrain(n)
		gparts := make([][]float64, chunkCount(rows, grain))
		bparts := make([][]float64, len(gparts))
		kernels.ParallelForChunks(rows, grain, func(w, lo, hi int) {
			var dg, db []float64
			if gamma.requires {
				dg = make([]float64, n)
				gparts[w] = dg
			}
			if beta != nil && beta.requires {
				db = make([]float64, n)
				bparts[w] = db
			}
			for r := lo; r < hi; r++ {
				xr, dyr := x.Val[r*n:(r+1)*n], dy[r*n:(r+1)*n]
				mu, iv := mean[r], inv[r]
				var sd, sdx float64 // Σ dxhat, Σ dxhat·xhat
				for i, v := range xr {
					xh := (float64(v) - mu) * iv
					d := float64(dyr[i]) * float64(gamma.Val[i])
					sd += d
					sdx += d * xh
					if dg != nil {
						dg[i] += float64(dyr[i]) * xh
					}
					if db != nil {
						db[i] += float64(dyr[i])
					}
				}
				if dx != nil {
					fn := float64(n)
					dxr := dx[r*n : (r+1)*n]
					for i, v := range xr {
						xh := (float64(v) - mu) * iv
						d := float64(dyr[i]) * float64(gamma.Val[i])
						dxr[i] += float32(iv / fn * (fn*d - sd - xh*sdx))
					}
				}
			}
		})
		if gamma.requires {
			addParts(gamma.g(), gparts)
		}
		if beta != nil && beta.requires {
			addParts(beta.g(), bparts)
		}
	})
	return y
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// SwiGLU returns silu(gate) ⊙ up, as kernels.SwiGLU.
func (t *Tape) SwiGLU(gate, up *Var) *Var {
	checkShape("SwiGLU", up, gate.Rows, gate.Cols)
	y := t.out(gate.Rows, gate.Cols, gate, up)
	kernels.SwiGLU(y.Val, gate.Val, up.Val)
	t.record(y, func(dy []float32) {
		var dg, du []float32
		if gate.requires {
			dg = gate.g()
		}
		if up.requires {
			du = up.g()
		}
		kernels.ParallelFor(len(dy), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g := float64(gate.Val[i])
				s := sigmoid(g)
				if du != nil {
					du[i] += float32(float64(dy[i]) * g * s)
				}
				if dg != nil {
					dg[i] += float32(float64(dy[i]) * float64(up.Val[i]) * s * (1 + g*(1-s)))
				}
			}
		})
	})
	return y
}

// ReLU returns max(x, 0) (the gradient at 0 is 0, as PyTorch's).
func (t *Tape) ReLU(x *Var) *Var {
	y := t.out(x.Rows, x.Cols, x)
	for i, v := range x.Val {
		y.Val[i] = max(v, 0)
	}
	t.record(y, func(dy []float32) {
		g := x.g()
		for i, v := range x.Val {
			if v > 0 {
				g[i] += dy[i]
			}
		}
	})
	return y
}

// GELU returns the exact (erf) GELU of x, as kernels.GELU.
func (t *Tape) GELU(x *Var) *Var {
	y := t.out(x.Rows, x.Cols, x)
	copy(y.Val, x.Val)
	kernels.GELU(y.Val)
	t.record(y, func(dy []float32) {
		g := x.g()
		kernels.ParallelFor(len(dy), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(x.Val[i])
				cdf := 0.5 * (1 + math.Erf(v/math.Sqrt2))
				pdf := math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
				g[i] += float32(float64(dy[i]) * (cdf + v*pdf))
			}
		})
	})
	return y
}

// RoPE rotates each head of x [batch·seqLen × heads·headDim] by its
// position (row r sits at position r mod seqLen), as kernels.RoPE: invFreq
// has rotDim/2 entries, dimensions past rotDim pass through; interleaved
// pairs (2i, 2i+1) as ChatGLM, otherwise (i, i+rotDim/2) as LLaMA's
// rotate_half. Backward rotates the gradient by the opposite angle.
func (t *Tape) RoPE(x *Var, heads, headDim, seqLen int, invFreq []float32, interleaved bool) *Var {
	if x.Cols != heads*headDim || seqLen <= 0 || x.Rows%seqLen != 0 || 2*len(invFreq) > headDim {
		panic(fmt.Sprintf("grad.RoPE: %d×%d matrix for %d heads of %d, seqLen %d, %d frequencies", x.Rows, x.Cols, heads, headDim, seqLen, len(invFreq)))
	}
	y := t.out(x.Rows, x.Cols, x)
	copy(y.Val, x.Val)
	rope(y.Val, x.Rows, heads, headDim, seqLen, invFreq, interleaved, 1)
	t.record(y, func(dy []float32) {
		d := append([]float32(nil), dy...)
		rope(d, x.Rows, heads, headDim, seqLen, invFreq, interleaved, -1)
		kernels.Add(x.g(), x.g(), d)
	})
	return y
}

// rope rotates x in place by sign·angle (sign −1 is the inverse rotation).
func rope(x []float32, rows, heads, headDim, seqLen int, invFreq []float32, interleaved bool, sign float32) {
	width := heads * headDim
	half := len(invFreq)
	kernels.ParallelFor(rows, max(1, 4096/width), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			pos := r % seqLen
			for i := 0; i < half; i++ {
				// The angle in float32, as PyTorch and kernels.RoPE compute it.
				ang := float64(float32(pos) * invFreq[i])
				c, s := float32(math.Cos(ang)), sign*float32(math.Sin(ang))
				for h := 0; h < heads; h++ {
					base := r*width + h*headDim
					a, b := base+i, base+i+half
					if interleaved {
						a, b = base+2*i, base+2*i+1
					}
					x0, x1 := x[a], x[b]
					x[a] = x0*c - x1*s
					x[b] = x1*c + x0*s
				}
			}
		}
	})
}

// CrossEntropy returns the mean over rows with targets[r] ≥ 0 of
// −log softmax(logits[r])[targets[r]] (rows with a negative target are
// ignored, like PyTorch's ignore_index). logits is [rows×vocab].
func (t *Tape) CrossEntropy(logits *Var, targets []int) *Var {
	rows, v := logits.Rows, logits.Cols
	if len(targets) != rows {
		panic(fmt.Sprintf("grad.CrossEntropy: %d targets for %d rows", len(targets), rows))
	}
	count := 0
	for _, tg := range targets {
		if tg >= v {
			panic(fmt.Sprintf("grad.CrossEntropy: target %d outside [0, %d)", tg, v))
		}
		if tg >= 0 {
			count++
		}
	}
	y := t.out(1, 1, logits)
	if count == 0 {
		return y
	}
	lse := make([]float64, rows)
	nll := make([]float64, rows)
	kernels.ParallelFor(rows, rowGrain(v), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if targets[r] < 0 {
				continue
			}
			lr := logits.Val[r*v : (r+1)*v]
			m, s := kernels.ExpSum(lr)
			lse[r] = float64(m) + math.Log(s)
			nll[r] = lse[r] - float64(lr[targets[r]])
		}
	})
	var total float64
	for _, x := range nll {
		total += x
	}
	y.Val[0] = float32(total / float64(count))
	t.record(y, func(dy []float32) {
		g := logits.g()
		scale := float64(dy[0]) / float64(count)
		kernels.ParallelFor(rows, rowGrain(v), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				if targets[r] < 0 {
					continue
				}
				lr, gr := logits.Val[r*v:(r+1)*v], g[r*v:(r+1)*v]
				for j, x := range lr {
					gr[j] += float32(math.Exp(float64(x)-lse[r]) * scale)
				}
				gr[targets[r]] -= float32(scale)
			}
		})
	})
	return y
}

// MSE returns mean((a − b)²) over all elements (the block-output loss of
// OmniQuant-style reconstruction); b is usually a Const target.
func (t *Tape) MSE(a, b *Var) *Var {
	checkShape("MSE", b, a.Rows, a.Cols)
	y := t.out(1, 1, a, b)
	var s float64
	for i, x := range a.Val {
		d := float64(x) - float64(b.Val[i])
		s += d * d
	}
	n := float64(len(a.Val))
	if n > 0 {
		y.Val[0] = float32(s / n)
	}
	t.record(y, func(dy []float32) {
		c := 2 * float64(dy[0]) / n
		for i, x := range a.Val {
			d := float32(c * (float64(x) - float64(b.Val[i])))
			if a.requires {
				a.g()[i] += d
			}
			if b.requires {
				b.g()[i] -= d
			}
		}
	})
	return y
}
