// Package evalmodel adapts a models.Model to the eval package's LM
// interface (eval itself depends on no model code).
package evalmodel

import (
	"fmt"

	"github.com/llmcbench/gollm/eval"
	"github.com/llmcbench/gollm/models"
)

// LM wraps a model for eval.
type LM struct {
	M *models.Model
	// MaxLen caps the KV cache of each state (0: max_position_embeddings).
	MaxLen int

	batch   *models.Batch
	members []*models.State
}

// New returns m as an eval.LM.
func New(m *models.Model) *LM { return &LM{M: m} }

// VocabSize returns the number of logits per position.
func (l *LM) VocabSize() int { return l.M.Config.Vocab }

// MaxContext returns max_position_embeddings (or MaxLen if smaller).
func (l *LM) MaxContext() int {
	if l.MaxLen > 0 && l.MaxLen < l.M.Config.MaxPos {
		return l.MaxLen
	}
	return l.M.Config.MaxPos
}

// NewState starts an empty KV-cache session of MaxContext positions.
func (l *LM) NewState() eval.State { return l.M.NewState(l.MaxContext()) }

// AppendBatch runs ids[i] on states[i] in one forward pass (models.Batch:
// stacked rows through the linears, attention per state).
func (l *LM) AppendBatch(states []eval.State, ids [][]int) ([][]float32, error) {
	if l.batch == nil {
		l.batch = l.M.NewBatch()
	}
	l.members = l.members[:0]
	for i, s := range states {
		ms, ok := s.(*models.State)
		if !ok {
			return nil, fmt.Errorf("evalmodel: batch member %d is a %T, not a state of this model", i, s)
		}
		l.members = append(l.members, ms)
	}
	return l.batch.Append(l.members, ids)
}

// CopyPrefix makes dst hold the first n positions of src
// (models.State.CopyPrefix; fails on backends that cannot copy caches).
func (l *LM) CopyPrefix(dst, src eval.State, n int) error {
	d, ok1 := dst.(*models.State)
	s, ok2 := src.(*models.State)
	if !ok1 || !ok2 {
		return fmt.Errorf("evalmodel: copy prefix between %T and %T", dst, src)
	}
	return d.CopyPrefix(s, n)
}

var _ eval.BatchLM = (*LM)(nil)
