package grad

import "fmt"

// LossBackward runs Forward, the cross-entropy against targets and its
// backward pass, accumulating every parameter's gradient (as Loss and
// Tape.Backward do), and returns the loss. With recompute, activations are
// recomputed per block (gradient checkpointing): the forward pass keeps
// only each block's input, and the backward pass re-runs one block at a
// time on its own tape before propagating through it, so the memory of
// intermediate activations is one block's instead of every block's, for
// one extra forward pass. The gradients are the same operations in the same
// order either way.
func (m *Model) LossBackward(ids, targets []int, batch, seqLen int, recompute bool) (float64, error) {
	if !recompute {
		t := NewTape()
		l, err := m.Loss(t, ids, targets, batch, seqLen)
		if err != nil {
			t.Reset()
			return 0, err
		}
		t.Backward(l)
		return float64(l.Item()), nil
	}
	if len(targets) != len(ids) {
		return 0, fmt.Errorf("%w: %d targets for %d ids", ErrBadIDs, len(targets), len(ids))
	}
	for _, tg := range targets {
		if tg >= m.Config.Vocab {
			return 0, fmt.Errorf("%w: target %d outside the vocabulary [0, %d)", ErrBadIDs, tg, m.Config.Vocab)
		}
	}
	embed := NewTape()
	x0, err := m.Embed(embed, ids, batch, seqLen)
	if err != nil {
		embed.Reset()
		return 0, err
	}
	// Forward without keeping the blocks' tapes: only their inputs.
	L := m.Config.Layers
	inputs := make([][]float32, L)
	x := x0.Val
	for i := 0; i < L; i++ {
		inputs[i] = x
		t := NewTape()
		y := m.Block(t, i, Const(x0.Rows, x0.Cols, x), batch, seqLen)
		t.Reset()
		x = y.Val
	}
	// Head and loss, then the blocks in reverse, each recomputed.
	head := NewTape()
	h := Param(x0.Rows, x0.Cols, x)
	loss := head.CrossEntropy(m.Head(head, h), targets)
	head.Backward(loss)
	dy := h.Grad
	for i := L - 1; i >= 0; i-- {
		t := NewTape()
		in := Param(x0.Rows, x0.Cols, inputs[i])
		y := m.Block(t, i, in, batch, seqLen)
		if dy == nil {
			dy = make([]float32, len(y.Val))
		}
		t.BackwardFrom(y, dy)
		dy = in.Grad
	}
	if dy == nil {
		dy = make([]float32, len(x0.Val))
	}
	embed.BackwardFrom(x0, dy)
	return float64(loss.Item()), nil
}
