package models

import (
	"errors"
	"fmt"

	"github.com/llmcbench/gollm/backend"
)

// segment is one member of a batched forward: rows row0…row0+rows−1 of
// the batch's tensors are st's new tokens.
type segment struct {
	st         *State
	row0, rows int
}

// Batch runs several States forward together (ragged batching): the new
// tokens of every member are stacked into one set of rows, so embeddings,
// norms, activations and every linear layer run once over all of them (one
// GEMM per linear instead of one per sequence), while rotary positions, the
// KV-cache store and causal attention run per member on its own cache at its
// own position. The result equals running the members one after another
// (up to float rounding of the larger GEMMs) with no padding tokens and no
// attention mask: a member's rows never attend to another member's keys
// because each member attends only to its own cache.
//
// A Batch holds the scratch buffers of the stacked forward (reused across
// calls); like a State it is not safe for concurrent use. The batch's
// LinearHook sees the stacked rows; the members' LinearHook and HiddenHook
// are not called.
type Batch struct {
	// LinearHook, if set, sees the stacked input of every linear layer (as
	// State.LinearHook).
	LinearHook LinearHook
	m          *Model
	st         *State
}

// NewBatch returns a Batch for m.
func (m *Model) NewBatch() *Batch {
	return &Batch{m: m, st: &State{m: m, bufs: map[bufKey]backend.Tensor{}, full: map[fullKey]backend.Tensor{}}}
}

// Append runs ids[i] on states[i] at positions states[i].Len()… for every
// i in one forward pass and returns each member's logits, row-major
// [len(ids[i])×Vocab]; out[i] is owned by states[i] and valid until its
// next call. Members must be distinct states of the batch's model; an empty
// ids[i] is an error. On error no member has advanced.
func (b *Batch) Append(states []*State, ids [][]int) ([][]float32, error) {
	m, c := b.m, b.m.Config
	if len(states) != len(ids) {
		return nil, fmt.Errorf("batch: %d states for %d sequences", len(states), len(ids))
	}
	if len(states) == 0 {
		return nil, errors.New("batch: no sequences")
	}
	for i, ok := range m.loaded {
		if !ok {
			return nil, fmt.Errorf("block %d is not loaded (lazy model: call LoadBlock)", i)
		}
	}
	segs := b.st.segs[:0]
	total := 0
	seen := make(map[*State]bool, len(states))
	for i, s := range states {
		if s == nil || s.m != m {
			return nil, fmt.Errorf("batch: member %d is not a state of this model", i)
		}
		if seen[s] {
			return nil, fmt.Errorf("batch: member %d appears twice", i)
		}
		seen[s] = true
		if len(ids[i]) == 0 {
			return nil, fmt.Errorf("batch: member %d has no tokens", i)
		}
		if s.pos+len(ids[i]) > s.cache.MaxLen() {
			return nil, fmt.Errorf("%w: member %d: %d+%d tokens, the cache holds %d", ErrContext, i, s.pos, len(ids[i]), s.cache.MaxLen())
		}
		for _, id := range ids[i] {
			if id < 0 || id >= c.Vocab {
				return nil, fmt.Errorf("token id %d outside the vocabulary [0, %d)", id, c.Vocab)
			}
		}
		if err := s.checkKV(); err != nil {
			return nil, fmt.Errorf("batch: member %d: %w", i, err)
		}
		segs = append(segs, segment{st: s, row0: total, rows: len(ids[i])})
		total += len(ids[i])
	}
	bs, be := b.st, m.Backend
	bs.segs = segs
	bs.LinearHook = b.LinearHook
	defer func() { bs.segs = segs[:0] }()

	x := bs.buf("x", total, c.Hidden)
	for i, g := range segs {
		// Embeddings per member: OPT's learned positions depend on pos0.
		bs.segs = nil
		m.arch.embed(bs, be.View(x, g.row0, g.row0+g.rows), ids[i], g.st.pos)
		bs.segs = segs
	}
	for l := 0; l < c.Layers; l++ {
		m.arch.block(bs, l, x, 0)
	}
	h := m.arch.head(bs, x)
	lm := m.arch.lmHead()
	logits := bs.buf("logits", total, lm.Out())
	m.linear(bs, lm, logits, h)
	out := make([][]float32, len(segs))
	for i, g := range segs {
		s := g.st
		n := g.rows * lm.Out()
		if cap(s.logits) < n {
			s.logits = make([]float32, n)
		}
		s.logits = s.logits[:n]
		be.Read(s.logits, be.View(logits, g.row0, g.row0+g.rows))
		s.pos += g.rows
		out[i] = s.logits
	}
	return out, nil
}

// kvCopier is implemented by backends that can copy cache positions
// between two caches (the CPU backend).
type kvCopier interface {
	CopyKV(dst, src backend.KVCache, layers, n int)
}

// CopyPrefix makes s hold the first n positions of src (keys and values
// of every layer) and sets s.Len() to n: a context run once on src can then
// be continued on several states, e.g. a batch of answer choices. It fails
// if the backend cannot copy caches, if the states belong to different
// models, or if n exceeds src.Len() or s's capacity.
func (s *State) CopyPrefix(src *State, n int) error {
	cp, ok := s.m.Backend.(kvCopier)
	if !ok {
		return fmt.Errorf("copy prefix: the %s backend cannot copy KV caches", s.m.Backend.Name())
	}
	if src.m != s.m {
		return errors.New("copy prefix: states of different models")
	}
	if n < 0 || n > src.pos || n > s.cache.MaxLen() {
		return fmt.Errorf("copy prefix: %d positions (source holds %d, destination %d)", n, src.pos, s.cache.MaxLen())
	}
	if src != s {
		cp.CopyKV(s.cache, src.cache, s.m.Config.Layers, n)
	}
	s.pos = n
	return nil
}
