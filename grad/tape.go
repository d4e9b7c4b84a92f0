// Package grad is gollm's small reverse-mode automatic differentiation: a
// tape of operations over row-major float32 matrices (float64 where a sum
// needs it), covering exactly the ops the engine's three architectures use
// (embedding, dense and fake-quantized linear, RMSNorm, LayerNorm, RoPE in
// both pairings, causal GQA/MQA attention, SwiGLU/ReLU/GELU, residual adds,
// column slices, softmax cross-entropy, MSE), and a differentiable model
// (Model) that computes the same forward as package models from the same
// Hugging Face parameters.
//
// Usage: build the forward on a Tape, then call Backward on the scalar loss:
//
//	tp := grad.NewTape()
//	logits := m.Forward(tp, ids, batch, seqLen)
//	loss := tp.CrossEntropy(logits, targets)
//	tp.Backward(loss) // fills Grad of every parameter that took part
//
// Every op's backward is checked against central finite differences in the
// package tests, as is a whole decoder block of each architecture. The tape
// keeps every intermediate value until Backward returns, so memory grows
// with the forward's activations (no recomputation yet).
package grad

import (
	"fmt"
)

// Var is a matrix value on (or feeding) a tape: Rows×Cols float32 values,
// row-major, and the gradient of the loss with respect to them once
// Backward has run. A vector is 1×n; a scalar 1×1.
type Var struct {
	// Val holds the values.
	Val []float32
	// Grad holds dLoss/dVal, accumulated by Backward; nil until something
	// flows into it. Parameters keep their Grad across tapes (ZeroGrad
	// clears it), so gradients of several backward passes add up.
	Grad       []float32
	Rows, Cols int
	requires   bool
}

// Param wraps val (len rows·cols, not copied) as a trainable parameter:
// Backward computes its gradient.
func Param(rows, cols int, val []float32) *Var {
	mustLen(val, rows, cols)
	return &Var{Val: val, Rows: rows, Cols: cols, requires: true}
}

// Const wraps val (len rows·cols, not copied) as a constant input: no
// gradient is computed for it, nor for ops that depend only on constants.
func Const(rows, cols int, val []float32) *Var {
	mustLen(val, rows, cols)
	return &Var{Val: val, Rows: rows, Cols: cols}
}

func mustLen(val []float32, rows, cols int) {
	if rows < 0 || cols < 0 || len(val) != rows*cols {
		panic(fmt.Sprintf("grad: %d values for a %d×%d matrix", len(val), rows, cols))
	}
}

// RequiresGrad reports whether Backward computes a gradient for v.
func (v *Var) RequiresGrad() bool { return v.requires }

// ZeroGrad clears v's accumulated gradient (keeping its storage).
func (v *Var) ZeroGrad() { clear(v.Grad) }

// Item returns the value of a 1×1 Var.
func (v *Var) Item() float32 {
	if len(v.Val) != 1 {
		panic(fmt.Sprintf("grad: Item of a %d×%d matrix", v.Rows, v.Cols))
	}
	return v.Val[0]
}

// g returns v's gradient storage, allocating zeros on first use.
func (v *Var) g() []float32 {
	if v.Grad == nil {
		v.Grad = make([]float32, len(v.Val))
	}
	return v.Grad
}

// Tape records the backward step of every op whose result needs a
// gradient. A Tape is used by one goroutine; ops themselves run on all
// cores (kernels.ParallelFor, and GEMMs through kernels.Sgemm).
type Tape struct {
	back []func()
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{} }

// Len returns the number of recorded backward steps.
func (t *Tape) Len() int { return len(t.back) }

// Reset forgets every recorded op (their intermediate values become
// garbage once the caller drops its own references).
func (t *Tape) Reset() { t.back = t.back[:0] }

// out makes the result of an op over ins: it needs a gradient when any
// input does.
func (t *Tape) out(rows, cols int, ins ...*Var) *Var {
	v := &Var{Val: make([]float32, rows*cols), Rows: rows, Cols: cols}
	for _, in := range ins {
		if in != nil && in.requires {
			v.requires = true
		}
	}
	return v
}

// record adds a backward step for out; it runs only if a gradient reached out.
func (t *Tape) record(out *Var, f func(dy []float32)) {
	if !out.requires {
		return
	}
	t.back = append(t.back, func() {
		if out.Grad != nil {
			f(out.Grad)
		}
	})
}

// Backward computes the gradient of the scalar loss (a 1×1 Var made on this
// tape) with respect to every Var it depends on, accumulating into their
// Grad, then resets the tape.
func (t *Tape) Backward(loss *Var) {
	if len(loss.Val) != 1 {
		panic(fmt.Sprintf("grad: Backward of a %d×%d matrix (want a scalar loss; use BackwardFrom)", loss.Rows, loss.Cols))
	}
	t.BackwardFrom(loss, []float32{1})
}

// BackwardFrom runs the tape backwards from y seeded with dLoss/dy = seed
// (len(seed) = len(y.Val)): the vector–Jacobian product of everything
// recorded. It resets the tape.
func (t *Tape) BackwardFrom(y *Var, seed []float32) {
	if len(seed) != len(y.Val) {
		panic(fmt.Sprintf("grad: seed of %d values for a %d×%d matrix", len(seed), y.Rows, y.Cols))
	}
	if y.requires {
		g := y.g()
		for i, s := range seed {
			g[i] += s
		}
	}
	for i := len(t.back) - 1; i >= 0; i-- {
		t.back[i]()
		t.back[i] = nil
	}
	t.Reset()
}
